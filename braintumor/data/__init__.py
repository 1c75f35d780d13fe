"""Data in: raw reading and validation (`dataset`), picture files (`images`), splits,
near-duplicates, training sources and the outside scans, slice-level input checks.

The lowest layer above `config` and `files`: nothing here imports `models`, `evaluation`,
`reports` or the command line.
"""
