"""Step 6 of the pipeline: reports of a run (HTML with charts, Markdown, CSV), rendered
from its results.json alone, and the table of cases that ends the terminal (`terminal.py`).

    from harness.report import render_run
    paths = render_run(run_dir)  # writes report.html, matrix.md, matrix.csv

Importing this package is cheap: Jinja2 loads only when a report is rendered.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["render_run"]


def render_run(run_dir: Path) -> list[Path]:
    """Write report.html, matrix.md and matrix.csv into `run_dir` from its results.json."""
    from harness.report.render import render_run as _render_run

    return _render_run(run_dir)
