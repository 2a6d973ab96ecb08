"""The ``nst`` command line. ``python cli.py ...`` in a checkout does the same as the installed ``nst``.

Only argument parsing and dispatch happen here; a framework is imported after the arguments are read, and only
the chosen one. Each command's work is a function of common/ (its jobs, or its studies).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence

if __package__:  # installed: nst.cli
    from . import common
    from .common import batch, serve
    from .common.studies import bench, compare, parity, port_guide
else:  # a checkout: python cli.py
    import common
    from common import batch, serve
    from common.studies import bench, compare, parity, port_guide

flags = common.jobs.flags


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2, and a flag given twice with different
    values is refused (flags.Once) instead of keeping the last one silently."""

    def __init__(self, *args, **kwargs) -> None:
        """An argparse parser whose flags are stored once."""
        super().__init__(*args, **kwargs)
        self.register("action", None, flags.Once)

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print one line and exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_stylize_arguments(p: argparse.ArgumentParser, skip: frozenset[str] = frozenset()) -> None:
    """The flags of ``nst stylize`` (common/jobs/flags.py). None has a parser default: what is not given comes
    from the preset or from common.Settings, so that explicit flags, and only they, override a preset."""
    for names, options in flags.STYLIZE:
        if names[0] not in skip:
            p.add_argument(*names, default=argparse.SUPPRESS, **flags.parser_options(options))


def cmd_stylize(args: argparse.Namespace) -> int:
    """nst stylize (and nst photoreal)."""
    result = common.stylize(flags.settings_from(vars(args)))
    settings = result.settings  # a resumed run's are the checkpoint's
    if not settings.quiet:
        last = result.history[-1]
        seconds = sum(r.seconds for r in result.history)
        mode = f" ({settings.precision})" if settings.precision != "fp32" else ""  # what --precision auto chose too
        print(
            f"wrote {settings.output}: {len(result.history)} steps on {settings.backend}{mode} in {seconds:.1f} s "
            f"({seconds / len(result.history):.3f} s/step), final total loss {last.total:.4g}; "
            f"weights: {result.weights}"
        )
    return 0


def cmd_photoreal(args: argparse.Namespace) -> int:
    """nst photoreal: nst stylize --preset photoreal-hrnet."""
    args.preset = "photoreal-hrnet"
    code = cmd_stylize(args)
    if code == 0 and getattr(args, "save_model", None) and not getattr(args, "quiet", False):
        print(f"saved the generator to {args.save_model}")
    return code


def cmd_apply(args: argparse.Namespace) -> int:
    """nst apply."""
    size = tuple(args.size) if args.size else None
    written = common.jobs.apply.apply(args.model, args.images, args.output_dir, args.backend, size, args.dtype)
    if not args.quiet:
        print(f"wrote {len(written)} image(s) to {args.output_dir} with the {args.backend} backend")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """nst compare."""
    report = compare.compare(flags.settings_from(vars(args)), args.report, args.force)
    print(compare.summary_line(report, args.report))
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    """nst batch: the flags of nst stylize are every job's defaults; a manifest row or --grid value overrides."""
    report = batch.run_command(args, flags.explicit_settings(vars(args), skip=("content", "style", "quiet")))
    print(report.summary_line())
    return report.exit_code


def cmd_serve(args: argparse.Namespace) -> int:
    """nst serve (FastAPI and uvicorn are imported only after the extra is found)."""
    return serve.serve(args.host, args.port, args.data_dir, args.max_runs, args.allow_remote)


def cmd_presets(args: argparse.Namespace) -> int:
    """nst presets."""
    presets = common.jobs.presets
    print("\n\n".join(presets.describe(presets.get(name)) for name in presets.names()))
    return 0


def cmd_convert_weights(args: argparse.Namespace) -> int:
    """nst convert-weights."""
    print(common.jobs.convert.convert(args.src, args.dst))
    return 0


def _progress(quiet: bool):
    """Where a long command says what it is doing: a line on stderr per stage, unless quiet."""
    return None if quiet else (lambda message: print(f"... {message}", file=sys.stderr))


def cmd_parity(args: argparse.Namespace) -> int:
    """nst parity."""
    say = _progress(args.quiet or args.json)
    size, backends = tuple(args.size), args.backends
    text, passed = parity.command(args.content, args.style, size, args.dtype, args.seed, args.json, say, backends)
    print(text)
    return 0 if passed else 1


