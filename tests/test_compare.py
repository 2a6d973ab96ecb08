"""nst compare: the same job on both backends, and a report that stands on its own."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cli
from common.studies import compare


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    from conftest import get_backend

    get_backend("torch"), get_backend("mxnet")
    folder = tmp_path_factory.mktemp("report")
    assert cli.main(["compare", "--size", "32", "48", "--steps", "4", "--report", str(folder), "--quiet"]) == 0
    return folder


def test_the_report_folder_has_everything(report: Path) -> None:
    names = {p.name for p in report.iterdir()}
    assert names >= {
        "report.md",
        "report.html",
        "losses.png",
        "outputs.png",
        "torch.json",
        "mxnet.json",
        "environment.json",
        "torch.png",
        "mxnet.png",
    }
    env = json.loads((report / "environment.json").read_text())
    assert env["torch"] and env["mxnet"] and env["cpu"] and env["cores"] >= 1


def test_the_markdown_report_gives_speed_memory_losses_and_differences(report: Path) -> None:
    text = (report / "report.md").read_text()
    for needle in (
        "seconds per step: median",
        "steps per second",
        "peak memory (RSS, GiB)",
        "final total loss",
        "PSNR",
        "SSIM",
        "max abs difference",
        "seeded random VGG-19 weights",
    ):
        assert needle in text, needle
    assert "| torch | mxnet |" in text


def test_the_html_report_is_self_contained(report: Path) -> None:
    page = (report / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert 'src="http' not in page and "<link" not in page and "<script" not in page


def test_both_runs_used_the_same_weights_and_settings(report: Path) -> None:
    t, m = (json.loads((report / f"{n}.json").read_text()) for n in ("torch", "mxnet"))
    assert t["weights"] == m["weights"] and t["weights"].startswith("random")
    ts, ms = t["settings"], m["settings"]
    assert {k: v for k, v in ts.items() if k not in ("backend", "output", "log")} == {
        k: v for k, v in ms.items() if k not in ("backend", "output", "log")
    }
    assert abs(t["history"][-1]["total"] / m["history"][-1]["total"] - 1) < 1e-3


def test_differences_and_ssim_are_measured_on_the_outputs(tmp_path: Path) -> None:
    a = Image.fromarray(np.full((20, 20, 3), 100, np.uint8))
    b = Image.fromarray(np.full((20, 20, 3), 110, np.uint8))
    d = compare.differences(a, b)
    assert d["max_abs"] == 10 and d["psnr"] == pytest.approx(10 * np.log10(255**2 / 100))
    assert compare.differences(a, a)["ssim"] == pytest.approx(1.0) and compare.differences(a, a)["psnr"] == float("inf")


def test_compare_refuses_a_report_path_that_is_a_file(tmp_path: Path, capsys) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    assert cli.main(["compare", "--report", str(path), "--steps", "1"]) == 2
    assert "is a file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("folder", "why"),
    [(".", "is the current folder"), ("..", "holds the current folder")],
)
def test_a_report_folder_that_cannot_be_replaced_whole_is_refused_before_the_runs(
    folder, why, tmp_path: Path, monkeypatch, capsys
) -> None:
    """The report is made beside its folder and renamed into place: the current folder, one that holds it, or a
    mount point cannot be renamed over, so they are refused up front (once an OSError traceback after both runs)."""
    work = tmp_path / "empty"
    work.mkdir()
    monkeypatch.chdir(work)
    assert cli.main(["compare", "--report", folder, "--steps", "1", "--size", "32", "48", "--force"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and why in err and "give a folder inside it" in err, err
    assert list(tmp_path.iterdir()) == [work] and list(work.iterdir()) == []


def test_a_mount_point_is_refused_as_a_folder_to_replace() -> None:
    """/proc is a mount point on every Linux: a report folder there could not be renamed into place."""
    from common.core.errors import UserError
    from common.jobs.outputs import check_replaceable

    assert os.path.ismount("/proc")
    with pytest.raises(UserError, match="is a mount point, which cannot be replaced whole"):
        check_replaceable("/proc", Path("/proc"), True, compare.REPORT_FILES, "--report")


# --- the report folder: never a mixture of two reports -------------------------------------------------------


def tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_folder_holding_files_is_refused_without_force(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "earlier"
    folder.mkdir()
    (folder / "report.md").write_text("an earlier report\n")
    assert cli.main(["compare", "--report", str(folder), "--steps", "1", "--size", "32", "48"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err and "report.md" in err, err
    assert tree(folder) == {"report.md": b"an earlier report\n"}


def test_force_replaces_an_earlier_report_with_a_complete_new_one(report: Path, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "again"
    folder.mkdir()
    for p in report.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "report.md").write_text("an earlier report\n")
    argv = ["compare", "--size", "32", "48", "--steps", "2", "--report", str(folder), "--quiet", "--force"]
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert set(tree(folder)) == set(tree(report))
    assert "an earlier report" not in (folder / "report.md").read_text()
    for name in ("torch", "mxnet"):
        run = json.loads((folder / f"{name}.json").read_text())
        assert len(run["history"]) == 2 and run["output"] == str(folder / f"{name}.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"]  # no temporary folder left


def test_the_records_in_the_report_name_the_reports_own_files(report: Path) -> None:
    for name in ("torch", "mxnet"):
        run = json.loads((report / f"{name}.json").read_text())
        assert run["output"] == str(report / f"{name}.png") and run["settings"]["log"] == str(report / f"{name}.json")


@pytest.mark.parametrize("case", ["a foreign file", "an input inside"])
def test_force_never_replaces_what_is_not_a_report(case, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "report.md").write_text("an earlier report\n")
    from helpers import smooth_image

    photo = folder / ("holiday.png" if case == "a foreign file" else "torch.png")
    smooth_image(48, 64).save(photo)
    before = tree(folder)
    argv = ["compare", "--report", str(folder), "--force", "--steps", "1", "--size", "32", "48"]
    assert cli.main([*argv, "--content", str(photo)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and photo.name in err, err
    assert tree(folder) == before


def test_a_failed_compare_leaves_the_earlier_report_and_no_temporary_folder(tmp_path, capsys, monkeypatch) -> None:
    from common.core.errors import UserError
    from common.jobs import children

    folder = tmp_path / "earlier"
    folder.mkdir()
    (folder / "report.md").write_text("an earlier report\n")

    def failing(*args, **kwargs):
        raise UserError("the mxnet run failed")

    monkeypatch.setattr(children, "run_job", failing)
    argv = ["compare", "--report", str(folder), "--force", "--steps", "1", "--size", "32", "48", "--weights", "random"]
    assert cli.main(argv) == 2
    assert "the mxnet run failed" in capsys.readouterr().err
    assert tree(folder) == {"report.md": b"an earlier report\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier"]
