"""``cmt-live``: the live emotion monitor on LSL streams.

Usage::

    cmt-live --eeg-stream EEG --eye-stream Gaze --model MODEL.pt [--headless] [--log PATH]
             [--duration S] [--step 1.0] [--device auto] [--marker-stream Markers]
             [--channel-map "A=B,..."] [--eeg-units uV|V] [--eeg-source-id ID]
             [--eye-source-id ID] [--outlet-name CMT-Emotion] [--screenshot PNG]
             [--fill-missing N] [--pupil-scale K] [--implausible mask|flag]
             [--trust-release-eye-features]
    cmt-live --demo [--headless] [--rebuild-demo-model]

Without ``--eye-stream`` it runs EEG-only (eye mask zero; gates and the ``eye_missing`` flag
show it). ``--duration`` stops cleanly; Ctrl-C or SIGTERM close the outlet and the log (every
line before the signal is in it) and exit 0; Ctrl-C during start-up (loading the model, looking for
the streams) exits at once with status 130. Exit status 2: bad arguments, a stream that cannot
be resolved, or a model whose contract does not match the streams (refused before the first
window, with the reason and the fix). Exit status 3: ``--exit-on-loss S`` and a stream stayed
away S seconds. Windows whose EEG or gaze units are implausible are flagged and, by default,
withheld from the model (``cmt_live.plausibility``).

A model whose eye features were not computed by cmt-live (trained on SEED-V's released npz:
``contract.feature_source``) runs EEG-only, flagged ``eye_masked_release``, unless
``--trust-release-eye-features`` (flag ``eye_release_trusted``).

LSL configuration: the real command respects the user's LSL config (``LSLAPICFG`` or liblsl's
defaults); only ``--demo`` selects the loopback-only config (unless ``LSLAPICFG`` is set).
``pylsl`` is imported after that decision.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from cmt_live.cli import live_gui
from cmt_live.cli.common import add_logging_args, apply_logging, parser
from cmt_live.cli.errors import EXIT_INTERRUPTED, USER_ERRORS, one_line


def build_parser() -> argparse.ArgumentParser:
    p = parser(
        "cmt-live",
        "Real-time EEG + eye-tracking emotion monitor on LSL streams.",
        "examples:\n"
        "  cmt-live --demo\n"
        "  cmt-live --eeg-stream EEG --eye-stream Gaze --model M.pt --log session.jsonl\n"
        "  cmt-live --replay session.xdf --model M.pt --fast --log replay.jsonl",
    )
    p.add_argument("--eeg-stream", help="EEG stream name (e.g. EEG)")
    p.add_argument("--eye-stream", help="gaze stream name (e.g. Gaze); omit for EEG-only")
    p.add_argument("--marker-stream", help="ground-truth marker stream (e.g. Markers)")
    p.add_argument(
        "--model", type=Path, metavar="FILE", help="model file from cmt-train (.pt or .pt2)"
    )
    p.add_argument("--headless", action="store_true", help="terminal dashboard, no window")
    p.add_argument("--log", type=Path, metavar="PATH", help="session log: .jsonl or .csv")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument(
        "--step", type=float, metavar="S", default=1.0, help="seconds between predictions"
    )
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")
    p.add_argument(
        "--threads", type=int, help="torch CPU threads (default: 1 on <= 4 cores, else torch's)"
    )
    p.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "torchscript", "onnx", "export", "aoti"),
        help="what runs the model (default auto: the fastest one whose outputs match eager)",
    )
    p.add_argument("--channel-map", help='renames "STREAM=MODEL,..." or a JSON file')
    p.add_argument(
        "--eeg-units",
        "--eeg-unit",
        dest="eeg_units",
        help="override the EEG units the stream declares (uV, V, mV)",
    )
    p.add_argument(
        "--fill-missing",
        type=int,
        default=0,
        metavar="N",
        help="interpolate up to N missing EEG channels from the montage (spherical splines; "
        "at most 20%% of the model's channels; flagged eeg_interpolated)",
    )
    p.add_argument(
        "--pupil-scale",
        type=float,
        default=1.0,
        metavar="K",
        help="multiply both pupil columns by K (a tracker whose pupil unit differs from the "
        "model's)",
    )
    p.add_argument(
        "--implausible",
        choices=("mask", "flag"),
        default="mask",
        help="windows with implausible EEG/eye units: withhold that modality from the model "
        "(mask) or predict from it anyway (flag); both are flagged",
    )
    p.add_argument("--eeg-source-id", help="pin the EEG stream by source_id")
    p.add_argument("--eye-source-id", help="pin the gaze stream by source_id")
    p.add_argument("--eeg-hostname", help="pin the EEG stream by hostname")
    p.add_argument("--eye-hostname", help="pin the gaze stream by hostname")
    p.add_argument("--outlet-name", default="CMT-Emotion", help="prediction outlet name")
    p.add_argument("--no-outlet", action="store_true", help="do not publish predictions")
    p.add_argument(
        "--resolve-timeout", type=float, metavar="S", default=5.0, help="seconds per stream"
    )
    p.add_argument(
        "--loss-limit",
        type=float,
        metavar="S",
        default=10.0,
        help="an EEG/gaze stream away this long is reported lost (log, health); seconds",
    )
    p.add_argument(
        "--exit-on-loss",
        type=float,
        metavar="S",
        help="exit with status 3 when an EEG/gaze stream stays away S seconds",
    )
    p.add_argument("--screenshot", type=Path, metavar="PNG", help="save a PNG of the window (GUI)")
    p.add_argument(
        "--screenshot-after", type=float, metavar="S", default=5.0, help="seconds before it"
    )
    p.add_argument("--demo", action="store_true", help="simulator + demo model + monitor")
    p.add_argument("--rebuild-demo-model", action="store_true", help="retrain the demo model")
    p.add_argument("--demo-subject", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="source runs K x real time (cmt-sim stream --speed K); stamps are stretched by K",
    )
    p.add_argument(
        "--replay",
        type=Path,
        metavar="FILE",
        help="replay a recording (.xdf, or an EEG file with --gaze) instead of live streams",
    )
    p.add_argument(
        "--fast", action="store_true", help="with --replay: in-process, no LSL, full speed"
    )
    p.add_argument(
        "--gaze",
        type=Path,
        metavar="FILE",
        help="with --replay of an EEG file: a gaze file (.asc, .csv)",
    )
    p.add_argument(
        "--record",
        type=Path,
        metavar="PATH.xdf",
        help="record the input streams and the prediction outlet to XDF (LabRecorder)",
    )
    p.add_argument(
        "--trust-release-eye-features",
        action="store_true",
        help="feed the eye input to a model whose eye features were not computed by cmt-live "
        "(e.g. trained on SEED-V's released npz): by default its eye input is masked",
    )
    add_logging_args(p)
    from cmt_live.io.options import add_recording_options

    add_recording_options(p, gaze=False)
    return p


def _contract_summary(runtime) -> dict:
    c = runtime.contract
    s = c.feature_spec
    return {
        "model": str(runtime.path),
        "device": str(runtime.device),
        "backend": runtime.backend,
        "context_len": c.context_len,
        "window_s": s.window_s,
        "sfreq": s.sfreq,
        "n_channels": len(s.ch_names),
        "de_method": s.de_method,
        "smoothing": s.smoothing,
        "class_names": list(c.class_names),
        "provenance_fold": c.provenance.get("fold"),
        "feature_source": c.feature_source,
    }


def _eye_input(runtime, args) -> str:
    """How the model's eye input is used, told once on stderr when it is not plainly used."""
    source = runtime.contract.feature_source["eye"]
    if runtime.contract.live_ready("eye"):
        return "used"
    if args.trust_release_eye_features:
        print(
            f"cmt-live: WARNING: the model's eye features are '{source}' (not computed by "
            "cmt-live: a release's columns, whose order, units and per-clip statistics differ "
            "from ours); --trust-release-eye-features feeds them anyway. Predictions carry the "
            "flag eye_release_trusted.",
            file=sys.stderr,
        )
        return f"trusted ({source} eye features, --trust-release-eye-features)"
    print(
        f"cmt-live: the model's eye features are '{source}' (not computed by cmt-live), so its "
        "eye input is masked: EEG-only predictions, flag eye_masked_release. Train on features "
        "cmt-live computes (cmt-dataset, cmt-sim dataset) to use the eye, or pass "
        "--trust-release-eye-features knowingly.",
        file=sys.stderr,
    )
    return f"masked ({source} eye features)"


