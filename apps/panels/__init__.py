"""The monitor's panels, one module each; the window (:mod:`apps.window`) lays them out.

- :mod:`~apps.panels.headline` -- current emotion, confidence, status line, pause button
- :mod:`~apps.panels.probabilities` -- class probabilities over time
- :mod:`~apps.panels.truth` -- ground-truth markers and the truth strip, on the same axis
- :mod:`~apps.panels.gates` -- modality gates, missing-modality shading, stream gaps
- :mod:`~apps.panels.pupil` -- per-window pupil means and the raw pupil trace
- :mod:`~apps.panels.topomaps` -- the latest window's DE as one scalp map per band
- :mod:`~apps.panels.health` -- the stream health table
- :mod:`~apps.panels.events` -- the events list
- :mod:`~apps.panels.budget` -- the latency budget table, shown on request
- :mod:`~apps.panels.plotting` -- what the time plots share (styling, legends, curves)

Panels are fed in the GUI thread with plain arrays and strings from
:class:`apps.state.MonitorState`; none of them knows about threads, records or the pipeline.
"""
