"""Stratified, grouped 5-fold cross-validation of the single-source recipe and the image-feature
forest (`make cv`, `make cv-all`): `folds` scores one fold, `steps` runs the folds and keeps
the record (`python -m braintumor study cv run`)."""

from .steps import main

__all__ = ["main"]
