"""Can Qt open a window here? A subprocess probe, and the system packages a failure needs.

Qt aborts the whole process (``qFatal``) when its platform plugin cannot load, for example the
``xcb`` plugin without ``libxcb-icccm4``: catching that in-process is impossible, so
:func:`probe_qt_platform` creates a ``QApplication`` in a child Python and reads its exit status.
On failure the hint names the missing shared libraries (``ldd`` on the xcb plugin) as the
Debian/Ubuntu packages that hold them, or the whole list Qt 6 needs on X11 when ``ldd`` finds
nothing missing (no display, a bogus plugin path). No Qt is imported in this module.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: Debian/Ubuntu packages Qt 6's xcb platform plugin loads (Qt's "X11 requirements" page, plus
#: the libxcb-cursor0 needed since Qt 6.5). The README lists the same packages.
XCB_PACKAGES: tuple[str, ...] = (
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-keysyms1",
    "libxcb-image0",
    "libxcb-render-util0",
    "libxcb-randr0",
    "libxcb-shape0",
    "libxcb-xinerama0",
    "libxcb-xkb1",
    "libxkbcommon-x11-0",
    "libxkbcommon0",
    "libx11-xcb1",
    "libegl1",
    "libfontconfig1",
    "libdbus-1-3",
)

_PROBE = "from PySide6.QtWidgets import QApplication; QApplication(['cmt-live-probe'])"


@dataclass(frozen=True)
class QtProbe:
    """The probe's answer: ``ok``, and when not, a one-line ``hint`` for the user."""

    ok: bool
    hint: str = ""
    missing_packages: tuple[str, ...] = ()


def debian_package(soname: str) -> str:
    """The Debian package that ships shared library ``soname``, by Debian's naming rule.

    ``libxcb-icccm.so.4`` -> ``libxcb-icccm4``; a name ending in a digit takes a dash before the
    major version (``libxkbcommon-x11.so.0`` -> ``libxkbcommon-x11-0``).
    """
    m = re.match(r"^(lib[^.]+)\.so\.(\d+)", soname)
    if m is None:
        return soname
    name, major = m.group(1).lower(), m.group(2)
    return f"{name}{'-' if name[-1].isdigit() else ''}{major}"


def missing_xcb_libraries() -> tuple[str, ...]:
    """Shared libraries the xcb plugin needs and the loader cannot find (``ldd``), sorted."""
    spec = importlib.util.find_spec("PySide6")
    ldd = shutil.which("ldd")
    if spec is None or spec.origin is None or ldd is None:
        return ()
    plugin = Path(spec.origin).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.exists():
        return ()
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return tuple(sorted(set(re.findall(r"^\s*(\S+) => not found", out, flags=re.M))))


def probe_qt_platform(timeout_s: float = 30.0) -> QtProbe:
    """Create a ``QApplication`` in a child process with this environment; did it load?

    Parameters
    ----------
    timeout_s : float
        A child that takes longer counts as a failure (a display that never answers).
    """
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=os.environ.copy(),
        )
    except subprocess.TimeoutExpired:
        return QtProbe(False, f"Qt did not start within {timeout_s:g} s (is the display alive?)")
    if proc.returncode == 0:
        return QtProbe(True)
    platform = os.environ.get("QT_QPA_PLATFORM", "xcb" if sys.platform.startswith("linux") else "")
    if platform.split(":")[0] != "xcb":
        return QtProbe(
            False,
            f"Qt's platform plugin {platform!r} could not load; try QT_QPA_PLATFORM=xcb, "
            f"wayland or offscreen.",
        )
    missing = tuple(dict.fromkeys(debian_package(s) for s in missing_xcb_libraries()))
    if missing:
        hint = (
            f"Qt's xcb plugin cannot load: install {' '.join(missing)} "
            f"(sudo apt install {' '.join(missing)})."
        )
    elif not os.environ.get("DISPLAY"):
        hint = "Qt's xcb plugin found no X display (DISPLAY is not set)."
    else:
        hint = (
            f"Qt's xcb plugin could not load on DISPLAY={os.environ['DISPLAY']}; the window "
            f"needs {' '.join(XCB_PACKAGES)} (Debian/Ubuntu)."
        )
    return QtProbe(False, hint, missing)
