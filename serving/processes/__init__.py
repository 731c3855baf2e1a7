"""OGC API – Processes over the city's analyses: indicators, compliance, BIM review, flood, viewshed."""

from serving.processes.catalog import MIN_ROLE, PROCESSES, Process, feature_collection
from serving.processes.jobs import Job, JobService

__all__ = ["PROCESSES", "Process", "MIN_ROLE", "feature_collection", "Job", "JobService"]
