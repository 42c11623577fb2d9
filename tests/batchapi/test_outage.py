from __future__ import annotations

import pytest

from harness.batchapi.outage import OutageProxy
from harness.engines import create_engine
from harness.errors import EngineError, ServerUnreachable
from harness.sim.server import SimServer


def test_proxy_goes_down_and_comes_back_on_the_same_port() -> None:
    with SimServer(profile="tiny", speed=1000.0) as sim, OutageProxy(sim.url) as proxy:
        engine = create_engine("sim", proxy.url)
        try:
            url = proxy.url
            assert engine.version()
            proxy.down()
            with pytest.raises((ServerUnreachable, EngineError)):
                engine.version()
            proxy.up()
            assert proxy.url == url
            assert engine.version()
        finally:
            engine.close()
