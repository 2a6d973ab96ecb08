"""Sample images that ship inside an installed package (scikit-image's wheel), so a run needs no arguments."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..core.errors import UserError

CONTENT = "chelsea.png"  # a cat, 300 x 451
STYLE = "ihc.png"  # immunohistochemistry stain: a purple and brown painterly texture, 512 x 512


def sample_path(name: str) -> Path:
    """Path of one of scikit-image's bundled sample images, found without importing scikit-image."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("no --content/--style given and scikit-image (which ships the samples) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    if not path.is_file():
        raise UserError(f"scikit-image's sample {name} is missing from {path.parent}; pass --content and --style")
    return path
