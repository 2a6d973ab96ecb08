"""Jobs of a batch: manifest rows (CSV or JSON Lines) or a grid (contents x styles x setting values).

A row's columns are Settings names (the ``nst stylize`` flags with ``_``: ``content``, ``style``, ``output``,
``steps``, ``style_weight``, ``preset``, ...). In a CSV cell, several style images are separated by ``;``,
number lists by spaces, commas or ``;``, a size is ``H W`` or ``HxW``; an empty cell means "not given". In JSON
Lines a value is a JSON value (a list for several styles or numbers). Input paths are relative to the
manifest's folder, output paths to the batch's output folder.
"""

from __future__ import annotations

import csv
import glob
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import UserError
from ..jobs.outputs import IMAGE_EXTENSIONS
from ..jobs.settings import FIELD_NAMES, SPECS, Role, Settings, named, path_settings
from ..jobs.value_lists import Files
from ..jobs.values import KeywordOrPath

# Settings a batch job cannot take (each job runs whole, in a worker, with no progress bar of its own), and why.
REFUSED = {name: spec.batch for name, spec in SPECS.items() if spec.batch}
OUTPUT_PATHS = tuple(name for name in path_settings(Role.OUTPUT) if name not in REFUSED)  # the files a job writes
INPUT_PATHS = path_settings(Role.INPUT)  # content, style, and --init or --weights where they name a file
NO_GRID = (*named(Role.INPUT), *OUTPUT_PATHS)  # files: --content, --style and each job's own outputs


@dataclass
class Job:
    """One job of a batch: where it came from, the settings given for it, and (once built) its Settings."""

    number: int  # 1-based position in the batch
    label: str  # how messages name it: "jobs.csv row 3 (line 4)", "job 3"
    given: dict[str, Any]  # settings given for this job (the batch's defaults, then the row), preset aside
    preset: str | None = None
    grid: dict[str, str] = field(default_factory=dict)  # this job's value of each --grid setting, as text
    error: str | None = None  # why the job is invalid
    from_grid: bool = False  # made from --content x --style (the summary then draws a contact sheet)
    # Filled in by validation (common/batch/checks.py):
    settings: Settings | None = None
    id: str = ""  # the output path, relative to the output folder where it lies inside it
    hash: str = ""  # of everything that decides the result (ledger.settings_hash)
    inputs: list[tuple[str, str]] = field(default_factory=list)  # (setting, path) of every input image


def flag(name: str) -> str:
    """A setting's flag: style_weight -> --style-weight."""
    return "--" + name.replace("_", "-")


def parse_text(name: str, text: str) -> Any:
    """A setting's value from text (a CSV cell or a --grid value), as its declaration reads it; UserError naming it."""
    return SPECS[name].kind.read(flag(name), text)


def from_json(name: str, value: Any) -> Any:
    """A setting's value from a JSON Lines row, as its declaration reads JSON (lists become tuples, text is read as a
    CSV cell would be); UserError naming the setting for a value of the wrong type."""
    return SPECS[name].kind.from_json(flag(name), value)


def check_name(name: str) -> None:
    """UserError for a name that is no setting of a job."""
    if name not in FIELD_NAMES:
        raise UserError(f"unknown setting {name!r}")
    if name in REFUSED:
        raise UserError(f"{flag(name)} {REFUSED[name]}")


def resolve_paths(values: dict[str, Any], inputs: Path, outputs: Path) -> dict[str, Any]:
    """Relative input paths made absolute from ``inputs``, output paths from ``outputs``."""
    out = dict(values)

    def under(base: Path, p: str) -> str:
        path = Path(p).expanduser()
        return str(path if path.is_absolute() else base / path)

    for name, value in values.items():
        kind = SPECS[name].kind if name in SPECS else None
        if name in path_settings(Role.INPUT) and isinstance(kind, Files):
            out[name] = tuple(under(inputs, v) for v in value)
        elif (
            name in path_settings(Role.INPUT) and value and (not isinstance(kind, KeywordOrPath) or kind.is_path(value))
        ):
            out[name] = under(inputs, value)
        elif name in OUTPUT_PATHS and value:
            out[name] = under(outputs, value)
    return out


