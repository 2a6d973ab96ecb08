"""The source documents' training step as they write it, kept only as the baseline the benchmark measures.

The d2l PyTorch variant: torchvision's vgg19 features[:29] (in-place ReLUs, parameters left trainable, so
backward also computes every weight gradient), a Python loop tapping layers, torch.optim.Adam and StepLR.
The d2l MXNet variant: the model zoo's vgg19 features[:29] in an imperative nn.Sequential (parameters with
gradients, not hybridized), autograd.record, gluon.Trainer 'adam', nd.waitall after each step.
Weights are the same seeded random numbers the project uses (the documents load ImageNet ones).

Each step returns the total loss of the image it started from, as the project's trainers do:
tests/test_documents_baseline.py checks that these losses are the project's, step by step (in float64, which the
documents' PyTorch code runs under torch.set_default_dtype and the MXNet code through ``dtype``; the benchmark times
both in float32, where ``dtype`` changes nothing).
"""

from __future__ import annotations

import numpy as np

STYLE_LAYERS, CONTENT_LAYERS = [0, 5, 10, 19, 28], [25]
CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT = 1, 1e4, 10


def torch_step_factory(weights: dict[str, np.ndarray], content: np.ndarray, style: np.ndarray, lr: float = 0.3):
    """A zero-argument callable running one step of the d2l PyTorch code."""
    import torch
    import torchvision
    from torch import nn

    pretrained_net = torchvision.models.vgg19(weights=None)
    pretrained_net.features.load_state_dict(
        {k.removeprefix("features."): torch.from_numpy(v) for k, v in weights.items()}, strict=False
    )
    net = nn.Sequential(*[pretrained_net.features[i] for i in range(max(CONTENT_LAYERS + STYLE_LAYERS) + 1)])

    def extract_features(X, content_layers, style_layers):
        contents, styles = [], []
        for i in range(len(net)):
            X = net[i](X)
            if i in style_layers:
                styles.append(X)
            if i in content_layers:
                contents.append(X)
        return contents, styles

    def gram(X):
        num_channels, n = X.shape[1], X.numel() // X.shape[1]
        X = X.reshape((num_channels, n))
        return torch.matmul(X, X.T) / (num_channels * n)

    def content_loss(Y_hat, Y):
        return torch.square(Y_hat - Y.detach()).mean()

    def style_loss(Y_hat, gram_Y):
        return torch.square(gram(Y_hat) - gram_Y.detach()).mean()

    def tv_loss(Y_hat):
        return 0.5 * (
            torch.abs(Y_hat[:, :, 1:, :] - Y_hat[:, :, :-1, :]).mean()
            + torch.abs(Y_hat[:, :, :, 1:] - Y_hat[:, :, :, :-1]).mean()
        )

    content_X, style_X = torch.from_numpy(content), torch.from_numpy(style)
    contents_Y, _ = extract_features(content_X, CONTENT_LAYERS, STYLE_LAYERS)
    _, styles_Y = extract_features(style_X, CONTENT_LAYERS, STYLE_LAYERS)

    class SynthesizedImage(nn.Module):
        def __init__(self, img_shape):
            super().__init__()
            self.weight = nn.Parameter(torch.rand(*img_shape))

        def forward(self):
            return self.weight

    gen_img = SynthesizedImage(content_X.shape)
    gen_img.weight.data.copy_(content_X.data)
    trainer = torch.optim.Adam(gen_img.parameters(), lr=lr)
    styles_Y_gram = [gram(Y) for Y in styles_Y]
    scheduler = torch.optim.lr_scheduler.StepLR(trainer, 50, 0.8)
    X = gen_img()

    def step():
        trainer.zero_grad()
        contents_Y_hat, styles_Y_hat = extract_features(X, CONTENT_LAYERS, STYLE_LAYERS)
        contents_l = [content_loss(a, b) * CONTENT_WEIGHT for a, b in zip(contents_Y_hat, contents_Y, strict=True)]
        styles_l = [style_loss(a, b) * STYLE_WEIGHT for a, b in zip(styles_Y_hat, styles_Y_gram, strict=True)]
        tv_l = tv_loss(X) * TV_WEIGHT
        loss = sum(styles_l + contents_l + [tv_l])
        loss.backward()
        trainer.step()
        scheduler.step()
        return loss.item()

    return step


