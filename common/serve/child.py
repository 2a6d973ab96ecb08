"""What nst serve runs in a worker process besides the jobs themselves (common.jobs.children.start_job runs each
backend's job, as `nst stylize` runs it): deciding the weights every backend of a run loads, as nst compare does.

It runs in a fresh process (common.jobs.children.run) because finding ImageNet weights loads a framework, which
the server itself never imports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.errors import NSTError
from ..jobs import outputs
from ..jobs.lifecycle import Send
from ..jobs.run import warn
from ..jobs.settings import Settings
from ..studies import compare


def shared_weights(spec: dict[str, Any], send: Send) -> None:
    """Decide the weights every backend of the run in spec["run"] load (as nst compare does): weights.json, which
    holds either the weights and a note saying what they are, or the one-line error that refuses them."""
    run = Path(spec["run"])
    request = json.loads((run / "request.json").read_text(encoding="utf-8"))
    s = Settings(weights=request["settings"].get("weights", "auto"), seed=request["settings"].get("seed", 0))
    try:
        weights, note = compare.shared_weights(s, run, warn)
    except NSTError as e:
        outputs.write_text(run / "weights.json", json.dumps({"error": str(e)}) + "\n", "weights.json")
        raise
    outputs.write_text(run / "weights.json", json.dumps({"weights": weights, "note": note}) + "\n", "weights.json")
