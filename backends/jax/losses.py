"""The documents' losses in JAX: pure functions of arrays (differentiated by jax.grad wherever they are used)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax


def gram(Y: jax.Array) -> jax.Array:
    """Y Y^T / (c h w) on the (c, h w) reshape."""
    num_channels, n = Y.shape[1], Y.size // Y.shape[1]
    M = Y.reshape((num_channels, n))
    return jnp.matmul(M, M.T, precision=lax.Precision.HIGHEST) / (num_channels * n)


def content_loss(Y_hat: jax.Array, Y: jax.Array) -> jax.Array:
    """Mean squared error (Y is a constant target)."""
    return jnp.mean(jnp.square(Y_hat - lax.stop_gradient(Y)))


def style_loss(Y_hat: jax.Array, gram_Y: jax.Array) -> jax.Array:
    """Mean squared error between Gram matrices."""
    return jnp.mean(jnp.square(gram(Y_hat) - lax.stop_gradient(gram_Y)))


def magnitude(d: jax.Array) -> jax.Array:
    """|d| as d sign(d): the same number, with the gradient sign(d), 0 at 0 as in torch and MXNet (jnp.abs's is 1
    there, and neighbouring pixels of an 8-bit image are often equal: docs/porting.md)."""
    return d * jnp.sign(d)


def tv_loss(X: jax.Array) -> jax.Array:
    """Total variation of an image."""
    return 0.5 * (
        jnp.mean(magnitude(X[:, :, 1:, :] - X[:, :, :-1, :])) + jnp.mean(magnitude(X[:, :, :, 1:] - X[:, :, :, :-1]))
    )
