"""The contract every backend implements: the one place its methods are documented.

A backend is a thin layer of framework idiom over this contract. Tensors are the framework's own
(torch.Tensor, mxnet.nd.NDArray); shapes follow the documents: images and feature maps are (1, c, h, w).
Methods a backend inherits from here are framework-free and written once.
"""

from __future__ import annotations

import abc
import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from . import hrnet, layers, pixels, registry
from .errors import WeightsUnavailable
from .training import StepLosses, Trainer
from .weights import VGGWeights, file_format, random_weights, validate, weight_format

Tensor = Any  # torch.Tensor or mxnet.nd.NDArray
LossFn = Callable[[Tensor], Sequence[Tensor]]  # image -> (content, style, tv, total) tensors
__all__ = ["Backend", "LossFn", "StepLosses", "Tensor", "Trainer", "load_backend", "read_weights_file"]


# Where each backend keeps the implementation of a contract method: backends/<name>/<module>.py, <function>.
# Every backend has these modules with these names; Backend subclasses are bound to them automatically.
IMPLEMENTED_BY: dict[str, tuple[str, str]] = {
    "to_numpy": ("processing", "to_numpy"),
    "to_pixels": ("processing", "to_pixels"),
    "threads": ("processing", "threads"),
    "gram": ("losses", "gram"),
    "content_loss": ("losses", "content_loss"),
    "style_loss": ("losses", "style_loss"),
    "tv_loss": ("losses", "tv_loss"),
    "feature_extractor": ("vgg", "feature_extractor"),
    "pretrained_weights": ("weights", "pretrained"),
    "read_weights": ("weights", "read"),
    "write_weights": ("weights", "write"),
    "canonical_names": ("weights", "canonical_names"),
    "own_names": ("weights", "own_names"),
    "synthesized_image": ("trainer", "SynthesizedImage"),
    "trainer": ("trainer", "Trainer"),
    "gradient": ("trainer", "gradient"),
    "generator_arrays": ("generator", "arrays"),
}


