"""The Qt monitor (PySide6 + pyqtgraph): a sink for predictions and stream health."""
