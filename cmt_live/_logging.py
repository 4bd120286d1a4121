"""The package logger. Library code logs; only command lines print."""

from __future__ import annotations

import logging

logger = logging.getLogger("cmt_live")


def set_log_level(level: int | str = "INFO") -> None:
    """Attach a stderr handler to the package logger (once) and set its level.

    Parameters
    ----------
    level : int | str
        A :mod:`logging` level, e.g. ``"DEBUG"`` or ``logging.WARNING``.
    """
    if not any(getattr(h, "_cmt_live", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._cmt_live = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level)
