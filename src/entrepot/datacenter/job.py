"""Where the job-kind registry (:mod:`entrepot.jobs.kinds`) finds the ``import`` kind.

The job is :class:`entrepot.datacenter.imports.import_job.ImportJob`; this
name stays until the registry's built-in reference points there.
"""

from entrepot.datacenter.imports.import_job import ImportJob

__all__ = ["ImportJob"]
