"""Step 4 of the pipeline: the run's results.

`recording.py` collects cases and sections on the controller as they arrive; `writer.py`
writes them crash-safe (JSONL, then `results.json`); `schema.py` is the typed model and
loader of `harness.results/1`; `fingerprint.py` says what a run was measured on.
"""
