"""Concurrency sweeps and the capacity answer (issue 13).

    section (matrix `concurrency:`) -> servers (a server per OLLAMA_NUM_PARALLEL value)
      -> load (closed loop / Poisson open loop), run in worker processes by workers.py
      -> levels (percentiles, goodput, saturation)
      -> sweep (one `concurrency[]` entry) -> capacity (fit x sweeps -> `capacity` entry)
      -> report (the terminal line)

`cell.run_cell` ties them together for one (model, context); suites/concurrency calls it.
"""

from __future__ import annotations

from harness.concurrency.capacity import MemoryModel, capacity_entry, job_hours
from harness.concurrency.cell import CellState, run_cell
from harness.concurrency.load import LoadSample, closed_loop, open_loop, poisson_offsets_ns
from harness.concurrency.report import summary_notes, table_lines
from harness.concurrency.section import ConcurrencySection, parse_concurrency
from harness.concurrency.servers import ServerSource, SlotPlan, slot_plan
from harness.concurrency.slo import Slo, goodput
from harness.concurrency.sweep import SweepPlan, run_sweep
from harness.concurrency.workers import ChatRequest, LoadPool

__all__ = [
    "CellState",
    "ChatRequest",
    "ConcurrencySection",
    "LoadPool",
    "LoadSample",
    "MemoryModel",
    "ServerSource",
    "Slo",
    "SlotPlan",
    "SweepPlan",
    "capacity_entry",
    "closed_loop",
    "goodput",
    "job_hours",
    "open_loop",
    "parse_concurrency",
    "poisson_offsets_ns",
    "run_cell",
    "run_sweep",
    "slot_plan",
    "summary_notes",
    "table_lines",
]
