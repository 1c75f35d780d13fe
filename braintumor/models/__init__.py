"""Models: Keras layers and architectures, training (`networks`), the training recipes and
the rules fixed before the runs that apply them (`recipes`), the named shipped models
(`specs`) and their portable export.

`braintumor.models.load_model(path)` (and every other name of `networks`) works as before:
it is looked up in `networks` on first use. A submodule (`specs`, `configs`, `onnx_runtime`,
...) is imported as itself, so `from braintumor.models import specs` imports no TensorFlow.

The package's Keras layers (`layers.HeadCrop`, ...) are registered with Keras whenever Keras
is in use, so that plain `keras.models.load_model("model/braintumor.keras")` after
`import braintumor.models` works (the README's snippet): at once when Keras is imported
already, else the moment it is (`_RegisterLayersAfterKeras`). Without Keras installed (the
light install) nothing is registered and nothing heavy is imported.
"""

import importlib.abc
import importlib.util
import sys
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


class _RegisterLayersAfterKeras(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when `keras` is imported, it lets the other finders find it and
    wraps its loader so that, once Keras has run, `.layers` is imported (which registers the
    custom layers) and this finder leaves `sys.meta_path`."""

    def __init__(self):
        self.finding = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" or self.finding:
            return None
        self.finding = True
        try:
            spec = importlib.util.find_spec("keras")
        finally:
            self.finding = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run_keras = spec.loader.exec_module

        def exec_module(module):
            run_keras(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            _import_layers()

        spec.loader.exec_module = exec_module
        return spec


def _import_layers() -> None:
    """Import `.layers` (registering its classes with Keras); a failure is a warning, so that
    the user's own `import keras` never fails because of this package."""
    try:
        import_module(".layers", __name__)
    except Exception as error:  # noqa: BLE001
        import warnings

        warnings.warn(f"braintumor.models: its Keras layers are not registered ({type(error).__name__}: {error}); "
                      "`import braintumor.models.layers` before loading a .keras file", stacklevel=2)


def _register_layers_when_keras_is_used() -> None:
    if sys.modules.get("keras") is not None:
        _import_layers()
    elif "keras" not in sys.modules and importlib.util.find_spec("keras") is not None and not any(
            isinstance(finder, _RegisterLayersAfterKeras) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterLayersAfterKeras())


_register_layers_when_keras_is_used()
