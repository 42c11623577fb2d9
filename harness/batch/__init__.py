"""The batch engine: OpenAI batch JSONL in and out, conversation batching, trimming, resume.

    requests = read_requests(iter_lines(path))          # jsonl.py: streamed, validated
    with OutputWriter(out) as writer:                    # output.py: appended + fsynced
        summary = BatchEngine(engine, settings).run(requests, writer, done=writer.done)

Modules: jsonl (input), output (records, resume), context (ContextManager) and trim (the
strategies), strategies (independent, conversation), engine (threads, retries), stats,
memory (probes), progress, analyze, csvconvert, extrapolate, synthetic and throughput (the
throughput suite's batches and judging), matrix_section, fixture, cli.
"""

from __future__ import annotations
