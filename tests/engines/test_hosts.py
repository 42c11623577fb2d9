from __future__ import annotations

import pytest

from harness.engines.hosts import parse_ollama_host


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "http://127.0.0.1:11434"),  # unset: the default
        ("", "http://127.0.0.1:11434"),
        ("   ", "http://127.0.0.1:11434"),  # spaces trimmed
        ('"0.0.0.0:9999"', "http://0.0.0.0:9999"),  # quotes trimmed
        ("'example.com'", "http://example.com:11434"),
        ("example.com", "http://example.com:11434"),  # no scheme: http and 11434
        ("example.com:5000", "http://example.com:5000"),
        ("http://example.com", "http://example.com:80"),  # http without port: 80
        ("https://example.com", "https://example.com:443"),  # https without port: 443
        ("https://example.com:8443", "https://example.com:8443"),
        ("http://example.com/ollama", "http://example.com:80/ollama"),  # a path is kept
        ("example.com:5000/api/base", "http://example.com:5000/api/base"),
        ("[::1]:4000", "http://[::1]:4000"),  # IPv6 with port
        ("::1", "http://[::1]:11434"),  # bare IPv6: default port
        ("example.com:99999", "http://example.com:11434"),  # out-of-range port: default
        ("example.com:abc", "http://example.com:11434"),  # unparsable port: default
    ],
)
def test_parse_ollama_host_follows_ollama_rules(value: str | None, expected: str) -> None:
    assert parse_ollama_host(value) == expected
