"""The documents' losses in torch."""

from __future__ import annotations

import torch


def gram(Y: torch.Tensor) -> torch.Tensor:
    """Y Y^T / (c h w) with torch.mm on the (c, h w) view."""
    num_channels, n = Y.shape[1], Y.numel() // Y.shape[1]
    Y = Y.reshape((num_channels, n))
    return torch.mm(Y, Y.T) / (num_channels * n)


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
