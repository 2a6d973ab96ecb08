"""The HTTP API and the page of nst serve (FastAPI): its OpenAPI description is served at /docs and /openapi.json."""

from __future__ import annotations

import contextlib
import os
import tempfile
from enum import Enum
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from ..core.errors import UserError
from ..core.registry import BACKENDS
from ..jobs import presets
from ..jobs.lifecycle import Outcome, State
from ..jobs.settings import SPECS, Settings
from . import docs, events, intake, store
from .guard import Guard
from .inventory import Conflict, Missing
from .runs import Manager

STATIC = Path(__file__).resolve().parent / "static"
BackendName = Enum("BackendName", {name: name for name in BACKENDS}, type=str)
JobFile = Enum("JobFile", {key: key for key in store.JOB_FILES}, type=str)
CompareFile = Enum("CompareFile", {key: key for key in store.COMPARE_FILES}, type=str)
Role = Enum("Role", {"content": "content", "style": "style"}, type=str)
MEDIA = {".png": "image/png", ".json": "application/json", ".npz": "application/octet-stream"}


class RunRequest(BaseModel):
    """A new run: its inputs (an upload id, or sample:NAME), backends, preset and explicit settings."""

    content: str = Field(f"sample:{intake.SAMPLES[0]}", description="an upload id, or sample:NAME")
    style: str = Field(f"sample:{intake.SAMPLES[1]}", description="an upload id, or sample:NAME")
    backends: list[BackendName] = Field(default_factory=lambda: list(BackendName), description="one or several")
    preset: str | None = Field(None, description="a preset name (GET /api/options lists them)")
    settings: dict[str, Any] = Field(default_factory=dict, description="settings as nst stylize's flags")


def one_line(error: UserError) -> JSONResponse:
    """A refused request: the CLI's one line as {"detail": ...}; 409 for a state conflict, 404 for a run or upload
    that is not there, else 400."""
    status = 409 if isinstance(error, Conflict) else 404 if isinstance(error, Missing) else 400
    return JSONResponse({"detail": str(error)}, status_code=status)


router = APIRouter()


def manager_of(request: Request) -> Manager:
    """The Manager of the app serving this request."""
    return request.app.state.manager


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    """The page."""
    return FileResponse(STATIC / "index.html")


@router.get("/api/options", summary="Presets, samples, backends, defaults, limits, job states and outcomes")
def options(request: Request) -> dict[str, Any]:
    """What the page's form offers: presets, samples, backends, defaults, limits, states."""
    return {
        "presets": {name: presets.get(name).summary for name in presets.names()},
        "samples": list(intake.SAMPLES),
        "backends": list(BACKENDS),
        "defaults": store.clean(Settings().as_dict()),
        "editable": list(intake.EDITABLE),
        "settings": {name: SPECS[name].as_json() for name in intake.EDITABLE},
        "weights": list(SPECS["weights"].kind.keywords),
        "max_upload_bytes": intake.MAX_UPLOAD_BYTES,
        "max_runs": manager_of(request).max_runs,
        "states": State.groups(),
        "outcomes": {outcome.value: outcome.state.value for outcome in Outcome},
    }


@router.get("/api/samples/{name}", summary="A bundled sample image", response_class=FileResponse)
def sample(name: str) -> FileResponse:
    """A bundled sample image."""
    return FileResponse(intake.sample(name))


@router.post(
    "/api/uploads",
    status_code=201,
    summary="Upload an image (the request body is the file); checked as nst stylize checks its inputs",
    openapi_extra={"requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string"}}}}},
)
async def upload(request: Request, role: Role = Role.content, name: str | None = None) -> dict[str, Any]:
    """Keep an uploaded image, streamed to a file under the upload limit and checked as nst stylize checks inputs."""
    manager, limit = manager_of(request), intake.MAX_UPLOAD_BYTES
    too_large = f"the upload is larger than the limit of {limit:,} bytes"
    if int(request.headers.get("content-length") or 0) > limit:
        raise HTTPException(413, too_large)
    fd, tmp = tempfile.mkstemp(dir=manager.data_dir / "uploads", prefix=".upload-")
    size = 0
    try:
        with os.fdopen(fd, "wb") as f:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, too_large)
                f.write(chunk)
    except BaseException:
        os.unlink(tmp)
        raise
    return manager.save_upload(Path(tmp), role.value, name)


@router.get("/api/uploads", summary="Every kept upload (id, name, role, width, height, size, sha256), newest first")
def uploads(request: Request) -> list[dict[str, Any]]:
    """Every kept upload, newest first."""
    return manager_of(request).uploads()


@router.delete(
    "/api/uploads/{upload_id}",
    status_code=204,
    summary="Delete an upload (409 while a run made from it is not over; runs keep their own copies)",
)
def delete_upload(request: Request, upload_id: str) -> Response:
    """Delete an upload's files (the runs made from it keep their own copies of it)."""
    manager_of(request).delete_upload(upload_id)
    return Response(status_code=204)


@router.post("/api/runs", status_code=201, summary="Start a run on one or several backends (queued if busy)")
def create(request: Request, body: RunRequest) -> dict[str, Any]:
    """Start a run on one or several backends (queued if busy)."""
    backends = [b.value for b in body.backends]
    return manager_of(request).create(body.content, body.style, backends, body.preset, body.settings).view()


