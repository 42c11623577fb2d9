"""A stand-in for a model server, launched by the launcher tests: answers GET /v1/models.

    python fake_server.py --port P [--host H] [--ctx N] [--child] [--ignore-term]
                          [--start-delay S]

`--child` starts a sleeping child process (the memory and stop tests look for it);
`--ignore-term` ignores SIGTERM so only the launcher's SIGKILL ends it.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--ctx", type=int, default=0)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--start-delay", type=float, default=0.0)
    args = parser.parse_args()
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.child:
        # Left running on purpose: the launcher must stop the whole process group.
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    time.sleep(args.start_delay)
    body = json.dumps({"object": "list", "data": [{"id": "fake"}], "num_ctx": args.ctx})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 200 if self.path == "/v1/models" else 404
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

    sys.stderr.write(f"fake server listening on {args.host}:{args.port}\n")
    sys.stderr.flush()
    ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