def mxnet_step_factory(
    weights: dict[str, np.ndarray], content: np.ndarray, style: np.ndarray, lr: float = 0.9, dtype: str = "float32"
):
    """A zero-argument callable running one step of the d2l MXNet code (in float32 as written; dtype for tests)."""
    import mxnet as mx
    from mxnet import autograd, gluon, init, nd
    from mxnet.gluon import model_zoo, nn

    pretrained_net = model_zoo.vision.vgg19(pretrained=False)
    net = nn.Sequential()
    for i in range(max(CONTENT_LAYERS + STYLE_LAYERS) + 1):
        net.add(pretrained_net.features[i])
    net.initialize()
    if dtype != "float32":  # not in the documents: MXNet has no default dtype to switch, as torch has
        net.cast(dtype)
    for i in range(len(net)):
        if f"features.{i}.weight" in weights:
            net[i].weight.set_data(nd.array(weights[f"features.{i}.weight"], dtype=dtype))
            net[i].bias.set_data(nd.array(weights[f"features.{i}.bias"], dtype=dtype))

    def extract_features(X, content_layers, style_layers):
        contents, styles = [], []
        for i in range(len(net)):
            X = net[i](X)
            if i in style_layers:
                styles.append(X)
            if i in content_layers:
                contents.append(X)
        return contents, styles

    def gram(X):
        num_channels, n = X.shape[1], X.size // X.shape[1]
        X = X.reshape((num_channels, n))
        return nd.dot(X, X.T) / (num_channels * n)

    def content_loss(Y_hat, Y):
        return (Y_hat - Y).square().mean()

    def style_loss(Y_hat, gram_Y):
        return (gram(Y_hat) - gram_Y).square().mean()

    def tv_loss(Y_hat):
        return 0.5 * (
            (Y_hat[:, :, 1:, :] - Y_hat[:, :, :-1, :]).abs().mean()
            + (Y_hat[:, :, :, 1:] - Y_hat[:, :, :, :-1]).abs().mean()
        )

    content_X, style_X = nd.array(content, dtype=dtype), nd.array(style, dtype=dtype)
    contents_Y, _ = extract_features(content_X, CONTENT_LAYERS, STYLE_LAYERS)
    _, styles_Y = extract_features(style_X, CONTENT_LAYERS, STYLE_LAYERS)

    class SynthesizedImage(nn.Block):
        def __init__(self, img_shape, **kwargs):
            super().__init__(**kwargs)
            self.weight = self.params.get("weight", shape=img_shape, dtype=dtype)

        def forward(self):
            return self.weight.data()

    gen_img = SynthesizedImage(content_X.shape)
    gen_img.initialize(init.Constant(content_X), ctx=mx.cpu(), force_reinit=True)
    trainer = gluon.Trainer(gen_img.collect_params(), "adam", {"learning_rate": lr})
    styles_Y_gram = [gram(Y) for Y in styles_Y]
    X = gen_img()
    epoch = [0]

    def step():
        with autograd.record():
            contents_Y_hat, styles_Y_hat = extract_features(X, CONTENT_LAYERS, STYLE_LAYERS)
            contents_l = [content_loss(a, b) * CONTENT_WEIGHT for a, b in zip(contents_Y_hat, contents_Y, strict=True)]
            styles_l = [style_loss(a, b) * STYLE_WEIGHT for a, b in zip(styles_Y_hat, styles_Y_gram, strict=True)]
            tv_l = tv_loss(X) * TV_WEIGHT
            loss = sum(styles_l + contents_l + [tv_l])
        loss.backward()
        trainer.step(1)
        nd.waitall()
        epoch[0] += 1
        if epoch[0] % 50 == 0:
            trainer.set_learning_rate(trainer.learning_rate * 0.8)
        return float(loss.asscalar())

    return step