def _validate(args, parser) -> None:
    if args.fill_missing < 0:
        parser.error(f"--fill-missing {args.fill_missing} is invalid; it must be >= 0.")
    if not args.pupil_scale > 0:
        parser.error(f"--pupil-scale {args.pupil_scale} is invalid; it must be > 0.")
    if args.fast and not args.replay:
        parser.error("--fast goes with --replay FILE.")
    if args.gaze and not args.replay:
        parser.error("--gaze goes with --replay FILE (an EEG file).")
    if args.record and (args.fast or args.no_outlet):
        parser.error(
            "--record needs LSL streams and the prediction outlet (no --fast/--no-outlet)."
        )
    if args.record and args.record.suffix.lower() != ".xdf":
        parser.error(f"--record {args.record}: the file must end in .xdf.")
    if args.demo:
        return
    if args.replay:
        if not args.model:
            parser.error("--model is required with --replay.")
        return
    missing = [o for o, v in (("--eeg-stream", args.eeg_stream), ("--model", args.model)) if not v]
    if missing:
        parser.error(f"{' and '.join(missing)} required (or use --demo).")
    for name in ("step", "resolve_timeout", "time_scale", "loss_limit"):
        v = getattr(args, name)
        if not v > 0:
            parser.error(f"--{name.replace('_', '-')} {v} is invalid; it must be > 0.")
    for name in ("duration", "exit_on_loss"):
        v = getattr(args, name)
        if v is not None and not v > 0:
            parser.error(f"--{name.replace('_', '-')} {v} is invalid; it must be > 0 seconds.")


