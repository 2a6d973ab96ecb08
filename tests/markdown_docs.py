"""The project's Markdown documentation as the tests read it: its files, their code blocks, links and anchors."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def documents(root: Path = ROOT) -> list[Path]:
    """README.md, CONTRIBUTING.md, every page of docs/, and the benchmark results' README."""
    pages = [root / "README.md", root / "CONTRIBUTING.md", *sorted((root / "docs").glob("*.md"))]
    return [*pages, root / "benchmarks" / "results" / "README.md", root / "tests" / "defects" / "README.md"]


@dataclass(frozen=True)
class Block:
    """A fenced code block: the file, the line it starts on, its language tag and its text."""

    path: Path
    line: int
    lang: str
    text: str


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file."""
    found, lines, i = [], path.read_text(encoding="utf-8").splitlines(), 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if m:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            found.append(Block(path, i + 1, m.group(1), "\n".join(lines[i + 1 : end])))
            i = end
        i += 1
    return found


def without_code(text: str) -> str:
    """The text with its fenced blocks and inline code spans blanked (links inside code are not links)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "``", text)


def links(path: Path) -> list[str]:
    """Every link and image target of a Markdown file, in order (inline code and code blocks left out)."""
    return re.findall(r"!?\[[^\]\n]*\]\(([^)\s]+)\)", without_code(path.read_text(encoding="utf-8")))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors a Markdown file has: one per heading (repeats numbered as GitHub numbers them)."""
    seen: dict[str, int] = {}
    result: set[str] = set()
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    for heading in re.findall(r"^#{1,6} (.+)$", text, flags=re.M):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        result.add(base if n == 0 else f"{base}-{n}")
    return result


def shell_commands(block: Block) -> list[list[str]]:
    """The commands of a shell block: continuation lines joined, comments dropped, `&&` chains split, leading
    VAR=value assignments dropped; each as its words."""
    commands: list[list[str]] = []
    for line in block.text.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        current: list[str] = []
        for word in [*words, "&&"]:
            if word == "&&":
                if current:
                    commands.append(current)
                current = []
            elif current or not re.match(r"^[A-Z_][A-Z0-9_]*=", word):
                current.append(word)
    return commands


def inline_nst_commands(path: Path) -> list[str]:
    """Inline code spans that are whole nst commands (not synopses with [optional] parts, | or ...)."""
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    spans = re.findall(r"`(nst [^`\n]+)`", text)
    return [s for s in spans if not re.search(r"[\[\]|]|\.\.\.|\b[A-Z]+\b", s)]
