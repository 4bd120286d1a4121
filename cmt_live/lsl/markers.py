"""The ground-truth marker stream (string markers, e.g. the simulator's or PsychoPy's)."""

from __future__ import annotations


class MarkerInput:
    """A string marker stream (ground truth): clock-corrected ``(t, label)`` pairs."""

    def __init__(self, info):
        import pylsl

        self._pylsl = pylsl
        self.name = info.name()
        self._inlet = pylsl.StreamInlet(
            info, max_buflen=60, recover=True, processing_flags=pylsl.proc_clocksync
        )
        self._inlet.open_stream(timeout=5.0)

    def pull(self) -> list[tuple[float, str]]:
        samples, ts = self._inlet.pull_chunk(timeout=0.0)
        return [(float(t), str(s[0])) for s, t in zip(samples, ts)]

    def close(self) -> None:
        inlet, self._inlet = self._inlet, None
        if inlet is not None:
            inlet.close_stream()
