"""docs/porting.md is generated from the backends' source and is never stale; its pitfalls cite real tests."""

from __future__ import annotations

import re
from pathlib import Path

import cli
from common.core.registry import NAMES
from common.studies import port_guide

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_guide_is_what_nst_port_guide_writes(tmp_path: Path, capsys) -> None:
    out = tmp_path / "porting.md"
    assert cli.main(["port-guide", "--output", str(out)]) == 0
    assert out.read_text() == (ROOT / "docs" / "porting.md").read_text(), "run: nst port-guide --output docs/porting.md"


def test_every_operation_shows_real_source_of_both_backends() -> None:
    text = port_guide.render()
    for op in port_guide.text()["operation"]:
        assert f"### {op['title']}" in text
        for backend in NAMES:
            for symbol in op[backend]:
                code = port_guide.source(ROOT / "backends" / backend / f"{op['module']}.py", symbol)
                assert code.splitlines()[0].lstrip().startswith(("def ", "class ", "@", f"{symbol} = ")), symbol
                assert code in text


def test_every_pitfall_cites_tests_that_exist_and_every_pitfall_test_is_cited() -> None:
    pitfall_tests = {
        f"tests/{path.name}::{name}"
        for path in (ROOT / "tests").glob("test_pitfalls*.py")
        for name in re.findall(r"^def (test_\w+)", path.read_text(), re.M)
    }
    cited = set()
    for p in port_guide.text()["pitfall"]:
        assert port_guide.demonstration(p) in pitfall_tests, p["demonstrated_by"]
        cited.add(port_guide.demonstration(p))
        path, _, name = p["fix_tested_by"].partition("::")
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.M), p["fix_tested_by"]
    assert pitfall_tests == cited


def test_the_guide_goes_to_standard_output_without_output(capsys) -> None:
    assert cli.main(["port-guide"]) == 0
    assert capsys.readouterr().out.startswith(port_guide.heading(port_guide.text()["titles"]))
