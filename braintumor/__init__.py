"""Brain tumour MRI slice classifier: data preparation, models, evaluation and reports.

The notebooks (`data_prep.ipynb`, `model.ipynb`, `erroranalysis.ipynb`) stay thin and call
into this package; every function here is unit-tested under `tests/`.
"""

__version__ = "0.1.0"
