"""nst batch against a shell loop of nst stylize over the same jobs, worker scaling, and Ray's own overhead.

The same N jobs (N generated content images, two style images, --backend (torch), seeded random weights) run
  1. as a shell loop: one `python cli.py stylize ...` process per job, one after another (default threads),
     in two halves: the first before the batches, the second after them, so that a machine whose speed drifts
     over the half hour (a shared host's does) meets the loop and the batches alike;
  2. as `nst batch` with one worker per core, one thread each;
  3. as `nst batch` with one worker of one thread (and two, if the machine does not have two cores);
then a probe batch at --probe-size (224x224: Stylized-ImageNet's size) measures seconds per step there.
Ray's overhead is read from the batch's ledger: the time a worker waits between the end of one job and the
start of the next (scheduling, transfer, the driver's writing) against the time of a job, and the share of
the worker slots left idle over the batch's window. Usage:

    python benchmarks/batch_throughput.py     # 16 jobs, 128x128, 100 steps: benchmarks/results/batch_throughput.json
    python benchmarks/batch_throughput.py --jobs 4 --size 32 32 --steps 2 --probe-size 32 32 --probe-steps 2 --out x
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CLI = [sys.executable, str(ROOT / "cli.py")]
IMAGENET = 1_281_167  # ImageNet-1k training images


def make_inputs(folder: Path, jobs: int, size: tuple[int, int]) -> tuple[list[Path], list[Path]]:
    """``jobs`` photo-like content images and two noise style images of ``size``."""
    folder.mkdir(parents=True, exist_ok=True)
    h, w = size
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    contents, styles = [], []
    for i in range(jobs):
        rng = np.random.default_rng(i)
        img = np.stack([0.5 + 0.4 * np.sin(4 * x + 3 * y + p) for p in rng.uniform(0, 6.28, 3)], -1)
        img = np.clip(img + rng.normal(0, 0.03, img.shape), 0, 1)
        contents.append(folder / f"c{i:03d}.png")
        Image.fromarray(np.rint(img * 255).astype(np.uint8)).save(contents[-1])
    for i in range(2):
        styles.append(folder / f"s{i}.png")
        Image.fromarray(np.random.default_rng(100 + i).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(styles[-1])
    return contents, styles


def shell_loop(jobs: list[tuple[Path, Path]], out: Path, flags: list[str]) -> dict:
    """A bash loop of nst stylize over (content, style) jobs, one process per job: its wall seconds and the seconds
    its jobs spent in steps (from their run records: the rest of the wall time is what the loop pays per image
    outside the steps)."""
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        shlex.join([*CLI, "stylize", "--content", str(c), "--style", str(s), "--output", str(out / c.name)])
        + " " + shlex.join([*flags, "--log", str(out / f"{c.stem}.json"), "--quiet"]) + " || exit 1"
        for c, s in jobs
    ]  # fmt: skip
    script = out / "loop.sh"
    script.write_text("set -e\n" + "\n".join(lines) + "\n")
    started = time.time()
    subprocess.run(["bash", str(script)], check=True, stdout=subprocess.DEVNULL)
    wall = time.time() - started
    records = [json.loads((out / f"{c.stem}.json").read_text()) for c, _ in jobs]
    steps = [h["seconds"] for r in records for h in r["history"]]
    return {"wall": wall, "jobs": len(jobs), "step_seconds": sum(steps), "step_median": statistics.median(steps),
            "backends": sorted({r["settings"]["backend"] for r in records})}  # fmt: skip


def loop_in_halves(halves: list[dict]) -> dict:
    """The two halves of the loop (run before and after the batches) as one loop, each half kept."""
    jobs = sum(h["jobs"] for h in halves)
    wall, steps = sum(h["wall"] for h in halves), sum(h["step_seconds"] for h in halves)
    return {
        "wall": wall,
        "halves": halves,
        "backends": sorted({b for h in halves for b in h["backends"]}),
        "seconds_per_job": wall / jobs,
        "outside_steps_per_job": (wall - steps) / jobs,
        "step_median": statistics.median(h["step_median"] for h in halves),
    }


def batch(manifest: Path, out: Path, workers: int, flags: list[str]) -> dict:
    """Run nst batch; its wall time, its summary's run figures and its ledger."""
    argv = [*CLI, "batch", str(manifest), "--output-dir", str(out), "--workers", str(workers)]
    started = time.time()
    subprocess.run([*argv, "--threads-per-job", "1", *flags, "--quiet"], check=True, stdout=subprocess.DEVNULL)
    wall = time.time() - started
    summary = json.loads((out / "summary.json").read_text())
    ledger = [json.loads(line) for line in (out / "batch.jsonl").read_text().splitlines()]
    assert summary["counts"]["ok"] == len(ledger), summary["counts"]
    with (out / "summary.csv").open(newline="") as f:
        used = sorted({row["backend"] for row in csv.DictReader(f)})
    return {"wall": wall, "run": summary["run"], "ledger": ledger, "ledger_bytes": (out / "batch.jsonl").stat().st_size,
            "backends": used}  # fmt: skip