class Backend(abc.ABC):
    """One framework's implementation of preprocessing, VGG-19 features, the losses and training.

    A subclass defined in backends/<name>/__init__.py gets the methods of IMPLEMENTED_BY from its package's
    modules; it writes itself only what depends on its device: __init__, version, asarray, to_tensor and
    _build_vgg19. What common/ needs of it before its framework loads, it declares in data files beside them
    (registry.declared): its weight-file format (weights.toml), its fitted memory model (memory.toml) and whether
    it runs bf16 on a CPU (precision.toml).
    """

    name: str = ""
    framework: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        package = cls.__module__
        for method, (module, function) in IMPLEMENTED_BY.items():
            if method not in cls.__dict__:
                implementation = getattr(importlib.import_module(f"{package}.{module}"), function)
                setattr(cls, method, staticmethod(implementation))
        abc.update_abstractmethods(cls)

    def __init__(self, device: str = "cpu") -> None:
        self.device = device

    @staticmethod
    @abc.abstractmethod
    def threads() -> int:
        """The threads the framework computes with in this process. Both frameworks size their pools from
        OMP_NUM_THREADS when they are imported (the MXNet backend sets it to the usable cores if unset), so a
        process that wants another count sets that variable before load_backend."""

    def __repr__(self) -> str:
        return f"<{self.name} backend on {self.device}>"

    @property
    def weight_suffix(self) -> str:
        """The extension of the framework's own weight files (.pth, .params), as its weights.toml declares."""
        return weight_format(self.name).suffixes[0]

    @property
    @abc.abstractmethod
    def version(self) -> str:
        """The framework's version string."""

    # --- tensors ---------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def asarray(self, array: np.ndarray) -> Tensor:
        """A framework tensor on this backend's device holding a copy of ``array``, with the same dtype."""

    @abc.abstractmethod
    def to_numpy(self, X: Tensor) -> np.ndarray:
        """A numpy copy of a tensor (detached from any gradient record)."""

    # --- preprocessing ---------------------------------------------------------------------------------------
    @abc.abstractmethod
    def to_tensor(self, pixels: np.ndarray, dtype: str = "float32", normalize: bool = True) -> Tensor:
        """uint8 (H, W, 3) pixels -> (1, 3, H, W) tensor scaled to [0, 1], ImageNet-normalized if asked.

        The scaling and normalization are computed in ``dtype`` (so float64 runs never pass through float32).
        """

    @abc.abstractmethod
    def to_pixels(self, X: Tensor, normalized: bool = True) -> np.ndarray:
        """(1, 3, H, W) tensor -> (H, W, 3) float64 in [0, 1]: normalization undone, then clipped."""

    def preprocess(
        self, image: Image.Image, size: tuple[int, int], dtype: str = "float32", normalize: bool = True
    ) -> Tensor:
        """PIL image -> (1, 3, H, W) tensor: resized to size=(H, W) by the shared PIL resize, then to_tensor."""
        return self.to_tensor(pixels.pixels(image, size), dtype, normalize)

    def postprocess(self, X: Tensor, normalized: bool = True) -> Image.Image:
        """(1, 3, H, W) tensor -> RGB PIL image: to_pixels, then rounded to the nearest 8-bit level."""
        return pixels.from_float(self.to_pixels(X, normalized))

    # --- losses (the documents' formulas) -----------------------------------------------------------------------
    @staticmethod
    @abc.abstractmethod
    def gram(Y: Tensor) -> Tensor:
        """The Gram matrix Y Y^T / (c h w) of the (c, h w) reshape of a (1, c, h, w) feature map: (c, c)."""

    @staticmethod
    @abc.abstractmethod
    def content_loss(Y_hat: Tensor, Y: Tensor) -> Tensor:
        """Mean squared error between the synthesized and the content image's features (a scalar tensor)."""

    @staticmethod
    @abc.abstractmethod
    def style_loss(Y_hat: Tensor, gram_Y: Tensor) -> Tensor:
        """Mean squared error between gram(Y_hat) and the style image's precomputed Gram matrix."""

    @staticmethod
    @abc.abstractmethod
    def tv_loss(X: Tensor) -> Tensor:
        """Total variation: 0.5 (mean |x[i+1, j] - x[i, j]| + mean |x[i, j+1] - x[i, j]|) over all channels."""

    # --- the network -----------------------------------------------------------------------------------------------
    def vgg19(
        self,
        weights: str | VGGWeights | Mapping[str, np.ndarray] = "random",
        seed: int = 0,
        pooling: str = "max",
        dtype: str = "float32",
        upto: str | int = "pool5",
    ) -> Any:
        """VGG-19 ``features`` cut after layer ``upto``, weights frozen (no gradient is ever computed for them).

        ``weights`` is "random" (seeded by ``seed``, identical in every backend), "imagenet", "auto"
        (imagenet if it can be had, else random), the path of a weight file of any backend's format, a VGGWeights,
        or a dict of arrays under the canonical names ('features.N.weight') or this library's own.
        ``pooling`` is "max" (as trained) or "avg".
        """
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling must be 'max' or 'avg', not {pooling!r}")
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', not {dtype!r}")
        last = layers.resolve(upto)
        if isinstance(weights, str):
            weights = self.resolve_weights(weights, seed, last)
        arrays = weights.arrays if isinstance(weights, VGGWeights) else self.canonical_names(weights)
        return self._build_vgg19(validate(arrays, last, "weights"), last, pooling, dtype)

    def resolve_weights(self, spec: str, seed: int, upto: layers.Layer | None = None) -> VGGWeights:
        """The weights a run uses: 'random' (seeded), 'imagenet', 'auto' (imagenet, else random) or a file path."""
        if spec == "random":
            return random_weights(seed, upto)
        if spec in ("imagenet", "auto"):
            try:
                arrays, where = self.pretrained_weights()
            except WeightsUnavailable:
                if spec == "imagenet":
                    raise
                return random_weights(seed, upto, ": imagenet unavailable")
            return VGGWeights(validate(self.canonical_names(arrays), upto, where), "imagenet", f"imagenet ({where})")
        return VGGWeights(validate(read_weights_file(spec), upto, f"weights file {spec!r}"), "file", f"file {spec}")

    @abc.abstractmethod
    def _build_vgg19(self, arrays: Mapping[str, np.ndarray], last: layers.Layer, pooling: str, dtype: str) -> Any:
        """The framework network for validated 'features.N.*' arrays, cut after ``last``, frozen."""

    @abc.abstractmethod
    def feature_extractor(
        self, net: Any, names: Sequence[str | int], precision: str = "fp32"
    ) -> Callable[[Tensor], dict[str, Tensor]]:
        """A callable mapping an image to {layer name: that layer's output}, exactly, for the named layers.

        ``precision`` "bf16" or "fp16" runs the network in reduced precision (autocast in torch, AMP in MXNet)
        and returns the outputs as float32; the Gram matrices, losses and optimizer stay float32.
        """

    @abc.abstractmethod
    def pretrained_weights(self) -> tuple[dict[str, np.ndarray], str]:
        """ImageNet VGG-19 arrays (under the library's own names) through the framework's own download and cache,
        and the file they came from.

        Raises WeightsUnavailable (one line naming the file, the cache folder and the alternatives) when the
        file is neither cached nor downloadable.
        """

    @abc.abstractmethod
    def read_weights(self, path: str) -> dict[str, np.ndarray]:
        """Every array of a weight file in this framework's format, as numpy arrays under the names in the file
        (no code in the file is run)."""

    @abc.abstractmethod
    def write_weights(self, path: str, arrays: Mapping[str, np.ndarray]) -> None:
        """Write canonically named arrays to ``path`` as this framework's weight file, under the names its own
        vgg19() loads (own_names; the caller makes the write atomic)."""

    @staticmethod
    @abc.abstractmethod
    def canonical_names(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The same arrays under the canonical names ('features.N.*', 'classifier.N.*': torchvision's), from any
        naming this library's files and downloads use; a name it does not know is kept as it is."""

    @staticmethod
    @abc.abstractmethod
    def own_names(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Canonically named arrays under the names this library's own vgg19() loads."""

    # --- the photorealistic generator (HRNet, common/core/hrnet.py) ------------------------------------------------
    def generator(self, arrays: Mapping[str, np.ndarray], dtype: str = "float32") -> Any:
        """The HRNet generator holding ``arrays`` (canonical names, common/core/hrnet.py), trainable, in ``dtype``.

        Called on a (1, 3, H, W) tensor with H and W divisible by 4, it returns the generated (1, 3, H, W) image.
        """
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', not {dtype!r}")
        return self._build_generator(hrnet.check_arrays(dict(arrays), "generator weights"), dtype)

    @abc.abstractmethod
    def _build_generator(self, arrays: Mapping[str, np.ndarray], dtype: str) -> Any:
        """The framework's HRNet for validated canonical arrays, on this device."""

    @abc.abstractmethod
    def generator_arrays(self, model: Any) -> dict[str, np.ndarray]:
        """A generator's current parameters as numpy arrays under their canonical names."""

    # --- training ----------------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def synthesized_image(self, X: Tensor, levels: int = 1) -> Any:
        """The documents' SynthesizedImage: a model whose only parameter is the image, initialized to X; called,
        it returns the image. With ``levels`` > 1 the image is a pyramid (core/pyramid.py): X is its full-size
        level, the coarser levels (zeros at first) are parameters too, and the image is their sum as
        reference.pyramid_image computes it."""

    @abc.abstractmethod
    def trainer(
        self,
        model: Any,
        loss_fn: LossFn,
        lr: float,
        decay_every: int,
        decay_factor: float,
        inputs: Sequence[Tensor] = (),
        optimizer: str = "adam",
        bounds: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> Trainer:
        """A Trainer for ``model(*inputs)`` under ``loss_fn``: "adam" or "sgd" computed as torch.optim does, the
        learning rate x decay_factor every decay_every steps; with ``bounds`` (per-channel low and high, shape
        (1, 3, 1, 1)) the image is clamped before every step (the model must have clamp_, as SynthesizedImage has).
        """

    @abc.abstractmethod
    def gradient(self, loss_fn: LossFn, X: Tensor) -> tuple[list[float], Tensor]:
        """(the four losses at X, d total / d X): one forward and backward pass with X as the only variable."""


def load_backend(name: str, device: str = "cpu") -> Backend:
    """The backend object for a name of the registry ("torch", "mxnet") on a device ("cpu", "cuda:N")."""
    return registry.backend_package(name).Backend(device=device)


def read_weights_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All arrays of a weight file of any backend's format, canonically named, read by the backend whose format it
    is (whose framework must be installed)."""
    reader = load_backend(file_format(path))
    return reader.canonical_names(reader.read_weights(str(path)))
