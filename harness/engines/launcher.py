"""Start, restart and stop a model server whose context is fixed when it starts.

llama.cpp's server, vLLM and LM Studio take the context size on the command line, so
measuring a model at another `num_ctx` means a new server process. `Launcher` owns that
process: it renders a command template, starts it on a free port with its output in a log
file (pipes could fill up and stall a chatty server), waits until `GET {url}{ready_path}`
answers 200, and turns every way of not getting there into `LaunchFailed` with an outcome
(`oom`, `crash`, `timeout`) and the log's last lines, so a failed start is a result, not a hang.

POSIX only: the server runs in its own session so stopping it also stops its children.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal, NoReturn

import httpx
import psutil

from harness import errors
from harness.engines.retry import RetryPolicy
from harness.lifecycle import Closes

# Placeholders the launcher fills itself; a spec's `variables` may add more.
BUILTIN_PLACEHOLDERS: tuple[str, ...] = ("num_ctx", "port", "host", "num_parallel", "python")
# Placeholders templates usually take from `variables`: a missing one gets a hint, not a typo.
VARIABLE_HINTS: tuple[str, ...] = ("model_path",)
LOG_TAIL_LINES = 20
LaunchOutcome = Literal["oom", "crash", "timeout"]


class LaunchFailed(errors.EngineError):
    """The server did not become ready; `outcome` is "oom", "crash" or "timeout"."""

    def __init__(
        self, message: str, *, outcome: LaunchOutcome, log_tail: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.log_tail = log_tail


@dataclass(frozen=True)
class LaunchSpec:
    """How to start one server.

    `template` is split like a shell command line (no shell runs it), then each word is
    filled with `str.format`: literal braces in it must be doubled (`{{` and `}}`).
    """

    template: str
    variables: Mapping[str, str] = field(default_factory=dict)
    ready_path: str = "/v1/models"
    ready_timeout_s: float = 120.0
    host: str = "127.0.0.1"
    num_parallel: int = 1
    stop_grace_s: float = 10.0
    env: Mapping[str, str] | None = None
    # Where the server's output goes, one file per context (the last start at each context
    # is kept: it is where a server explains a failure). None: a temporary folder that
    # `close()` removes.
    log_dir: Path | None = None

    def __post_init__(self) -> None:
        # Fail when the spec is built, not at the first probe minutes into a run.
        check_template(self.template, self.variables)


def template_fields(template: str) -> list[str]:
    """The placeholder names used in `template`, in order of appearance."""
    try:
        return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise errors.ConfigError(
            f"launch template {template!r} is not a valid format string ({exc}); "
            "write literal braces as '{{' and '}}'"
        ) from None


def check_template(template: str, variables: Mapping[str, str]) -> None:
    """Raise ConfigError naming any placeholder that neither the launcher nor `variables` fills."""
    known = (*BUILTIN_PLACEHOLDERS, *variables)
    for name in template_fields(template):
        if name == "" or name.isdigit():
            raise errors.ConfigError(
                f"launch template {template!r} has a positional placeholder {{{name}}}; "
                f"use a name, one of: {', '.join(known)}"
            )
        if name not in known:
            missing_hint = " (pass it in variables)" if name in VARIABLE_HINTS else ""
            raise errors.ConfigError(
                f"launch template {template!r} uses unknown placeholder {{{name}}}"
                f"{missing_hint}; known placeholders: {', '.join(known)}"
            )


def render_command(spec: LaunchSpec, *, num_ctx: int, port: int) -> list[str]:
    """The argv for `spec` at `num_ctx` on `port`."""
    values = {
        **spec.variables,
        "num_ctx": str(num_ctx),
        "port": str(port),
        "host": spec.host,
        "num_parallel": str(spec.num_parallel),
        "python": sys.executable,  # the harness's interpreter, whatever `python` is on PATH
    }
    return [word.format(**values) for word in shlex.split(spec.template)]


def free_port(host: str) -> int:
    """A port nothing listens on now; the server binds it a moment later (a small race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def tail_lines(path: Path, count: int = LOG_TAIL_LINES) -> tuple[str, ...]:
    """The last `count` non-empty lines of a log file (read whole: logs here stay small)."""
    try:
        text = path.read_text("utf-8", errors="replace")
    except FileNotFoundError:
        return ()
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return tuple(lines[-count:])


def process_tree_rss(pid: int) -> dict[int, int]:
    """RSS in bytes of `pid` and each of its descendants, by pid; gone processes are skipped."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return {}
    rss: dict[int, int] = {}
    for proc in procs:
        try:
            rss[proc.pid] = proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue  # exited between listing and reading, or not ours to read
    return rss


class Launcher(Closes):
    """Owns one server process at a time; `ensure(num_ctx)` gives a ready base URL."""

    def __init__(self, spec: LaunchSpec) -> None:
        self.spec = spec
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_dir: Path | None = None
        self._launches = 0
        # One port for every restart: the server's address stays put across contexts, as an
        # Ollama server's does, so a sampler set up before a (re)load watches the right one.
        self._port: int | None = None
        self.url: str | None = None
        self.num_ctx: int | None = None
        self.log_path: Path | None = None

    @property
    def pid(self) -> int | None:
        """The server process's pid while one runs (the process whose memory to sample)."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def memory_bytes(self) -> int:
        """RSS of the server process and all its children, summed; 0 when none runs."""
        pid = self.pid
        return sum(process_tree_rss(pid).values()) if pid is not None else 0

    def memory_by_process(self) -> dict[int, int]:
        """RSS by pid for the server's process tree (kept apart, as the sampler does)."""
        pid = self.pid
        return process_tree_rss(pid) if pid is not None else {}

    def log_tail(self, count: int = LOG_TAIL_LINES) -> tuple[str, ...]:
        """The last lines the current server wrote; where a server explains a failed request."""
        return tail_lines(self.log_path, count) if self.log_path is not None else ()

    def ensure(self, num_ctx: int) -> str:
        """A ready server at `num_ctx`: the running one if it matches, else a fresh start."""
        if num_ctx <= 0:
            raise errors.ConfigError(f"num_ctx must be a positive integer, got {num_ctx!r}")
        if self.running and self.num_ctx == num_ctx and self.url is not None:
            return self.url
        self._terminate()
        return self._start(num_ctx)

    def stop(self) -> None:
        """Stop the server (terminate, then kill after the grace period); keep its log."""
        self._terminate()

    def close(self) -> None:
        """Stop the server and remove the log folder if it was a temporary one."""
        self._terminate()
        if self._log_dir is not None and self.spec.log_dir is None:
            shutil.rmtree(self._log_dir, ignore_errors=True)
            self._log_dir = None
            self.log_path = None

    @property
    def address(self) -> str:
        """The base URL the server has (or will have): one port for every start."""
        if self._port is None:
            self._port = free_port(self.spec.host)
        return f"http://{_url_host(self.spec.host)}:{self._port}"

    def _start(self, num_ctx: int) -> str:
        self.address  # noqa: B018  (reserves the port on first use)
        assert self._port is not None
        port = self._port
        argv = render_command(self.spec, num_ctx=num_ctx, port=port)
        if self._log_dir is None:
            if self.spec.log_dir is not None:
                self._log_dir = Path(self.spec.log_dir)
                self._log_dir.mkdir(parents=True, exist_ok=True)
            else:
                self._log_dir = Path(tempfile.mkdtemp(prefix="harness-launch-"))
        self._launches += 1
        self.log_path = self._log_dir / f"server-ctx{num_ctx}.log"
        self._log = self.log_path.open("wb")
        env = {**os.environ, **self.spec.env} if self.spec.env is not None else None
        try:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group: stop() reaches its children
            )
        except OSError as exc:
            self._close_log()
            raise LaunchFailed(
                f"could not start {argv[0]!r}: {exc} (template {self.spec.template!r})",
                outcome="crash",
            ) from exc
        self.num_ctx = num_ctx
        self.url = f"http://{_url_host(self.spec.host)}:{port}"
        self._wait_ready(self.url, argv)
        return self.url

    def _wait_ready(self, url: str, argv: list[str]) -> None:
        proc = self._proc
        assert proc is not None
        # Quick for fast starts, gentle for slow loads; no pause past the ready timeout.
        polls = RetryPolicy(
            max_attempts=None, base_delay_s=0.05, max_delay_s=0.5, total_s=self.spec.ready_timeout_s
        )
        with httpx.Client(timeout=httpx.Timeout(2.0), trust_env=False) as client:

            def probe() -> None:
                code = proc.poll()
                if code is not None:
                    self._fail_exited(code, argv)
                if not _answers(client, url + self.spec.ready_path):
                    raise _NotReady

            try:
                polls.call(probe, retry_on=(_NotReady,))
            except _NotReady:
                self._fail(
                    "timeout",
                    f"server did not answer GET {self.spec.ready_path} with 200 within "
                    f"{self.spec.ready_timeout_s:g}s",
                    argv,
                )

    def _fail_exited(self, code: int, argv: list[str]) -> NoReturn:
        assert self.log_path is not None
        text = "\n".join(tail_lines(self.log_path, 200))
        if errors.looks_like_oom(text):
            self._fail("oom", f"server ran out of memory and exited with code {code}", argv)
        if code == -signal.SIGKILL:
            # The kernel's OOM killer leaves no message of the server's own: SIGKILL is its mark.
            self._fail("oom", "server was killed by SIGKILL (the OOM killer's signal)", argv)
        self._fail("crash", f"server exited with code {code} before it was ready", argv)

    def _fail(self, outcome: LaunchOutcome, reason: str, argv: list[str]) -> NoReturn:
        self._terminate()
        assert self.log_path is not None
        tail = tail_lines(self.log_path)
        shown = "\n".join(f"    {line}" for line in tail) or "    (no output)"
        raise LaunchFailed(
            f"{reason}: {shlex.join(argv)}\nlast {len(tail)} lines of {self.log_path}:\n{shown}",
            outcome=outcome,
            log_tail=tail,
        )

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        self.url = None
        self.num_ctx = None
        if proc is not None:
            _stop_group(proc, self.spec.stop_grace_s)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class _NotReady(Exception):
    """The launched server does not answer its ready path yet."""


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False  # not listening yet, or busy loading: keep polling


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"  # a wildcard bind is reached through loopback
    return f"[{host}]" if ":" in host else host


def _stop_group(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM the process group, SIGKILL what is left after `grace_s`, and reap the leader."""
    _signal_group(proc.pid, signal.SIGTERM)
    if not _wait_group(proc, grace_s):
        _signal_group(proc.pid, signal.SIGKILL)
        _wait_group(proc, 10.0)
    proc.wait()  # reap so no zombie or ResourceWarning is left behind


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass  # the whole group is gone already


def _wait_group(proc: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Wait until the leader is reaped and no other member of its group is left."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None and not _group_alive(proc.pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