def overhead(result: dict) -> dict:
    """Ray's overhead, from the ledger: gaps between a worker's jobs, and idle worker slots over the window."""
    lines, run = result["ledger"], result["run"]
    in_job = [line["ended"] - line["started"] for line in lines]
    load = [line["worker"]["load_seconds"] for line in lines]
    gaps = []
    for pid in {line["worker"]["pid"] for line in lines}:
        mine = sorted((line for line in lines if line["worker"]["pid"] == pid), key=lambda line: line["started"])
        gaps += [b["started"] - a["ended"] for a, b in itertools.pairwise(mine)]
    window = max(line["received"] for line in lines) - min(line["submitted"] for line in lines)
    job = statistics.median(in_job)
    return {
        "job_seconds_median": job,
        "step_seconds_median": statistics.median(line["seconds_per_step"] for line in lines),
        "backend_load_seconds_total": sum(load),
        "gap_seconds_median": statistics.median(gaps) if gaps else None,
        "gap_over_job": statistics.median(gaps) / job if gaps else None,
        "idle_share_of_slots": 1 - sum(in_job) / (run["slots"] * window),
        "window_seconds": window,
        "driver_cpu_seconds_per_job": run["driver_job_cpu_seconds"] / len(lines),
        "check_seconds_per_job": run["check_seconds"] / len(lines),
        "bytes_in_per_job": statistics.mean(line["bytes_in"] for line in lines),
        "bytes_out_per_job": statistics.mean(line["bytes_out"] for line in lines),
        "ledger_bytes_per_job": result["ledger_bytes"] / len(lines),
    }


def estimate(probe: dict, main: dict, steps: int, nodes: int, cores: int) -> dict:
    """Stylized-ImageNet on ``nodes`` nodes of ``cores`` cores, one single-thread job per core."""
    lines = [line for line in probe["ledger"] if not line["worker"]["fresh"]] or probe["ledger"]  # steady state
    per_step = statistics.median(line["seconds_per_step"] for line in lines)
    fixed = statistics.median(line["seconds"] - line["steps"] * line["seconds_per_step"] for line in lines)
    gap = main["overhead"]["gap_seconds_median"] or 0.0
    job = steps * per_step + fixed + gap
    per_node = cores * 3600 / job
    total = per_node * nodes
    o = main["overhead"]
    return {
        "steps": steps,
        "seconds_per_step": per_step,
        "job_seconds": job,
        "jobs_per_hour_per_node": per_node,
        "hours_for_imagenet": IMAGENET / total,
        "driver_cpu_share_of_a_core": total * o["driver_cpu_seconds_per_job"] / 3600,
        "object_store_mb_per_second": total * (o["bytes_in_per_job"] + o["bytes_out_per_job"]) / 3600 / 1e6,
        "ledger_gb_for_imagenet": IMAGENET * o["ledger_bytes_per_job"] / 1e9,
    }


