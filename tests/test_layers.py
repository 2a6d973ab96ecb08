"""VGG-19 layer names and feature indices."""

from __future__ import annotations

import pytest

from common.core import layers


def test_there_are_37_layers_named_by_block_and_depth() -> None:
    assert len(layers.VGG19) == 37
    assert layers.NAMES[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert layers.NAMES[-3:] == ("conv5_4", "relu5_4", "pool5")
    assert [c.name for c in layers.CONV_LAYERS][-1] == "conv5_4" and len(layers.CONV_LAYERS) == 16
    assert sum(layer.kind == "pool" for layer in layers.VGG19) == 5


def test_the_d2l_indices_are_the_first_conv_of_each_block_and_conv4_4() -> None:
    assert layers.resolve_all([0, 5, 10, 19, 28]) == ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
    assert layers.resolve(25).name == "conv4_4"


def test_channels_follow_the_vgg19_configuration() -> None:
    assert layers.BY_NAME["conv1_1"].in_channels == 3
    assert layers.BY_NAME["conv3_1"].in_channels == 128 and layers.BY_NAME["conv3_1"].out_channels == 256
    assert layers.param_shape("features.28.weight") == (512, 512, 3, 3)
    assert layers.param_shape("features.0.bias") == (64,)


def test_parse_accepts_names_indices_and_mixtures_and_drops_duplicates() -> None:
    assert layers.parse("conv4_2, 0,relu1_1,conv1_1") == ("conv4_2", "conv1_1", "relu1_1")
    assert layers.parse("CONV5_1") == ("conv5_1",)


@pytest.mark.parametrize("bad", ["conv6_1", "relu", "37", "-1", "conv1_1x"])
def test_unknown_layers_are_refused_with_the_valid_forms(bad: str) -> None:
    with pytest.raises(ValueError, match=r"conv1_1|outside"):
        layers.parse(bad)


def test_an_empty_list_is_refused() -> None:
    with pytest.raises(ValueError, match="empty layer list"):
        layers.parse(" , ")


def test_deepest_and_the_conv_parameters_up_to_it() -> None:
    assert layers.deepest(["relu1_1", "conv4_4", "pool2"]).index == 25
    keys = layers.conv_param_names(layers.BY_NAME["conv2_1"])
    assert keys == [
        "features.0.weight",
        "features.0.bias",
        "features.2.weight",
        "features.2.bias",
        "features.5.weight",
        "features.5.bias",
    ]


def test_min_side_doubles_with_each_pooling() -> None:
    assert layers.min_side(layers.BY_NAME["conv1_1"]) == 1
    assert layers.min_side(layers.BY_NAME["pool1"]) == 2
    assert layers.min_side(layers.BY_NAME["conv5_1"]) == 16
    assert layers.min_side(layers.BY_NAME["pool5"]) == 32
