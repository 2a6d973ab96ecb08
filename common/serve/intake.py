"""What a client sends, checked as the CLI checks it: uploaded images and a run's settings.

An upload goes through common.jobs.images.load_image (bombs, truncated files, odd modes) and the minimum size, and
its error is the CLI's one line with the client's file name in place of the path. Settings are built as the CLI
builds them (a preset, then the values given explicitly) and validated by Settings.validated; only settings
that name no file may be given.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from PIL import Image

from ..core.errors import UserError
from ..jobs import checkpoint, images, outputs, presets, samples, stylize
from ..jobs.settings import SPECS, Settings
from ..jobs.values import KeywordOrPath
from . import store

MAX_UPLOAD_BYTES = 25 * 2**20
SAMPLES = ("chelsea.png", "ihc.png", "astronaut.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg")
# Settings a client may give (their declarations say so): none of them names a file.
EDITABLE = tuple(name for name, spec in SPECS.items() if spec.page)
EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp"}


def display_name(name: str | None, default: str) -> str:
    """A client's file name made fit to show: its last component, printable characters, at most 80."""
    shown = re.sub(r"[^\w .,()+@-]", "_", (name or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()[:80]
    return shown or default


def check_image(path: Path, role: str, shown: str) -> Image.Image:
    """Load an image as the job would, or UserError with the CLI's line naming ``shown`` instead of the path."""
    what = f"{role} image" if role in ("content", "style") else "image"
    try:
        img = images.load_image(path, what)
        images.check_size(img, f"{what} {shown!r}")
    except UserError as e:
        raise UserError(str(e).replace(repr(str(path)), repr(shown))) from None
    return img


def image_format(path: Path) -> str:
    """The extension that fits the file's real format (read from its header), '.img' if none does."""
    with Image.open(path) as img:
        return EXTENSIONS.get(img.format or "", ".img")


def sample(name: str) -> Path:
    """One of the bundled sample images, by its name in SAMPLES."""
    if name not in SAMPLES:
        raise UserError(f"unknown sample {name!r}; the samples are {', '.join(SAMPLES)}")
    return samples.sample_path(name)


def explicit_settings(given: dict[str, Any]) -> dict[str, Any]:
    """The client's settings as the CLI's explicit flags, each read from JSON as its declaration reads it (a number
    where a number is meant, true or false for a switch, a keyword where a file could be named), or UserError."""
    explicit: dict[str, Any] = {}
    for key, value in given.items():
        if key not in EDITABLE:
            raise UserError(f"setting {key!r} cannot be given here; the settings are {', '.join(EDITABLE)}")
        spec = SPECS[key]
        value = spec.kind.from_json(spec.label, value)
        spec.check_page(value)  # what the page can finish (Steps); the CLI takes more
        if isinstance(spec.kind, KeywordOrPath) and spec.kind.is_path(value):
            raise UserError(f"{spec.label} must be one of {', '.join(spec.kind.keywords)} here, not {value!r}")
        explicit[key] = value
    if explicit.get("optimizer") == "lbfgs" and "lr" not in explicit:
        explicit["lr"] = 1.0  # as nst stylize: L-BFGS's own default
    return explicit


def job_settings(
    explicit: dict[str, Any], preset: str | None, backend: str, inputs: dict[str, Path], folder: Path
) -> Settings:
    """One backend's validated settings: the CLI's, with the run's inputs and every output inside ``folder``."""
    paths = {
        "backend": backend,
        "content": str(inputs["content"]),
        "style": (str(inputs["style"]),),
        "output": str(folder / "result.png"),
        "log": str(folder / "run.json"),
        "quiet": True,
    }
    paths["checkpoint"] = str(folder / store.JOB_FILES["checkpoint"])  # either method: both stop and resume
    return presets.settings({**explicit, **paths}, preset).validated()


def preflight(s: Settings) -> None:
    """Every check the job makes before loading a framework (the one plan of nst stylize): UserError if one fails."""
    stylize.plan(s, say=lambda line: None)


def write_json(path: Path, value: Any) -> None:
    """Write JSON atomically."""
    outputs.write_text(path, json.dumps(value, indent=2) + "\n", path.name)


def save_upload(data_dir: Path, tmp: Path, role: str, name: str | None, lock: Any = None) -> dict[str, Any]:
    """Check an uploaded file (at tmp, inside the data folder) and keep it under the id its SHA-256 gives; its
    description. The same bytes uploaded again are kept once: the description of the first is returned. A refused
    file is deleted. The file is put in place under ``lock`` (the one deletions hold)."""
    shown = display_name(name, f"{role} image")
    try:
        img = check_image(tmp, role, shown)
        sha256 = checkpoint.fingerprint(tmp)
        upload_id = store.upload_id_of(sha256)
        path = store.upload_path(data_dir, upload_id)
        with lock or contextlib.nullcontext():
            kept = store.read_json(path.with_suffix(".json"))
            if path.is_file() and isinstance(kept, dict) and kept.get("sha256") == sha256:
                return describe_upload(data_dir, upload_id)
            meta = {
                "id": upload_id,
                "name": shown,
                "role": role,
                "width": img.size[0],
                "height": img.size[1],
                "size": tmp.stat().st_size,
                "sha256": sha256,
                "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
            write_json(path.with_suffix(".json"), meta)
            os.replace(tmp, path)
            return meta
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def describe_upload(data_dir: Path, upload_id: str) -> dict[str, Any] | None:
    """A kept upload's description (id, name, role, width, height, size, sha256, created), or None if there is
    none. Uploads kept before descriptions held their role, size and digest get them from their file."""
    path = store.upload_path(data_dir, upload_id)
    meta = store.read_json(path.with_suffix(".json"))
    if not isinstance(meta, dict) or not path.is_file():
        return None
    stat = path.stat()
    meta.setdefault("role", None)
    meta["size"] = stat.st_size
    if "sha256" not in meta:
        meta["sha256"] = checkpoint.fingerprint(path)
    if "created" not in meta:
        meta["created"] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stat.st_mtime))
    return {**meta, "id": upload_id}


def uploads(data_dir: Path) -> list[dict[str, Any]]:
    """Every kept upload's description, newest first."""
    found = []
    for meta in sorted((data_dir / "uploads").glob("u*.json")):
        if store.UPLOAD_ID.match(meta.stem):
            described = describe_upload(data_dir, meta.stem)
            found += [described] if described else []
    return sorted(found, key=lambda u: (u["created"], u["id"]), reverse=True)


def input_file(data_dir: Path, ref: str) -> tuple[Path, str]:
    """An input named by a client (an upload id, or sample:NAME): its file and the name to show."""
    if ref.startswith("sample:"):
        return sample(ref.removeprefix("sample:")), ref.removeprefix("sample:")
    path = store.upload_path(data_dir, ref)
    meta = store.read_json(path.with_suffix(".json"))
    if not path.is_file() or not meta:
        raise UserError(f"no upload {ref!r}")
    return path, meta["name"]


def check_total_steps(total: int) -> None:
    """UserError when a run's steps over all its stages exceed what the page takes for Steps (a stage list of many
    scales must not get round the bound)."""
    most = SPECS["steps"].page_maximum
    if most is not None and total > most:
        raise UserError(
            f"the run would take {total} steps over its scales; the page takes at most {most} in all (fewer scales, "
            "or fewer Steps)"
        )


def build_run(
    data_dir: Path,
    staging: Path,
    final: Path,
    refs: tuple[str, str],
    backends: list[str],
    preset: str | None,
    explicit: dict[str, Any],
) -> dict[str, Any]:
    """Fill a new run's staging folder (its inputs, a job.json per backend, checked as the CLI checks a run, with
    every path where the folder will be: final); return its request.json content."""
    inputs, staged, names = {}, {}, {}
    for role, ref in zip(("content", "style"), refs, strict=True):
        source, names[role] = input_file(data_dir, ref)
        copy = staging / "inputs" / role
        try:  # the run's own copy, checked: an upload deleted meanwhile is "no upload", and never a run's loss
            shutil.copyfile(source, copy)
        except FileNotFoundError:
            raise UserError(f"no upload {ref!r}") from None
        check_image(copy, role, names[role])
        name = role + image_format(copy)
        os.rename(copy, staging / "inputs" / name)
        staged[role], inputs[role] = staging / "inputs" / name, final / "inputs" / name
    for backend in backends:
        (staging / backend).mkdir()
        preflight(job_settings(explicit, preset, backend, staged, staging / backend))  # where the files are now
        s = job_settings(explicit, preset, backend, inputs, final / backend)  # where they will be
        total = sum(stage.steps for stage in s.run_stages())
        check_total_steps(total)
        write_json(staging / backend / "job.json", {"settings": s.as_dict(), "total_steps": total})
    return {
        "id": final.name,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "preset": preset,
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in explicit.items()},
        "backends": backends,
        "inputs": {
            role: {"name": names[role], "file": inputs[role].name, "ref": ref}
            for role, ref in zip(("content", "style"), refs, strict=True)
        },
    }
