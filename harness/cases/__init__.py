"""Step 2 of the pipeline: the pytest plugin that turns cells into test cases.

`plugin.py` holds the hooks and thin fixtures (the `pytest11` entry point); `options.py` the
command-line options with their ini twins; `session.py` the settings resolved once and the
matrices' cells; `serving.py` the session's servers; `estimate.py` the time a run should take.
"""
