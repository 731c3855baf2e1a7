"""Jobs: processes run in the background, their status and results kept for a while.

Why: a compliance check of a whole city or a viewshed can take longer than a client wants to hold
a request open; OGC API – Processes lets it ask for an asynchronous run, poll ``/jobs/{id}`` and
fetch ``/jobs/{id}/results``. Jobs run on a small pool of worker threads (analyses are mostly
DuckDB and numpy work that releases the GIL); at most ``keep`` finished jobs are remembered.

Example:
    >>> jobs = JobService(city).open()                              # doctest: +SKIP
    >>> job = jobs.submit(PROCESSES["check"], {"rules": ["height"]})  # doctest: +SKIP
    >>> jobs.get(job.id).status                                      # doctest: +SKIP
    'successful'
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cim.errors import CIMError, FeatureNotFound, first_line

if TYPE_CHECKING:
    from cim.city import City
    from serving.processes.catalog import Process


@dataclass
class Job:
    """One run of a process (OGC status: accepted, running, successful, failed, dismissed)."""

    id: str
    process: str
    status: str = "accepted"
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: datetime | None = None
    finished: datetime | None = None
    message: str = ""
    results: dict[str, Any] | None = None

    def status_doc(self, base: str) -> dict[str, Any]:
        """The job's status info (``/jobs/{id}``)."""
        doc: dict[str, Any] = {"jobID": self.id, "processID": self.process, "type": "process",
                               "status": self.status, "message": self.message,
                               "created": self.created.isoformat(timespec="seconds"),
                               "links": [{"rel": "self", "type": "application/json", "href": f"{base}/jobs/{self.id}"}]}
        for key, value in (("started", self.started), ("finished", self.finished)):
            if value is not None:
                doc[key] = value.isoformat(timespec="seconds")
        if self.status == "successful":
            doc["links"].append({"rel": "http://www.opengis.net/def/rel/ogc/1.0/results", "type": "application/json",
                                 "href": f"{base}/jobs/{self.id}/results"})
        return doc


class JobService:
    """Runs processes over one city, synchronously or as jobs; ``open`` starts the pool, ``close`` stops it."""

    def __init__(self, city: City, *, workers: int = 1, keep: int = 100) -> None:
        self.city = city
        self.workers = workers
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def open(self) -> JobService:
        """Start the worker pool."""
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="process")
        return self

    def close(self) -> None:
        """Stop taking jobs; queued ones are cancelled, a running one finishes."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def run(self, process: Process, inputs: dict[str, Any]) -> dict[str, Any]:
        """Run now and return the results (errors of the analysis propagate as they are)."""
        return process.run(self.city, process.check_inputs(inputs))

    def submit(self, process: Process, inputs: dict[str, Any]) -> Job:
        """Queue a run; the job is returned at once (status ``accepted``)."""
        if self._pool is None:
            raise CIMError("the job service is not open")
        inputs = process.check_inputs(inputs)
        job = Job(uuid.uuid4().hex, process.id)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self.keep:
                self._jobs.popitem(last=False)
        self._pool.submit(self._execute, job, process, inputs)
        return job

    def _execute(self, job: Job, process: Process, inputs: dict[str, Any]) -> None:
        if job.status == "dismissed":
            return
        job.status, job.started = "running", datetime.now(UTC)
        try:
            job.results = process.run(self.city, inputs)
            job.status, job.message = "successful", "done"
        except CIMError as exc:  # the analysis refused: its message says why
            job.status, job.message = "failed", first_line(exc)
        except Exception as exc:  # noqa: BLE001 - a job records any failure instead of losing it
            job.status, job.message = "failed", f"the process failed ({type(exc).__name__})"
        finally:
            job.finished = datetime.now(UTC)

    def get(self, job_id: str) -> Job:
        """A job by id (FeatureNotFound when unknown or forgotten)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise FeatureNotFound(f"no job {job_id[:64]!r}: jobs are kept until {self.keep} newer ones finish")
        return job

    def list(self) -> list[Job]:
        """Every remembered job, newest first."""
        with self._lock:
            return list(reversed(self._jobs.values()))

    def dismiss(self, job_id: str) -> Job:
        """Forget a job (a queued one will not run; a running one finishes unseen)."""
        job = self.get(job_id)
        job.status = "dismissed"
        with self._lock:
            self._jobs.pop(job_id, None)
        return job


__all__ = ["Job", "JobService"]
