"""Evaluation: metrics with intervals, slice-level cues and head-size-matched pairs
(`shortcut`), Grad-CAM, error analysis and the metrics records the notebooks write
(`records`). Reads `data` and `models`; never `reports` or the command line.
"""
