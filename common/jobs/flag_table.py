"""The documentation's generated tables, written from the settings' declarations and the presets (so a default, a
flag or a preset can never be documented wrongly): ``python -m common.jobs.flag_table`` rewrites the tables between
the markers of each page of docs/ (``<!-- flags:NAME -->`` ... ``<!-- /flags:NAME -->``), and
tests/test_flag_table.py fails when a table there is not what the declarations say."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from . import flags, presets
from .settings import SPECS, Settings
from .spec import Spec
from .values import Flag, Switch

# marker name -> (the flags a command leaves out, the preset whose values are its defaults)
TABLES = {"stylize": (frozenset(), None), "photoreal": (flags.PHOTOREAL_SKIPS, "photoreal-hrnet")}
DOCS = Path(__file__).resolve().parents[2] / "docs"
# marker name -> the page that holds its table (each table on one page)
PAGES = {"stylize": DOCS / "stylize.md", "photoreal": DOCS / "photoreal.md", "presets": DOCS / "presets.md"}


def syntax(spec: Spec) -> str:
    """How the flag is written, with its value: `--pooling max|avg`, `--size H W`, `--clamp`, `--no-clamp`."""
    if isinstance(spec.kind, Flag):
        return f"`{spec.flag}`"
    if isinstance(spec.kind, Switch):
        return f"`{spec.flag}`, `--no-{spec.flag[2:]}`"
    options = flags.flag_options(spec)
    if "choices" in options and spec.name != "preset":
        value = "\\|".join(options["choices"])
    else:
        metavar = options.get("metavar") or spec.name.upper()
        value = " ".join(metavar) if isinstance(metavar, tuple) else metavar.replace("|", "\\|")
        if options.get("nargs") == "+":
            value = f"{value} [{value} ...]"
    return f"`{spec.flag} {value}`"


def default_of(spec: Spec, defaults: Settings | None) -> str:
    """The default the table shows: the declaration's, or the preset's value."""
    if defaults is None or getattr(defaults, spec.name) == spec.default:
        if isinstance(spec.kind, Switch) and not isinstance(spec.kind, Flag):
            return "on" if spec.default else "off"
        return flags.shown_default(spec).replace("|", "\\|")
    value = getattr(defaults, spec.name)
    if isinstance(value, tuple):
        return " ".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def table(skip: frozenset[str] = frozenset(), preset: str | None = None) -> str:
    """A markdown table, a row per flag: how it is written, its default, its help."""
    defaults = presets.settings({}, preset) if preset else None
    rows = ["| flag | default | meaning |", "|---|---|---|"]
    for spec in SPECS.values():
        if spec.flag and spec.flag not in skip:
            help_text = spec.help.replace("|", "\\|")
            rows.append(f"| {syntax(spec)} | {default_of(spec, defaults)} | {help_text} |")
    return "\n".join(rows)


def presets_table() -> str:
    """A markdown table, a row per preset: its name, the document it comes from, its recipe."""
    rows = ["| preset | from | recipe |", "|---|---|---|"]
    for name in presets.names():
        p = presets.get(name)
        document, summary = (s.replace("|", "\\|").replace("\n", " ") for s in (p.document, p.summary))
        rows.append(f"| `{name}` | {document} | {summary} |")
    return "\n".join(rows)


def generated(name: str) -> str:
    """The table a marker name stands for."""
    return presets_table() if name == "presets" else table(*TABLES[name])


def rewritten(text: str) -> str:
    """The text with every marked table replaced by what the declarations say now."""
    for name in PAGES:
        start, end = f"<!-- flags:{name} -->\n", f"\n<!-- /flags:{name} -->"
        pattern = re.escape(start) + ".*?" + re.escape(end)
        text = re.sub(pattern, (start + generated(name) + end).replace("\\", "\\\\"), text, flags=re.S)
    return text


def main(argv: list[str]) -> int:
    """Rewrite the tables of every generated page (or of the file given)."""
    for path in [Path(argv[0])] if argv else sorted(set(PAGES.values())):
        path.write_text(rewritten(path.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"wrote the generated tables of {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
