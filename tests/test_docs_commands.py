"""Every command shown in README.md, CONTRIBUTING.md and docs/ runs as written: the nst commands that make pictures
run at a tiny size, every other nst command is parsed by the real parser, a script's flags are checked against its
own --help, a set-up command must be one CI runs, and the Python examples run (or, where they start Ray, call
only what exists with arguments it takes)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from markdown_docs import ROOT, blocks, documents, inline_nst_commands, shell_commands

import cli

PAGES = [p for p in documents() if p.name != "porting.md"]  # porting.md's code is excerpts of the backends' source
RUN = {"stylize", "photoreal", "apply", "presets"}  # the nst commands run (at a tiny size); the rest are parsed
TINY = {"--size": ["32", "48"], "--steps": ["2"], "--weights": ["random"]}
ARITY = {"--size": 2, "--steps": 1, "--weights": 1, "--max-side": 1, "--min-side": 1, "--style-max-side": 1}
CI_PROGRAMS = {"apt-get", "pip", "ruff"}  # and `python3 -m venv`: set-up, only ever run by .ci/run
INLINE = "(inline)"  # an nst command in running text: often a command's name and a flag, not a whole command


def commands() -> list[tuple[str, list[str], str]]:
    """Every command of the shell blocks and every inline nst command: (where, its words, its block's line)."""
    found = []
    for path in PAGES:
        for block in blocks(path):
            if block.lang in ("", "sh", "bash", "console"):
                for line in block.text.replace("\\\n", " ").splitlines():
                    for words in shell_commands(type(block)(path, block.line, "", line)):
                        found.append((f"{path.relative_to(ROOT)}:{block.line}", words, line))
        for span in inline_nst_commands(path):
            found.append((f"{path.relative_to(ROOT)} (inline)", span.split(), INLINE))
    return found


def nst_argv(words: list[str]) -> list[str] | None:
    """The arguments after `nst` (or `.venv/bin/nst`, `python cli.py`), or None for another program."""
    if Path(words[0]).name == "nst":
        return words[1:]
    if Path(words[0]).name.startswith("python") and words[1:2] == ["cli.py"]:
        return words[2:]
    return None


def unknown_flags(argv: list[str]) -> str | None:
    """For an nst command in running text: whether its command exists and has every flag named (None: yes)."""
    if re.match(r"^\d", argv[0]):
        return None  # output (`nst 0.1.0`), not a command
    commands_ = next(a for a in cli.build_parser()._subparsers._actions if a.choices).choices
    if argv[0].startswith("-"):
        return parse_error(argv)
    if argv[0] not in commands_:
        return f"nst {argv[0]}: no such command"
    options = {o for a in commands_[argv[0]]._actions for o in a.option_strings}
    unknown = [w for w in argv[1:] if w.startswith("--") and w.split("=")[0] not in options]
    return f"nst {' '.join(argv)}: nst {argv[0]} has no flag {unknown}" if unknown else None


def parse_error(argv: list[str]) -> str | None:
    """What the nst parser says about these arguments (None: it takes them)."""
    try:
        cli.build_parser().parse_args(argv)
    except SystemExit as e:
        return None if e.code == 0 else f"nst {' '.join(argv)}: the parser refuses it (exit {e.code})"
    return None


@cache
def script_help(script: str) -> str:
    """A script's --help text."""
    done = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{script} --help failed: {done.stderr[-500:]}"
    return done.stdout


def problem(words: list[str], line: str) -> str | None:
    """Why a shown command would not run as written (None: it would)."""
    argv = nst_argv(words)
    if argv is not None and line == INLINE:
        return unknown_flags(argv)
    if argv is not None:
        return parse_error(argv) if argv else None
    program = Path(words[0]).name
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    if program in CI_PROGRAMS or words[:3] == ["python3", "-m", "venv"] or re.match(r"^[A-Z_]+=", line):
        return None if line.strip() in ci or f"( {line.strip()} )" in ci else f"{line.strip()!r}: not run by .ci/run"
    if program.startswith("python") and words[1:2] == ["-m"]:
        if words[2] == "pytest":
            missing = [w for w in words[3:] if not w.startswith("-") and not (ROOT / w.split("::")[0]).exists()]
            return f"pytest: no such test file {missing}" if missing else None
        return None if importlib.util.find_spec(words[2]) else f"no module {words[2]}"
    if program.startswith("python") and words[1].endswith(".py"):
        if not (ROOT / words[1]).is_file():
            return f"no script {words[1]}"
        unknown = [
            w.split("=")[0] for w in words[2:] if w.startswith("--") and w.split("=")[0] not in script_help(words[1])
        ]
        return f"{words[1]} has no flag {unknown}" if unknown else None
    return f"{' '.join(words)}: a program this test does not know how to check (teach it)"


def test_every_command_shown_is_taken_by_its_parser_or_run_by_ci() -> None:
    found = commands()
    assert len(found) > 30
    problems = [f"{where}: {p}" for where, words, line in found if (p := problem(words, line))]
    assert not problems, "\n".join(problems)


def tiny(argv: list[str]) -> list[str]:
    """An nst command made tiny: 32x48, 2 steps, seeded random weights (a photoreal style image capped at 64 px; the
    fast preset at 64x96, whose first stage, a quarter of it, is conv5_1's least: 16 rows)."""
    out = list(argv)
    changes = {} if argv[0] in ("apply", "presets") else dict(TINY)
    if "fast" in out and "--preset" in out:
        changes["--size"] = ["64", "96"]
    if argv[0] == "photoreal":
        changes["--style-max-side"] = ["64"]
    for flag in ("--max-side", "--min-side"):
        if flag in out:
            del out[out.index(flag) : out.index(flag) + 2]
    for flag, values in changes.items():
        if flag in out:
            i = out.index(flag)
            out[i + 1 : i + 1 + ARITY[flag]] = values
        else:
            out += [flag, *values]
    return out


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the images the documentation's commands name (photo.jpg, painting.jpg, other1.jpg, ...)."""
    import numpy as np
    from PIL import Image

    where = tmp_path_factory.mktemp("docs-commands")
    rng = np.random.default_rng(0)
    for name in ("photo.jpg", "painting.jpg", "other1.jpg", "other2.png"):
        Image.fromarray(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)).save(where / name)
    return where


