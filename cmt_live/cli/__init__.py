"""Command lines: cmt-live, cmt-sim, cmt-train, cmt-replay."""
