"""Each setting is declared once (common/jobs/declared.py): the docs' flag tables are written from the declarations,
and a new declaration reaches every place that handles settings without any other edit."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import cli
from common.jobs import flag_table, presets
from common.jobs.settings import SPECS

ROOT = Path(__file__).resolve().parents[1]


def test_every_generated_page_is_what_the_declarations_say() -> None:
    """Each generated table is on its page (docs/stylize.md, photoreal.md, presets.md) and up to date; no other
    Markdown file holds a generated table (where it would never be rewritten)."""
    assert set(flag_table.TABLES) <= set(flag_table.PAGES) and "presets" in flag_table.PAGES
    for name, page in flag_table.PAGES.items():
        text = page.read_text(encoding="utf-8")
        assert f"<!-- flags:{name} -->" in text and f"<!-- /flags:{name} -->" in text, f"{page.name} lacks {name}"
        assert flag_table.rewritten(text) == text, f"{page.name} is stale: run python -m common.jobs.flag_table"
    for path in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("*.md")]:
        for name in re.findall(r"<!-- flags:([\w-]+) -->", path.read_text(encoding="utf-8")):
            assert flag_table.PAGES.get(name) == path, f"{path.name}: a table {name} the generator does not write"


def test_the_presets_table_has_every_preset_and_its_document() -> None:
    table = flag_table.presets_table()
    for name in presets.names():
        assert f"| `{name}` | {presets.get(name).document.replace('|', chr(92) + '|')} |" in table


def test_the_generator_rewrites_a_stale_table_and_only_between_its_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("before\n<!-- flags:presets -->\n| stale |\n<!-- /flags:presets -->\nafter\n", encoding="utf-8")
    assert flag_table.main([str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert text == f"before\n<!-- flags:presets -->\n{flag_table.presets_table()}\n<!-- /flags:presets -->\nafter\n"


def test_the_table_has_a_row_for_every_flag_of_the_command_and_its_real_default() -> None:
    parser = cli.build_parser()
    stylize = next(a for a in parser._subparsers._group_actions[0].choices.items() if a[0] == "stylize")[1]
    flags_ = {o for a in stylize._actions for o in a.option_strings if o.startswith("--") and o != "--help"}
    table = flag_table.table()
    for flag in flags_ - {f"--no-{s.flag[2:]}" for s in SPECS.values() if s.flag}:
        assert f"| `{flag}" in table, flag
    assert "| `--steps N` | 500 |" in table and "| `--lr-decay-factor F` | 0.8 |" in table
    photoreal = flag_table.table(*flag_table.TABLES["photoreal"])
    assert "| `--steps N` | 1000 |" in photoreal and "--optimizer" not in photoreal  # the preset's, its flags only


NEW_SETTING = """
    tile: int = declare(
        0, R, V.Int(minimum=0, metavar="N"), page=True, help="a setting added for the test: tiles per side"
    )
"""
CHECK = """
import sys
sys.path.insert(0, ".")
import cli
from common.batch import ledger, manifest
from common.jobs import flag_table, flags
from common.jobs.settings import Settings
from common.serve import intake
parser = cli.build_parser()
args = parser.parse_args(["stylize", "--tile", "3"])
assert flags.settings_from(vars(args)).tile == 3
assert manifest.parse_text("tile", "4") == 4 and manifest.from_json("tile", 5) == 5
assert "tile" in intake.EDITABLE and intake.explicit_settings({"tile": 2}) == {"tile": 2}
assert "| `--tile N` | 0 | a setting added for the test: tiles per side |" in flag_table.table()
assert ledger.settings_hash(Settings(tile=1), {}) != ledger.settings_hash(Settings(), {})
try:
    Settings(tile=-1).validated()
except Exception as e:
    assert "--tile must be a non-negative integer" in str(e)
else:
    raise AssertionError("not checked")
print("reached")
"""


def test_a_new_declaration_reaches_flags_manifests_the_page_the_hash_the_checks_and_the_docs(tmp_path: Path) -> None:
    """In a copy of the checkout, one field added to the declarations (and nothing else) is a flag of nst stylize,
    a manifest column (text and JSON), a setting the page may send, a row of the docs' table, part of the batch
    hash, and checked by its kind."""
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "tests"))
    declared = copy / "common" / "jobs" / "declared.py"
    text = declared.read_text(encoding="utf-8")
    declared.write_text(text.replace("    # fmt: on\n", NEW_SETTING + "    # fmt: on\n"), encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", CHECK], cwd=copy, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "reached", done.stderr[-2000:]
