"""Writing a run's report files from its `results.json`.

`render_run` is what the plugin calls on the controller at the end of a run and what
`harness report` calls to re-render. Jinja2 is imported here, not at package import, so
loading the plugin stays cheap. The HTML is one self-contained file: inline CSS, inline SVG
(from `svg.py`, already escaped) and one small copy-to-clipboard script that the page does not
need. A Content-Security-Policy allows only that script (by hash) and no network fetches, a
second line of defence behind autoescaping for text that came from a server.
"""

from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from harness.matrix.registry import declared_tables
from harness.measure.gcpause import paused
from harness.plan.render import write_files as write_plan_files
from harness.report import csvout, markdown, tables, viewmodel
from harness.results.schema import RESULTS_FILE, JsonObject, RunResults, as_run, load_run

if TYPE_CHECKING:
    from jinja2 import Template

HTML_FILE = "report.html"
MARKDOWN_FILE = "matrix.md"
CSV_FILE = "matrix.csv"

# Shows the (hidden by default) Copy buttons and copies the <pre> they point at.
COPY_SCRIPT = (
    "document.querySelectorAll('button.copy').forEach(function(b){b.hidden=false;"
    "b.addEventListener('click',function(){var p=document.getElementById(b.dataset.copy);"
    "navigator.clipboard.writeText(p.textContent).then(function(){b.textContent='Copied';},"
    "function(){b.textContent='Select the text and copy';});});});"
)


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(COPY_SCRIPT.encode()).digest()).decode()
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )


@lru_cache(maxsize=1)
def _template() -> Template:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("harness.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=False,
    )
    return env.get_template("report.html.j2")


def render_html(payload: RunResults | JsonObject) -> str:
    """The HTML report of one payload, as text."""
    from markupsafe import Markup

    run = as_run(payload)
    view = viewmodel.build(run)
    return _template().render(
        r=view,
        csp=_csp(),
        script=Markup(COPY_SCRIPT),
        matrix_body=Markup(tables.matrix_body(view.rows)),  # every value escaped there
        stability_body=Markup(tables.stability_body(view.stability) if view.stability else ""),
        # Sections of suites that declare a table renderer (harness/matrix/registry.py).
        declared=declared_tables(run.raw),
    )


def _write(path: Path, content: str) -> Path:
    """Write through a temporary file so a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(content, encoding="utf-8", newline="")
    os.replace(tmp, path)
    return path


def render_payload(payload: RunResults | JsonObject, out_dir: Path) -> list[Path]:
    """Write report.html, matrix.md, matrix.csv (and `<section>.csv` of each section a
    suite declared with a table) for `payload` into `out_dir`."""
    # Building the views allocates a few objects per cell and frees none until the end: with
    # the collector on, it rescans the growing heap hundreds of times (45% of the CPU time
    # of a 10,000-case report). Nothing here makes cycles, so reference counting suffices.
    with paused():
        run = as_run(payload)
        return [
            _write(out_dir / HTML_FILE, render_html(run)),
            _write(out_dir / MARKDOWN_FILE, markdown.render(run)),
            _write(out_dir / CSV_FILE, csvout.render(run)),
            *(
                _write(out_dir / f"{name}.csv", csvout.render_table(table))
                for name, table in declared_tables(run.raw)
            ),
            *write_plan_files(run, out_dir),  # job-plan.yaml, presets/*.yaml
        ]


def render_run(run_dir: Path) -> list[Path]:
    """Re-render a run folder's reports from its results.json; returns the paths written.

    Raises `harness.errors.ResultsError` when results.json is missing, is not JSON or has
    another schema.
    """
    run_dir = Path(run_dir)
    with paused():  # json.loads of a large run allocates like the render does
        run = load_run(run_dir / RESULTS_FILE)
        return render_payload(run, run_dir)
