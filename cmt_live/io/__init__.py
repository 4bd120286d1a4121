"""Files: XDF read/write, MNE-readable EEG and gaze files, LabRecorder, recordings -> SEED-V."""
