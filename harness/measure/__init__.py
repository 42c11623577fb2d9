"""Step 3 of the pipeline: one cell measured.

`procedure.py` loads, calibrates, warms up, repeats, summarises and judges; `prompts.py`
builds prompts of an exact token length; `samples.py` turns a request into a results sample;
`stats.py` summarises; `gcpause.py` keeps the garbage collector out of timed windows.
"""