@router.get("/api/runs", summary="Every run under the data folder, newest first")
def runs(request: Request) -> list[dict[str, Any]]:
    """Every run under the data folder, newest first."""
    return manager_of(request).listing()


@router.get("/api/runs/{run_id}", summary="A run: its jobs' states and loss histories, and the comparison")
def run(request: Request, run_id: str) -> dict[str, Any]:
    """A run: its jobs' states and loss histories, and the comparison."""
    return manager_of(request).get(run_id).view()


@router.get("/api/runs/{run_id}/events", summary="Server-sent events: a snapshot, then step/job/comparison, end")
def stream(request: Request, run_id: str) -> StreamingResponse:
    """A run's server-sent events: a snapshot, then its steps, jobs and comparison, then its end."""
    manager = manager_of(request)
    manager.get(run_id)
    body = events.stream(manager.hub, run_id, lambda: manager.attach(run_id))
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)


@router.post("/api/runs/{run_id}/stop", summary="Stop a run (or one backend's job) as Ctrl-C does")
def stop(request: Request, run_id: str, backend: BackendName | None = None) -> dict[str, Any]:
    """Stop a run, or one backend's job, as Ctrl-C does."""
    return manager_of(request).stop(run_id, backend and backend.value).view(history=False)


@router.delete("/api/runs/{run_id}", status_code=204, summary="Delete a run's folder (409 while it is not over)")
def delete_run(request: Request, run_id: str) -> Response:
    """Delete a run's folder, and nothing else."""
    manager_of(request).delete_run(run_id)
    return Response(status_code=204)


@router.post("/api/runs/{run_id}/resume", summary="Continue a stopped run from its checkpoint (either method)")
def resume(request: Request, run_id: str, backend: BackendName | None = None) -> dict[str, Any]:
    """Continue a stopped run from its checkpoint."""
    return manager_of(request).resume(run_id, backend and backend.value).view(history=False)


@router.get("/api/runs/{run_id}/inputs/{role}", summary="A run's content or style image")
def run_input(request: Request, run_id: str, role: Role) -> FileResponse:
    """A run's content or style image."""
    found = manager_of(request).get(run_id)
    return FileResponse(store.inside(found.folder, "inputs", found.request["inputs"][role.value]["file"]))


@router.get("/api/runs/{run_id}/{backend}/preview", summary="The job's latest picture (its result once it ended)")
def preview(request: Request, run_id: str, backend: BackendName) -> FileResponse:
    """A job's latest picture (its result once it ended)."""
    job = manager_of(request).get(run_id).jobs.get(backend.value)
    ended = job is not None and job.state.ended
    for name in ("result.png", "preview.png") if ended else ("preview.png", "result.png"):
        if job and (job.folder / name).is_file():
            return FileResponse(job.folder / name, headers={"Cache-Control": "no-store"})
    raise HTTPException(404, "no picture yet")


@router.get("/api/runs/{run_id}/{backend}/files/{key}", summary="Download a job's result, run record, ...")
def job_file(request: Request, run_id: str, backend: BackendName, key: JobFile) -> FileResponse:
    """A job's result, run record, log or checkpoint, as a download."""
    job = manager_of(request).get(run_id).jobs.get(backend.value)
    path = job.folder / store.JOB_FILES[key.value] if job else None
    if path is None or not path.is_file():
        raise HTTPException(404, f"no {key.value} for this job")
    suffix = {"log": ".log", "checkpoint": ".ckpt.npz"}.get(key.value, path.suffix)
    name = f"{run_id}-{backend.value}{suffix}"
    return FileResponse(path, media_type=MEDIA.get(path.suffix, "text/plain"), filename=name)


@router.get("/api/runs/{run_id}/comparison/{key}", summary="Download the comparison (nst compare's report)")
def comparison_file(request: Request, run_id: str, key: CompareFile) -> FileResponse:
    """The run's comparison (nst compare's report), as a download."""
    path = manager_of(request).get(run_id).folder / "compare" / store.COMPARE_FILES[key.value]
    if not path.is_file():
        raise HTTPException(404, "no comparison for this run")
    return FileResponse(path, filename=f"{run_id}-{path.name}")


async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
    """A request FastAPI could not parse: its first problem in one line (422)."""
    first = e.errors()[0]
    where = ".".join(str(part) for part in first["loc"][1:]) or "request"
    return JSONResponse({"detail": f"{where}: {first['msg']}"}, status_code=422)


def create_app(
    data_dir: str | os.PathLike, max_runs: int = 2, threads: int | None = None, hosts: tuple[str, ...] = ()
) -> FastAPI:
    """The application over one data folder; its Manager is app.state.manager (its workers stop with the app);
    besides loopback it answers to the names in hosts (--host) only (guard.py)."""
    manager = Manager(data_dir, max_runs, threads)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        manager.resume_interrupted()  # the jobs a server stop interrupted go on; those the user stopped do not
        yield
        manager.shutdown()

    app = FastAPI(
        title="nst serve",
        summary="Both frameworks stylizing side by side: runs, live progress, results and their comparison.",
        lifespan=lifespan,
        docs_url=None,  # docs.install serves /docs and /redoc from the package, not from a CDN
        redoc_url=None,
    )
    app.state.manager = manager
    app.add_exception_handler(UserError, lambda request, e: one_line(e))
    app.add_exception_handler(RequestValidationError, invalid)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(router)
    docs.install(app)
    app.add_middleware(Guard, hosts=hosts)
    return app
