"""The README is short and points to a page per command: its set-up commands are the ones CI runs (with
CONTRIBUTING.md's), it fits in 200 lines, its command table has a row for every nst command, and every flag of
every command is documented on that command's page."""

from __future__ import annotations

import re
from pathlib import Path

import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CONTRIBUTING = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")


def section_blocks(text: str, heading: str) -> list[str]:
    """The fenced code blocks of one `## heading` section."""
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```\n(.*?)```", section, flags=re.S)]


def subcommands() -> dict[str, object]:
    """The nst commands: name -> its parser."""
    return next(a for a in cli.build_parser()._subparsers._actions if a.choices).choices


def command_pages() -> dict[str, Path]:
    """The README's command table: command -> the page its row links to (without the anchor)."""
    rows = re.findall(r"^\| `nst ([\w-]+)` \|.*\]\(([^)#]+)(?:#[^)]*)?\) \|$", README, flags=re.M)
    return {name: ROOT / page for name, page in rows}


def test_ci_runs_the_readme_and_contributing_set_up_and_test_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    readme = section_blocks(README, "Quick start")[:2]
    assert readme[0].startswith("python3 -m venv .venv") and "/nst stylize " in readme[0]
    assert readme[1].endswith("-m pytest")
    commands = [*readme, *section_blocks(CONTRIBUTING, "Set-up"), section_blocks(CONTRIBUTING, "The test suite")[0]]
    assert any(c.startswith("apt-get") for c in commands)
    for command in commands:
        assert command in ci or f"( {command} )" in ci, f"command not run by .ci/run: {command}"


def test_the_readme_is_short_and_opens_with_what_it_is_and_the_picture() -> None:
    lines = README.splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines (at most 200: move the rest to docs/)"
    assert lines[0].startswith("# nst") and "![" in "\n".join(lines[:10]) and "docs/figures/demo.png" in README
    assert "nst stylize --content photo.jpg --style painting.jpg\n" in README


def test_the_readme_has_a_row_and_a_page_for_every_command() -> None:
    pages = command_pages()
    assert sorted(pages) == sorted(subcommands())
    assert all(page.is_file() and page.parent.name == "docs" for page in pages.values()), pages


def test_every_flag_of_every_command_is_on_its_page() -> None:
    """The page a command's row links to names each of its flags (nst stylize's are its generated table; the
    commands that take nst stylize's flags, compare and batch, point to that table for them)."""
    pages, commands = command_pages(), subcommands()
    stylize = {o for a in commands["stylize"]._actions for o in a.option_strings}
    missing = []
    for name, parser in commands.items():
        text = pages[name].read_text(encoding="utf-8")
        own = {o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"}
        if name in ("compare", "batch"):
            own -= stylize
            assert "stylize.md#flags" in text, f"{pages[name].name} does not point to nst stylize's flags"
        missing += [f"{name} {f}" for f in sorted(own) if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", text)]
    assert not missing, f"flags missing from their command's page: {missing}"


def test_the_stylize_table_lists_every_stylize_flag() -> None:
    table = (ROOT / "docs" / "stylize.md").read_text(encoding="utf-8")
    flags = {s for a in subcommands()["stylize"]._actions for s in a.option_strings if s.startswith("--")}
    missing = [f for f in sorted(flags - {"--help"}) if f"`{f}" not in table]
    assert not missing, f"flags missing from docs/stylize.md: {missing}"