def read_manifest(path: str | Path, outdir: Path) -> list[Job]:
    """The jobs of a CSV or JSON Lines manifest; a row that cannot be read becomes a job with its error."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"manifest {str(p)!r} does not exist")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"manifest {str(p)!r} cannot be read: {e}") from e
    rows = _jsonl_rows(text) if p.suffix.lower() in (".jsonl", ".ndjson") else _csv_rows(text, p.name)
    jobs = []
    for number, (line, values, error) in enumerate(rows, 1):
        job = Job(number, f"{p.name} row {number} (line {line})", {})
        try:
            if error:
                raise UserError(error)
            for name in values:
                check_name(name)
            values = {k: v for k, v in values.items() if v not in (None, "", ())}
            job.preset = values.pop("preset", None)
            job.given = resolve_paths(values, p.parent.resolve(), outdir)
        except UserError as e:
            job.error = str(e)
        jobs.append(job)
    if not jobs:
        raise UserError(f"manifest {str(p)!r} holds no jobs")
    return jobs


def _csv_rows(text: str, name: str) -> list[tuple[int, dict[str, Any], str | None]]:
    reader = csv.DictReader(text.splitlines())
    unknown = [c for c in reader.fieldnames or [] if c != "preset" and c not in FIELD_NAMES]
    if unknown:
        raise UserError(f"manifest {name}: unknown column(s) {', '.join(map(repr, unknown))} (line 1)")
    rows = []
    for row in reader:
        values, error = {}, None
        if None in row:
            error = f"more cells than the {len(reader.fieldnames)} columns"
        for column, cell in row.items():
            if column is None or cell is None or not cell.strip():
                continue
            try:
                values[column] = parse_text(column, cell) if column not in REFUSED else cell
            except UserError as e:
                error = error or str(e)
        rows.append((reader.line_num, values, error))
    return rows


def _jsonl_rows(text: str) -> list[tuple[int, dict[str, Any], str | None]]:
    rows = []
    for line, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
            if not isinstance(obj, dict):
                raise ValueError("a row must be a JSON object")
            values = {k: from_json(k, v) if k in FIELD_NAMES else v for k, v in obj.items()}
            rows.append((line, values, None))
        except (ValueError, UserError) as e:
            rows.append((line, {}, f"not a valid JSON row: {e}"))
    return rows


def expand_inputs(specs: list[str], what: str) -> list[str]:
    """Files from folders (their images, sorted), globs and paths; UserError if a folder or glob has no image."""
    found: list[str] = []
    for spec in specs:
        p = Path(spec).expanduser()
        if p.is_dir():
            files = sorted(str(f) for f in p.iterdir() if f.suffix.lower() in (*IMAGE_EXTENSIONS, ".gif"))
        elif glob.has_magic(spec):
            files = sorted(glob.glob(str(p)))
        else:
            files = [str(p)]
        if not files:
            raise UserError(f"{what} {spec!r}: no image files there")
        found += [str(Path(f).resolve()) for f in files]
    return found


def parse_grid(items: dict[str, list[Any]] | list[str]) -> dict[str, list[Any]]:
    """--grid NAME=V1,V2 ... (or a dict) as {name: [values]}; UserError for an unknown name or no values."""
    grid: dict[str, list[Any]] = {}
    pairs = items.items() if isinstance(items, dict) else [_split_grid(item) for item in items]
    for name, values in pairs:
        if name in NO_GRID:
            raise UserError(f"--grid {name}: give contents and styles with --content and --style")
        try:
            check_name(name)
        except UserError as e:
            raise UserError(f"--grid {name}: {e}") from e
        values = [parse_text(name, v) if isinstance(v, str) and name != "preset" else v for v in values]
        if not values:
            raise UserError(f"--grid {name}: no values")
        grid[name] = values
    return grid


def _split_grid(item: str) -> tuple[str, list[str]]:
    name, sep, values = item.partition("=")
    if not sep or not name.strip():
        raise UserError(f"--grid takes NAME=V1,V2,...; got {item!r}")
    return name.strip().replace("-", "_"), [v for v in values.split(",") if v.strip()]


def grid_jobs(contents: list[str], styles: list[str], grid: dict[str, list[Any]]) -> list[Job]:
    """Every content x style x combination of grid values, content by content."""
    combos = list(itertools.product(*grid.values())) or [()]
    jobs = []
    for content, style, combo in itertools.product(contents, styles, combos):
        values = dict(zip(grid, combo, strict=True))
        job = Job(len(jobs) + 1, f"job {len(jobs) + 1}", {"content": content, "style": (style,)}, from_grid=True)
        job.preset = values.pop("preset", None)
        job.given.update(values)
        job.grid = {name: show(value) for name, value in zip(grid, combo, strict=True)}
        jobs.append(job)
    return jobs


def cross(jobs: list[Job], grid: dict[str, list[Any]]) -> list[Job]:
    """Manifest rows crossed with grid values: each row once per combination (its label keeps its row)."""
    if not grid:
        return jobs
    out = []
    for job, combo in itertools.product(jobs, itertools.product(*grid.values())):
        values = dict(zip(grid, combo, strict=True))
        shown = ", ".join(f"{name}={show(value)}" for name, value in zip(grid, combo, strict=True))
        new = Job(len(out) + 1, f"{job.label}, {shown}", {**job.given}, job.preset, {}, job.error)
        new.preset = values.pop("preset", new.preset)
        new.given.update(values)
        new.grid = {name: show(value) for name, value in zip(grid, combo, strict=True)}
        if new.given.get("output"):  # the row's own name, with this combination's values added
            p = Path(new.given["output"])
            new.given["output"] = str(p.with_name(output_name(p.stem, (), new.grid, p.suffix, bare=True)))
        out.append(new)
    return out


def show(value: Any) -> str:
    """A setting value as short text (for names, tables and labels)."""
    if isinstance(value, tuple):
        return "x".join(map(show, value)) if all(isinstance(v, int) for v in value) else ";".join(map(show, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def output_name(
    content: str | None, styles: tuple[str, ...], grid: dict[str, str], suffix: str = ".png", bare: bool = False
) -> str:
    """content__style[__name-value...].png, safe as a file name (bare: ``content`` is the stem, no style)."""
    parts = [Path(content).stem if content else "sample", "+".join(Path(s).stem for s in styles) or "sample"]
    parts = [content] if bare else parts
    parts += [f"{name}-{value}" for name, value in grid.items()]
    return re.sub(r"[^A-Za-z0-9._+=-]", "_", "__".join(parts)) + suffix
