"""The photorealistic (HRNet) objective, framework-free: the document's content and style losses through backend ops.

Document 004 computes, for the generator's output T, the content image C and the style image S (VGG features F):
content = mean((F_conv4_2(T) - F_conv4_2(C))^2); style = sum over layers of w_l mean((G(F_l(T)) - G(F_l(S)))^2)
/ (c h w), with G the un-normalized Gram matrix F F^T and c, h, w the shape of F_l(T). The style image keeps its
own resolution, so its Gram matrix sums over h_s w_s positions, not h w.

That is ``gram="sum"``, the document's code. With a style image of more pixels than the output, its Gram
matrices are larger than any in-range output can make, and the training drifts to a saturated image
(docs/photoreal.md). ``gram="per-pixel"`` (the default) compares the Gram matrices per pixel, as d2l's
gram(Y) = F F^T / (c h w) does: the style's Gram matrix is scaled to the output's h w positions, G(S) h w /
(h_s w_s). Both are the same number when the two images have the same pixel count.

With the backend's normalized gram(Y) = F F^T / (c h w), the style term is w_l (c h w) style_loss(F_l(T), target):
target = gram(F_l(S)) per pixel, or gram(F_l(S)) h_s w_s / (h w) summed; computed with the backend's own Gram
matrix and style loss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .interface import Backend, Tensor
from .objective import LossWeights

GRAMS = ("per-pixel", "sum")  # how the style's Gram matrices meet the output's: per pixel, or summed (document 004)


class PhotorealObjective:
    """Generated image -> (content, style, tv, total) against the content image's features and the style's Grams."""

    def __init__(
        self,
        ops: Backend,
        extractor: Callable[[Tensor], dict[str, Tensor]],
        content_layers: Sequence[str],
        style_layers: Sequence[str],
        content_X: Tensor,
        style_X: Tensor,
        weights: LossWeights,
        gram: str = GRAMS[0],
    ) -> None:
        if gram not in GRAMS:
            raise ValueError(f"gram must be one of {GRAMS}, not {gram!r}")
        self.ops, self.extractor, self.weights, self.gram = ops, extractor, weights, gram
        self.content_layers, self.style_layers = list(content_layers), list(style_layers)
        content_features = extractor(content_X)
        self.contents_Y = [content_features[name] for name in self.content_layers]
        style_features = extractor(style_X)
        self.styles_gram = [ops.gram(style_features[name]) for name in self.style_layers]
        self.styles_positions = [style_features[name].shape[2] * style_features[name].shape[3] for name in style_layers]

    def style_term(self, i: int, Y: Tensor) -> Tensor:
        """mean((G(Y) - G_target)^2) / (c h w) for style layer i, unweighted: G_target = G(S) h w / (h_s w_s) per
        pixel, G(S) summed (the document's)."""
        c, h, w = Y.shape[1], Y.shape[2], Y.shape[3]
        target = self.styles_gram[i]
        if self.gram == "sum":
            target = target * (self.styles_positions[i] / (h * w))
        return self.ops.style_loss(Y, target) * float(c * h * w)

    def __call__(self, X: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The four losses of generated image X, each weighted (tv is 0 unless a TV weight is set)."""
        features = self.extractor(X)
        w = self.weights
        tv = self.ops.tv_loss(X) * w.tv
        zero = tv * 0
        pairs = zip(self.content_layers, self.contents_Y, strict=True)
        content = sum((self.ops.content_loss(features[n], Y) * w.content for n, Y in pairs), zero)
        style = sum(
            (self.style_term(i, features[n]) * (w.style * w.style_layer(i)) for i, n in enumerate(self.style_layers)),
            zero,
        )
        return content, style, tv, content + style + tv
