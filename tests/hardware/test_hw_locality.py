from __future__ import annotations

import socket

import pytest

from harness.hardware import is_local_url, url_port


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:11434",
        "127.0.0.1",
        "localhost:11434",
        "http://[::1]:8080",
        "http://0.0.0.0:11434",
        f"http://{socket.gethostname()}:11434",
    ],
)
def test_this_machine_is_local(url: str) -> None:
    assert is_local_url(url)


@pytest.mark.parametrize("url", ["http://192.0.2.10:11434", "https://203.0.113.5", "198.51.100.7"])
def test_other_machines_are_remote(url: str) -> None:
    assert not is_local_url(url)


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("127.0.0.1", 11434),  # OLLAMA_HOST style: no scheme, Ollama's port
        ("http://box", 80),
        ("https://box", 443),
        ("box:1234", 1234),
        ("http://[::1]:8080/", 8080),
    ],
)
def test_port_follows_ollama_defaults(url: str, port: int) -> None:
    assert url_port(url) == port