def _load_runtime(args):
    """The model, or None after printing why it cannot be loaded."""
    from models import load_runtime

    try:
        return load_runtime(
            args.model, device=args.device, threads=args.threads, backend=args.backend
        )
    except USER_ERRORS as err:
        print(f"cmt-live: {one_line(err)}", file=sys.stderr)
        return None


def run_live(args, *, runtime=None, extra_stop=None) -> int:
    """Run the monitor with parsed ``args``; returns the exit status.

    ``runtime`` may be passed in (the demo loads its model first); ``extra_stop`` is called on
    the way out (the demo stops its simulator there).
    """
    from cmt_live._logging import logger
    from cmt_live.cli.errors import interruptible
    from cmt_live.driver import Driver
    from cmt_live.lsl.outlet import LslOutletSink
    from cmt_live.lsl.resolve import StreamResolutionError
    from cmt_live.lsl.source import LslSource, StreamSelection
    from cmt_live.settings import ContractError
    from cmt_live.sinks import SessionLog

    runtime = runtime or _load_runtime(args)
    if runtime is None:
        return 2
    spec = runtime.contract.feature_spec
    gui = not args.headless and live_gui.has_display()
    if gui:
        try:
            from apps.monitor import run_monitor  # the one upward import (DESIGN.md)
        except ImportError as err:
            print(f"cmt-live: the Qt monitor is unavailable ({err}); headless.", file=sys.stderr)
            gui = False
    if gui and not live_gui.qt_can_open_window():
        gui = False
    source = LslSource(
        StreamSelection(
            eeg=args.eeg_stream,
            eye=args.eye_stream,
            markers=args.marker_stream,
            eeg_source_id=args.eeg_source_id,
            eye_source_id=args.eye_source_id,
            eeg_hostname=args.eeg_hostname,
            eye_hostname=args.eye_hostname,
            channel_map=args.channel_map,
            fill_missing=args.fill_missing,
            eeg_unit=args.eeg_units,
            resolve_timeout_s=args.resolve_timeout,
            time_scale=args.time_scale,
            lost_after_s=args.loss_limit,
            exit_on_loss_s=args.exit_on_loss,
        ),
        spec.ch_names,
    )
    driver = log = recorder = None
    old_handlers: dict = {}
    try:
        try:
            logger.info(
                "looking for the streams (EEG %r, gaze %r, markers %r), up to %g s each",
                args.eeg_stream,
                args.eye_stream,
                args.marker_stream,
                args.resolve_timeout,
            )
            # liblsl holds the lookup for its whole timeout; Ctrl-C must not wait for it.
            info = interruptible(source.open)
            driver = Driver.for_source(runtime, source, step_s=args.step, **_unit_settings(args))
        except (StreamResolutionError, ContractError, *USER_ERRORS) as err:
            print(f"cmt-live: {one_line(err)}", file=sys.stderr)
            return 2
        pipeline = driver.pipeline
        start_info = _contract_summary(runtime)
        start_info.update(
            eye_input=_eye_input(runtime, args),
            eeg_stream=info.eeg.name,
            eeg_source_id=info.eeg.source_id,
            eeg_sfreq=info.eeg.sfreq,
            eye_stream=info.gaze.name if info.gaze else None,
            marker_stream=info.markers,
            filled_channels=list(info.filled_channels),
            step_s=args.step,
            time_scale=args.time_scale,
        )
        if not args.no_outlet:
            pipeline.add_sink(
                LslOutletSink(
                    args.outlet_name,
                    clock_map=source.to_lsl_time if args.time_scale != 1 else None,
                    info={
                        "model": Path(runtime.path).name,
                        "window_s": spec.window_s,
                        "eye_input": start_info["eye_input"],
                    },
                )
            )
        if args.log:
            try:
                log = SessionLog(args.log, window_s=spec.window_s, start_info=start_info)
            except (ValueError, OSError) as err:
                print(f"cmt-live: {err}", file=sys.stderr)
                return 2
            pipeline.add_sink(log)  # last: its budget_ms includes the outlet's time
        if args.record:
            recorder = _start_recorder(args, info)
            if recorder is None:
                return 2
        source.start()
        if gui:
            rec = live_gui.RecordControl(args.record, _record_streams(args, info), recorder)
            status = live_gui.run_gui(driver, args, run_monitor, spec, info, rec)
            recorder = rec.recorder
        else:
            # Ctrl-C / SIGTERM stop the loop; the handlers stay until the log and the outlet
            # are closed below, so a second signal during shutdown cannot cut the log short.
            old_handlers = {
                s: signal.signal(s, lambda *_: driver.stop(timeout_s=0))
                for s in (signal.SIGINT, signal.SIGTERM)
            }
            status = _run_headless(driver, args, spec)
        if driver.error is not None:
            logger.error("pipeline error: %r", driver.error)
            status = status or 1
        if source.gave_up is not None:
            print(f"cmt-live: {source.gave_up}", file=sys.stderr)
            status = status or 3
        return status
    finally:
        if recorder is not None:
            try:
                print(f"cmt-live: recorded {recorder.stop()}", file=sys.stderr)
            except (RuntimeError, ValueError) as err:
                print(f"cmt-live: recording failed: {err}", file=sys.stderr)
        if log is not None:
            log.write_info(
                "accuracy", {**log.truth.summary(), "n_predictions": driver.pipeline.n_predictions}
            )
        # The log and the outlet join the pipeline only once the driver exists.
        if driver is not None:
            driver.close()
        else:
            source.close()
        if log is not None and log.unwritten:
            print(f"cmt-live: {log.unwritten}", file=sys.stderr)
        if extra_stop is not None:
            extra_stop()
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)


