"""The documents' losses in MXNet, on NDArrays (imperative: the objective runs outside the hybridized VGG)."""

from __future__ import annotations

from mxnet import nd


def gram(Y: nd.NDArray) -> nd.NDArray:
    """Y Y^T / (c h w) on the (c, h w) reshape, as FullyConnected(Y, weight=Y) with one product in backward.

    FullyConnected computes data @ weight^T through oneDNN's inner product (nd.dot: OpenBLAS, 2.4x slower). The
    weight is Y with its gradient stopped, and G^T - G^T.detach() (exactly zero) adds back the gradient that
    drops: the value is Y Y^T bit for bit, and backward makes one product, (G' + G'^T) Y, where recording
    FullyConnected(Y, Y) makes two, one per input, and adds them (1.8x the time on these shapes).
    """
    num_channels, n = Y.shape[1], Y.size // Y.shape[1]
    M = Y.reshape((num_channels, n))
    G = nd.FullyConnected(M, M.detach(), num_hidden=num_channels, no_bias=True)
    return (G + (G.T - G.T.detach())) / (num_channels * n)


def content_loss(Y_hat: nd.NDArray, Y: nd.NDArray) -> nd.NDArray:
    """Mean squared error (Y is a constant target)."""
    return (Y_hat - Y.detach()).square().mean()


def style_loss(Y_hat: nd.NDArray, gram_Y: nd.NDArray) -> nd.NDArray:
    """Mean squared error between Gram matrices."""
    return (gram(Y_hat) - gram_Y.detach()).square().mean()


def tv_loss(X: nd.NDArray) -> nd.NDArray:
    """Total variation of an image."""
    return 0.5 * ((X[:, :, 1:, :] - X[:, :, :-1, :]).abs().mean() + (X[:, :, :, 1:] - X[:, :, :, :-1]).abs().mean())
