"""One batch job, run in a Ray worker process: exactly the job ``nst stylize`` runs, on input bytes.

The worker writes the input bytes into a private temporary folder, runs ``common.stylize`` there with the
job's settings (outputs pointed into that folder too), and returns the bytes of every file the job wrote, its
run record and its outcome (common.jobs.lifecycle.Outcome, as every job run elsewhere reports it; the ledger's
status is "ok" for a completed job, else "failed"). It writes nothing where the user's files are: the driver
does that, atomically.

A worker process keeps what is expensive to set up in module-level caches and reuses it for every job Ray gives
it: the loaded backend (framework imported, thread pool sized) and any shipped weights file (one copy per node,
in its temporary folder). Each result says whether the backend was loaded for it (``fresh``) and by which
process, so the reuse can be seen.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from ..core.errors import Interrupted, NSTError
from ..core.interface import Backend, load_backend
from ..jobs import record
from ..jobs.lifecycle import End, Outcome
from ..jobs.settings import Settings
from ..jobs.stylize import stylize

OUTPUT_FIELDS = ("output", "plot", "gif", "save_model")  # files a job writes besides its run record (--log)
BACKENDS: dict[tuple[str, str], Backend] = {}  # (backend, device) -> the loaded backend, reused by every job here
WEIGHT_FILES: dict[str, str] = {}  # fingerprint of a shipped weights file -> its copy on this node


class Retry(Exception):
    """The job was stopped by a signal to its worker process: Ray runs it again (bounded by max_retries)."""


def backend(name: str, device: str, threads: int) -> tuple[Backend, bool, float]:
    """The backend for (name, device), loaded once per process (it keeps the weights it resolved); whether it was
    loaded now, and how long it took."""
    key = (name, device)
    if key in BACKENDS:
        return BACKENDS[key], False, 0.0
    started = time.time()
    os.environ["OMP_NUM_THREADS"] = str(threads)  # both frameworks size their pools from it when imported
    BACKENDS[key] = load_backend(name, device)
    _remember_pretrained(BACKENDS[key])
    return BACKENDS[key], True, time.time() - started


def _remember_pretrained(ops: Backend) -> None:
    """Make the backend's pretrained_weights() load (or fail to find) the ImageNet weights only once."""
    original, memo = ops.pretrained_weights, []

    def pretrained() -> Any:
        if not memo:
            try:
                memo.append((True, original()))
            except NSTError as e:
                memo.append((False, e))
        ok, value = memo[0]
        if not ok:
            raise value
        return value

    ops.pretrained_weights = pretrained  # type: ignore[method-assign]


def weights_file(spec: dict[str, Any] | None) -> str | None:
    """A local copy of a shipped weights file, or None: fetched from the object store once per node (every worker
    process of the node finds it in the node's temporary folder, named by its fingerprint) and once per process."""
    if not spec:
        return None
    if spec["fingerprint"] not in WEIGHT_FILES:
        path = Path(tempfile.gettempdir()) / f"nst-weights-{spec['fingerprint'][:32]}{spec['suffix']}"
        if not path.is_file():
            import ray

            part = path.with_name(f".{path.name}.{os.getpid()}")
            part.write_bytes(ray.get(spec["ref"][0]))
            os.replace(part, path)  # complete or absent, whichever process of the node gets there first
        WEIGHT_FILES[spec["fingerprint"]] = str(path)
    return WEIGHT_FILES[spec["fingerprint"]]


def local_settings(s: Settings, spec: dict[str, Any], inputs: tuple[bytes, ...], tmp: Path) -> Settings:
    """The job's settings with its inputs and outputs in ``tmp``, a run record always kept, no progress bar."""
    styles, changes = [], {}
    for i, (item, data) in enumerate(zip(spec["inputs"], inputs, strict=True)):
        path = tmp / f"in{i}{item['suffix']}"
        path.write_bytes(data)
        if item["field"] == "style":
            styles.append(str(path))
        else:
            changes[item["field"]] = str(path)
    changes["style"] = tuple(styles)
    for field in OUTPUT_FIELDS:
        value = getattr(s, field)
        if value:
            changes[field] = str(tmp / f"out_{field}{Path(value).suffix}")
    changes["log"] = str(tmp / "record.json")
    local_weights = weights_file(spec.get("weights"))
    if local_weights:
        changes["weights"] = local_weights
    return s.replace(quiet=True, **changes)


