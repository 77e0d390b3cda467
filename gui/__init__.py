"""The live monitor: pyqtgraph widgets over the same Pipeline that offline analysis runs.

A worker thread (``gui.session``) feeds blocks from any Source through
``fascdetect.pipeline.Pipeline`` into preallocated ring buffers and a Tally;
the window (``gui.main_window``) redraws from a ~30 Hz timer, so drawing
never waits for data and data never waits for drawing.
"""
