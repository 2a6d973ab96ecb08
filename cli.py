"""The ``nst`` command line. ``python cli.py ...`` in a checkout does the same as the installed ``nst``.

Only argument parsing happens here; a framework is imported after the arguments are read, and only the chosen one.
"""

from __future__ import annotations

import argparse
import contextlib
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


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(item) for item in text.split(",") if item.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from e


COMPARE_SKIPS = {
    "--backend",
    "--output",
    "--log",
    "--plot",
    "--gif",
    "--save-every",
    "--checkpoint",
    "--checkpoint-every",
    "--resume",
    "--save-model",
}


def add_stylize_arguments(p: argparse.ArgumentParser, skip: frozenset[str] | set[str] = frozenset()) -> None:
    """The flags of ``nst stylize``. None has a parser default: what is not given comes from the preset or
    from common.Settings, so that explicit flags, and only they, override a preset."""
    d = DEFAULTS

    def add(*flags: str, **kwargs) -> None:
        if flags[0] not in skip:
            p.add_argument(*flags, default=argparse.SUPPRESS, **kwargs)

    add(
        "--preset", choices=common.presets.names(), help="set every value of a recipe (see nst presets); flags override"
    )
    add("--backend", help=f"torch or mxnet (default {d.backend})")
    add("--content", help="content image (default: scikit-image's chelsea.png)")
    add("--style", nargs="+", metavar="IMAGE", help="one or more style images (default: scikit-image's ihc.png)")
    add("--style-weights", nargs="+", type=_finite, metavar="W", help="blend weights of several style images")
    add("--style-scale", type=_finite, metavar="S", help="style image's longer side = S x the result's (keeps aspect)")
    add("--style-layer-weights", nargs="+", type=_finite, metavar="W", help="one weight per style layer")
    add("--style-max-side", type=int, metavar="N", help="photoreal: the style image's longer side at most N")
    add("--output", help=f"result image, .png/.jpg/... (default {d.output})")
    add("--size", nargs=2, type=int, metavar=("H", "W"), help="rows and columns of the result (default 300 450)")
    add("--max-side", type=int, metavar="N", help="size from the content image, longer side N (keeps aspect)")
    add("--min-side", type=int, metavar="N", help="size from the content image, shorter side N (keeps aspect)")
    add("--scales", type=_floats, metavar="S,S,...", help="coarse to fine, e.g. 0.25,0.5,1; --steps each")
    add("--steps", type=int, help=f"optimization steps per scale (default {d.steps})")
    add("--optimizer", choices=common.settings.OPTIMIZERS, help="adam, lbfgs or sgd (default adam)")
    add("--lr", type=_finite, help=f"learning rate (default {d.lr}; 1 for lbfgs unless given)")
    add(
        "--lr-decay-every",
        type=int,
        metavar="N",
        help=f"x --lr-decay-factor every N steps (default {d.lr_decay_every})",
    )
    add("--lr-decay-factor", type=_finite, metavar="F", help=f"(default {d.lr_decay_factor})")
    add("--content-weight", type=_finite, help=f"(default {d.content_weight:g})")
    add("--style-weight", type=_finite, help=f"(default {d.style_weight:g})")
    add("--tv-weight", type=_finite, help=f"(default {d.tv_weight:g})")
    add("--content-layers", type=_layers, metavar="LAYERS", help="names or feature indices (default conv4_4 = 25)")
    add("--style-layers", type=_layers, metavar="LAYERS", help="(default conv1_1,conv2_1,conv3_1,conv4_1,conv5_1)")
    add("--pooling", choices=("max", "avg"), help="VGG pooling (default max)")
    add("--normalize", action=argparse.BooleanOptionalAction, help="ImageNet mean/std normalization (default on)")
    add("--clamp", action=argparse.BooleanOptionalAction, help="clamp the image to valid pixels every step")
    add("--init", metavar="content|noise|style|PATH", help="start image (default content)")
    add("--preserve-colors", action=argparse.BooleanOptionalAction, help="keep the content image's colours")
    add("--seed", type=int, help="seed for random weights and noise (default 0)")
    add("--device", help="cpu or cuda:N (default cpu)")
    add("--weights", metavar="auto|imagenet|random|PATH", help="VGG-19 weights (default auto)")
    add("--dtype", choices=("float32", "float64"), help="(default float32)")
    add("--precision", choices=common.settings.PRECISIONS, help="fast mode: run VGG in bf16 (CPU) or fp16 (GPU)")
    add("--log", metavar="RUN.json", help="write the run record (settings, versions, per-step losses)")
    add("--plot", metavar="LOSS.png", help="draw the loss curves")
    add("--save-every", type=int, metavar="N", help="also write the image every N steps")
    add("--gif", metavar="PATH.gif", help="write an animation of the progress")
    add("--checkpoint", metavar="PATH.npz", help="save image and optimizer state every --checkpoint-every steps")
    add("--checkpoint-every", type=int, metavar="N", help=f"(default {d.checkpoint_every})")
    add("--resume", metavar="PATH.npz", help="continue the run a checkpoint holds")
    add("--save-model", metavar="MODEL.npz", help="photoreal: save the trained generator (for nst apply)")
    add("--quiet", action="store_true", help="no progress bar, no summary")


