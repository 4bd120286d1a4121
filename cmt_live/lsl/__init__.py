"""Lab Streaming Layer: config, stream resolution, inlets with recovery, markers, outlets, player.

Every module here imports ``pylsl`` lazily (inside functions), so :mod:`cmt_live.lsl.config`
can select the loopback-only configuration before liblsl reads it.
"""
