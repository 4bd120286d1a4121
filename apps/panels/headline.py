"""The header: current emotion and confidence in large type, the status line, live/paused/stopped
and the pause button."""

from __future__ import annotations

from apps._qt import QtWidgets
from apps.state import Headline
from apps.theme import (
    BIG_LABEL,
    CONFIDENCE_LABEL,
    FLAGS_LABEL,
    FOREGROUND,
    INFO_LABEL,
    MUTED,
    OKABE_ITO,
    STATE_LABEL,
)

#: Fixed header height: text changes there (10 per second with dense predictions) must not
#: relayout, and so repaint, the plots below.
HEIGHT_PX = 64


class HeadlineBar(QtWidgets.QWidget):
    """Emotion, confidence, details, flags, run state, and the pause button.

    Attributes
    ----------
    button_pause : QPushButton
        Checkable; the window connects its ``toggled`` signal.
    button_record : QPushButton
        Checkable, hidden unless the window has a recorder (``record`` of MonitorWindow).
    button_budget : QPushButton
        Checkable: shows (checked) or hides the latency budget table.
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedHeight(HEIGHT_PX)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label_emotion = QtWidgets.QLabel("waiting…")
        self.label_emotion.setStyleSheet(BIG_LABEL.format(color=FOREGROUND))
        self.label_emotion.setMinimumWidth(200)
        self._emotion_color = FOREGROUND
        self.label_confidence = QtWidgets.QLabel("")
        self.label_confidence.setStyleSheet(CONFIDENCE_LABEL)
        self.label_info = QtWidgets.QLabel("no prediction yet")
        self.label_info.setStyleSheet(INFO_LABEL)
        # Long status text must not force a minimum window width.
        self.label_info.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred
        )
        self.label_flags = QtWidgets.QLabel("")
        self.label_flags.setStyleSheet(FLAGS_LABEL)
        info = QtWidgets.QVBoxLayout()
        info.addWidget(self.label_info)
        info.addWidget(self.label_flags)
        self.label_state = QtWidgets.QLabel("")
        self.button_pause = QtWidgets.QPushButton("Pause view")
        self.button_pause.setCheckable(True)
        self.button_pause.setToolTip("Freeze the plots; data keeps being collected.")
        layout.addWidget(self.label_emotion)
        layout.addWidget(self.label_confidence)
        layout.addSpacing(24)
        layout.addLayout(info, stretch=1)
        layout.addWidget(self.label_state)
        layout.addSpacing(12)
        # Start/stop recording (LabRecorder); hidden unless the window is given a recorder.
        self.button_record = QtWidgets.QPushButton("● Record")
        self.button_record.setCheckable(True)
        self.button_record.setToolTip("Record the input streams and the predictions to XDF.")
        self.button_record.hide()
        layout.addWidget(self.button_record)
        self.button_budget = QtWidgets.QPushButton("Latency budget")
        self.button_budget.setCheckable(True)
        self.button_budget.setToolTip(
            "Show where the newest prediction's time went, with p50/p99 per part."
        )
        layout.addWidget(self.button_budget)
        layout.addWidget(self.button_pause)
        self.show_run_state(paused=False, finished=False)

    def show_headline(self, headline: Headline) -> None:
        """Show the newest prediction's headline."""
        self.label_emotion.setText(headline.label)
        if headline.color != self._emotion_color:  # a style sheet change re-polishes the widget
            self._emotion_color = headline.color
            self.label_emotion.setStyleSheet(BIG_LABEL.format(color=headline.color))
        self.label_confidence.setText(headline.confidence)
        self.label_info.setText(headline.info)
        self.label_flags.setText(headline.flags)

    def show_run_state(self, *, paused: bool, finished: bool) -> None:
        """Live, view paused, or pipeline stopped; the pause button follows ``paused``."""
        if self.button_pause.isChecked() != paused:
            self.button_pause.setChecked(paused)
        self.button_pause.setText("Resume view" if paused else "Pause view")
        if paused:
            text, color = "❚❚ view paused (still recording data)", OKABE_ITO["orange"]
        elif finished:
            text, color = "■ pipeline stopped", MUTED
        else:
            text, color = "● live", OKABE_ITO["bluish_green"]
        self.label_state.setText(text)
        self.label_state.setStyleSheet(STATE_LABEL.format(color=color))
