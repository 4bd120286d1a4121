"""The latency budget in the monitor, on request: hidden (and not drawn) until the headline's
"Latency budget" button is pressed, then the newest prediction's parts and rolling p50/p99 per
part, known answers. Offscreen (conftest)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from fake_records import prediction as _pred

pytest.importorskip("pytestqt")

from apps._qt import QtCore
from apps.window import MonitorWindow
from features.constants import SEEDV_CHANNELS
from features.seedv import CLASS_NAMES

pytestmark = pytest.mark.gui

T0 = 500.0


def _budget_pred(k: int):
    """Prediction ``k`` (0.25 s apart): wait_eeg k ms, model 4 or 5 ms, no ``sinks`` part,
    end-to-end 50 ms."""
    p = _pred(T0 + 0.25 * k, k % 5)
    budget = {"wait_eeg": float(k), "wait_gaze": 2.0, "queue": 0.5, "features": 3.0}
    budget["model"] = 4.0 + k % 2
    return dataclasses.replace(p, t_computed=p.t_end + 0.05, budget=budget)


@pytest.fixture
def window(qtbot):
    w = MonitorWindow(CLASS_NAMES, SEEDV_CHANNELS, history_s=120)
    qtbot.addWidget(w)
    w.show()
    return w


def test_budget_table_shows_latest_and_rolling_percentiles_on_request(window, qtbot):
    table = window.budget_table
    for k in range(100):
        window.sink.on_prediction(_budget_pred(k))
    qtbot.waitUntil(lambda: window.state.n_predictions == 100, timeout=5000)
    # Not asked for: hidden and never filled (no cost while hidden).
    assert table.isHidden() and table.columnCount() == 0

    qtbot.mouseClick(window.headline.button_budget, QtCore.Qt.MouseButton.LeftButton)
    assert table.isVisible()
    k = np.arange(100)
    total = k + 2.0 + 0.5 + 3.0 + 4.0 + k % 2  # sum of the given parts per prediction
    expected = {  # part: (latest, p50, p99) as shown
        "wait_eeg": ("99.0", "49.5", f"{np.percentile(np.arange(100), 99):.1f}"),
        "wait_gaze": ("2.0", "2.0", "2.0"),
        "queue": ("0.5", "0.5", "0.5"),
        "features": ("3.0", "3.0", "3.0"),
        "model": ("5.0", "4.5", "5.0"),
        "sinks": ("—", "—", "—"),  # not given: shown as missing, not as 0
        "sum of parts": ("109.5", *(f"{np.percentile(total, q):.1f}" for q in (50, 99))),
        "end-to-end": ("50.0", "50.0", "50.0"),
    }
    assert expected["wait_eeg"][2] == "98.0" and expected["sum of parts"][1:] == ("59.5", "107.5")
    shown = {
        part: tuple(table.cell(part, c) for c in ("latest", "p50", "p99")) for part in expected
    }
    assert shown == expected

    # Shown, it follows new predictions.
    window.sink.on_prediction(_budget_pred(100))
    qtbot.waitUntil(lambda: table.cell("wait_eeg", "latest") == "100.0", timeout=5000)
    assert table.cell("wait_eeg", "p50") == "50.0"  # median of 0..100 now

    # Hidden again, it is no longer redrawn; shown again, it catches up at once.
    qtbot.mouseClick(window.headline.button_budget, QtCore.Qt.MouseButton.LeftButton)
    assert table.isHidden()
    window.sink.on_prediction(_budget_pred(101))
    qtbot.waitUntil(lambda: window.state.n_predictions == 102, timeout=5000)
    qtbot.wait(300)  # a few timer ticks (25 Hz) that must not touch the hidden table
    assert table.cell("wait_eeg", "latest") == "100.0"
    window.show_budget(True)
    assert window.headline.button_budget.isChecked()
    assert table.cell("wait_eeg", "latest") == "101.0"


def test_budget_percentiles_cover_only_the_last_budget_n_predictions(qtbot):
    w = MonitorWindow(CLASS_NAMES, SEEDV_CHANNELS, history_s=120)
    w.state.budget_ms = type(w.state.budget_ms)(10, w.state.budget_ms.n_cols)
    qtbot.addWidget(w)
    for k in range(30):
        w.state.add_prediction(_budget_pred(k))
    w.show_budget(True)
    assert w.budget_table.cell("wait_eeg", "p50") == "24.5"  # median of 20..29
    assert w.budget_table.cell("wait_eeg", "p99") == f"{np.percentile(np.arange(20, 30), 99):.1f}"