def _record_streams(args, info) -> list[dict[str, str]]:
    """What LabRecorder records: the inputs (pinned by source_id) and the prediction outlet."""
    streams = [{"name": args.outlet_name, "type": "Emotion"}]
    for meta in (info.eeg, info.gaze):
        if meta is not None:
            streams.append({"name": meta.name, "source_id": meta.source_id})
    if info.markers is not None:
        streams.append({"name": info.markers})
    return streams


def _start_recorder(args, info):
    """LabRecorder on the inputs (pinned by source_id) and the prediction outlet."""
    from cmt_live.io.labrecorder import Recorder

    streams = _record_streams(args, info)
    try:
        recorder = Recorder(args.record, streams, overwrite=True)
        recorder.start()
    except (RuntimeError, TimeoutError, ValueError, OSError) as err:
        print(f"cmt-live: cannot record to {args.record}: {err}", file=sys.stderr)
        return None
    print(f"cmt-live: recording {len(streams)} streams to {args.record}", file=sys.stderr)
    return recorder


def run_replay(args) -> int:
    """``--replay FILE``: fast in-process, or republished over LSL and monitored live."""
    runtime = _load_runtime(args)
    if runtime is None:
        return 2
    if args.fast:
        return _run_fast_replay(args, runtime)
    # Real-time replay: publish the file over LSL and monitor it like live streams.
    from cmt_live.io.options import recording_options
    from cmt_live.io.readers import check_long_enough, read_recording, select_streams
    from cmt_live.lsl.config import use_loopback_config
    from cmt_live.lsl.player import Player, PlayerSettings

    use_loopback_config()
    try:
        options = recording_options(args)
        streams = read_recording(args.replay, gaze=args.gaze, options=options)
        eeg, gaze, markers = select_streams(
            streams,
            eeg_stream=args.eeg_stream,
            eye_stream=args.eye_stream,
            marker_stream=args.marker_stream,
            eye_only_ok=True,
        )
        if eeg is None:
            raise ValueError(f"{args.replay} holds gaze only; replay it eye-only with --fast.")
        ts = eeg.timestamps
        span = float(ts[-1] - ts[0]) if len(ts) else 0.0
        check_long_enough(args.replay, span, runtime.contract.feature_spec.window_s)
    except USER_ERRORS as err:
        print(f"cmt-live: {one_line(err)}", file=sys.stderr)
        return 2
    player = Player(streams, PlayerSettings(wait_consumers_s=10.0)).start()
    args.eeg_stream, args.eeg_source_id = eeg.name, eeg.source_id
    args.eye_stream = gaze.name if gaze is not None else None
    args.eye_source_id = gaze.source_id if gaze is not None else None
    args.marker_stream = markers.name if markers is not None else None
    if args.duration is None:
        args.duration = player.duration_s + 2 * runtime.contract.feature_spec.window_s
    try:
        return run_live(args, runtime=runtime, extra_stop=player.stop)
    finally:
        player.stop()


