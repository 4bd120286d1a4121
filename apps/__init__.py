"""The Qt monitor (PySide6 + pyqtgraph): a sink for predictions, features, gaze and stream health.

Where things are:

- :mod:`apps.monitor` -- :func:`~apps.monitor.run_monitor`, the one call a command line needs
- :mod:`apps.window` -- the window: layout, the queue-draining timer, redraw throttling
- :mod:`apps.panels` -- one module per panel (headline, probabilities, truth markers, gates,
  pupil, scalp maps, latency/rate trends, health table, events)
- :mod:`apps.state` -- what the window shows, as plain data (no Qt; tests drive it)
- :mod:`apps.sink` -- :class:`~apps.sink.QtSink`, the thread-safe pipeline sink (no Qt)
- :mod:`apps.history` -- the ring buffer behind every time plot (no Qt)
- :mod:`apps.theme` -- colours, fonts, the style sheet (no Qt)
- :mod:`apps.topomap` -- scalp positions and the topomap interpolation (no Qt)
- :mod:`apps.fake` -- a deterministic fake session for tests, the bench and screenshots
- :mod:`apps.qt_check` -- can Qt open a window here? (a child-process probe; no Qt imported)
- :mod:`apps._qt` -- the one place the Qt binding is chosen

Only :mod:`cmt_live.records` and :mod:`cmt_live.sinks` (``Sink``, ``GroundTruth``) are imported
from ``cmt_live``.
"""
