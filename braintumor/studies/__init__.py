"""Studies: rows trained and scored by a rule written before them, each row kept in a record.

This layer sits above `models` and `evaluation` (it trains and scores) and below `reports`
(which render its records); models never import it (tests/test_layout.py). `base` holds what
every study shares: the record, atomically written with the machine and library versions,
the figures kept per row, and the resumable row loop.
"""
