"""The studies around the jobs: are the two backends the same program, how fast, how much memory.

    parity      every check of ``nst parity`` (checks.py, trajectories.py, branches.py)
    bench       ``nst bench``: seconds per step over a grid (quality.py: time to quality)
    compare     ``nst compare``: one job on both backends, and a report
    flops       the floating-point operations of a step
    port_guide  docs/porting.md, from the backends' source and port_guide.toml

Not imported by ``import common``: load them as ``from common.studies import parity``.
"""
