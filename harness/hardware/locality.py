"""Is the server on this machine? Local GPU and process sampling only describe it if so."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import psutil

# Ollama's own defaults (envconfig.Host): no scheme means port 11434, an explicit
# scheme means that scheme's well-known port.
_DEFAULT_PORTS = {"": 11434, "http": 80, "https": 443}


def _split(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL or an OLLAMA_HOST-style `host:port`."""
    text = url.strip()
    scheme = ""
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
    else:
        text = "//" + text
    parts = urlsplit(text)
    port = parts.port if parts.port is not None else _DEFAULT_PORTS.get(scheme, 80)
    return scheme, parts.hostname or "", port


def url_port(url: str) -> int:
    """The TCP port a server URL points at, with Ollama's defaults."""
    return _split(url)[2]


def url_host(url: str) -> str:
    """The host part of a server URL ('' when the URL names none)."""
    return _split(url)[1]


def local_addresses() -> set[str]:
    """Every IP address of this machine's interfaces."""
    found: set[str] = set()
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family in (socket.AF_INET, socket.AF_INET6):
                found.add(addr.address.split("%", 1)[0])
    return found


def _ip_is_local(text: str, local: set[str]) -> bool:
    ip = ipaddress.ip_address(text.split("%", 1)[0])
    # 0.0.0.0 as a client address connects to this machine, the way Ollama's own
    # client treats OLLAMA_HOST=0.0.0.0.
    return ip.is_loopback or ip.is_unspecified or str(ip) in local


def is_local_url(url: str) -> bool:
    """True when the server at `url` runs on this machine (loopback, this host's name or
    one of its addresses)."""
    host = url_host(url).lower()
    if not host or host == "localhost" or host.endswith(".localhost"):
        return True
    local = local_addresses()
    try:
        return _ip_is_local(host, local)
    except ValueError:
        pass  # a name, not an address
    names = {socket.gethostname().lower(), socket.getfqdn().lower()}
    if host in names:
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return any(_ip_is_local(str(info[4][0]), local) for info in infos)
