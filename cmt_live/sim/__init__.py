"""The simulator: synthetic SEED-V-like sessions (EEG, gaze, markers), datasets and the demo.

- :mod:`~cmt_live.sim.session`: :class:`~cmt_live.sim.session.SessionSimulator`, the public
  face (EEG, gaze and markers of one subject's session);
- :mod:`~cmt_live.sim.eeg`, :mod:`~cmt_live.sim.gaze`: the two signal models;
- :mod:`~cmt_live.sim.profiles`: emotion signatures and what differs between subjects;
- :mod:`~cmt_live.sim.schedule`: SEED-V's clip schedule and time -> segment lookups;
- :mod:`~cmt_live.sim.scalp`: electrode positions and smooth scalp fields;
- :mod:`~cmt_live.sim.randomness`: keyed RNG streams and lazily drawn events;
- :mod:`~cmt_live.sim.dataset`: simulated feature files in SEED-V's layout (``cmt-sim dataset``);
- :mod:`~cmt_live.sim.streams`: the three streams' identity, over LSL or into XDF
  (``cmt-sim stream`` / ``record``);
- :mod:`~cmt_live.sim.demo`: ``cmt-live --demo``.
"""