def runnable() -> list[list[str]]:
    """The nst commands to run, once each, in the order the pages show them (an apply after its photoreal)."""
    seen: list[list[str]] = []
    for _, words, line in commands():
        argv = nst_argv(words)
        if argv and line != INLINE and argv[0] in RUN and argv not in seen:
            seen.append(argv)
    return seen


def test_the_picture_commands_run_at_a_tiny_size(folder: Path) -> None:
    todo = runnable()
    assert {argv[0] for argv in todo} == RUN
    for argv in todo:
        done = subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), *tiny(argv)], cwd=folder, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"nst {' '.join(tiny(argv))}: exit {done.returncode}\n{done.stderr[-2000:]}"


def python_blocks() -> list[str]:
    """The text of every Python example, once each."""
    texts = [b.text for p in PAGES for b in blocks(p) if b.lang == "python"]
    return list(dict.fromkeys(texts))


def dotted(node: ast.expr) -> str | None:
    """'common.batch.run' for the expression common.batch.run, None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def resolve(name: str) -> object | None:
    """The object a dotted name of the project names (importing its modules), or None."""
    parts = name.split(".")
    obj: object = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], 1):
        if not hasattr(obj, part):
            try:
                importlib.import_module(".".join(parts[: i + 1]))
            except ImportError:
                return None
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def call_problems(text: str) -> list[str]:
    """Every call of the project's API in an example that names nothing, or a keyword its function does not take."""
    problems = []
    for node in ast.walk(ast.parse(text)):
        name = dotted(node.func) if isinstance(node, ast.Call) else None
        if not name or name.split(".")[0] != "common":
            continue
        obj = resolve(name)
        if obj is None:
            problems.append(f"{name}: no such function")
            continue
        params = inspect.signature(obj).parameters  # type: ignore[arg-type]
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            problems += [f"{name}: no argument {k.arg}" for k in node.keywords if k.arg and k.arg not in params]
    return problems


def test_every_python_example_calls_what_exists_as_it_takes_it() -> None:
    examples = python_blocks()
    assert any("common.batch.run" in t for t in examples) and any("common.stylize" in t for t in examples)
    problems = [p for t in examples for p in call_problems(t)]
    assert not problems, problems


def test_the_python_examples_run_at_a_tiny_size(tmp_path: Path) -> None:
    """Every example that does not start Ray runs, with its steps and size made tiny."""
    examples = [t for t in python_blocks() if "common.batch" not in t]
    assert examples
    for text in examples:
        small = re.sub(r"size=\(\d+, \d+\)", "size=(32, 48)", re.sub(r"steps=\d+", "steps=2", text))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [sys.executable, "-c", small], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"{text[:200]}...\n{done.stderr[-2000:]}"
