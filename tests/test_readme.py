"""The README's commands are the ones CI runs, and its flag table covers every flag of nst stylize."""

from __future__ import annotations

import re
from pathlib import Path

import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```\n(.*?)```", section, flags=re.S)][:3]


def test_ci_runs_the_readme_set_up_and_test_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    commands = quick_start_commands()
    assert len(commands) == 3
    for command in commands:
        assert command in ci or f"( {command} )" in ci, f"README command not run by .ci/run: {command}"


def test_the_flag_table_lists_every_stylize_flag() -> None:
    parser = cli.build_parser()
    stylize = next(a for a in parser._subparsers._actions if a.choices).choices["stylize"]
    flags = {s for a in stylize._actions for s in a.option_strings if s.startswith("--") and s != "--help"}
    missing = [f for f in sorted(flags) if f"`{f}" not in README]
    assert not missing, f"flags missing from the README: {missing}"