def table(report: dict) -> str:
    """The tables of docs/batch.md, filled in."""
    m, runs, jobs = report["machine"], report["runs"], report["settings"]["jobs"]
    loop = runs["loop"]["wall"]
    lines = [
        f"{m['cpu']}, {m['cores']} cores; {jobs} jobs of {report['settings']['size']} px, "
        f"{report['settings']['steps']} steps ({report['settings']['backend']}, random weights)",
        "",
        "| run | wall s (with start-up) | Ray start-up s | jobs/min | jobs/min without start-up | vs the loop |",
        "|---|---:|---:|---:|---:|---:|",
        f"| shell loop of nst stylize | {loop:.1f} | | {jobs / loop * 60:.2f} | | 1.00x |",
    ]
    halves = " + ".join(f"{h['wall']:.1f}" for h in runs["loop"]["halves"])
    for name, r in runs.items():
        if name != "loop":
            w, ray = r["wall"], r["run"]["wall_seconds"]
            lines.append(
                f"| nst batch, {name} | {w:.1f} | {r['run']['startup_seconds']:.1f} | {jobs / w * 60:.2f} | "
                f"{jobs / ray * 60:.2f} | {loop / w:.2f}x |"
            )
    o, lp = runs[report["main"]]["overhead"], runs["loop"]
    workers = report["main"].split()[0]
    lines += [
        "",
        f"The loop ran in two halves, before and after the batches ({halves} s). Where the difference comes from: "
        f"the loop spends {lp['outside_steps_per_job']:.1f} s of its {lp['seconds_per_job']:.1f} s per job outside "
        f"the steps (start-up, weights, writing); its steps take {lp['step_median']:.3f} s (median, the default "
        f"threads), a batch worker's {o['step_seconds_median']:.3f} s (one thread, {workers} workers at once): "
        f"{int(workers) * lp['step_median'] / o['step_seconds_median']:.2f}x the loop's rate of steps.",
    ]
    gap = "no worker ran two jobs"
    if o["gap_seconds_median"] is not None:
        gap = f"a worker waits {o['gap_seconds_median']:.3f} s between jobs (median), "
        gap += f"{100 * o['gap_over_job']:.1f}% of a job's {o['job_seconds_median']:.2f} s"
    lines += [
        "",
        f"Ray's overhead ({report['main']}): {gap}; worker slots idle "
        f"{100 * o['idle_share_of_slots']:.1f}% of the batch's window (start of the workers included); driver "
        f"{o['driver_cpu_seconds_per_job'] * 1000:.0f} ms CPU per job and {o['check_seconds_per_job'] * 1000:.0f} "
        f"ms per job checking the inputs first; {o['bytes_in_per_job'] / 1e3:.0f} kB in, "
        f"{o['bytes_out_per_job'] / 1e3:.0f} kB out, {o['ledger_bytes_per_job']:.0f} ledger bytes per job.",
    ]
    for e in report["estimates"]:
        lines.append(
            f"Stylized-ImageNet, {e['steps']} steps at {report['settings']['probe_size']}: {e['seconds_per_step']:.3f}"
            f" s/step, {e['job_seconds']:.1f} s/job, {e['jobs_per_hour_per_node']:.0f} jobs/hour/node; 100 nodes: "
            f"{e['hours_for_imagenet']:.1f} h, driver {100 * e['driver_cpu_share_of_a_core']:.0f}% of a core, object "
            f"store {e['object_store_mb_per_second']:.2f} MB/s, ledger {e['ledger_gb_for_imagenet']:.2f} GB."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the tables; write the JSON report."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", type=int, default=16)
    p.add_argument("--size", type=int, nargs=2, default=(128, 128), metavar=("H", "W"))
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--backend", choices=("torch", "mxnet"), default="torch")
    p.add_argument("--probe-size", type=int, nargs=2, default=(224, 224), metavar=("H", "W"))
    p.add_argument("--probe-steps", type=int, default=20)
    p.add_argument("--estimate-steps", default="100,500", help="steps per image in the Stylized-ImageNet estimate")
    p.add_argument("--out", default=str(HERE / "results" / "batch_throughput.json"))
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from common.core import cpu
    from common.jobs import record

    cores = record.versions()["cores"]
    flags = ["--backend", args.backend, "--weights", "random", "--size", *map(str, args.size)]
    flags += ["--steps", str(args.steps)]
    with tempfile.TemporaryDirectory(prefix="nst-bench-") as tmp:
        folder = Path(tmp)
        contents, styles = make_inputs(folder / "in", args.jobs, tuple(args.size))
        manifest = folder / "jobs.csv"
        jobs = [(c, styles[i % 2]) for i, c in enumerate(contents)]
        manifest.write_text("content,style\n" + "".join(f"{c},{s}\n" for c, s in jobs))
        half = (len(jobs) + 1) // 2  # the loop's halves run before and after the batches: a machine that
        halves = [shell_loop(jobs[:half], folder / "loop", flags)]  # speeds up or slows down
        print(f"... shell loop, first half: {halves[0]['wall']:.1f} s", file=sys.stderr)  # meets both alike
        runs: dict = {}
        for workers in dict.fromkeys([cores, 1, 2]):
            name = f"{workers} worker(s) x 1 thread"
            runs[name] = batch(manifest, folder / f"batch{workers}", workers, flags)
            runs[name]["overhead"] = overhead(runs[name])
            print(f"... nst batch, {name}: {runs[name]['wall']:.1f} s", file=sys.stderr)
        halves.append(shell_loop(jobs[half:], folder / "loop", flags))
        print(f"... shell loop, second half: {halves[1]['wall']:.1f} s", file=sys.stderr)
        runs = {"loop": loop_in_halves(halves), **runs}
        probe_flags = [*flags[:4], "--size", *map(str, args.probe_size), "--steps", str(args.probe_steps)]
        probe_manifest = folder / "probe.csv"
        probe_jobs = [contents[i % len(contents)] for i in range(2 * cores)]  # two per worker: the second is warm
        probe_manifest.write_text(
            "content,style,output\n" + "".join(f"{c},{styles[0]},p{i}.png\n" for i, c in enumerate(probe_jobs))
        )
        probe = batch(probe_manifest, folder / "probe", cores, probe_flags)
    main_run = f"{cores} worker(s) x 1 thread"
    for r in runs.values():
        r.pop("ledger", None)
    report = {
        "machine": {"cpu": cpu.model(), "cores": cores, "python": sys.version.split()[0]},
        "settings": {"backend": args.backend, "jobs": args.jobs, "size": "x".join(map(str, args.size)),
                     "steps": args.steps, "probe_size": "x".join(map(str, args.probe_size)),
                     "probe_steps": args.probe_steps},
        "runs": runs,
        "main": main_run,
        "estimates": [estimate(probe, runs[main_run], int(s), 100, cores) for s in args.estimate_steps.split(",")],
        "when": time.strftime("%Y-%m-%d %H:%M"),
    }  # fmt: skip
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
