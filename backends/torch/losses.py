"""The documents' losses in torch."""

from __future__ import annotations

import torch


class _Gram(torch.autograd.Function):
    """M M^T, whose gradient is one product, (G' + G'^T) M; autograd's mm backward would make two and add them."""

    @staticmethod
    def forward(ctx, M: torch.Tensor) -> torch.Tensor:
        """M M^T for a (c, n) matrix M."""
        ctx.save_for_backward(M)
        return torch.mm(M, M.T)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        """(grad + grad^T) M, laid out as M is (a transposed view stays one: channels_last data)."""
        (M,) = ctx.saved_tensors
        S = grad + grad.T
        return torch.mm(M.T, S).T if M.stride(0) == 1 and M.shape[1] > 1 else torch.mm(S, M)


def gram(Y: torch.Tensor) -> torch.Tensor:
    """Y Y^T / (c h w) on the (c, h w) view, or M^T M on the (h w, c) view of channels_last data.

    A channels_last (1, c, h, w) tensor is stored as an (h w, c) matrix M, whose M^T M is the same Gram matrix
    without the copy that reshaping to (c, h w) would make.
    """
    num_channels, n = Y.shape[1], Y.numel() // Y.shape[1]
    if not Y.is_contiguous() and Y.is_contiguous(memory_format=torch.channels_last):
        M = Y.permute(0, 2, 3, 1).reshape((n, num_channels)).T
    else:
        M = Y.reshape((num_channels, n))
    return _Gram.apply(M) / (num_channels * n)


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
