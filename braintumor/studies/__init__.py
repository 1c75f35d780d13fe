"""Studies: rows trained and scored by a rule written before them, each row kept in a record.

This layer sits above `models` and `evaluation` (it trains and scores) and below `reports`
(which render its records); models never import it (tests/test_layout.py). `base` holds what
every study shares: the record, atomically written with the machine and library versions,
the figures kept per row, and the resumable row loop.
"""

#: The studies that run as `python -m braintumor study NAME STEP` (name -> module of this package,
#: whose `main` takes the step and options).
STUDIES = {"new-scans": "new_scans", "site": "site.steps", "loso": "loso.steps", "source": "source", "cv": "cv.steps",
           "resolution": "resolution", "extraction": "extraction", "scope": "scope",
           "scope-cnn": "scope_cnn"}


def run(name: str, argv: list[str]) -> int:
    """Run study `name`'s command line (its module's `main`) with `argv`, e.g. ["train", "--minutes", "60"]."""
    from importlib import import_module

    if name not in STUDIES:
        raise KeyError(f"unknown study {name!r}; known: {', '.join(STUDIES)}")
    return import_module(f".{STUDIES[name]}", __name__).main(argv)