def explicit_settings(args: argparse.Namespace, skip: Sequence[str] = ()) -> tuple[dict, str | None]:
    """The settings given as flags (as Settings values), and the preset."""
    explicit = {k: v for k, v in vars(args).items() if k in common.settings.FIELD_NAMES and k not in skip}
    for key in ("size", "style", "style_weights", "style_layer_weights"):
        if key in explicit:
            explicit[key] = tuple(explicit[key])
    return explicit, explicit.pop("preset", None)


def settings_from(args: argparse.Namespace) -> common.Settings:
    """Settings from the defaults, the preset's values and the flags that were given, in that order."""
    explicit, preset = explicit_settings(args)
    if explicit.get("optimizer") == "lbfgs" and "lr" not in explicit:
        explicit["lr"] = 1.0
    return common.presets.settings(explicit, preset)


def cmd_stylize(args: argparse.Namespace) -> int:
    """nst stylize."""
    settings = settings_from(args)
    result = common.stylize(settings)
    if not settings.quiet:
        last = result.history[-1]
        seconds = sum(r.seconds for r in result.history)
        print(
            f"wrote {settings.output}: {len(result.history)} steps on {settings.backend} in {seconds:.1f} s "
            f"({seconds / len(result.history):.3f} s/step), final total loss {last.total:.4g}; "
            f"weights: {result.weights}"
        )
    return 0


PHOTOREAL_SKIPS = {
    "--preset",
    "--scales",
    "--optimizer",
    "--init",
    "--clamp",
    "--precision",
    "--save-every",
    "--gif",
    "--checkpoint",
    "--checkpoint-every",
    "--resume",
    "--style-scale",
    "--style-weights",
}


def cmd_photoreal(args: argparse.Namespace) -> int:
    """nst photoreal: nst stylize --preset photoreal-hrnet."""
    args.preset = "photoreal-hrnet"
    code = cmd_stylize(args)
    if code == 0 and getattr(args, "save_model", None) and not getattr(args, "quiet", False):
        print(f"saved the generator to {args.save_model}")
    return code


def cmd_apply(args: argparse.Namespace) -> int:
    """nst apply."""
    try:
        common.registry.check_name(args.backend)
    except ValueError as e:
        raise common.UserError(str(e)) from e
    size = tuple(args.size) if args.size else None
    written = common.photoreal_job.apply(args.model, args.images, args.output_dir, args.backend, size, args.dtype)
    if not args.quiet:
        print(f"wrote {len(written)} image(s) to {args.output_dir} with the {args.backend} backend")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """nst compare."""
    import json

    if args.child:
        common.stylize(common.Settings.from_dict(json.loads(args.child)))
        return 0
    report = common.compare.compare(settings_from(args), args.report)
    b, d = report["backends"], report["difference"]
    print(
        f"wrote {args.report}/report.md and report.html: "
        + ", ".join(f"{n} {v['median']:.3f} s/step, {v['peak_rss_gib']:.2f} GiB" for n, v in b.items())
        + f"; outputs {d['psnr']:.1f} dB apart (SSIM {d['ssim']:.4f})"
    )
    return 0


BATCH_SKIPS = {"--content", "--style", "--output", "--quiet", *COMPARE_SKIPS} - {"--backend"}