def _run_fast_replay(args, runtime) -> int:
    """``--replay FILE --fast``: the recording through the same driver, no LSL, full speed."""
    from cmt_live.driver import Driver
    from cmt_live.io.options import recording_options
    from cmt_live.io.readers import check_long_enough
    from cmt_live.io.recording_source import RecordingSource
    from cmt_live.settings import ContractError
    from cmt_live.sinks import SessionLog

    spec = runtime.contract.feature_spec
    log = None
    try:
        source = RecordingSource(
            args.replay,
            spec.ch_names,
            gaze_file=args.gaze,
            eeg_stream=args.eeg_stream,
            eye_stream=args.eye_stream,
            marker_stream=args.marker_stream,
            channel_map=args.channel_map,
            eeg_unit=args.eeg_units,
            fill_missing=args.fill_missing,
            options=recording_options(args),
            eeg_sfreq=spec.sfreq,
        )
        check_long_enough(args.replay, source.duration_s, spec.window_s)
        driver = Driver.for_source(runtime, source, step_s=args.step, **_unit_settings(args))
        eye_input = _eye_input(runtime, args)
        if args.log:
            info = {**_contract_summary(runtime), "replay": str(args.replay), "fast": True,
                    "filled_channels": list(source.info.filled_channels),
                    "eye_input": eye_input}  # fmt: skip
            log = SessionLog(args.log, window_s=spec.window_s, start_info=info)
            driver.pipeline.add_sink(log)
    except (ContractError, *USER_ERRORS) as err:
        print(f"cmt-live: {one_line(err)}", file=sys.stderr)
        return 2
    try:
        stats = driver.run()
    finally:
        driver.close()
    speed = source.duration_s / stats.wall_s if stats.wall_s > 0 else float("inf")
    acc = log.truth.summary()["accuracy"] if log is not None and log.truth.has_markers else None
    print(
        f"cmt-live: replayed {source.duration_s:.0f} s in {stats.wall_s:.2f} s "
        f"({speed:.0f}x real time): {stats.n_predictions} predictions"
        + (f", accuracy vs markers {acc:.1%}" if acc is not None else "")
        + (f", log {args.log}" if args.log else "")
    )
    pipe = driver.pipeline
    for modality, reason in pipe.implausible_reasons.items():
        print(
            f"cmt-live: warning: {pipe.n_implausible[modality]} of {pipe.n_windows} windows: "
            f"{reason}",
            file=sys.stderr,
        )
    if stats.n_predictions == 0:
        print(
            f"cmt-live: no prediction from {args.replay}: no window had usable EEG or gaze "
            "(see the log's events, --log PATH).",
            file=sys.stderr,
        )
        # Implausible units were explained above with their fix; anything else is a failure.
        return 0 if pipe.implausible_reasons else 1
    return 0


