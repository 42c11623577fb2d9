"""An OpenAI-compatible batch API: a client that measures any such server, and the harness's own.

- client.py: BatchApiClient (upload, create, poll, download); run_batch -> BatchApiResult
- throughput.py: the throughput suite's adapter (one size as one batch)
- checks.py: what the batch_api suite asserts about a server's answers
- suite.py: the batch_api suite's declaration (its --batch-api options); outage.py: a
  switchable model-server relay
- store.py: SQLite job state
- worker.py: runs batches over the batch engine, resumes them after a restart
- app.py: the FastAPI routes; gate.py: key and body checks before a body is read
- openai_errors.py: every error in OpenAI's shape, from the routes, FastAPI or h11
- server.py: uvicorn in a thread over the app; cli.py: `harness serve-batch`
"""

from __future__ import annotations