def cmd_batch(args: argparse.Namespace) -> int:
    """nst batch: the flags of nst stylize are every job's defaults; a manifest row or --grid value overrides."""
    defaults, preset = explicit_settings(args, skip=("content", "style", "quiet"))
    report = common.batch.run(
        args.output_dir,
        args.manifest,
        args.content or (),
        args.style or (),
        args.grid,
        defaults,
        preset,
        workers=args.workers,
        threads_per_job=args.threads_per_job,
        address=args.address,
        max_retries=args.max_retries,
        retry_failed=args.retry_failed,
        skip_invalid=args.skip_invalid,
        progress=not args.quiet,
    )
    print(
        f"{report.ok} of {report.total} jobs ok ({report.skipped} done before, {report.ran} run now), "
        f"{report.failed} failed, {report.invalid} invalid; summary: {report.folder / 'summary.md'}"
    )
    return report.exit_code


def add_batch_parser(sub: argparse._SubParsersAction) -> None:
    """The nst batch subcommand."""
    batch = sub.add_parser(
        "batch",
        help="run many jobs (a manifest, or contents x styles x --grid settings) on Ray, resumable",
        description="Run many nst stylize / photoreal jobs on Ray (a local instance on 127.0.0.1, or a cluster "
        "with --address), from a manifest (CSV or JSON Lines, a row per job, columns named as the settings) or a "
        "grid (--content x --style x --grid). The other flags are defaults for every job. Finished jobs are "
        "recorded in OUTPUT_DIR/batch.jsonl and skipped when the command runs again. Exit 0: all jobs ok; 1: "
        "some failed; 2: bad input (nothing run); 130: interrupted. Needs pip install 'nst-crossframe[batch]'.",
    )
    batch.add_argument("manifest", nargs="?", help="a .csv or .jsonl manifest (instead of --content/--style)")
    batch.add_argument("--content", nargs="+", metavar="PATH", help="content images: files, folders or globs")
    batch.add_argument("--style", nargs="+", metavar="PATH", help="style images, one per column of the grid")
    batch.add_argument(
        "--grid", action="append", metavar="NAME=V1,V2", help="also cross with these setting values (repeatable)"
    )
    batch.add_argument("--output-dir", required=True, metavar="DIR", help="results, ledger and summary go here")
    batch.add_argument("--workers", type=int, help="jobs at once (default: cores / threads, or the cluster's)")
    batch.add_argument("--threads-per-job", type=int, default=1, metavar="T", help="threads of each job (default 1)")
    batch.add_argument("--address", help="join a Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default: local)")
    batch.add_argument("--max-retries", type=int, default=3, help="reruns of a job whose worker or node died")
    batch.add_argument("--retry-failed", action="store_true", help="run again the jobs that failed before")
    batch.add_argument("--skip-invalid", action="store_true", help="run the valid jobs even if some are invalid")
    batch.add_argument("--quiet", action="store_true", help="no progress bar")
    add_stylize_arguments(batch, skip=BATCH_SKIPS)
    batch.set_defaults(func=cmd_batch)


def cmd_presets(args: argparse.Namespace) -> int:
    """nst presets."""
    print("\n\n".join(common.presets.describe(common.presets.get(name)) for name in common.presets.names()))
    return 0


def cmd_convert_weights(args: argparse.Namespace) -> int:
    """nst convert-weights."""
    print(common.convert.convert(args.src, args.dst))
    return 0


def cmd_parity(args: argparse.Namespace) -> int:
    """nst parity."""
    import json

    size = common.settings.check_size(args.size)
    if min(size) < common.layers.min_side(common.layers.VGG19[-1]):
        raise common.UserError(f"--size {size[0]} {size[1]}: parity compares every layer down to pool5, which needs 32")
    if args.seed < 0:
        raise common.UserError(f"--seed must be a non-negative integer, not {args.seed}")
    content = common.images.load_image(args.content or common.samples.sample_path(common.samples.CONTENT), "content")
    style = common.images.load_image(args.style or common.samples.sample_path(common.samples.STYLE), "style")
    a, b = common.load_backend("torch"), common.load_backend("mxnet")
    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    say = None if args.json or args.quiet else (lambda message: print(f"... {message}", file=sys.stderr))
    checks = common.parity.run(a, b, content, style, size, dtypes, args.seed, say)
    if args.json:
        print(
            json.dumps(
                {
                    "backends": [a.name, b.name],
                    "size": list(size),
                    "seed": args.seed,
                    "versions": common.record.versions(),
                    "checks": [c.as_dict() for c in checks],
                },
                indent=2,
            )
        )
    else:
        print(common.parity.table(checks, (a.name, b.name)))
    return 0 if all(c.passed for c in checks) else 1


