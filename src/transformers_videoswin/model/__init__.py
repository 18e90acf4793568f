"""The Video Swin model. Importing it installs the CPU forward of its layers (`cpu_windows.py`)."""

from . import cpu_windows  # noqa: F401  (replaces the layers' forward on the CPU, see its docstring)
