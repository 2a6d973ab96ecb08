"""The documents' losses in torch."""

from __future__ import annotations

import torch


def gram(Y: torch.Tensor) -> torch.Tensor:
    """Y Y^T / (c h w) on the (c, h w) view (or the transposed (h w, c) view of channels_last data), with one
    product in backward.

    The second factor is Y with its gradient stopped, and G^T - G^T.detach() (exactly zero) adds back the gradient
    that drops: the value is Y Y^T bit for bit, and backward makes one product, (G' + G'^T) Y, where mm(Y, Y^T)
    makes two, one per input, and adds them. torch returns that gradient in Y's own layout, so channels_last
    features (an (h w, c) matrix in memory) are read and written without a copy.
    """
    num_channels, n = Y.shape[1], Y.numel() // Y.shape[1]
    if not Y.is_contiguous() and Y.is_contiguous(memory_format=torch.channels_last):
        M = Y.permute(0, 2, 3, 1).reshape((n, num_channels)).T
    else:
        M = Y.reshape((num_channels, n))
    G = torch.mm(M, M.detach().T)
    return (G + (G.T - G.T.detach())) / (num_channels * n)


def content_loss(Y_hat: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Mean squared error (Y is a constant target)."""
    return torch.square(Y_hat - Y.detach()).mean()


def style_loss(Y_hat: torch.Tensor, gram_Y: torch.Tensor) -> torch.Tensor:
    """Mean squared error between Gram matrices."""
    return torch.square(gram(Y_hat) - gram_Y.detach()).mean()


def tv_loss(X: torch.Tensor) -> torch.Tensor:
    """Total variation of an image."""
    return 0.5 * (
        torch.abs(X[:, :, 1:, :] - X[:, :, :-1, :]).mean() + torch.abs(X[:, :, :, 1:] - X[:, :, :, :-1]).mean()
    )
