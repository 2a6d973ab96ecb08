"""Gluon weight files (.params) and the Gluon model zoo's ImageNet VGG-19 download."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Mapping

import mxnet as mx
import numpy as np
from mxnet.gluon.model_zoo import model_store

from .. import core


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
    mx.nd.save(path, {k: mx.nd.array(v, dtype=v.dtype) for k, v in core.weights.gluon_names(arrays).items()})


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
