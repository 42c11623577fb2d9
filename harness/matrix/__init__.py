"""Step 1 of the pipeline: matrix files into cells, and the suites' declarations they follow.

`cells.py` reads a matrix (YAML with line numbers, `yamlsource.py`) into frozen `Cell`s;
`registry.py` gathers each suite's declared sections (the `pytest_harness_suites` hook of
`hookspecs.py`; the core's own in `sections.py`); `thresholds.py` judges a cell's metrics.
"""
