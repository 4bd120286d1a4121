"""The one place the Qt binding is chosen: PySide6, imported before pyqtgraph.

pyqtgraph uses whichever binding is already imported (otherwise it probes PyQt6 first), so
importing PySide6 here first pins it. Every apps module imports Qt and pyqtgraph from here.
"""

from PySide6 import QtCore, QtGui, QtWidgets  # first: pyqtgraph follows the imported binding

import pyqtgraph as pg  # isort: skip

pg.setConfigOptions(antialias=False, imageAxisOrder="col-major")

__all__ = ["QtCore", "QtGui", "QtWidgets", "pg"]
