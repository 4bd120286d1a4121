"""``cmt-live --replay FILE``: a recording through the live pipeline, fast in-process or
republished over LSL and monitored as live streams."""

from __future__ import annotations

import sys

from cmt_live.cli.errors import USER_ERRORS, one_line
from cmt_live.cli.live import (
    _contract_summary,
    _eye_input,
    _load_runtime,
    _unit_settings,
    run_live,
)


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
    from cmt_live.sinks import SessionLog, read_gaze_cutoffs

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
        cutoffs = read_gaze_cutoffs(args.gaze_cutoffs) if args.gaze_cutoffs else ()
        driver = Driver.for_source(
            runtime, source, step_s=args.step, gaze_cutoffs=cutoffs, **_unit_settings(args)
        )
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
