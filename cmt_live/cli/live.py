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

import signal
import sys
from pathlib import Path

from cmt_live.cli import live_gui
from cmt_live.cli.common import apply_logging
from cmt_live.cli.errors import EXIT_INTERRUPTED, USER_ERRORS, one_line
from cmt_live.cli.live_options import build_parser, validate


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
    validate(args, parser)
    apply_logging(args)
    try:
        if args.demo:
            # Only the demo confines LSL to this machine (a user-set LSLAPICFG still wins).
            from cmt_live.lsl.config import use_loopback_config

            use_loopback_config()
            return run_demo(args)
        if args.replay:
            from cmt_live.cli.live_replay import run_replay

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
