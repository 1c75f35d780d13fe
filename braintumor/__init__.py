"""Brain tumour MRI slice classifier: data preparation, models, evaluation and reports.

The notebooks (`data_prep.ipynb`, `model.ipynb`, `erroranalysis.ipynb`) stay thin and call
into this package. Its functions are unit-tested under `tests/` on small synthetic inputs;
`make test` then re-runs the notebooks on the real data, where the whole is checked.
"""

__version__ = "0.1.0"
