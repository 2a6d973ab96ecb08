"""Inject each catalogued defect into a scratch copy of the checkout and run the tests that must catch it.

    .venv/bin/python tests/defects/inject.py                  # every defect of every tests/defects/*.toml
    .venv/bin/python tests/defects/inject.py --only ID,ID     # some of them
    .venv/bin/python tests/defects/inject.py --file serve     # the defects of tests/defects/serve.toml
    .venv/bin/python tests/defects/inject.py --list           # what the catalogue holds, and whether each applies

First the named tests run on the unmodified copy (the control: they must pass, or a failure says nothing); then,
one defect at a time, the copy's file is changed, its tests run, and the file is restored. Each defect is CAUGHT (a
test failed), SURVIVED (every test passed: a test to write), STALE (its text is no longer in the file: the
catalogue needs updating), ERROR (pytest could not run the tests: exit 2-5) or TIMEOUT. Exit code 0 when every
defect was caught. The checkout itself is never modified. Format of the catalogue: tests/defects/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
IGNORED = (".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "*.egg-info", "out")
REQUIRED = ("id", "issue", "what", "file", "find", "replace", "tests")


@dataclass(frozen=True)
class Defect:
    """One deliberate mistake: where it goes, what it replaces, and the tests that must catch it."""

    id: str
    issue: int
    what: str
    file: str
    find: tuple[str, ...]  # one or more texts, each replaced by its counterpart in ``replace``
    replace: tuple[str, ...]
    tests: tuple[str, ...]
    source: str
    count: int = 1
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 900.0

    def applies(self, root: Path) -> bool:
        """Whether each text to replace occurs in the file exactly ``count`` times."""
        path = root / self.file
        return path.is_file() and self.missing(path.read_text(encoding="utf-8")) is None

    def missing(self, text: str) -> str | None:
        """The first text to replace that does not occur ``count`` times in ``text`` (None: the defect applies)."""
        return next((f"{f!r} occurs {text.count(f)} times" for f in self.find if text.count(f) != self.count), None)

    def applied(self, text: str) -> str:
        """``text`` with the defect in it."""
        for find, replace in zip(self.find, self.replace, strict=True):
            text = text.replace(find, replace)
        return text


def load(folder: Path = HERE, files: list[str] | None = None) -> list[Defect]:
    """Every defect of the catalogue's TOML files (or of the named ones); ValueError for a malformed entry."""
    defects: list[Defect] = []
    for path in sorted(folder.glob("*.toml")):
        if files and path.stem not in files:
            continue
        for entry in tomllib.loads(path.read_text(encoding="utf-8")).get("defect", []):
            missing = [key for key in REQUIRED if key not in entry]
            if missing:
                raise ValueError(f"{path.name}: defect {entry.get('id', '?')} lacks {', '.join(missing)}")
            find, replace = (tuple([v] if isinstance(v, str) else v) for v in (entry["find"], entry["replace"]))
            if len(find) != len(replace):
                raise ValueError(f"{path.name}: defect {entry['id']} has {len(find)} finds and {len(replace)} replaces")
            if not entry["tests"] or find == replace:
                raise ValueError(f"{path.name}: defect {entry['id']} names no test or changes nothing")
            values = {**entry, "find": find, "replace": replace, "tests": tuple(entry["tests"]), "source": path.name}
            defects.append(Defect(**values))
    ids = [d.id for d in defects]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"defect ids used twice: {', '.join(repeated)}")
    return defects


def scratch_copy(destination: Path) -> Path:
    """A copy of the checkout's files (no .git, no .venv, no caches) in ``destination``."""
    target = destination / "checkout"
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(*IGNORED), symlinks=True)
    return target


