"""Seed 001's use-case recommendations: per use case, the best cell that met its criteria.

A matrix gives each model a `use_case:`; every context-scaling cell of that model is a
candidate for it. A cell qualifies when its verdict is `pass` (every threshold of the cell,
the seed's per-context criteria, was met and nothing regressed). Among those the best is
the largest context (what a use case that names a context asks for: "Complex refactoring:
27B at 128K"), then the higher decode tok/s, then the lower TTFT; the runner-up is the next.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.plan.facts import UseCaseCell, scaling_cells
from harness.plan.model import Recommendation
from harness.plan.preset import slug
from harness.results.schema import JsonObject, RunResults, as_run


def _rank(cell: UseCaseCell) -> tuple[float, float, float]:
    pick = cell.pick
    return (
        pick.num_ctx,
        pick.decode_tok_s if pick.decode_tok_s is not None else float("-inf"),
        -(pick.ttft_s if pick.ttft_s is not None else float("inf")),
    )


def recommend(cells: Sequence[UseCaseCell], *, simulated: bool = False) -> list[Recommendation]:
    """One Recommendation per (matrix, use case), in the order the use cases first appear."""
    groups: dict[tuple[str, str], list[UseCaseCell]] = {}
    for cell in cells:
        groups.setdefault((cell.matrix, cell.use_case), []).append(cell)
    out = []
    for (matrix, use_case), members in groups.items():
        ranked = sorted((c for c in members if c.passed), key=_rank, reverse=True)
        best = ranked[0] if ranked else None
        runner = ranked[1] if len(ranked) > 1 else None
        if best is not None:
            reason = (
                f"largest context that met its criteria ({len(ranked)} of {len(members)} "
                "cells passed)"
            )
        else:
            failed = "; ".join(f"{c.pick.case_id}: {c.reason or 'failed'}" for c in members[:3])
            reason = f"no cell met its criteria ({failed})"
        out.append(
            Recommendation(
                use_case=use_case,
                matrix=matrix,
                simulated=simulated,
                best=None if best is None else best.pick,
                runner_up=None if runner is None else runner.pick,
                candidates=len(members),
                passed=len(ranked),
                reason=reason,
                preset=None if best is None else f"presets/{slug(matrix)}-{slug(use_case)}.yaml",
            )
        )
    return out


def recommendations(payload: RunResults | JsonObject) -> list[Recommendation]:
    """The recommendations of a run (or of a results payload in memory)."""
    run = as_run(payload)
    return recommend(scaling_cells(run), simulated=run.simulated)