def one_line(e: BaseException, here: Settings, s: Settings) -> str:
    """An error as one line, with the worker's temporary paths turned back into the user's."""
    text = str(e) if isinstance(e, NSTError) else f"{type(e).__name__}: {e}"
    pairs = [(here.content, s.content), *zip(here.style, s.style, strict=True), (here.init, s.init)]
    pairs.append((here.weights, s.weights))
    pairs += [(getattr(here, f), getattr(s, f)) for f in OUTPUT_FIELDS if getattr(s, f)]
    for local, theirs in pairs:
        if local and theirs and local != theirs:
            text = text.replace(local, theirs)
    return " ".join(text.split())


def run_job(spec: dict[str, Any], *inputs: bytes) -> dict[str, Any]:
    """Run one job; return its outcome, the bytes of the files it wrote, its run record and where it ran."""
    started = time.time()
    s = Settings.from_dict(spec["settings"])
    tmp = Path(tempfile.mkdtemp(prefix="nst-job-"))
    end, error, detail, warnings, fresh, load_seconds = End(Outcome.COMPLETED), None, None, [], False, 0.0
    try:
        here = local_settings(s, spec, inputs, tmp)
        try:
            ops, fresh, load_seconds = backend(s.backend, s.device, spec["threads"])
            stylize(here, ops, say=warnings.append)
        except Interrupted as e:
            raise Retry(f"job {spec['job']} was interrupted in its worker: {e}") from e
        except NSTError as e:
            end, error = End.of(e), one_line(e, here, s)
        except Exception as e:  # a bug or a framework error: this job fails, the batch goes on
            end, error = End.of(e), one_line(e, here, s)
            detail = "".join(traceback.format_exception(e)[-6:])
        files, run_record = _written(here, s), _record(here, s, spec)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "job": spec["job"],
        "status": status(end.outcome),
        "outcome": end.outcome.value,
        "error": error,
        "detail": detail,
        "files": files,
        "record": run_record,
        "warnings": warnings,
        "worker": {
            "pid": os.getpid(),
            **_node(),
            "fresh": fresh,
            "load_seconds": round(load_seconds, 3),
            "threads": BACKENDS[s.backend, s.device].threads() if (s.backend, s.device) in BACKENDS else None,
        },
        "started": started,
        "ended": time.time(),
    }


def status(outcome: Outcome) -> str:
    """A job's status in the ledger: "ok" if it completed, else "failed"."""
    return "ok" if outcome is Outcome.COMPLETED else "failed"


def _written(here: Settings, s: Settings) -> dict[str, bytes]:
    """The bytes of the files the job wrote (a failed job may have written some: a diverged run keeps its last
    finite image), by setting name."""
    out = {}
    for field in OUTPUT_FIELDS:
        if getattr(s, field) and Path(getattr(here, field)).is_file():
            out[field] = Path(getattr(here, field)).read_bytes()
    return out


def _record(here: Settings, s: Settings, spec: dict[str, Any]) -> dict[str, Any] | None:
    """The job's run record with the user's paths and the batch's command in it, or None if none was written."""
    path = Path(here.log)
    if not path.is_file():
        return None
    run_record = json.loads(path.read_text(encoding="utf-8"))
    run_record["settings"] = s.as_dict()
    if here.weights != s.weights and run_record.get("weights"):  # the worker's copy of a shipped weights file
        run_record["weights"] = run_record["weights"].replace(here.weights, s.weights)
    run_record["output"] = str(Path(s.output).resolve())
    run_record["command"] = spec.get("command") or record.dumps_argv()
    return run_record


def _node() -> dict[str, str | None]:
    """The address and id of the Ray node this worker runs on (None outside Ray)."""
    try:
        import ray

        if ray.is_initialized():
            return {"node": ray.util.get_node_ip_address(), "node_id": ray.get_runtime_context().get_node_id()}
    except Exception:
        pass
    return {"node": None, "node_id": None}
