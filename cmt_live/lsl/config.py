"""Keep LSL on this machine unless the user configured it themselves.

liblsl reads its configuration once, when it is loaded, from the file named by ``LSLAPICFG``.
Tests, benches and the demo call :func:`use_loopback_config` *before* importing ``pylsl``, so
discovery only ever asks 127.0.0.1 (``KnownPeers``) and multicast stays on the machine
(``ResolveScope = machine``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

LOOPBACK_CFG = Path(__file__).with_name("lsl_loopback.cfg")


def use_loopback_config(*, force: bool = False) -> Path:
    """Point ``LSLAPICFG`` at the loopback-only config unless the user already set one.

    Parameters
    ----------
    force : bool
        Override a user-set ``LSLAPICFG`` too.

    Returns
    -------
    path : Path
        The config file liblsl will read.

    Raises
    ------
    RuntimeError
        If ``pylsl`` was imported before with a different config: liblsl has read its
        config already and would ignore the new one.
    """
    current = os.environ.get("LSLAPICFG")
    if current and not force:
        return Path(current)
    if "pylsl" in sys.modules and current != str(LOOPBACK_CFG):
        raise RuntimeError(
            "pylsl was imported before the loopback LSL config was selected; liblsl has read "
            f"its config already (LSLAPICFG={current!r}). Call use_loopback_config() before "
            "the first `import pylsl`."
        )
    os.environ["LSLAPICFG"] = str(LOOPBACK_CFG)
    return LOOPBACK_CFG
