"""nst batch without Ray: jobs get exactly the Settings nst stylize would build, the ledger's rules, what a killed
driver leaves behind (temporary files, a Ray folder) removed, and the worker's job function called in this process."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from subprocess import PIPE

import pytest
from batch_support import ROOT, SMALL, killed_writes, make_images, short_temporary_folder
from PIL import Image

import cli
import common
from common.batch import checks, ledger, local, manifest, scheduler, worker
from common.jobs import checkpoint
from common.jobs.lifecycle import Outcome


def stylize_settings(*argv: str) -> common.Settings:
    """The Settings `nst stylize ARGV` runs with."""
    return common.jobs.flags.settings_from(vars(cli.build_parser().parse_args(["stylize", *argv])))


def built(tmp_path: Path, jobs: list[manifest.Job], defaults: dict, preset: str | None = None) -> list:
    valid = checks.check_all(jobs, defaults, preset, tmp_path)
    assert [j.error for j in jobs] == [None] * len(jobs)
    return valid


def test_jobs_get_the_settings_nst_stylize_builds_from_the_same_flags(tmp_path: Path) -> None:
    (c,), (s,) = make_images(tmp_path, 1, 1)
    out = str(tmp_path / "o.png")
    cases = [  # (batch defaults, preset, the row's own values) and the equivalent nst stylize flags
        ({"steps": 5, "size": (32, 48)}, None, {}, ["--steps", "5", "--size", "32", "48"]),
        ({"steps": 5}, "mastering-pytorch", {}, ["--preset", "mastering-pytorch", "--steps", "5"]),
        ({"steps": 5}, "d2l-2019", {"steps": 7}, ["--preset", "d2l-2019", "--steps", "7"]),
        ({"optimizer": "lbfgs"}, None, {"style_weight": 1e3}, ["--optimizer", "lbfgs", "--style-weight", "1e3"]),
        ({}, None, {"preset": "photoreal-hrnet", "size": (32, 32)}, ["--preset", "photoreal-hrnet",
                                                             "--size", "32", "32"]),
    ]  # fmt: skip
    for defaults, preset, row, flags in cases:
        given = {"content": c, "style": (s,), "output": out, **row}
        job = manifest.Job(1, "row", given, given.pop("preset", None))
        (got,) = built(tmp_path, [job], defaults, preset)
        assert got.settings == stylize_settings("--content", c, "--style", s, "--output", out, *flags).validated()


def test_csv_cells_and_grid_values_are_read_as_the_flags_would_be(tmp_path: Path) -> None:
    assert manifest.parse_text("size", "32x48") == manifest.parse_text("size", " 32 48") == (32, 48)
    assert manifest.parse_text("style_weights", "1, 2;3") == (1.0, 2.0, 3.0)
    assert manifest.parse_text("style_layers", "conv1_1;pool5") == ("conv1_1", "pool5")
    assert manifest.parse_text("style", "a b.png; c.png") == ("a b.png", "c.png")
    assert manifest.parse_text("clamp", "Yes") is True and manifest.parse_text("normalize", "0") is False
    with pytest.raises(common.UserError, match=r"--seed: cannot read '1\.5'"):
        manifest.parse_text("seed", "1.5")
    grid = manifest.parse_grid(["backend=torch,mxnet", "style-weight=1e3,1e4", "preset=d2l"])
    assert grid == {"backend": ["torch", "mxnet"], "style_weight": [1e3, 1e4], "preset": ["d2l"]}
    jobs = manifest.grid_jobs(["/x/a.png", "/x/b.png"], ["/y/s.jpg"], grid)
    assert [j.label for j in jobs][:2] == ["job 1", "job 2"] and len(jobs) == 8
    names = [manifest.output_name(j.given["content"], j.given["style"], j.grid) for j in jobs]
    assert names[0] == "a__s__backend-torch__style_weight-1000__preset-d2l.png" and len(set(names)) == 8
    for bad, words in [(["steps"], "NAME=V1,V2"), (["output=a,b"], "--content and --style"), (["foo=1"], "unknown")]:
        with pytest.raises(common.UserError, match=words):
            manifest.parse_grid(bad)


def test_the_settings_hash_follows_the_inputs_bytes_not_their_paths(tmp_path: Path) -> None:
    (c,), (s,) = make_images(tmp_path, 1, 1)
    settings = common.Settings(content=c, style=(s,), output=str(tmp_path / "o.png"))
    fp = {c: checkpoint.fingerprint(c), s: checkpoint.fingerprint(s)}
    h = ledger.settings_hash(settings, fp)
    moved = settings.replace(content="/elsewhere/c.png", output="/other.png", quiet=True)
    assert ledger.settings_hash(moved, {"/elsewhere/c.png": fp[c], s: fp[s]}) == h
    assert ledger.settings_hash(settings, {**fp, c: "0" * 64}) != h  # the content's bytes changed
    assert ledger.settings_hash(settings.replace(steps=499), fp) != h
    assert ledger.settings_hash(settings.replace(log=str(tmp_path / "r.json")), fp) != h  # another file asked for


def test_the_settings_hash_covers_what_decides_the_result_and_nothing_at_its_default(tmp_path: Path) -> None:
    """Settings that decide nothing (where the image goes, the preset's name, checkpoints, quiet) leave the hash
    alone; a setting at its default is not in it, so a new setting, declared at its default, reruns no job."""
    plain = ledger.settings_hash(common.Settings(), {})
    for change in ({"output": "x.png"}, {"preset": "d2l"}, {"checkpoint_every": 7}, {"quiet": True}, {"save_every": 3}):
        assert ledger.settings_hash(common.Settings(**change), {}) == plain, change
    for change in ({"backend": "mxnet"}, {"pooling": "avg"}, {"device": "cuda:0"}, {"method": "hrnet"}):
        assert ledger.settings_hash(common.Settings(**change), {}) != plain, change
    expected = json.dumps({"version": ledger.HASH_VERSION, "settings": {"steps": 5}}, sort_keys=True)
    assert ledger.settings_hash(common.Settings(steps=5), {}) == hashlib.sha256(expected.encode()).hexdigest()


def test_the_defaults_that_decide_a_result_are_those_of_the_hash_version() -> None:
    """The hash leaves defaults out: a changed default must come with a new HASH_VERSION, or finished jobs would be
    kept that the new default would compute differently. On a change: bump ledger.HASH_VERSION, update this pin."""
    defaults = common.Settings().as_dict()
    digest = json.dumps({name: defaults[name] for name in ledger.hashed_settings()}, sort_keys=True)
    pinned = {2: "3f5123bb4777d33f"}
    assert hashlib.sha256(digest.encode()).hexdigest()[:16] == pinned[ledger.HASH_VERSION]


def test_the_ledger_keeps_the_latest_line_drops_a_cut_one_and_admits_one_driver(tmp_path: Path) -> None:
    out = tmp_path / "o.png"
    with ledger.Ledger(tmp_path) as led:
        led.append({"job": "o.png", "hash": "h1", "status": "failed"})
        led.append({"job": "o.png", "hash": "h1", "status": "ok"})
        assert led.state("o.png", "h1", [str(out)]) == "todo"  # its output is missing
        out.write_bytes(b"x")
        assert led.state("o.png", "h1", [str(out)]) == "done" and led.state("o.png", "h2", [str(out)]) == "todo"
        with pytest.raises(common.UserError, match="another nst batch is writing"):
            ledger.Ledger(tmp_path).__enter__()
    with open(tmp_path / ledger.NAME, "ab") as f:
        f.write(b'{"job": "p.png", "ha')  # a driver killed in the middle of a line
    with ledger.Ledger(tmp_path) as led:
        assert led.dropped == 1 and set(led.entries) == {"o.png"}
        led.append({"job": "p.png", "hash": "h", "status": "failed"})
        assert led.state("p.png", "h", []) == "failed"
    lines = (tmp_path / ledger.NAME).read_text().splitlines()
    assert [json.loads(line)["status"] for line in lines] == ["failed", "ok", "failed"]


def test_the_leftovers_of_killed_writes_of_the_batchs_outputs_are_removed_and_nothing_else(tmp_path: Path) -> None:
    """Real leftovers (the writing code killed mid-write) of the batch's outputs, of one written through a symlink
    and of a file that is not the batch's; and a user's own files with names like them, which stay."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "link.png").symlink_to(elsewhere / "real.png")
    ours = [tmp_path / "o.png", tmp_path / "o.json", tmp_path / "link.png"]
    killed_writes(tmp_path / "x.png")  # not one of the batch's outputs
    before = set(tmp_path.iterdir())
    killed_writes(*ours)
    leftovers = set(tmp_path.iterdir()) - before | set(elsewhere.iterdir())
    assert len(leftovers) == 3 and all(p.read_bytes() == b"half an image" for p in leftovers)
    mine = [".nst-abcdefgh.tmp.png", ".o.png.abcdefgh.png", "o.png.tmp", "o.png"]  # the user's
    mine += [f"{p.name}.bak" for p in leftovers] + [p.name.replace(".tmp.", ".tmp.x.") for p in leftovers]
    for name in mine:
        (tmp_path / name).write_bytes(b"mine")
    kept = set(tmp_path.iterdir()) - leftovers
    assert ledger.remove_stale_temporaries([str(p) for p in ours]) == 3
    assert set(tmp_path.iterdir()) == kept and not list(elsewhere.iterdir())
    assert ledger.remove_stale_temporaries([str(p) for p in ours]) == 0


# A process holding a local instance's folder (with a token and Ray's logs in it): killed outright, or alive
# until its standard input closes.
OWNER = """
import os, signal, sys
from common.batch import local
with local.owned_folder() as folder:
    (folder / "auth_token").write_text("secret")
    (folder / "r" / "logs").mkdir(parents=True)
    print(folder, flush=True)
    if sys.argv[1] == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    sys.stdin.read()
"""


def test_the_ray_folder_of_a_killed_process_is_removed_and_a_live_ones_kept(monkeypatch) -> None:
    root = short_temporary_folder()  # the temporary folder here and in the processes below: no other run looks there
    monkeypatch.setattr(tempfile, "tempdir", root)
    owner = [sys.executable, "-c", OWNER]
    env = {**os.environ, "TMPDIR": root}
    live = subprocess.Popen([*owner, "live"], cwd=ROOT, env=env, stdin=PIPE, stdout=PIPE, text=True)
    try:
        dead = subprocess.run([*owner, "killed"], cwd=ROOT, env=env, capture_output=True, text=True)
        assert dead.returncode == -signal.SIGKILL, dead.stderr[-2000:]
        dead_folder, live_folder = Path(dead.stdout.strip()), Path(live.stdout.readline().strip())
        assert (dead_folder / "auth_token").is_file() and dead_folder.parent == live_folder.parent == Path(root)
        unknown = Path(tempfile.mkdtemp(prefix=local.FOLDER_PREFIX))  # no owner lock: not known to be a Ray folder
        with local.owned_folder() as own:
            assert local.remove_stale_folders() == [dead_folder] and not dead_folder.exists()
            assert (live_folder / "auth_token").is_file() and own.is_dir() and unknown.is_dir()
        live.communicate("", timeout=60)
        assert live.returncode == 0 and sorted(os.listdir(root)) == [unknown.name]  # the others removed their own
    finally:
        live.kill()
        shutil.rmtree(root, ignore_errors=True)


def test_the_worker_job_reuses_its_backend_and_names_the_users_paths(tmp_path: Path, monkeypatch) -> None:
    """run_job called here, as a Ray worker calls it: a job, a diverging one, a photoreal one saving its model."""
    torch = pytest.importorskip("torch")
    (c,), (s,) = make_images(tmp_path, 1, 1)
    jobs = [
        manifest.Job(i, f"row {i}", {"content": c, "style": (s,), "output": str(tmp_path / f"o{i}.png")})
        for i in (1, 2, 3)
    ]
    jobs[1].given.update(lr=1e30, steps=20)
    jobs[2].preset = "photoreal-hrnet"
    jobs[2].given.update(size=(32, 32), steps=2, save_model=str(tmp_path / "gen.npz"))
    valid = built(tmp_path, jobs, {**SMALL, "backend": "torch"})
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(worker, "BACKENDS", {})
    threads = torch.get_num_threads()
    try:
        results = [
            worker.run_job(
                {"job": j.id, "settings": j.settings.as_dict(), "threads": 1, "weights": None,
                 "inputs": [{"field": f, "suffix": Path(p).suffix} for f, p in j.inputs]},
                *(Path(p).read_bytes() for _, p in j.inputs),
            )
            for j in valid
        ]  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    assert [r["worker"]["fresh"] for r in results] == [True, False, False]
    assert results[0]["status"] == "ok" and results[0]["error"] is None
    assert results[0]["record"]["settings"]["content"] == c and len(results[0]["record"]["history"]) == 3
    assert Image.open(io.BytesIO(results[0]["files"]["output"])).size == (48, 32)
    assert results[1]["status"] == "failed" and str(tmp_path / "o2.png") in results[1]["error"]
    assert [r["outcome"] for r in results] == [Outcome.COMPLETED, Outcome.DIVERGED, Outcome.COMPLETED]
    assert "output" in results[1]["files"]  # a diverged run keeps its last finite image, as nst stylize does
    assert results[2]["status"] == "ok" and set(results[2]["files"]) == {"output", "save_model"}
    (tmp_path / "shipped.npz").write_bytes(results[2]["files"]["save_model"])
    assert common.jobs.models.load_model(tmp_path / "shipped.npz")[1]["trained_by"] == "torch"


def test_a_ledger_line_says_how_the_job_itself_ended(tmp_path: Path) -> None:
    (c,), (s,) = make_images(tmp_path, 1, 1)
    (job,) = built(
        tmp_path, [manifest.Job(1, "row 1", {"content": c, "style": (s,), "output": str(tmp_path / "o.png")})], SMALL
    )
    results = [
        {"status": worker.status(Outcome.COMPLETED), "outcome": Outcome.COMPLETED},
        {"status": worker.status(Outcome.DIVERGED), "outcome": Outcome.DIVERGED, "error": "the loss became ..."},
        {"status": "failed", "error": "the job's task failed in Ray: ..."},  # its worker died too often: no outcome
    ]
    lines = [json.loads(json.dumps(scheduler.line(job, r, 0.0, []))) for r in results]
    assert [(line["status"], line["outcome"]) for line in lines] == [
        ("ok", "completed"),
        ("failed", "diverged"),
        ("failed", "failed"),
    ]


def test_a_batch_job_is_refused_up_front_for_what_nst_stylize_refuses_and_its_outputs_stay_in_the_folder(
    tmp_path: Path, capsys
) -> None:
    """The one plan (common/jobs/plan.py) checks every job before anything runs: an output outside --output-dir (by
    `..`, an absolute path, a link) is refused, as is what nst stylize refuses up front (--style-scale 0.02 once
    failed only at run time in nst batch), with the same line; the existing file outside is not touched."""
    (c,), (s,) = make_images(tmp_path, 1, 1)
    outdir = tmp_path / "out"
    outdir.mkdir()
    outside = tmp_path / "x.png"
    outside.write_bytes(b"the user's own image")
    (outdir / "away").symlink_to(tmp_path, target_is_directory=True)
    rows = {
        "dotdot": {"output": str(outdir / ".." / "x.png")},
        "absolute": {"output": str(outside)},
        "through a link": {"output": str(outdir / "away" / "x.png")},
        "tiny style": {"output": str(outdir / "a.png"), "style_scale": 0.02},
        "fine": {"output": str(outdir / "b.png")},
    }
    jobs = [manifest.Job(i, label, {"content": c, "style": (s,), **row}) for i, (label, row) in enumerate(rows.items())]
    valid = checks.check_all(jobs, {"size": (32, 48), "steps": 2}, None, outdir)
    assert [job.label for job in valid] == ["fine"]
    for job in jobs[:3]:
        assert "is outside the output folder" in job.error and "give a path inside it" in job.error, job.error
    argv = ["stylize", "--content", c, "--style", s, "--size", "32", "48", "--steps", "2", "--style-scale", "0.02"]
    assert cli.main([*argv, "--output", str(tmp_path / "a.png")]) == 2
    assert jobs[3].error == capsys.readouterr().err.strip().removeprefix("nst: error: ")
    assert outside.read_bytes() == b"the user's own image"


def test_the_batch_compares_every_pair_of_the_registrys_backends_not_a_hard_coded_one(tmp_path: Path) -> None:
    """Jobs differing only in their backend are compared pair by pair, for each pair registry.pairs gives (a third
    backend: three pairs), each row naming its two backends; the figures are each job's own."""
    from common.batch import sheet, summary

    (c,), (s,) = make_images(tmp_path, 1, 1)
    names = ("torch", "mxnet", "third")
    jobs, entries = [], {}
    for i, name in enumerate(names):
        out = tmp_path / f"{name}.png"
        job = manifest.Job(i + 1, f"job {i + 1}", {"content": c, "style": (s,), "output": str(out)})
        (built_job,) = built(tmp_path, [job], {"size": (32, 48), "steps": 2})
        built_job.settings = built_job.settings.replace(backend=name)  # a third backend, as the registry would name it
        Image.new("RGB", (48, 32), (10 * i, 100, 200)).save(out)
        entries[built_job.id] = {"hash": built_job.hash, "status": "ok", "seconds_per_step": 1.0 + i,
                                 "losses": {"total": 10.0 * (i + 1)}}  # fmt: skip
        jobs.append(built_job)
    pairs = sheet.backend_pairs(jobs, entries, names)
    assert [p["backends"] for p in pairs] == [["torch", "mxnet"], ["torch", "third"], ["mxnet", "third"]]
    for p in pairs:
        x, y = p["backends"]
        assert p["seconds_per_step"] == {x: 1.0 + names.index(x), y: 1.0 + names.index(y)}
        assert p["losses"][y]["total"] == 10.0 * (names.index(y) + 1) and p["max_abs"] == 10 * (
            names.index(y) - names.index(x)
        )
    rows = sheet.pairs_table(pairs, summary._table)
    assert [row.split(" | ")[0].strip("| ") for row in rows[2:]] == ["torch / mxnet", "torch / third", "mxnet / third"]
    assert sheet.backend_pairs(jobs, entries) == pairs[:1]  # the registry's own backends: torch and mxnet


def test_a_job_may_not_write_another_jobs_input_nor_the_batchs_own_files(tmp_path: Path) -> None:
    """Inside --output-dir too: an output that another job reads is refused (a batch never overwrites an input), and
    so is an input that is one of the batch's own files (its contact sheet, rewritten at the end)."""
    (c,), (s,) = make_images(tmp_path, 1, 1)
    outdir = tmp_path / "out"
    outdir.mkdir()
    inside = outdir / "in.png"
    shutil.copy(c, inside)
    shutil.copy(c, outdir / "contact_sheet.png")
    rows = [
        {"content": str(inside), "style": (s,), "output": str(outdir / "a.png")},
        {"content": c, "style": (s,), "output": str(inside)},
        {"content": str(outdir / "contact_sheet.png"), "style": (s,), "output": str(outdir / "b.png")},
    ]
    jobs = [manifest.Job(i + 1, f"job {i + 1}", row) for i, row in enumerate(rows)]
    valid = checks.check_all(jobs, {"size": (32, 48), "steps": 2}, None, outdir)
    assert [job.label for job in valid] == ["job 1"]
    assert "is an input of job 1; a batch never overwrites an input" in jobs[1].error
    assert "is one of the batch's own files" in jobs[2].error and "cannot be an input" in jobs[2].error
