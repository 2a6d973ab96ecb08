"""The source repository's photorealistic training code (KushajveerSingh/Photorealistic-Style-Transfer, shown in
document 004_5aaa351b94d2f6c0.txt), re-implemented in plain torch from the document, in float64, for the tests.

Nothing of this project's backends is used: the VGG-19 is torchvision's own ``features`` layers (in-place ReLUs
included), the HRNet is the document's classes, the losses are its loop's lines. Only the numbers put in (the
seeded VGG-19 and generator weights, the image files) are shared with the run it is compared against.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision.models import vgg as torchvision_vgg

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
STYLE_WEIGHTS = {"conv1_1": 0.1, "conv2_1": 0.2, "conv3_1": 0.4, "conv4_1": 0.8, "conv5_1": 1.6}  # its config.py
CONTENT_WEIGHT, STYLE_WEIGHT = 150, 1  # its config.py's defaults


def conv_down(in_c: int, out_c: int, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(in_c, out_c, kernel_size=3, stride=stride, padding=1)


def upsample(input: torch.Tensor, scale_factor: int) -> torch.Tensor:
    return F.interpolate(input=input, scale_factor=scale_factor, mode="bilinear", align_corners=False)


class ConvLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> None:
        super().__init__()
        num_pad = int(np.floor(kernel_size / 2))
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=num_pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class BottleneckBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.in_c, self.out_c = in_channels, out_channels
        self.identity_block = nn.Sequential(
            ConvLayer(in_channels, out_channels // 4, kernel_size=1, stride=1),
            nn.InstanceNorm2d(out_channels // 4),
            nn.ReLU(),
            ConvLayer(out_channels // 4, out_channels // 4, kernel_size, stride=stride),
            nn.InstanceNorm2d(out_channels // 4),
            nn.ReLU(),
            ConvLayer(out_channels // 4, out_channels, kernel_size=1, stride=1),
            nn.InstanceNorm2d(out_channels),
            nn.ReLU(),
        )
        self.shortcut = nn.Sequential(ConvLayer(in_channels, out_channels, 1, stride), nn.InstanceNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.identity_block(x)
        residual = x if self.in_c == self.out_c else self.shortcut(x)
        out += residual  # the document's in-place add: fine for a forward pass without backward
        return F.relu(out)


class HRNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer1_1 = BottleneckBlock(3, 16)
        self.layer2_1 = BottleneckBlock(16, 32)
        self.downsample2_1 = conv_down(16, 32)
        self.layer3_1 = BottleneckBlock(32, 32)
        self.layer3_2 = BottleneckBlock(32, 32)
        self.downsample3_1 = conv_down(32, 32)
        self.downsample3_2 = conv_down(32, 32, stride=4)
        self.downsample3_3 = conv_down(32, 32)
        self.layer4_1 = BottleneckBlock(64, 64)
        self.layer5_1 = BottleneckBlock(192, 64)
        self.layer6_1 = BottleneckBlock(64, 32)
        self.layer7_1 = BottleneckBlock(32, 16)
        self.layer8_1 = conv_down(16, 3, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        map1_1 = self.layer1_1(x)
        map2_1 = self.layer2_1(map1_1)
        map2_2 = self.downsample2_1(map1_1)
        map3_1 = torch.cat((self.layer3_1(map2_1), upsample(map2_2, 2)), 1)
        map3_2 = torch.cat((self.downsample3_1(map2_1), self.layer3_2(map2_2)), 1)
        map3_3 = torch.cat((self.downsample3_2(map2_1), self.downsample3_3(map2_2)), 1)
        map4_1 = torch.cat((self.layer4_1(map3_1), upsample(map3_2, 2), upsample(map3_3, 4)), 1)
        out = self.layer5_1(map4_1)
        out = self.layer6_1(out)
        out = self.layer7_1(out)
        return self.layer8_1(out)


def load_image(path, size: int | None = None) -> torch.Tensor:
    """Its load_image (Image.open, resize to a square, ToTensor, Normalize), in float64."""
    img = Image.open(path)
    if size is not None:
        img = img.resize((size, size))
    x = torch.from_numpy(np.asarray(img, dtype=np.float64) / 255).permute(2, 0, 1)
    mean, std = (torch.tensor(v, dtype=torch.float64)[:, None, None] for v in (MEAN, STD))
    return ((x - mean) / std).unsqueeze(0)


def get_features(img: torch.Tensor, model: nn.Module, layers: dict[str, str] | None = None) -> dict[str, torch.Tensor]:
    if layers is None:
        layers = {"0": "conv1_1", "5": "conv2_1", "10": "conv3_1", "19": "conv4_1", "28": "conv5_1", "21": "conv4_2"}
    features = {}
    x = img
    for name, layer in model._modules.items():
        x = layer(x)
        if name in layers:
            features[layers[name]] = x
    return features


def get_gram_matrix(img: torch.Tensor) -> torch.Tensor:
    b, c, h, w = img.size()
    img = img.view(b * c, h * w)
    return torch.mm(img, img.t())


# The generator's canonical array names (common/core/hrnet.py) in the document's module tree.
PARTS = {"conv1": "identity_block.0.conv", "conv2": "identity_block.3.conv", "conv3": "identity_block.6.conv"}
PARTS["shortcut"] = "shortcut.0.conv"


def hrnet(arrays: dict[str, np.ndarray]) -> HRNet:
    """The document's HRNet in float64 holding the given arrays (its unused shortcuts keep their own init)."""
    net = HRNet().double()
    state = {}
    for key, value in arrays.items():
        block, *part, kind = key.split(".")
        state[".".join([block, *(PARTS[p] for p in part), kind])] = torch.from_numpy(np.asarray(value, np.float64))
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert not unexpected and all(".shortcut." in k for k in missing), (missing, unexpected)
    return net


