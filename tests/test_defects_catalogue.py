"""The catalogue of injected defects (tests/defects/): well-formed, and every defect still applies to the code."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "defects"))
import inject

ROOT = Path(__file__).resolve().parents[1]


def test_every_catalogued_defect_applies_to_the_code_and_names_tests_that_exist() -> None:
    defects = inject.load()
    assert defects
    for d in defects:
        assert d.applies(ROOT), f"{d.id}: {d.missing((ROOT / d.file).read_text())} in {d.file}: update the catalogue"
        for test in d.tests:
            path, _, name = test.partition("::")
            text = (ROOT / path).read_text(encoding="utf-8")
            assert not name or f"def {name.split('[')[0]}(" in text, f"{d.id}: no test {test}"


def test_a_malformed_or_repeated_entry_is_refused(tmp_path: Path) -> None:
    entry = 'id = "x"\nissue = 1\nwhat = "w"\nfile = "cli.py"\nfind = "a"\nreplace = "b"\ntests = ["tests/t.py"]\n'
    (tmp_path / "a.toml").write_text(f"[[defect]]\n{entry}", encoding="utf-8")
    assert [d.id for d in inject.load(tmp_path)] == ["x"]
    (tmp_path / "b.toml").write_text(f"[[defect]]\n{entry}", encoding="utf-8")
    with pytest.raises(ValueError, match="used twice"):
        inject.load(tmp_path)
    (tmp_path / "b.toml").write_text(f"[[defect]]\n{entry.replace('x', 'y').replace('find', 'found')}")
    with pytest.raises(ValueError, match="lacks find"):
        inject.load(tmp_path)
    (tmp_path / "b.toml").write_text(f"[[defect]]\n{entry.replace('x', 'y').replace('b', 'a')}")
    with pytest.raises(ValueError, match="changes nothing"):
        inject.load(tmp_path)


def test_a_defect_is_caught_only_when_its_tests_fail(tmp_path: Path) -> None:
    """The runner on a tiny checkout of its own: a defect a test sees is CAUGHT, one it does not see SURVIVED, one
    whose text is gone STALE; the checkout itself is left as it was."""
    (tmp_path / "calc.py").write_text("def double(x):\n    return 2 * x\n\n\ndef half(x):\n    return x / 2\n")
    test = "from calc import double\n\n\ndef test_double():\n    assert double(3) == 6\n"
    (tmp_path / "test_calc.py").write_text(test)
    common = {"issue": 1, "what": "w", "file": "calc.py", "tests": ("test_calc.py",), "source": "t.toml"}
    seen = inject.Defect(id="a", find=("2 * x",), replace=("3 * x",), **common)
    unseen = inject.Defect(id="b", find=("x / 2", "def half"), replace=("x / 3", "def half"), **common)
    stale = inject.Defect(id="c", find=("2 * x", "4 * x"), replace=("2 * x", "5 * x"), **common)
    assert [inject.inject(tmp_path, d)[0] for d in (seen, unseen, stale)] == ["CAUGHT", "SURVIVED", "STALE"]
    assert "2 * x" in (tmp_path / "calc.py").read_text() and "x / 2" in (tmp_path / "calc.py").read_text()
    assert inject.control(tmp_path, [seen, unseen]) == set()
