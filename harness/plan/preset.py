"""YAML presets: `job-plan.yaml` (read by `harness batch run --plan`) and one preset per
recommended use-case cell (`presets/<matrix>-<use-case>.yaml`).

A plan that is not ready (a blocking measurement missing or failed) is written without its
`batch:` block, with what is missing; `--plan` refuses it and says what to measure.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.plan.model import JobPlan, Recommendation

PLAN_FILE = "job-plan.yaml"
PRESETS_DIR = "presets"
PLAN_KIND = "harness.job-plan/1"
PRESET_KIND = "harness.preset/1"

# `batch:` keys -> the `harness batch run` option (dest) each one sets.
BATCH_KEYS: dict[str, str] = {
    "model": "model",
    "strategy": "strategy",
    "num_ctx": "num_ctx",
    "concurrency": "concurrency",
    "trim_strategy": "trim_strategy",
    "trim_threshold": "trim_threshold",
    "trim_interval": "trim_interval",
    "keep_messages": "keep_messages",
}
_INT_KEYS = ("num_ctx", "concurrency", "trim_threshold", "trim_interval", "keep_messages")


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (a Modelfile) as literal blocks, readable and pasteable."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _dump(doc: dict[str, Any]) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)


def slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-") or "use-case"


def plan_document(plan: JobPlan, run_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "kind": PLAN_KIND,
        "ready": plan.ready,
        "simulated": plan.simulated,
        "run_id": run_id,
        "requests": plan.requests,
        "model": plan.model,
    }
    if plan.ready:
        batch: dict[str, Any] = {"model": plan.model, "strategy": plan.strategy}
        batch["num_ctx"] = plan.num_ctx
        batch["concurrency"] = plan.concurrency
        if plan.trim is not None:
            batch.update(
                trim_strategy=plan.trim.trim_strategy,
                trim_threshold=plan.trim.trim_threshold,
                trim_interval=plan.trim.trim_interval,
                keep_messages=plan.trim.keep_messages,
            )
        doc["batch"] = batch
        doc["server"] = {
            "OLLAMA_NUM_PARALLEL": plan.num_parallel,
            "OLLAMA_CONTEXT_LENGTH": plan.num_ctx,
        }
    doc["expected"] = {
        "basis": f"projected from {plan.basis} sizes" if plan.time_s else None,
        "time_s": None if plan.time_s is None else plan.time_s.to_json(),
        "token_savings": None if plan.token_savings is None else plan.token_savings.to_json(),
        "peak_memory": None if plan.memory is None else plan.memory.to_json(),
    }
    doc["missing"] = [m.to_json() for m in plan.missing]
    doc["notes"] = list(plan.notes)
    return doc


def plan_yaml(plan: JobPlan, run_id: str) -> str:
    label = "SIMULATED" if plan.simulated else "measured"
    head = [
        f"# Job plan: {plan.requests:,} requests of {plan.model or 'an unknown model'}, from run "
        f"{run_id} ({label}).",
    ]
    if plan.ready:
        head.append(f"# Apply: harness batch run INPUT --out OUT --plan {PLAN_FILE}")
        head.append("# Options given on the command line win over `batch:`.")
    else:
        head.append("# NOT READY: a measurement is missing or failed (see `missing:`).")
    body = _dump(plan_document(plan, run_id))
    return "\n".join(head) + "\n" + body


def preset_yaml(rec: Recommendation, run_id: str) -> str | None:
    pick = rec.best
    if pick is None:
        return None
    label = "SIMULATED" if rec.simulated else "measured"
    doc = {
        "kind": PRESET_KIND,
        "use_case": rec.use_case,
        "matrix": rec.matrix,
        "simulated": rec.simulated,
        "run_id": run_id,
        "model": pick.model,
        "options": {**dict(pick.options), "num_ctx": pick.num_ctx},
        "measured": {
            "case": pick.case_id,
            "ttft_s_p50": pick.ttft_s,
            "decode_tok_s_p50": pick.decode_tok_s,
            "stability": pick.stability,
            "peak_memory_bytes": pick.peak_memory_bytes,
        },
        "criteria": dict(pick.thresholds),
        "runner_up": None
        if rec.runner_up is None
        else {"model": rec.runner_up.model, "num_ctx": rec.runner_up.num_ctx},
        "modelfile": f"FROM {pick.model}\nPARAMETER num_ctx {pick.num_ctx}\n",
    }
    head = f"# {rec.use_case}: {pick.model} at num_ctx {pick.num_ctx:,} ({label}, run {run_id})\n"
    return head + _dump(doc)


def write_presets(
    out_dir: Path, plan: JobPlan | None, recs: list[Recommendation], run_id: str
) -> list[Path]:
    """Write job-plan.yaml (when the run measured anything for it) and the use-case presets."""
    written = []
    if plan is not None and plan.measured:
        path = out_dir / PLAN_FILE
        path.write_text(plan_yaml(plan, run_id), encoding="utf-8")
        written.append(path)
    for rec in recs:
        text = preset_yaml(rec, run_id)
        if text is None or rec.preset is None:
            continue
        path = out_dir / rec.preset
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


@dataclass(frozen=True)
class PlanSettings:
    """The `batch:` block of a job plan: `harness batch run` option dest -> value."""

    path: Path
    values: Mapping[str, Any]


def load_plan(path: Path) -> PlanSettings:
    """Read a job-plan.yaml; ConfigError naming the file, line and key, and the fix."""
    from harness.batch.strategies import STRATEGIES
    from harness.batch.trim import TRIMMERS
    from harness.matrix.yamlsource import load_yaml

    if not path.is_file():
        raise ConfigError(
            f"--plan {str(path)!r}: no such file. Fix: pass the {PLAN_FILE} of a run folder "
            f"(reports/runs/<run-id>/{PLAN_FILE}) or write one with `harness plan RUN --write`"
        )
    src = load_yaml(path)
    raw = src.data
    remake = "write it again with `harness plan RUN --write`"
    if not isinstance(raw, dict) or raw.get("kind") != PLAN_KIND:
        raise src.error(
            ("kind",),
            f"not a job plan (kind {dig_kind(raw)!r}, expected {PLAN_KIND!r})",
            f"pass the {PLAN_FILE} of a run folder, or {remake}",
        )
    if raw.get("ready") is not True or "batch" not in raw:
        missing = "; ".join(
            f"{m.get('what')}: {m.get('why')} (fix: {m.get('fix')})"
            for m in raw.get("missing") or []
            if isinstance(m, dict) and m.get("blocking")
        )
        raise src.error(
            ("ready",),
            f"the plan has no settings: {missing or 'it is not ready'}",
            f"measure what is missing, then use the new run's {PLAN_FILE}",
        )
    batch = raw["batch"]
    if not isinstance(batch, dict):
        raise src.error(("batch",), f"batch is {batch!r}, not a mapping", remake)
    values: dict[str, Any] = {}
    for key, value in batch.items():
        at = ("batch", key)
        if key not in BATCH_KEYS:
            raise src.error(at, f"unknown key {key!r}", f"use some of: {', '.join(BATCH_KEYS)}")
        if value is None:
            continue
        whole = isinstance(value, int) and not isinstance(value, bool)
        if key in _INT_KEYS and not (whole and value >= 1):
            raise src.error(at, f"{key} is {value!r}", "use a positive integer")
        for name, allowed in (("strategy", STRATEGIES), ("trim_strategy", tuple(TRIMMERS))):
            if key == name and value not in allowed:
                choices = ", ".join(allowed)
                raise src.error(at, f"unknown {name} {value!r}", f"use one of: {choices}")
        if key == "model" and (not isinstance(value, str) or not value.strip()):
            raise src.error(at, f"model is {value!r}", "name an Ollama tag")
        values[BATCH_KEYS[key]] = value
    return PlanSettings(path, values)


def dig_kind(raw: Any) -> Any:
    return raw.get("kind") if isinstance(raw, dict) else type(raw).__name__


_UNSET = object()


def add_plan_option(parser: argparse.ArgumentParser) -> None:
    """Add `--plan FILE` to `harness batch run`.

    The options a plan can set get a sentinel default, so an option given on the command
    line (even at its default value) wins over the plan, and the plan over the default;
    `apply_plan` puts the real defaults back.
    """
    parser.add_argument(
        "--plan", type=Path, metavar="FILE",
        help=f"a job plan ({PLAN_FILE} in a run folder, or `harness plan RUN --write`): its "
        "model, strategy, num_ctx, concurrency and trim settings; options given here win",
    )  # fmt: skip
    fallbacks = {dest: parser.get_default(dest) for dest in BATCH_KEYS.values()}
    parser.set_defaults(**{dest: _UNSET for dest in fallbacks}, plan_fallbacks=fallbacks)


def apply_plan(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the options the command line left unset from --plan, then from the defaults."""
    fallbacks: Mapping[str, Any] = getattr(args, "plan_fallbacks", None) or {}
    plan = load_plan(args.plan).values if getattr(args, "plan", None) else {}
    for dest, default in fallbacks.items():
        if getattr(args, dest, None) is _UNSET:
            setattr(args, dest, plan.get(dest, default))
    return args
