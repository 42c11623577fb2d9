"""The report in a real browser: server text never runs as script, and the page renders."""

from __future__ import annotations

import html
import re
import struct
from pathlib import Path
from typing import Any

from harness.report import render_run
from tests.report.chromium import ChromiumRun
from tests.report.payloads import Payloads, WriteRun

SCRIPT = "<script>document.title='PWNED'</script>"
IMG = "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','1')\">"
SVG = "<svg onload=\"document.documentElement.setAttribute('data-pwned','2')\"></svg>"


def _evil_run(payloads: Payloads) -> dict[str, Any]:
    case = payloads.case(f"model{SCRIPT}", reason=IMG, use_case=SVG, id=f'"><i>{IMG}')
    case["samples"][0]["error"] = SVG
    case["verdict"], case["outcome"] = "error", "failed"
    case["checks"][0]["metric"] = f'x" onmouseover="{SCRIPT}'
    case["stability"]["formula"] = SCRIPT
    limit = payloads.limit(f"lim{IMG}")
    limit["recommendations"]["settings_text"] = f"</pre>{SCRIPT}"
    return payloads.run(
        [case],
        limits=[limit],
        throughput=[{"strategy": SCRIPT, "size": 100, "total_s": 42.0}],
        fingerprint={"host": IMG, "gpus": [{"name": SVG}], "engine": SCRIPT},
        history=[{"run_id": "a", "cases": {SCRIPT: {"decode_tok_s": 1.0}}},
                 {"run_id": "b", "cases": {SCRIPT: {"decode_tok_s": 2.0}}}],
    )  # fmt: skip


def test_server_text_is_shown_literally_and_never_runs(
    run_dir: WriteRun, payloads: Payloads, chromium: ChromiumRun
) -> None:
    folder = run_dir(_evil_run(payloads))
    page = render_run(folder)[0]
    done = chromium("--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    title = re.search(r"<title>(.*?)</title>", dom, re.S)
    assert title is not None
    assert title.group(1).startswith("SIMULATED Harness report")
    assert "PWNED" not in title.group(1)
    assert not re.search(r"<html[^>]*data-pwned", dom)
    assert "<img" not in dom
    assert "<i>" not in dom
    # The browser's serialisation of text nodes: the payloads are there as text.
    text = html.unescape(re.sub(r"<[^>]+>", "", dom))
    for payload in (SCRIPT, IMG, SVG):
        assert payload in text
    # The page's own script did run (CSP allows it by hash): Copy buttons are shown.
    assert re.search(r'<button type="button" class="copy" data-copy="settings-1">', dom)


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_screenshot_of_a_realistic_report(
    run_dir: WriteRun, payloads: Payloads, chromium: ChromiumRun, tmp_path: Path
) -> None:
    page = render_run(run_dir(payloads.realistic()))[0]
    shot = tmp_path / "report.png"
    done = chromium(f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert _png_size(shot) == (1280, 2000)
    # A blank or error page compresses to a few KB; a table with charts does not.
    assert shot.stat().st_size > 50_000
