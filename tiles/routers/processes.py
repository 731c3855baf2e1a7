"""OGC API – Processes: the city's analyses over HTTP, run at once or as jobs.

``POST /processes/{id}/execution`` with ``{"inputs": {...}}`` answers the results (200); with
``Prefer: respond-async`` it answers 201 and the job's status with its URL, to poll at
``/jobs/{id}`` and read at ``/jobs/{id}/results``. Running an analysis needs the planner role:
analyses read layers of every classification. The logic is in ``serving.processes``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from serving.processes import MIN_ROLE, PROCESSES, JobService, Process
from tiles.dependencies import requires
from tiles.errors import NotFound

router = APIRouter(tags=["OGC API Processes"])
Planner = Depends(requires(MIN_ROLE, "running an analysis"))
ProcessId = Annotated[str, Path(max_length=64, description="Process id, as listed by /processes.")]
JobId = Annotated[str, Path(max_length=64, description="Job id, as answered when it was submitted.")]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _jobs(request: Request) -> JobService:
    return request.app.state.jobs


def _process(process_id: str) -> Process:
    process = PROCESSES.get(process_id)
    if process is None:
        raise NotFound(f"no process {process_id!r}; GET /processes lists them")
    return process


@router.get("/processes", summary="The analyses this server runs", response_model=dict[str, Any])
def processes(request: Request) -> dict[str, Any]:
    """Every process with its links."""
    base = _base(request)
    return {"processes": [p.summary(base) for p in PROCESSES.values()],
            "links": [{"rel": "self", "type": "application/json", "href": f"{base}/processes"}]}


@router.get("/processes/{process_id}", summary="One process: its inputs and outputs", response_model=dict[str, Any])
def process(request: Request, process_id: ProcessId) -> dict[str, Any]:
    """The process description."""
    return _process(process_id).description_doc(_base(request))


@router.post("/processes/{process_id}/execution", summary="Run a process", dependencies=[Planner],
             response_model=dict[str, Any])
async def execute(request: Request, process_id: ProcessId,
                  body: Annotated[dict[str, Any], Body(description='{"inputs": {"name": value, …}}')],
                  prefer: Annotated[str | None, Header(description="respond-async: run as a job")] = None) -> Any:
    """The results now, or (``Prefer: respond-async``) 201 with the job to poll."""
    proc, jobs = _process(process_id), _jobs(request)
    inputs = body.get("inputs", {})
    if prefer and "respond-async" in prefer.lower():
        job = jobs.submit(proc, inputs)
        doc = job.status_doc(_base(request))
        return JSONResponse(doc, status_code=201, headers={"Location": f"{_base(request)}/jobs/{job.id}",
                                                           "Preference-Applied": "respond-async"})
    return await run_in_threadpool(jobs.run, proc, inputs)


@router.get("/jobs", summary="Jobs", dependencies=[Planner], response_model=dict[str, Any])
def jobs(request: Request) -> dict[str, Any]:
    """Every remembered job, newest first."""
    base = _base(request)
    return {"jobs": [j.status_doc(base) for j in _jobs(request).list()],
            "links": [{"rel": "self", "type": "application/json", "href": f"{base}/jobs"}]}


@router.get("/jobs/{job_id}", summary="A job's status", dependencies=[Planner], response_model=dict[str, Any])
def job(request: Request, job_id: JobId) -> dict[str, Any]:
    """accepted, running, successful or failed (with the reason)."""
    return _jobs(request).get(job_id).status_doc(_base(request))


@router.get("/jobs/{job_id}/results", summary="A job's results", dependencies=[Planner],
            response_model=dict[str, Any])
def results(request: Request, job_id: JobId) -> Any:
    """The results of a successful job; 404 with its status otherwise."""
    found = _jobs(request).get(job_id)
    if found.status != "successful":
        raise NotFound(f"job {job_id} is {found.status}: {found.message or 'no results yet'}")
    return found.results


@router.delete("/jobs/{job_id}", summary="Dismiss a job", dependencies=[Planner], response_model=dict[str, Any])
def dismiss(request: Request, job_id: JobId) -> dict[str, Any]:
    """Forget the job (a queued one will not run)."""
    return _jobs(request).dismiss(job_id).status_doc(_base(request))


__all__ = ["router"]
