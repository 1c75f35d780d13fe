"""Models: Keras layers and architectures, training (`networks`), the training recipes and
the rules fixed before the runs that apply them (`recipes`), the named shipped models
(`specs`) and their portable export.

`braintumor.models.load_model(path)` (and every other name of `networks`) works as before:
it is looked up in `networks` on first use, so importing `braintumor.models.specs` or
`braintumor.models.recipes` does not import TensorFlow.
"""

from importlib import import_module


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    networks = import_module(".networks", __name__)
    try:
        return getattr(networks, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
