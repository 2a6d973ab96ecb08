"""The d2l recipe (document 000, PyTorch variant): every value a recipe decides, written once.

``Settings`` takes its defaults from here, the presets start from it and ``LossWeights`` defaults to its loss
weights, so a default changes in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

D2L: Mapping[str, Any] = MappingProxyType(
    {
        "method": "gatys",  # optimize the pixels (hrnet: train the generator of document 004)
        "size": (300, 450),  # rows, columns
        "max_side": None,
        "min_side": None,
        "scales": (1.0,),
        "stages": (),
        "steps": 500,
        "optimizer": "adam",
        "lr": 0.3,
        "lr_decay_every": 50,
        "lr_decay_factor": 0.8,
        "content_weight": 1.0,
        "style_weight": 1e4,
        "tv_weight": 10.0,
        "content_layers": ("conv4_4",),  # feature index 25
        "style_layers": ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"),  # feature indices 0, 5, 10, 19, 28
        "style_layer_weights": (),  # empty: every style layer weighs 1
        "style_scale": None,
        "style_max_side": None,
        "style_gram": "per-pixel",  # Gram matrices compared per pixel (d2l's gram divides by c h w)
        "pooling": "max",
        "normalize": True,
        "clamp": False,
        "init": "content",
    }
)
SIZE: tuple[int, int] = D2L["size"]
CONTENT_LAYERS: tuple[str, ...] = D2L["content_layers"]
STYLE_LAYERS: tuple[str, ...] = D2L["style_layers"]
