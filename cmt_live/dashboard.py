"""``cmt-live --headless``: a one-screen terminal dashboard, refreshed in place with ANSI codes.

A sink (see :mod:`cmt_live.sinks`): it keeps the latest prediction, stream health, recent events
and the running accuracy, and redraws at most ``refresh_hz`` times a second from whichever
thread calls it. On a terminal the screen is redrawn in place (cursor home + clear); when the
output is not a terminal (a pipe, a log file) it writes one plain line per prediction instead,
so the output stays readable.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque

from features.seedv import CLASS_NAMES

from .records import Prediction, StreamHealth
from .sinks import GroundTruth, Sink

_HOME_CLEAR = "\x1b[H\x1b[J"
_BOLD, _DIM, _RESET = "\x1b[1m", "\x1b[2m", "\x1b[0m"
_STATUS_COLOR = {
    "connected": "\x1b[32m",
    "stale": "\x1b[33m",
    "recovering": "\x1b[33m",
    "absent": "\x1b[31m",
}


def _bar(value: float, width: int) -> str:
    n = max(0.0, min(1.0, float(value))) * width
    full = int(n)
    return "█" * full + ("▌" if n - full >= 0.5 else "") + " " * (width - full - (n - full >= 0.5))


class Dashboard(Sink):
    """Terminal dashboard sink.

    Parameters
    ----------
    stream : text file
        Default ``sys.stdout``.
    refresh_hz : float
        Maximum redraws per second.
    window_s : float
        For scoring predictions against markers.
    ansi : bool | None
        Force in-place ANSI drawing on or off (default: when ``stream`` is a terminal).
    title : str
    """

    def __init__(
        self,
        stream=None,
        *,
        refresh_hz: float = 4.0,
        window_s: float = 4.0,
        ansi: bool | None = None,
        title: str = "cmt-live",
    ):
        self.stream = stream if stream is not None else sys.stdout
        self.ansi = self.stream.isatty() if ansi is None else bool(ansi)
        self.min_interval_s = 1.0 / refresh_hz
        self.title = title
        self.truth = GroundTruth(window_s)
        self._lock = threading.Lock()
        self._pred: Prediction | None = None
        self._health: list[StreamHealth] = []
        self._events: deque[str] = deque(maxlen=6)
        self._flags: frozenset[str] = frozenset()  # the previous prediction's flags
        self._n_pred = 0
        self._t_draw = 0.0
        self._t_start = time.monotonic()
        self._closed = False

    # --- sink API -------------------------------------------------------------------------
    def on_prediction(self, pred: Prediction) -> None:
        self.truth.score(pred)
        with self._lock:
            self._pred = pred
            self._n_pred += 1
            # Any flag, known or new, is an event when it starts and when it clears.
            now = time.strftime("%H:%M:%S")
            self._events.extend(f"{now} {f}: started" for f in sorted(pred.flags - self._flags))
            self._events.extend(f"{now} {f}: cleared" for f in sorted(self._flags - pred.flags))
            self._flags = pred.flags
        if self.ansi:
            self._maybe_draw()
        else:
            self._line(pred)

    def on_health(self, health) -> None:
        with self._lock:
            self._health = list(health)
        if self.ansi:
            self._maybe_draw()

    def on_event(self, kind: str, message: str, t: float) -> None:
        with self._lock:
            self._events.append(f"{time.strftime('%H:%M:%S')} {kind}: {message}")
        if not self.ansi:
            self.stream.write(f"[event] {kind}: {message}\n")
            self.stream.flush()

    def on_marker(self, t: float, label: str) -> None:
        self.truth.add_marker(t, label)
        with self._lock:
            self._events.append(f"{time.strftime('%H:%M:%S')} marker: {label}")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.ansi:
            self.draw()
        self.stream.flush()

    # --- drawing ----------------------------------------------------------------------------
    def _maybe_draw(self) -> None:
        now = time.monotonic()
        if now - self._t_draw >= self.min_interval_s:
            self._t_draw = now
            self.draw()

    def _line(self, pred: Prediction) -> None:
        acc = self.truth.summary()
        acc_txt = "" if acc["accuracy"] is None else f" acc {100 * acc['accuracy']:.0f}%"
        flags = ",".join(sorted(pred.flags))
        self.stream.write(
            f"t={pred.t_end:.2f} {pred.label:<8s} p={pred.confidence:.2f} "
            f"gates eeg {pred.gates[0]:.2f} eye {pred.gates[1]:.2f} ctx {pred.n_context}"
            f"{acc_txt}{' [' + flags + ']' if flags else ''}\n"
        )
        self.stream.flush()

    def render(self) -> str:
        """The screen as text (no cursor codes)."""
        with self._lock:
            pred, health, events, n = (
                self._pred,
                list(self._health),
                list(self._events),
                self._n_pred,
            )
        up = time.monotonic() - self._t_start
        lines = [f"{_BOLD}{self.title}{_RESET}   up {up:6.0f} s   predictions {n}", ""]
        if pred is None:
            lines.append("waiting for the first full window ...")
        else:
            lat_ms = (pred.t_computed - pred.t_end) * 1e3
            lines.append(
                f"{_BOLD}{pred.label.upper():<8s}{_RESET} {100 * pred.confidence:5.1f}%   "
                f"window end {pred.t_end:.2f}  latency {lat_ms:6.1f} ms  "
                f"compute {pred.compute_ms:5.1f} ms  context {pred.n_context}"
            )
            lines.append("")
            for name, p in zip(CLASS_NAMES, pred.probs):
                mark = "▶" if name == pred.label else " "
                lines.append(f" {mark} {name:<8s} {_bar(p, 40)} {100 * p:5.1f}%")
            lines.append("")
            lines.append(
                f"   gates    EEG {_bar(pred.gates[0], 15)} {pred.gates[0]:.2f}   "
                f"eye {_bar(pred.gates[1], 15)} {pred.gates[1]:.2f}"
            )
            flags = ", ".join(sorted(pred.flags)) or "none"
            lines.append(f"   flags    {flags}")
        acc = self.truth.summary()
        if acc["n_scored"]:
            settled = (
                ""
                if acc["accuracy_settled"] is None
                else f", settled context {100 * acc['accuracy_settled']:.1f}% ({acc['n_settled']})"
            )
            lines.append(
                f"   accuracy vs markers {100 * acc['accuracy']:.1f}% over {acc['n_scored']} "
                f"windows{settled} (chance {100 * acc['chance']:.0f}%)"
            )
        w = max([22] + [len(h.name) + 2 for h in health])  # full names, never cut
        lines += [
            "",
            f"{'stream':<{w}s}{'status':<12s}{'rate':>14s}{'latency':>11s}"
            f"{'samples':>10s}{'dropped':>9s}{'ts faults':>11s}{'gaps':>6s}",
        ]
        for h in health:
            color = _STATUS_COLOR.get(h.status, "")
            rate = f"{h.effective_rate:6.1f}/{h.nominal_rate:g}"
            lines.append(
                f"{h.name:<{w}s}{color}{h.status:<12s}{_RESET}{rate:>14s}"
                f"{1e3 * h.latency_s:9.1f}ms{h.n_samples:>10d}{h.n_dropped:>9d}"
                f"{h.n_timestamp_faults:>11d}{len(h.gaps):>6d}"
            )
        if events:
            lines += ["", f"{_DIM}recent events{_RESET}"] + [f"  {e}" for e in events]
        lines += ["", f"{_DIM}Ctrl-C to stop{_RESET}"]
        return "\n".join(lines)

    def draw(self) -> None:
        """Redraw the whole screen in place."""
        self.stream.write(_HOME_CLEAR + self.render() + "\n")
        self.stream.flush()
