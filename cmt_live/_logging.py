"""The package logger. Library code logs; only command lines print."""

from __future__ import annotations

import logging
import sys

logger = logging.getLogger("cmt_live")


class _StderrHandler(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is when a record is emitted, not as it was when the
    handler was made (a replaced stderr, e.g. a test's capture, may be closed since)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def set_log_level(level: int | str = "INFO") -> None:
    """Attach a stderr handler to the package logger (once) and set its level.

    Parameters
    ----------
    level : int | str
        A :mod:`logging` level, e.g. ``"DEBUG"`` or ``logging.WARNING``.
    """
    if not any(getattr(h, "_cmt_live", False) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._cmt_live = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level)
