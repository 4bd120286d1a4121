"""The simulator: subject profiles, sessions, the SEED-V-layout dataset builder, the demo."""