def vgg19_features(arrays: dict[str, np.ndarray]) -> nn.Sequential:
    """torchvision's vgg19().features (configuration E, in-place ReLUs) in float64 holding the given arrays."""
    vgg = torchvision_vgg.make_layers(torchvision_vgg.cfgs["E"]).double()
    vgg.load_state_dict(
        {k.removeprefix("features."): torch.from_numpy(np.asarray(v, np.float64)) for k, v in arrays.items()}
    )
    for param in vgg.parameters():
        param.requires_grad_(False)
    return vgg


def step0_losses(content_path, style_path, content_size: int, vgg_arrays, generator_arrays) -> tuple[float, ...]:
    """Its train_model up to the first loss: (content_weight * content, style_weight * style, total)."""
    vgg = vgg19_features(vgg_arrays)
    style_net = hrnet(generator_arrays)
    content_img = load_image(content_path, size=content_size)
    style_img = load_image(style_path)
    content_features = get_features(content_img, vgg)
    style_features = get_features(style_img, vgg)
    style_gram_matrixs = {layer: get_gram_matrix(style_features[layer]) for layer in style_features}
    with torch.no_grad():
        target = style_net(content_img)
        target_features = get_features(target, vgg)
        content_loss = torch.mean((target_features["conv4_2"] - content_features["conv4_2"]) ** 2)
        style_loss = 0
        for layer in STYLE_WEIGHTS:
            target_feature = target_features[layer]
            target_gram_matrix = get_gram_matrix(target_feature)
            style_gram_matrix = style_gram_matrixs[layer]
            layer_style_loss = STYLE_WEIGHTS[layer] * torch.mean((target_gram_matrix - style_gram_matrix) ** 2)
            _b, c, h, w = target_feature.shape
            style_loss += layer_style_loss / (c * h * w)
        total_loss = CONTENT_WEIGHT * content_loss + STYLE_WEIGHT * style_loss
    return float(CONTENT_WEIGHT * content_loss), float(STYLE_WEIGHT * style_loss), float(total_loss)
