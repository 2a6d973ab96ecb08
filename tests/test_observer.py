"""The job's observer hook (common.job.Observer): called after every step with its record and a picture function.

`nst serve` streams progress through it; these tests prove it sees every step, that the picture it can ask
for is the current image, and that asking for it changes nothing about the result.
"""

from __future__ import annotations

import pytest
from conftest import get_backend

import common

SMALL = {"size": (32, 48), "steps": 4, "weights": "random", "quiet": True}


def run(name: str, files, folder, observer=None, **extra) -> common.Result:
    """A small job of either method writing into folder."""
    preset = extra.pop("preset", None)
    explicit = {**SMALL, "backend": name, "content": str(files[0]), "style": (str(files[1]),), **extra}
    explicit["output"] = str(folder / f"{name}-{'observed' if observer else 'plain'}.png")
    return common.stylize(common.presets.settings(explicit, preset), observer=observer)


@pytest.mark.parametrize("preset", [None, "photoreal-hrnet"])
@pytest.mark.parametrize("name", ["torch", "mxnet"])
def test_the_observer_sees_every_step_and_the_current_picture(name, preset, image_files, tmp_path) -> None:
    get_backend(name)
    seen, pictures = [], []

    def observer(record, picture):
        seen.append(record)
        pictures.append(picture())  # every step: the result must not change for it

    observed = run(name, image_files, tmp_path, observer, preset=preset)
    plain = run(name, image_files, tmp_path, preset=preset)
    assert seen == observed.history and [r.step for r in seen] == [1, 2, 3, 4]
    assert all(p.size == (48, 32) and p.mode == "RGB" for p in pictures)
    assert pictures[-1].tobytes() == observed.image.tobytes()  # after the last step: the result itself
    assert pictures[0].tobytes() != pictures[-1].tobytes()  # the picture follows the run
    assert observed.image.tobytes() == plain.image.tobytes()
    assert [r.total for r in observed.history] == [r.total for r in plain.history]


def test_an_observer_that_fails_stops_the_job_with_its_error(image_files, tmp_path) -> None:
    get_backend("torch")

    def observer(record, picture):
        raise RuntimeError(f"observer broke at step {record.step}")

    with pytest.raises(RuntimeError, match="observer broke at step 1"):
        run("torch", image_files, tmp_path, observer)
