"""The launcher against small Python processes: always runs, no model server needed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

from harness.engines.launcher import Launcher, LaunchFailed, LaunchSpec, render_command
from harness.errors import ConfigError, EngineError

LauncherFactory = Callable[..., Launcher]  # the make_launcher fixture


def _pyc(code: str) -> str:
    """A template running `code` with the harness's interpreter (braces escaped for format)."""
    escaped = code.replace("{", "{{").replace("}", "}}")
    return f'{{python}} -c "{escaped}"'


def test_unknown_placeholder_names_it_and_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"\{modle_path\}.*known placeholders: num_ctx, port"):
        LaunchSpec(template="serve --model {modle_path}", variables={"model_path": "m.gguf"})


def test_model_path_without_variables_says_to_pass_it() -> None:
    with pytest.raises(ConfigError, match=r"\{model_path\} \(pass it in variables\)"):
        LaunchSpec(template="serve --model {model_path} --n_ctx {num_ctx}")


@pytest.mark.parametrize("template", ["serve {}", "serve {0}", "serve {port"])
def test_positional_or_broken_placeholders_are_config_errors(template: str) -> None:
    with pytest.raises(ConfigError, match="launch template"):
        LaunchSpec(template=template)


def test_render_keeps_a_path_with_spaces_as_one_argument() -> None:
    spec = LaunchSpec(
        template="serve --model {model_path} --n_ctx {num_ctx} --np {num_parallel} "
        "--host {host} --port {port}",
        variables={"model_path": "/models/my model.gguf"},
        num_parallel=2,
    )
    argv = render_command(spec, num_ctx=4096, port=8123)
    assert argv == [
        "serve", "--model", "/models/my model.gguf", "--n_ctx", "4096", "--np", "2",
        "--host", "127.0.0.1", "--port", "8123",
    ]  # fmt: skip


def test_ensure_starts_reuses_and_restarts_on_a_new_context(
    make_launcher: LauncherFactory, fake_template: str
) -> None:
    launcher = make_launcher(fake_template, ready_timeout_s=20)
    url = launcher.ensure(num_ctx=2048)
    first_pid = launcher.pid
    assert httpx.get(f"{url}/v1/models").json()["num_ctx"] == 2048
    assert launcher.ensure(num_ctx=2048) == url
    assert launcher.pid == first_pid  # same context: the running server is kept

    url2 = launcher.ensure(num_ctx=4096)
    assert httpx.get(f"{url2}/v1/models").json()["num_ctx"] == 4096
    assert launcher.pid != first_pid
    assert first_pid is not None
    assert not psutil.pid_exists(first_pid)


def test_memory_counts_the_whole_process_tree(
    make_launcher: LauncherFactory, fake_template: str
) -> None:
    launcher = make_launcher(f"{fake_template} --child", ready_timeout_s=20)
    launcher.ensure(num_ctx=512)
    by_pid = launcher.memory_by_process()
    assert launcher.pid in by_pid
    assert len(by_pid) == 2  # the server and the child it started
    assert launcher.memory_bytes() >= sum(by_pid.values()) * 0.9
    assert launcher.memory_bytes() > 1_000_000


def test_stop_ends_children_keeps_the_log_and_close_drops_a_temporary_one(
    make_launcher: LauncherFactory, fake_template: str
) -> None:
    launcher = make_launcher(f"{fake_template} --child", ready_timeout_s=20)
    launcher.ensure(num_ctx=512)
    pids = list(launcher.memory_by_process())
    log_path = launcher.log_path
    assert log_path is not None
    assert log_path.exists()
    launcher.stop()
    launcher.stop()
    assert launcher.pid is None
    assert launcher.memory_bytes() == 0
    assert not any(psutil.pid_exists(pid) for pid in pids)
    assert log_path.exists()  # where the server explains a failure: kept after an unload
    launcher.close()
    assert not log_path.parent.exists()


def test_a_given_log_dir_keeps_the_last_log_of_each_context(
    make_launcher: LauncherFactory, fake_template: str, tmp_path: Path
) -> None:
    launcher = make_launcher(fake_template, ready_timeout_s=20, log_dir=tmp_path / "logs")
    for num_ctx in (512, 1024, 512):
        launcher.ensure(num_ctx=num_ctx)
    launcher.close()
    names = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert names == ["server-ctx1024.log", "server-ctx512.log"]