def _unit_settings(args) -> dict:
    """The Settings fields the unit and eye-provenance options set."""
    return {
        "pupil_scale": args.pupil_scale,
        "implausible": args.implausible,
        "trust_release_eye": args.trust_release_eye_features,
    }


def _run_headless(driver, args, spec) -> int:
    from cmt_live.dashboard import Dashboard

    driver.pipeline.add_sink(Dashboard(window_s=spec.window_s))
    driver.run(args.duration)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``cmt-live``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _validate(args, parser)
    apply_logging(args)
    try:
        if args.demo:
            # Only the demo confines LSL to this machine (a user-set LSLAPICFG still wins).
            from cmt_live.lsl.config import use_loopback_config

            use_loopback_config()
            return run_demo(args)
        if args.replay:
            return run_replay(args)
        return run_live(args)
    except KeyboardInterrupt:
        # Ctrl-C before the monitor runs (loading, stream lookup); once it runs, Ctrl-C stops
        # it cleanly and exits 0. What was opened is closed on the way here.
        print("cmt-live: interrupted during start-up; exiting.", file=sys.stderr)
        return EXIT_INTERRUPTED


def run_demo(args) -> int:
    """``cmt-live --demo``: simulator subprocess + cached demo model + monitor."""
    from cmt_live.sim.demo import (
        DEMO_STREAM_TRIAL_SCALE,
        DEMO_SUBJECT,
        SimulatorProcess,
        ensure_demo_model,
    )

    try:
        path = ensure_demo_model(rebuild=args.rebuild_demo_model)
    except KeyboardInterrupt:
        print("cmt-live: interrupted while building the demo model.", file=sys.stderr)
        return 0
    args.model = path
    runtime = _load_runtime(args)
    if runtime is None:
        return 2
    sim = SimulatorProcess(
        args.demo_subject or DEMO_SUBJECT,
        ["--trial-scale", str(DEMO_STREAM_TRIAL_SCALE), "--speed", str(args.time_scale)],
    )
    sim.start()
    args.eeg_stream, args.eye_stream = sim.eeg, sim.gaze
    args.marker_stream = args.marker_stream or sim.markers
    args.resolve_timeout = max(args.resolve_timeout, 15.0)
    print(
        f"cmt-live demo: model {path}, simulated subject {args.demo_subject or DEMO_SUBJECT} "
        f"(never seen in training) on {sim.eeg}/{sim.gaze}/{sim.markers}; Ctrl-C to stop.",
        file=sys.stderr,
        flush=True,
    )
    try:
        return run_live(args, runtime=runtime, extra_stop=sim.stop)
    finally:
        sim.stop()


if __name__ == "__main__":
    sys.exit(main())
