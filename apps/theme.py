"""Colours, fonts and the window style sheet of the monitor (plain strings, no Qt import).

One palette for every panel: the Okabe & Ito (2008) colour-blind-safe colours on a dark
background. Colour is never the only cue: statuses are also written out, and every curve is
named in its plot's title line.
"""

from __future__ import annotations

from collections.abc import Sequence

# Okabe & Ito (2008) colour-blind-safe palette. Its "black" is replaced by a light grey
# because the monitor uses a dark background.
OKABE_ITO: dict[str, str] = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "grey": "#BBBBBB",
}

#: Colour per class (SEED-V order Disgust, Fear, Sad, Neutral, Happy), extended cyclically.
CLASS_COLORS: tuple[str, ...] = (
    OKABE_ITO["bluish_green"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["grey"],
    OKABE_ITO["orange"],
    OKABE_ITO["yellow"],
    OKABE_ITO["blue"],
    OKABE_ITO["vermillion"],
)

#: Modality gate colours (EEG, eye).
GATE_COLORS: tuple[str, str] = (OKABE_ITO["vermillion"], OKABE_ITO["yellow"])

#: Stream status -> colour (the status word is always shown too; colour is not the only cue).
STATUS_COLORS: dict[str, str] = {
    "connected": OKABE_ITO["bluish_green"],
    "stale": OKABE_ITO["vermillion"],
    "recovering": OKABE_ITO["orange"],
    "absent": "#777777",
    "waiting": "#777777",  # no health (or no marker) yet
}
#: Status colour for a status word not in :data:`STATUS_COLORS`.
UNKNOWN_STATUS_COLOR = OKABE_ITO["reddish_purple"]

BACKGROUND = "#1b1d21"
PANEL = "#24272d"
FOREGROUND = "#d8dade"
MUTED = "#9aa0a8"  # secondary text: captions, ranges, "pipeline stopped"
SUBTLE = "#aeb3bb"  # section titles, the status line under the headline
GRID = "#30343b"  # opaque: alpha-blended grid lines are slow in the software rasteriser
AXIS = "#5a5f68"
RAW_PUPIL = "#6f7580"  # the raw pupil trace sits behind the per-window means
HEAD_OUTLINE = "#c9ccd1"
GAP_FILL = "#9a9a9a"  # stream gaps on the time axis (drawn translucent)
GAP_LEGEND = "#5c5f63"  # ... and as it looks on the background, for the legend glyph
EEG_MISSING_LEGEND = "#8a4a25"
EYE_MISSING_LEGEND = "#7d7a3c"
TRUTH_LEGEND = MUTED

# Sizes go in style sheets: the window's sheet would override QFont sizes.
BIG_LABEL = "font-size: 30pt; font-weight: bold; color: {color};"
CONFIDENCE_LABEL = f"font-size: 22pt; color: {FOREGROUND};"
INFO_LABEL = f"color: {SUBTLE}; font-size: 10pt;"
FLAGS_LABEL = f"color: {OKABE_ITO['orange']}; font-size: 10pt;"
STATE_LABEL = "font-size: 11pt; color: {color};"

STYLESHEET = f"""
QWidget {{ background: {BACKGROUND}; color: {FOREGROUND}; font-size: 10pt; }}
QTableWidget {{ background: {PANEL}; gridline-color: #3a3e46; border: 1px solid #3a3e46; }}
QHeaderView::section {{ background: #2d3138; color: {FOREGROUND}; border: 0px;
                       padding: 3px; font-weight: bold; }}
QPlainTextEdit {{ background: {PANEL}; border: 1px solid #3a3e46; font-family: monospace;
                  font-size: 9pt; }}
QPushButton {{ background: #2d3138; border: 1px solid #4a4f58; padding: 6px 14px;
              border-radius: 4px; }}
QPushButton:checked {{ background: {OKABE_ITO["orange"]}; color: #111; }}
QLabel#sectionTitle {{ font-weight: bold; color: {SUBTLE}; }}
QSplitter::handle {{ background: #2d3138; }}
"""


def class_color(label: str, class_names: Sequence[str], default: str = FOREGROUND) -> str:
    """Colour of class ``label`` (cycling through :data:`CLASS_COLORS`); ``default`` if unknown."""
    names = tuple(class_names)
    if label not in names:
        return default
    return CLASS_COLORS[names.index(label) % len(CLASS_COLORS)]