def cmd_port_guide(args: argparse.Namespace) -> int:
    """nst port-guide."""
    text = common.port_guide.render()
    if args.output:
        common.outputs.check_writable(args.output, (".md",), "guide")
        common.outputs.write_text(args.output, text, "guide")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _sizes(text: str) -> tuple[tuple[int, int], ...]:
    try:
        sizes = tuple(tuple(int(v) for v in item.lower().split("x")) for item in text.split(",") if item.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"sizes are HxW, comma-separated, e.g. 128x128,300x450: {text!r}") from e
    if not sizes or any(len(s) != 2 for s in sizes):
        raise argparse.ArgumentTypeError(f"sizes are HxW, comma-separated, e.g. 128x128,300x450: {text!r}")
    return sizes


def _sizes_or_none(text: str) -> tuple[tuple[int, int], ...]:
    return () if text.strip().lower() == "none" else _sizes(text)


def cmd_bench(args: argparse.Namespace) -> int:
    """nst bench."""
    import json

    if args.child:
        print(json.dumps(common.bench.child(json.loads(args.child))))
        return 0
    try:
        backends = [common.registry.check_name(b.strip()) for b in args.backends.split(",") if b.strip()]
    except ValueError as e:
        raise common.UserError(str(e)) from e
    for size in args.sizes:
        common.settings.check_size(size)
    for size in args.photoreal_sizes:
        common.photoreal.check_size(common.settings.check_size(size), "--photoreal-sizes")
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    for p in precisions:
        if p not in common.settings.PRECISIONS:
            raise common.UserError(f"--precisions: {p!r} is not one of {', '.join(common.settings.PRECISIONS)}")
    if args.warmup < 0 or args.repeats < 1:
        raise common.UserError("--warmup must be >= 0 and --repeats >= 1")
    if args.json:
        common.outputs.check_writable(args.json, (".json",), "--json")
    say = None if args.quiet else (lambda message: print(f"... {message}", file=sys.stderr))
    report = common.bench.run(
        backends, args.sizes, precisions, args.warmup, args.repeats, say, photoreal_sizes=args.photoreal_sizes
    )
    if args.to_quality:
        report["to_quality"] = common.bench.to_quality(backends, args.quality_size, say)
    print(common.bench.table(report))
    if args.to_quality:
        print("\n" + common.bench.quality_table(report["to_quality"]))
    if args.json:
        common.outputs.write_text(args.json, json.dumps(report, indent=2) + "\n", "--json")
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

    photoreal = sub.add_parser(
        "photoreal",
        help="photorealistic transfer: train the HRNet generator (arXiv 1904.11617) on a content and a style image",
        description="Train the HRNet generator of document 004 so that its output of the content image keeps the "
        "content's structure and takes the style's Gram statistics (the same as nst stylize --preset "
        "photoreal-hrnet). --save-model keeps the generator for nst apply.",
    )
    add_stylize_arguments(photoreal, skip=PHOTOREAL_SKIPS)
    photoreal.set_defaults(func=cmd_photoreal)

    apply = sub.add_parser(
        "apply",
        help="stylize images with a generator saved by --save-model (either backend), without training",
        description="Run a saved HRNet generator on images. Each keeps its size (both sides divisible by 4) "
        "unless --size is given; results are written to OUTPUT_DIR/<name>.png.",
    )
    apply.add_argument("model", help="a .npz written by nst photoreal --save-model (by either backend)")
    apply.add_argument("images", nargs="+", metavar="IMAGE", help="images to stylize")
    apply.add_argument("--output-dir", required=True, metavar="D", help="existing folder for the results")
    apply.add_argument("--backend", default="torch", help="torch or mxnet (default torch)")
    apply.add_argument("--size", nargs=2, type=int, metavar=("H", "W"), help="resize every image to H x W first")
    apply.add_argument("--dtype", choices=("float32", "float64"), help="(default: the model's)")
    apply.add_argument("--quiet", action="store_true", help="no summary line")
    apply.set_defaults(func=cmd_apply)

    compare = sub.add_parser(
        "compare",
        help="run the same job on both backends and write a report (speed, memory, losses, outputs)",
        description="Run one nst stylize job on the torch and the mxnet backend with the same weights, each in a "
        "fresh process, and write a report folder: report.md, report.html, loss curves, outputs and their "
        "difference, run records, environment. Takes the flags of nst stylize.",
    )
    add_stylize_arguments(compare, skip=COMPARE_SKIPS)
    compare.add_argument("--report", default="compare-report", metavar="FOLDER", help="(default compare-report)")
    compare.add_argument("--child", help=argparse.SUPPRESS)
    compare.set_defaults(func=cmd_compare)

    add_batch_parser(sub)

    presets = sub.add_parser("presets", help="list the recipes of the source documents and their values")
    presets.set_defaults(func=cmd_presets)

    convert = sub.add_parser(
        "convert-weights",
        help="convert VGG-19 weights between torch .pth and Gluon .params",
        description="Convert VGG-19 weights between torchvision's state dict (.pth) and Gluon's parameter file "
        "(.params), either way; the destination's extension picks the format. Arrays are copied bit for bit.",
    )
    convert.add_argument("src", help="a .pth or .params file (the format is read from its contents)")
    convert.add_argument("dst", help="the file to write: .pth or .params")
    convert.set_defaults(func=cmd_convert_weights)

    parity = sub.add_parser(
        "parity",
        help="prove the torch and mxnet backends compute the same numbers",
        description="Compare the torch and mxnet backends on the same seeded VGG-19 weights and images: "
        "preprocessing, every VGG-19 layer (max and avg pooling), each loss, the gradient and whole Adam runs, "
        "in float32 and float64. Exit code 1 if any check fails.",
    )
    parity.add_argument("--content", help="content image (default: the bundled sample)")
    parity.add_argument("--style", help="style image (default: the bundled sample)")
    parity.add_argument("--size", nargs=2, type=int, default=[48, 64], metavar=("H", "W"), help="(default 48 64)")
    parity.add_argument("--dtype", choices=("float32", "float64", "both"), default="both", help="(default both)")
    parity.add_argument("--seed", type=int, default=0, help="seed of the random VGG-19 weights (default 0)")
    parity.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parity.add_argument("--quiet", action="store_true", help="no progress lines")
    parity.set_defaults(func=cmd_parity)

    guide = sub.add_parser(
        "port-guide",
        help="write the PyTorch <-> MXNet porting guide (docs/porting.md)",
        description="Generate the porting guide from the backends' own source: every operation side by side in "
        "both frameworks, then every difference found between them, with symptom, fix and tests.",
    )
    guide.add_argument("--output", metavar="FILE.md", help="write here instead of standard output")
    guide.set_defaults(func=cmd_port_guide)

    bench = sub.add_parser(
        "bench",
        help="seconds per step over backends x sizes x precisions, against the machine's measured peak",
        description="Time the d2l optimization step for each backend, size and precision (each backend in a "
        "fresh process), count its FLOPs, and measure the machine's matmul peak in the same run.",
    )
    bench.add_argument("--backends", default="torch,mxnet", help="(default torch,mxnet)")
    bench.add_argument(
        "--sizes",
        type=_sizes,
        default=common.bench.SIZES,
        metavar="HxW,...",
        help="(default 128x128,256x256,300x450,512x512)",
    )
    bench.add_argument("--precisions", default="fp32,bf16", help="(default fp32,bf16)")
    bench.add_argument(
        "--photoreal-sizes",
        type=_sizes_or_none,
        default=common.bench.PHOTOREAL_SIZES,
        metavar="HxW,...|none",
        help="also time the HRNet generator's training step (nst photoreal) at these sizes (default 256x256,500x500)",
    )
    bench.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    bench.add_argument("--repeats", type=int, default=5, help="timed steps (default 5)")
    bench.add_argument("--json", metavar="PATH.json", help="also write the results as JSON")
    bench.add_argument(
        "--to-quality",
        action="store_true",
        help="also time how long the fastest setting takes to reach the d2l recipe's final loss",
    )
    bench.add_argument(
        "--quality-size",
        type=int,
        nargs=2,
        default=(300, 450),
        metavar=("H", "W"),
        help="size of the --to-quality runs (default 300 450)",
    )
    bench.add_argument("--quiet", action="store_true", help="no progress lines")
    bench.add_argument("--child", help=argparse.SUPPRESS)
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    with contextlib.ExitStack() as signals:
        # From the first moment, SIGINT and SIGTERM only set a flag: a stylize job checks it between steps and
        # ends cleanly with exit 130; other commands get the usual behaviour back once the arguments are read.
        stopped = signals.enter_context(common.job.stop_on_signals())
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:  # --help, or a usage error already reported in one line
            return int(e.code or 0)
        if not getattr(args, "func", None):
            parser.print_help()
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
    import os

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
