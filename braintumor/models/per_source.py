"""Training one source's scans differently from another's, in one network.

The new-scans study's `photometric_lgg_only` variant asks whether the photometric
augmentation (`RandomIntensity`) costs A when applied to A's skull-stripped BraTS slices.
The augmentation is a layer inside the model, so to apply it to the LGG rows alone the
training network takes a second input, a per-scan gate, and the layer acts where it is 1.
The network for inference is the same layers without that branch: it takes raw scans, as
every saved model here does.
"""

from __future__ import annotations

import keras

from .layers import GatedRandomIntensity

GATE_INPUT = "photometric_gate"


def with_gated_photometric(model: keras.Model, seed: int, after: str = "head_crop") -> keras.Model:
    """A training network sharing `model`'s layers (so training it trains `model`), with
    `GatedRandomIntensity` inserted after the layer named `after`. Its inputs are
    {"scan": images, GATE_INPUT: (N, 1) 0 or 1}. `model` must be a chain (each layer feeding
    the next), as `build_improved_cnn` builds it, and must hold no photometric layer."""
    names = [layer.name for layer in model.layers]
    if after not in names:
        raise ValueError(f"model {model.name!r} has no layer {after!r} to put the gated augmentation after")
    if any("intensity" in layer.name for layer in model.layers):
        raise ValueError(f"model {model.name!r} already holds a photometric layer; build it with photometric=False")
    scan = keras.Input(shape=model.input_shape[1:], name="scan")
    gate = keras.Input(shape=(1,), name=GATE_INPUT)
    x = scan
    for layer in model.layers[1:]:
        x = layer(x)
        if layer.name == after:
            x = GatedRandomIntensity(seed=seed, name="augment_intensity_gated")([x, gate])
    return keras.Model({"scan": scan, GATE_INPUT: gate}, x, name=f"{model.name}_gated")
