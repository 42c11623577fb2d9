from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import ResultsError
from harness.report import render_run
from harness.report.render import render_html
from tests.report.payloads import Payloads, WriteRun


def _section_ids(html: str) -> set[str]:
    return set(re.findall(r'<section id="([a-z]+)"', html))


def test_render_run_writes_three_files(run_dir: WriteRun, payloads: Payloads) -> None:
    folder = run_dir(payloads.realistic())
    paths = render_run(folder)
    # and job-plan.yaml: the run searched limits, so its plan says what else is missing
    assert [p.name for p in paths] == ["report.html", "matrix.md", "matrix.csv", "job-plan.yaml"]
    assert all(p.parent == folder and p.stat().st_size > 0 for p in paths)
    assert not list(folder.glob(".*.tmp"))


def test_full_report_has_every_section(payloads: Payloads) -> None:
    html = render_html(payloads.realistic())
    assert _section_ids(html) == {
        "run",
        "matrix",
        "problems",
        "limits",
        "scaling",
        "throughput",
        "history",
        "stability",
    }
    assert html.count("<svg") == 2 + 2 + 1 + 2  # scaling, memory x2, throughput, history x2


def test_sections_without_data_are_left_out(payloads: Payloads) -> None:
    html = render_html(payloads.run([payloads.case()]))
    assert _section_ids(html) == {"run", "matrix", "scaling", "stability"}
    assert "Batch throughput" not in html
    assert "Failures and skips" not in html
    assert "<script>" not in html  # the copy script only comes with settings blocks
    empty = render_html(payloads.run([], fingerprint={}))
    assert _section_ids(empty) == {"run"}  # started and duration are still known
    assert "<table" not in empty
    assert "<svg" not in empty


@pytest.mark.parametrize("simulated", [True, False])
def test_simulated_banner_and_title(simulated: bool, payloads: Payloads) -> None:
    html = render_html(payloads.run(simulated=simulated))
    title = re.search(r"<title>(.*?)</title>", html)
    assert title is not None
    assert title.group(1).startswith("SIMULATED") is simulated
    assert ('class="banner"' in html) is simulated


def test_matrix_rows_colours_and_threshold_tooltips(payloads: Payloads) -> None:
    html = render_html(payloads.realistic())
    table = html.split('<section id="matrix">')[1].split("</section>")[0]
    rows = re.findall(r'<tr class="(ok|bad|skip)"', table)
    assert rows.count("ok") == 9
    assert rows.count("bad") == 2
    assert rows.count("skip") == 1
    assert 'title="ttft_s p50 0.4 &lt;= 8: ok"' in table
    assert "decode_tok_s p50 32.3 &gt;= 6: FAILED" in table
    assert 'class="n fail"' in table  # the failing metric's cell is marked
    assert "regressed (decode_tok_s worse by 12.5%)" in table
    assert "p=0.004, 5 vs 5 samples" in table  # the evidence, on hover
    assert "100 ms (105 ms)" in table  # TTFT p50 (p90), ms under a second


def test_thresholds_shown_when_a_case_has_no_checks(payloads: Payloads) -> None:
    html = render_html(payloads.run([payloads.case(checks=[])]))
    assert "threshold: ttft_s max 8" in html


def test_fingerprint_settings_stability_and_failures(payloads: Payloads) -> None:
    html = render_html(payloads.realistic())
    for text in (
        "NVIDIA GeForce RTX 4080 (15.99 GiB, driver 550.54)",
        "ollama 0.12.3",
        "rtx4080-16gb",
        "30.10 s",
        "box-nightly (9 unchanged, 1 regressed)",
    ):
        assert text in html
    assert re.search(r'<pre class="settings" id="settings-1">MAX_CONTEXT_TOKENS = 36864\n', html)
    assert "<details><summary>How the score is computed" in html
    assert "0.4*success_rate" in html
    assert "decode_consistency" in html.split('<section id="stability">')[1]
    problems = html.split('<section id="problems">')[1].split("</section>")[0]
    assert "model not pulled: ollama pull liquid-rag:latest" in problems
    assert "cudaMalloc failed: out of memory" in problems
    assert "19h 50m (18h 20m to 21h 40m)" in html  # the projection, with its interval


def test_page_is_self_contained(payloads: Payloads) -> None:
    html = render_html(payloads.realistic())
    assert "<link" not in html
    assert not re.search(r'(src|href)="(?!#)', html)
    assert "@import" not in html
    assert "url(" not in html
    assert "default-src &#39;none&#39;" in html  # CSP: the page may fetch nothing


def test_server_text_is_escaped(payloads: Payloads) -> None:
    evil = "<script>alert(1)</script>"
    case = payloads.case(f"m{evil}", reason=evil, id=f'"><b>{evil}')
    case["stability"]["formula"] = evil
    lim = payloads.limit(f"x{evil}")
    lim["recommendations"]["settings_text"] = f"</pre>{evil}"
    html = render_html(payloads.run([case, payloads.failed_case(reason=evil)], limits=[lim]))
    assert evil not in html
    assert "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_odd_section_shapes_do_not_break_the_report(payloads: Payloads) -> None:
    case = payloads.case(
        metrics=None, stability="high", checks="none", baseline="regressed", memory=[1, 2]
    )
    case["num_ctx"] = "big"
    payload = payloads.run(
        [case],
        limits=[{"model": "m", "probes": "x", "recommendations": None}, "junk"],
        throughput={"not": "a list"},
        extrapolation=[],
        history=[{"run_id": "r", "cases": None}],
    )
    html = render_html(payload)
    assert "regressed" in html
    assert 'id="limits"' in html


def test_missing_results_file_raises_results_error(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match=r"results\.json does not exist"):
        render_run(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"results\.json:1:2: not valid JSON"),
        ("[]", "holds a JSON list, expected an object"),
        (
            json.dumps({"schema": "harness.results/2", "cases": []}),
            r"schema is 'harness.results/2', expected 'harness.results/1'",
        ),
        (json.dumps({"cases": []}), "schema is None"),
        (
            json.dumps({"schema": "harness.results/1", "cases": {}}),
            "cases is dict, expected a list",
        ),
        (
            json.dumps({"schema": "harness.results/1", "cases": [1]}),
            r"cases\[0\] is int, expected an object",
        ),
    ],
)
def test_unusable_results_file(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "results.json").write_text(content, encoding="utf-8")
    with pytest.raises(ResultsError, match=message) as info:
        render_run(tmp_path)
    assert str(tmp_path / "results.json") in str(info.value)


def test_importing_the_package_does_not_load_jinja2() -> None:
    code = "import sys, harness.report; print('jinja2' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "False"
