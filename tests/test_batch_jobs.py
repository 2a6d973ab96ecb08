"""nst batch without Ray: jobs get exactly the Settings nst stylize would build, the ledger's rules, and the
worker's job function called in this process."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from batch_support import SMALL, make_images
from PIL import Image

import cli
import common
from common.batch import checks, ledger, manifest, worker


def stylize_settings(*argv: str) -> common.Settings:
    """The Settings `nst stylize ARGV` runs with."""
    return cli.settings_from(cli.build_parser().parse_args(["stylize", *argv]))


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
    fp = {c: ledger.fingerprint(c), s: ledger.fingerprint(s)}
    h = ledger.settings_hash(settings, fp)
    moved = settings.replace(content="/elsewhere/c.png", output="/other.png", quiet=True)
    assert ledger.settings_hash(moved, {"/elsewhere/c.png": fp[c], s: fp[s]}) == h
    assert ledger.settings_hash(settings, {**fp, c: "0" * 64}) != h  # the content's bytes changed
    assert ledger.settings_hash(settings.replace(steps=499), fp) != h
    assert ledger.settings_hash(settings.replace(log=str(tmp_path / "r.json")), fp) != h  # another file asked for


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


def test_only_the_temporaries_of_the_batchs_own_outputs_are_removed(tmp_path: Path) -> None:
    for name in (".o.png.ab_de9fg.png", ".o.png.abcdefgh.png", ".x.png.abcdefgh.png", "o.png", ".o.png.abcdefgh.jpg"):
        (tmp_path / name).write_bytes(b"")
    assert ledger.remove_stale_temporaries([str(tmp_path / "o.png")]) == 2
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [".o.png.abcdefgh.jpg", ".x.png.abcdefgh.png", "o.png"]


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
    assert "output" in results[1]["files"]  # a diverged run keeps its last finite image, as nst stylize does
    assert results[2]["status"] == "ok" and set(results[2]["files"]) == {"output", "save_model"}
    (tmp_path / "shipped.npz").write_bytes(results[2]["files"]["save_model"])
    assert common.photoreal.load_model(tmp_path / "shipped.npz")[1]["trained_by"] == "torch"
