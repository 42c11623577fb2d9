"""An OpenAI-compatible batch API: a client that measures any such server, and the harness's own.

- client.py: BatchApiClient (upload, create, poll, download); run_batch -> BatchApiResult
- throughput.py: the throughput suite's adapter (one size as one batch)
- checks.py: what the batch_api suite asserts about a server's answers
- options.py: the suites' --batch-api options; outage.py: a switchable model-server relay
- store.py: SQLite job state; multipart.py: the upload parser
- worker.py: runs batches over the batch engine, resumes them after a restart
- handler.py, server.py: the HTTP side; cli.py: `harness serve-batch`
"""

from __future__ import annotations