def cmd_port_guide(args: argparse.Namespace) -> int:
    """nst port-guide."""
    text = port_guide.render()
    if args.output:
        port_guide.write(args.output, text)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """nst bench."""
    grid = bench.Grid(args.backends, args.sizes, args.precisions, args.warmup, args.repeats, args.photoreal_sizes)
    quality_size = args.quality_size if args.to_quality else None
    print(bench.command(grid, args.json, quality_size, _progress(args.quiet), args.quality_steps))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``nst`` parser with its subcommands."""
    parser = Parser(prog="nst", description="Neural style transfer on PyTorch, MXNet/Gluon and JAX, one program.")
    parser.add_argument("-V", "--version", action="version", version=f"nst {common.jobs.record.nst_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    _add_stylize(sub)
    jobs, skips = common.jobs, flags
    # (command, help, description and flags as data, its function, the nst stylize flags it leaves out or None)
    for name, what, about, table, func, stylize_skip in (
        ("apply", APPLY, jobs.apply.APPLY_ABOUT, jobs.apply.APPLY_FLAGS, cmd_apply, None),
        ("compare", COMPARE, compare.ABOUT, compare.FLAGS, cmd_compare, skips.COMPARE_SKIPS),
        ("batch", BATCH, batch.ABOUT, batch.FLAGS, cmd_batch, skips.BATCH_SKIPS),
        ("serve", SERVE, serve.ABOUT, serve.FLAGS, cmd_serve, None),
        ("presets", "list the recipes of the source documents and their values", {}, (), cmd_presets, None),
        ("convert-weights", CONVERT, jobs.convert.ABOUT, jobs.convert.FLAGS, cmd_convert_weights, None),
        ("parity", PARITY, parity.ABOUT, parity.FLAGS, cmd_parity, None),
        ("port-guide", GUIDE, port_guide.ABOUT, port_guide.FLAGS, cmd_port_guide, None),
        ("bench", BENCH, bench.ABOUT, bench.FLAGS, cmd_bench, None),
    ):
        p = sub.add_parser(name, help=what, **about)
        for names, options in table:
            p.add_argument(*names, **options)
        if stylize_skip is not None:
            add_stylize_arguments(p, skip=stylize_skip)
        p.set_defaults(func=func)
    return parser


APPLY = "stylize images with a generator saved by --save-model (either backend), without training"
COMPARE = "run the same job on every backend and write a report (speed, memory, losses, outputs)"
BATCH = "run many jobs (a manifest, or contents x styles x --grid settings) on Ray, resumable"
SERVE = "a local web page where the backends stylize side by side, live (needs the serve extra)"
CONVERT = "convert VGG-19 weights between torch .pth, Gluon .params and JAX .npz"
GUIDE = "write the porting guide between PyTorch, MXNet/Gluon and JAX (docs/porting.md)"
PARITY = "prove every two backends compute the same numbers"
BENCH = "seconds per step over backends x sizes x precisions, against the machine's measured peak"


def _add_stylize(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stylize",
        help="optimize an image to match one image's content and another's style",
        description="Gatys et al. style transfer; defaults are the d2l PyTorch recipe.",
    )
    add_stylize_arguments(p)
    p.set_defaults(func=cmd_stylize)
    p = sub.add_parser(
        "photoreal",
        help="photorealistic transfer: train the HRNet generator (arXiv 1904.11617) on a content and a style image",
        description="Train the HRNet generator of document 004 so that its output of the content image keeps the "
        "content's structure and takes the style's Gram statistics (the same as nst stylize --preset "
        "photoreal-hrnet). --save-model keeps the generator for nst apply.",
    )
    add_stylize_arguments(p, skip=flags.PHOTOREAL_SKIPS)
    p.set_defaults(func=cmd_photoreal)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    with contextlib.ExitStack() as signals:
        # From the first moment, SIGINT and SIGTERM only set a flag: a stylize job checks it between steps and
        # ends cleanly with exit 130; other commands get the usual behaviour back once the arguments are read.
        stopped = signals.enter_context(common.jobs.signals.stop_on_signals())
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:  # --help, or a usage error already reported in one line
            return int(e.code or 0)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)  # the usage and the commands, on stderr: nothing was done
            return 2
        if stopped():
            print("nst: interrupted before anything was done", file=sys.stderr)
            return 130
        if args.func is not cmd_stylize:
            signals.close()
        code = _dispatch(args)
        if argv is None and args.func is cmd_stylize:
            _exit_now(code, stopped())
    return code


def _exit_now(code: int, stopped: bool) -> None:
    """End the nst program at once, while SIGINT and SIGTERM are still caught.

    Shutting the interpreter down after torch or MXNet takes a while, and Python puts the default signal
    handlers back early in it, so a signal then would kill the process with no word after a finished run.
    The outputs are complete and closed here; only the standard streams need flushing.
    """
    if stopped and code == 0:
        print("nst: interrupted after the run had ended; its outputs are complete", file=sys.stderr)
        code = 130
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _dispatch(args: argparse.Namespace) -> int:
    """Run the chosen command; its errors become one line and their exit code."""
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
