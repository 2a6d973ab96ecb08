"""Gluon weight files (.params, declared in weights.toml), their names, and the Gluon model zoo's ImageNet VGG-19
download."""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Mapping

import mxnet as mx
import numpy as np
from mxnet.gluon.model_zoo import model_store

from .. import core

# Gluon's vgg19 keeps its Dense layers inside `features` (37, 39) and the last one in `output`.
GLUON_TO_TORCH_CLASSIFIER = {
    "features.37": "classifier.0",
    "features.39": "classifier.3",
    "output": "classifier.6",
}
TORCH_TO_GLUON_CLASSIFIER = {v: k for k, v in GLUON_TO_TORCH_CLASSIFIER.items()}


def read(path: str) -> dict[str, np.ndarray]:
    """Every array of a .params file (structural or legacy names) as numpy arrays."""
    try:
        loaded = mx.nd.load(path)
    except mx.base.MXNetError as e:
        raise core.UserError(f"{path!r} is not a readable Gluon .params file") from e
    if not isinstance(loaded, dict):
        raise core.UserError(f"{path!r} holds an unnamed list of arrays, not Gluon parameters")
    return {k.removeprefix("arg:").removeprefix("aux:"): v.asnumpy() for k, v in loaded.items()}


def write(path: str, arrays: Mapping[str, np.ndarray]) -> None:
    """Save canonically named arrays as a Gluon .params file under the structural names of Gluon's model zoo
    vgg19 ('features.37.weight', 'output.bias')."""
    mx.nd.save(path, {k: mx.nd.array(v, dtype=v.dtype) for k, v in own_names(arrays).items()})


def canonical_names(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Gluon's names -> the canonical ones: the structural names of the model zoo's vgg19 ('features.37.weight',
    'output.bias') and the legacy prefixed names of the old save_params ('vgg0_conv3_weight', 'dense0_bias'),
    which number the convolutions and the dense layers in order."""
    out = {}
    convs = [c.index for c in core.layers.CONV_LAYERS]
    for key, value in arrays.items():
        name = key
        legacy = re.fullmatch(r"(?:.*_)?(conv|dense)(\d+)_(weight|bias)", name)
        if legacy:
            kind, k, p = legacy.group(1), int(legacy.group(2)), legacy.group(3)
            if kind == "conv" and k < len(convs):
                name = f"features.{convs[k]}.{p}"
            elif kind == "dense" and k < 3:
                name = f"classifier.{(0, 3, 6)[k]}.{p}"
        else:
            prefix, _, p = name.rpartition(".")
            if prefix in GLUON_TO_TORCH_CLASSIFIER:
                name = f"{GLUON_TO_TORCH_CLASSIFIER[prefix]}.{p}"
        out[name] = value
    return out


def own_names(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Canonical names -> the structural names of Gluon's model zoo vgg19 ('features.37.weight', 'output.bias')."""
    out = {}
    for key, value in arrays.items():
        prefix, _, p = key.rpartition(".")
        out[f"{TORCH_TO_GLUON_CLASSIFIER.get(prefix, prefix)}.{p}"] = value
    return out


def cache_dir() -> str:
    """Where the Gluon model zoo keeps downloaded parameters ($MXNET_HOME/models)."""
    return os.path.join(mx.base.data_dir(), "models")


def pretrained() -> tuple[dict[str, np.ndarray], str]:
    """The Gluon model zoo's vgg19 (GluonCV's vgg19 is the same file), from its cache or downloaded into it."""
    name = f"vgg19-{model_store.short_hash('vgg19')}.params"
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # its retry messages
            path = model_store.get_model_file("vgg19", root=cache_dir())
    except Exception as e:  # requests errors, hash mismatch, disk errors: all mean "cannot be had"
        raise core.WeightsUnavailable(
            f"the Gluon model zoo's ImageNet VGG-19 ({name}) is not in {cache_dir()} and could not be "
            f"downloaded ({type(e).__name__}); put the file there, or use --weights PATH or --weights random"
        ) from e
    return read(path), path
