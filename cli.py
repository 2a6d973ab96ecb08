"""The ``nst`` command line. ``python cli.py ...`` in a checkout does the same as the installed ``nst``.

Only argument parsing happens here; a framework is imported after the arguments are read, and only the chosen one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

if __package__:  # installed: nst.cli
    from . import common
else:  # a checkout: python cli.py
    import common

DEFAULTS = common.Settings()


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print one line and exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _layers(text: str) -> tuple[str, ...]:
    try:
        return common.layers.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _finite(text: str) -> float:
    try:
        return float(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from e


def add_stylize_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``nst stylize``."""
    d = DEFAULTS
    p.add_argument("--backend", default=d.backend, help=f"torch or mxnet (default {d.backend})")
    p.add_argument("--content", help="content image (default: scikit-image's chelsea.png)")
    p.add_argument("--style", help="style image (default: scikit-image's ihc.png)")
    p.add_argument("--output", default=d.output, help=f"result image, .png/.jpg/... (default {d.output})")
    p.add_argument(
        "--size",
        nargs=2,
        type=int,
        metavar=("H", "W"),
        default=d.size,
        help=f"rows and columns of the result (default {d.size[0]} {d.size[1]})",
    )
    p.add_argument("--steps", type=int, default=d.steps, help=f"optimization steps (default {d.steps})")
    p.add_argument("--lr", type=_finite, default=d.lr, help=f"Adam learning rate (default {d.lr})")
    p.add_argument(
        "--lr-decay-every",
        type=int,
        default=d.lr_decay_every,
        metavar="N",
        help=f"multiply the lr by --lr-decay-factor every N steps (default {d.lr_decay_every})",
    )
    p.add_argument(
        "--lr-decay-factor", type=_finite, default=d.lr_decay_factor, metavar="F", help=f"(default {d.lr_decay_factor})"
    )
    p.add_argument("--content-weight", type=_finite, default=d.content_weight, help=f"(default {d.content_weight:g})")
    p.add_argument("--style-weight", type=_finite, default=d.style_weight, help=f"(default {d.style_weight:g})")
    p.add_argument("--tv-weight", type=_finite, default=d.tv_weight, help=f"(default {d.tv_weight:g})")
    p.add_argument(
        "--content-layers",
        type=_layers,
        default=d.content_layers,
        metavar="LAYERS",
        help="comma-separated names or feature indices (default conv4_4, i.e. 25)",
    )
    p.add_argument(
        "--style-layers",
        type=_layers,
        default=d.style_layers,
        metavar="LAYERS",
        help="(default conv1_1,conv2_1,conv3_1,conv4_1,conv5_1, i.e. 0,5,10,19,28)",
    )
    p.add_argument("--pooling", choices=("max", "avg"), default=d.pooling, help="VGG pooling (default max)")
    p.add_argument("--init", choices=("content", "noise"), default=d.init, help="start image (default content)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed for random weights and noise (default 0)")
    p.add_argument("--device", default=d.device, help="cpu or cuda:N (default cpu)")
    p.add_argument(
        "--weights",
        default=d.weights,
        metavar="auto|imagenet|random|PATH",
        help="VGG-19 weights (default auto: imagenet if it can be had, else seeded random)",
    )
    p.add_argument("--dtype", choices=("float32", "float64"), default=d.dtype, help="(default float32)")
    p.add_argument("--log", metavar="RUN.json", help="write the run record (settings, versions, per-step losses)")
    p.add_argument("--plot", metavar="LOSS.png", help="draw the loss curves")
    p.add_argument("--save-every", type=int, default=0, metavar="N", help="also write the image every N steps")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")


def settings_from(args: argparse.Namespace) -> common.Settings:
    """Settings from parsed stylize arguments."""
    names = set(common.settings.FIELD_NAMES)
    return common.Settings(**{k: (tuple(v) if k == "size" else v) for k, v in vars(args).items() if k in names})


def cmd_stylize(args: argparse.Namespace) -> int:
    """nst stylize."""
    result = common.stylize(settings_from(args))
    if not args.quiet:
        last = result.history[-1]
        seconds = sum(r.seconds for r in result.history)
        print(
            f"wrote {args.output}: {len(result.history)} steps on {args.backend} in {seconds:.1f} s "
            f"({seconds / len(result.history):.3f} s/step), final total loss {last.total:.4g}; "
            f"weights: {result.weights}"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``nst`` parser with its subcommands."""
    parser = Parser(prog="nst", description="Neural style transfer on PyTorch and MXNet/Gluon, one program.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    stylize = sub.add_parser(
        "stylize",
        help="optimize an image to match one image's content and another's style",
        description="Gatys et al. style transfer; defaults are the d2l PyTorch recipe.",
    )
    add_stylize_arguments(stylize)
    stylize.set_defaults(func=cmd_stylize)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already reported in one line
        return int(e.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except common.NSTError as e:
        print(f"nst: {'error: ' if e.exit_code == 2 else ''}{e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("nst: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