def run_tests(root: Path, tests: tuple[str, ...], env: dict[str, str], timeout: float) -> tuple[str, str]:
    """Run pytest on the tests in the copy: ("passed" | "failed" | "error N" | "timeout", its last lines)."""
    argv = [sys.executable, "-m", "pytest", "-q", "-x", "-n", "0", "-p", "no:cacheprovider", *tests]
    full_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **env}
    try:
        proc = subprocess.run(argv, cwd=root, env=full_env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", ""
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
    outcome = {0: "passed", 1: "failed"}.get(proc.returncode, f"error {proc.returncode}")
    return outcome, tail


def inject(root: Path, defect: Defect) -> tuple[str, str, float]:
    """Apply one defect to the copy, run its tests, restore the file: (verdict, pytest's last lines, seconds)."""
    path = root / defect.file
    original = path.read_text(encoding="utf-8")
    problem = defect.missing(original)
    if problem:
        return "STALE", f"{problem} in {defect.file}", 0.0
    path.write_text(defect.applied(original), encoding="utf-8")
    start = time.perf_counter()
    try:
        outcome, tail = run_tests(root, defect.tests, defect.env, defect.timeout)
    finally:
        path.write_text(original, encoding="utf-8")
    verdict = {"failed": "CAUGHT", "passed": "SURVIVED", "timeout": "TIMEOUT"}.get(outcome, "ERROR")
    return verdict, tail, time.perf_counter() - start


def control(root: Path, defects: list[Defect]) -> set[str]:
    """Ids of the defects whose tests do not all pass on the unmodified copy (their verdicts would mean nothing)."""
    failing: set[str] = set()
    groups: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], list[Defect]] = {}
    for d in defects:
        groups.setdefault((d.tests, tuple(sorted(d.env.items()))), []).append(d)
    for (tests, env), members in groups.items():
        outcome, tail = run_tests(root, tests, dict(env), max(d.timeout for d in members))
        if outcome != "passed":
            print(f"control FAILED ({outcome}) for {', '.join(tests)}:\n{tail}", flush=True)
            failing |= {d.id for d in members}
    return failing


def report(defects: list[Defect], skip_control: bool) -> list[dict[str, object]]:
    """Run the control, then each defect; print a line per defect as it finishes; the results."""
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="nst-defects-") as tmp:
        root = scratch_copy(Path(tmp))
        bad_control = set() if skip_control else control(root, defects)
        for d in defects:
            if d.id in bad_control:
                verdict, tail, seconds = "NO CONTROL", "its tests fail without the defect", 0.0
            else:
                verdict, tail, seconds = inject(root, d)
            print(f"{verdict:10} {d.id} ({d.source}, {seconds:.0f} s): {d.what}", flush=True)
            if verdict != "CAUGHT" and tail:
                print("           " + tail.replace("\n", "\n           "), flush=True)
            results.append({"id": d.id, "source": d.source, "verdict": verdict, "seconds": round(seconds, 1)})
    return results


def main(argv: list[str] | None = None) -> int:
    """The command line: list, or inject and report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated defect ids")
    parser.add_argument("--file", action="append", help="a catalogue file's name without .toml (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the defects and whether each applies; run nothing")
    parser.add_argument("--no-control", action="store_true", help="skip the run without defects")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    try:
        defects = load(HERE, args.file)
    except (ValueError, tomllib.TOMLDecodeError) as e:
        print(f"inject: {e}", file=sys.stderr)
        return 2
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {d.id for d in defects}
        if unknown:
            print(f"inject: no defect {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        defects = [d for d in defects if d.id in wanted]
    if args.list:
        for d in defects:
            print(f"{'applies' if d.applies(ROOT) else 'STALE  '} {d.id} ({d.source}, issue {d.issue}): {d.what}")
        return 0 if all(d.applies(ROOT) for d in defects) else 1
    results = report(defects, args.no_control)
    counts = {v: sum(r["verdict"] == v for r in results) for v in sorted({str(r["verdict"]) for r in results})}
    print("; ".join(f"{n} {v}" for v, n in counts.items()) or "no defects")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if all(r["verdict"] == "CAUGHT" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
