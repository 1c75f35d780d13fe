"""Models: Keras layers and architectures, training (`networks`), the training recipes and
the rules fixed before the runs that apply them (`recipes`), the named shipped models
(`specs`) and their portable export.

`braintumor.models.load_model(path)` (and every other name of `networks`) is looked up in
`networks` on first use. A submodule (`specs`, `configs`, `onnx_runtime`, ...) is imported as
itself, so `from braintumor.models import specs` imports no TensorFlow.

The package's Keras layers (`layers.HeadCrop`, ...) are registered with Keras explicitly, by
`keras.saving.register_keras_serializable` when `braintumor.models.layers` is imported:
`networks` imports it, and a plain `keras.models.load_model(...)` of a saved model needs
`import braintumor.models.layers` first (docs/predict.md). Importing this package alone
registers nothing and imports no Keras.
"""

import importlib.util
from importlib import import_module


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:  # a submodule: `from . import specs`
        return import_module(f".{name}", __name__)
    networks = import_module(".networks", __name__)
    try:
        return getattr(networks, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
