"""Every relative link and anchor in README.md, CONTRIBUTING.md and docs/ resolves: the file exists, and the anchor
is a heading of that file (as GitHub makes anchors). Links to other sites are not followed (no network in CI)."""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_docs import ROOT, anchors, documents, links, slug


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """The links of a Markdown file that lead nowhere, each with the reason."""
    broken = []
    for target in links(path):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no file {linked}")
        elif anchor and (linked.suffix != ".md" or anchor not in anchors(linked)):
            broken.append(f"{target}: no heading with anchor #{anchor} in {linked.name}")
        elif root not in linked.parents:
            broken.append(f"{target}: outside the checkout")
    return broken


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path: Path) -> None:
    assert not broken_links(path), broken_links(path)


def test_the_anchors_are_githubs() -> None:
    assert slug("`nst apply`") == "nst-apply"
    assert slug("Time to quality: `nst bench --to-quality`") == "time-to-quality-nst-bench---to-quality"
    assert slug("The document's own numbers: `--preset photoreal-hrnet-repo`") == (
        "the-documents-own-numbers---preset-photoreal-hrnet-repo"
    )


def test_a_broken_file_or_anchor_is_found(tmp_path: Path) -> None:
    """The control: a page with a link to a missing file, to a missing heading and to good ones."""
    (tmp_path / "other.md").write_text("# Other\n\n## A `code` heading\n\n## Other\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n[a](other.md) [b](other.md#a-code-heading) [c](#page) [d](other.md#other-1) ![e](other.md)\n"
        "[x](missing.md) [y](other.md#nowhere) [z](#nowhere) `[not](a-link.md)` [w](https://example.com/x)\n"
    )
    problems = broken_links(page, tmp_path)
    assert [p.split(":")[0] for p in problems] == ["missing.md", "other.md#nowhere", "#nowhere"], problems
    assert broken_links(page, tmp_path / "elsewhere")[0].endswith("outside the checkout")
