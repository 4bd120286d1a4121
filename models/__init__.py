"""The cross-modal transformer, SEED-V data, LOSO training, export and the runtime."""
