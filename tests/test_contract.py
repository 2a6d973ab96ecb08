"""Both backends implement the whole contract, with the contract's signatures, and the same module names."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import common
from common.core.interface import Backend

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
    assert names["torch"] == names["mxnet"]
