"""`OLLAMA_HOST` parsed the way Ollama's `envconfig.Host()` parses it.

Rules (OLLAMA.md): trim spaces and quotes; empty means http://127.0.0.1:11434; no scheme
means http with port 11434; `http://` without a port means 80 and `https://` 443; a path is
kept; an unparsable or out-of-range port falls back to the default port.
"""

from __future__ import annotations

import ipaddress

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 11434


def parse_ollama_host(value: str | None) -> str:
    """The base URL a client should use for `value` (the contents of `OLLAMA_HOST`)."""
    raw = (value or "").strip().strip("\"'")
    scheme, sep, hostport = raw.partition("://")
    default_port = DEFAULT_PORT
    if not sep:
        scheme, hostport = "http", raw
    elif scheme == "http":
        default_port = 80
    elif scheme == "https":
        default_port = 443
    hostport, _, path = hostport.partition("/")
    host, port_text = _split_host_port(hostport)
    if host is None:
        # Like Go's net.SplitHostPort failing: the whole thing is a host (or nothing).
        host, port_text = hostport.strip("[]") or DEFAULT_HOST, ""
    port = _port(port_text, default_port)
    return f"{scheme}://{_join(host, port)}{'/' + path if path else ''}"


def _split_host_port(hostport: str) -> tuple[str | None, str]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end == -1 or not hostport[end + 1 :].startswith(":"):
            return None, ""
        return hostport[1:end], hostport[end + 2 :]
    if hostport.count(":") != 1:  # no port, or a bare IPv6 address
        return None, ""
    host, _, port = hostport.partition(":")
    return host, port


def _port(text: str, default: int) -> int:
    try:
        port = int(text)
    except ValueError:
        return default
    return port if 0 <= port <= 65535 else default


def _join(host: str, port: int) -> str:
    try:
        is_v6 = ipaddress.ip_address(host).version == 6
    except ValueError:
        is_v6 = False
    return f"[{host}]:{port}" if is_v6 else f"{host}:{port}"
