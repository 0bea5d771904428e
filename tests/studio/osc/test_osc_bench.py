"""``soundforge bench control``'s OSC measurements, small, against a real server."""

from __future__ import annotations

import pytest

from soundforge.bench.control_osc import measure_osc_sustained, measure_osc_to_ws
from tests.studio.osc.osc_helpers import bound_port, osc_server
from tests.web.api.helpers import fresh_user, seed_track
from tests.web.conftest import WebServer

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_osc_to_websocket_and_sustained(api_server: WebServer) -> None:
    user = await fresh_user(api_server)
    seeded = await seed_track(api_server, user.id)
    async with osc_server() as name:
        osc_port = await bound_port(name)
        latency = await measure_osc_to_ws(
            api_server.url, user.token, user.id, seeded.track_id, osc_port, messages=20
        )
        assert latency["osc_ws_lost"] == 0 and latency["osc_ws_p99_ms"] is not None
        sustained = await measure_osc_sustained(
            user.id, seeded.track_id, osc_port, rate=1000, seconds=1.0
        )
    assert sustained["sustained_last_value_ok"] is True
    assert sustained["sustained_sent"] == 1000 and sustained["sustained_malformed"] == 0
    assert 0 < sustained["sustained_calls"] < 1000
