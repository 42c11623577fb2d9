"""Context-limit discovery: the largest safe context, bytes per token, the limits to configure.

    prediction (predict.py, from /api/show + /api/tags)
      -> search (search.py: probes of probe.py, bracketing from the prediction)
      -> fit (fit.py: memory = base + bytes_per_token x context)
      -> recommendations (recommend.py) and verdict (verdict.py)
      -> the `limits` entry of results.json (discover.py), shown by report.py

The matrix's `limits:` section (section.py) says which models to search.
"""

from __future__ import annotations

from harness.limits.discover import Discovery, discover
from harness.limits.report import format_recommendations, write_context_limit_results

__all__ = ["Discovery", "discover", "format_recommendations", "write_context_limit_results"]