def test_context_manager_stops_the_server(fake_template: str) -> None:
    with Launcher(LaunchSpec(template=fake_template, ready_timeout_s=20)) as launcher:
        launcher.ensure(num_ctx=512)
        pid = launcher.pid
    assert pid is not None
    assert not psutil.pid_exists(pid)


def test_a_server_ignoring_sigterm_is_killed_after_the_grace_period(
    make_launcher: LauncherFactory, fake_template: str
) -> None:
    launcher = make_launcher(f"{fake_template} --ignore-term", stop_grace_s=0.5)
    launcher.ensure(num_ctx=512)
    pid = launcher.pid
    start = time.monotonic()
    launcher.stop()
    assert time.monotonic() - start < 5
    assert pid is not None
    assert not psutil.pid_exists(pid)


def test_a_server_that_died_is_started_again(
    make_launcher: LauncherFactory, fake_template: str
) -> None:
    launcher = make_launcher(fake_template, ready_timeout_s=20)
    launcher.ensure(num_ctx=512)
    pid = launcher.pid
    assert pid is not None
    psutil.Process(pid).kill()
    deadline = time.monotonic() + 30  # a liveness deadline, generous for a busy host
    while launcher.pid is not None and time.monotonic() < deadline:
        time.sleep(0.01)  # SIGKILL is delivered asynchronously
    assert launcher.pid is None
    url = launcher.ensure(num_ctx=512)
    assert launcher.pid not in (None, pid)
    assert httpx.get(f"{url}/v1/models").status_code == 200


def test_a_crash_is_an_outcome_with_the_last_lines_of_output(
    make_launcher: LauncherFactory,
) -> None:
    code = "import sys\nfor i in range(30): print(f'log line {i}', file=sys.stderr)\nsys.exit(3)"
    launcher = make_launcher(_pyc(code), ready_timeout_s=20)
    start = time.monotonic()
    with pytest.raises(LaunchFailed) as info:
        launcher.ensure(num_ctx=512)
    assert time.monotonic() - start < 10
    assert isinstance(info.value, EngineError)
    assert info.value.outcome == "crash"
    message = str(info.value)
    assert "exited with code 3" in message
    assert "log line 29" in message
    assert "log line 9\n" not in message + "\n"  # only the last 20 lines
    assert len(info.value.log_tail) == 20
    assert launcher.pid is None


def test_out_of_memory_text_makes_the_outcome_oom(make_launcher: LauncherFactory) -> None:
    code = (
        "import sys\n"
        "print('ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size "
        "137438953472', file=sys.stderr)\n"
        "sys.exit(1)"
    )
    with pytest.raises(LaunchFailed, match="failed to allocate") as info:
        make_launcher(_pyc(code), ready_timeout_s=20).ensure(num_ctx=512)
    assert info.value.outcome == "oom"


def test_sigkill_is_taken_for_the_oom_killer(make_launcher: LauncherFactory) -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    with pytest.raises(LaunchFailed, match="SIGKILL") as info:
        make_launcher(_pyc(code), ready_timeout_s=20).ensure(num_ctx=512)
    assert info.value.outcome == "oom"


def test_a_server_that_never_answers_times_out(make_launcher: LauncherFactory) -> None:
    launcher = make_launcher(_pyc("import time; time.sleep(60)"), ready_timeout_s=1)
    start = time.monotonic()
    with pytest.raises(LaunchFailed, match="within 1s") as info:
        launcher.ensure(num_ctx=512)
    assert time.monotonic() - start < 5
    assert info.value.outcome == "timeout"
    assert launcher.pid is None


def test_a_missing_executable_is_a_crash(make_launcher: LauncherFactory) -> None:
    with pytest.raises(LaunchFailed, match="could not start") as info:
        make_launcher("/nonexistent/llama-server --port {port}").ensure(num_ctx=512)
    assert info.value.outcome == "crash"


def test_a_nonpositive_context_is_a_config_error(
    make_launcher: LauncherFactory, fake_template: str
) -> None:
    with pytest.raises(ConfigError, match="num_ctx"):
        make_launcher(fake_template).ensure(num_ctx=0)


def test_log_tail_shows_what_the_running_server_wrote(
    make_launcher: LauncherFactory, fake_template: str
) -> None:
    launcher = make_launcher(fake_template, ready_timeout_s=20)
    assert launcher.log_tail() == ()
    launcher.ensure(num_ctx=512)
    assert any("fake server listening" in line for line in launcher.log_tail())
