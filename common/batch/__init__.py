"""``nst batch``: many style-transfer jobs (a manifest, or a grid of contents x styles x settings) on Ray, on this
machine or a cluster, resumable, each job exactly the job ``nst stylize`` runs.

Python API::

    import common.batch                    # installed: from nst.common import batch
    report = common.batch.run(
        "out/", content=["photos/"], style=["paintings/*.jpg"], grid={"backend": ["torch", "mxnet"]},
        settings={"steps": 200, "size": (300, 450), "weights": "random"}, workers=2, threads_per_job=1,
    )
    report.ok, report.failed, report.exit_code   # files: out/*.png, out/batch.jsonl, out/summary.{csv,md,json}

Importing this package imports neither Ray nor a framework: Ray is imported when a batch runs, and only there.
"""

from .driver import Report, run

__all__ = ["Report", "run"]
