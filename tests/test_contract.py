"""Both backends implement the whole contract, with the contract's signatures, and the same module names and data
files; a third backend is one folder and one registry line."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest
from conftest import BACKEND_NAMES

import common
from common.core import registry, weights
from common.core.interface import Backend
from common.jobs import memory

ROOT = Path(__file__).resolve().parents[1]


def test_every_abstract_method_is_implemented(backend: common.Backend) -> None:
    assert isinstance(backend, Backend)
    assert not getattr(type(backend), "__abstractmethods__", None)


@pytest.mark.parametrize(
    "method",
    ["to_numpy", "to_pixels", "gram", "content_loss", "style_loss", "tv_loss", "feature_extractor", "gradient"],
)
def test_signatures_match_the_contract(backend: common.Backend, method: str) -> None:
    ours = [p.name for p in inspect.signature(getattr(backend, method)).parameters.values()]
    contract = [p.name for p in inspect.signature(getattr(Backend, method)).parameters.values() if p.name != "self"]
    assert ours == contract


def test_methods_inherit_the_contracts_documentation(backend: common.Backend) -> None:
    assert inspect.getdoc(type(backend).vgg19) == inspect.getdoc(Backend.vgg19)
    assert "Gram" in inspect.getdoc(Backend.gram)


def test_the_backends_have_the_same_module_names() -> None:
    names = {d.name: sorted(p.name for p in d.glob("*.py")) for d in (ROOT / "backends").iterdir() if d.is_dir()}
    assert set(names) >= {"torch", "mxnet"}
    assert all(names[name] == names["torch"] for name in BACKEND_NAMES)


def test_every_backend_declares_its_weight_format_memory_model_and_precisions_beside_its_modules() -> None:
    """What common/ needs of a backend before its framework loads is in data files in its folder, read without
    importing it: the same files in every backend."""
    for name in BACKEND_NAMES:
        folder = registry.backend_folder(name)
        assert folder == ROOT / "backends" / name
        assert sorted(p.name for p in folder.glob("*.toml")) == ["memory.toml", "precision.toml", "weights.toml"]
        keys = set(registry.declared(name, "weights"))  # and "members" where the first bytes are shared (zip)
        assert (
            {"suffixes", "magic", "what", "destination"}
            <= keys
            <= {"suffixes", "magic", "what", "destination", "members"}
        )
        assert all(
            set(fit) >= {"dtype", "precision", "base", "factor"} for fit in registry.declared(name, "memory")["fit"]
        )
        assert set(registry.declared(name, "precision")) == {"bf16_on_cpu"}
        assert isinstance(registry.declared(name, "precision")["bf16_on_cpu"], bool)


def test_pairs_are_every_two_different_backends_once_in_the_registrys_order() -> None:
    assert registry.pairs(("a", "b", "c")) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert (
        registry.pairs()[0] == ("torch", "mxnet")
        and len(registry.pairs()) == len(BACKEND_NAMES) * (len(BACKEND_NAMES) - 1) // 2
    )
    assert all(a != b for a, b in registry.pairs(BACKEND_NAMES))
    assert {frozenset(p) for p in registry.pairs(BACKEND_NAMES)} == {
        frozenset((a, b)) for a in BACKEND_NAMES for b in BACKEND_NAMES if a != b
    }


def test_a_third_backend_is_one_folder_and_one_registry_line(tmp_path: Path, monkeypatch) -> None:
    """A backend folder with its two data files and a registry line: its weight files are recognized and named in
    the refusals, its memory model is used, and it is paired with each other backend, its package never imported."""
    import backends

    folder = tmp_path / "third"
    folder.mkdir()
    (folder / "__init__.py").write_text("raise ImportError('a framework that is not installed')\n")
    (folder / "weights.toml").write_text(
        'suffixes = [".thd"]\nmagic = ["544849524421"]\nwhat = "a third file (.thd)"\ndestination = ".thd (third)"\n'
    )
    fit = 'dtype = "float32"\nprecision = "fp32"\nbase = 1e9\nfactor = 2.5\nresults = "none"\ncpu = "none"\n'
    (folder / "memory.toml").write_text("[[fit]]\n" + fit)
    monkeypatch.setattr(backends, "__path__", [*backends.__path__, str(tmp_path)])
    monkeypatch.setattr(registry, "BACKENDS", {**registry.BACKENDS, "third": ("thirdlib", "third")})  # the line
    monkeypatch.setattr(registry, "NAMES", (*registry.NAMES, "third"))

    assert [p for p in registry.pairs() if "third" in p] == [(name, "third") for name in BACKEND_NAMES]
    (tmp_path / "w.bin").write_bytes(b"THIRD!" + bytes(10))
    assert weights.file_format(tmp_path / "w.bin") == "third" and weights.format_of_suffix("w.THD") == "third"
    assert weights.weight_suffixes()[-1] == ".thd" and weights.weight_suffixes()[:3] == (".pth", ".pt", ".params")
    (tmp_path / "x.bin").write_bytes(bytes(16))
    with pytest.raises(common.UserError, match=r"neither a torch state dict \(\.pth\) nor a Gluon \.params file nor a"):
        weights.file_format(tmp_path / "x.bin")
    with pytest.raises(common.UserError, match=r"or \.params \(Gluon parameters\) or .* or \.thd \(third\)$"):
        weights.format_of_suffix("w.h5")
    assert memory.estimate("third", (64, 64)) == memory.MARGIN * (1e9 + 2.5 * memory.activation_bytes((64, 64)))
    assert memory.estimate("third", (64, 64), "float64") is None
    assert "backends.third" not in sys.modules
