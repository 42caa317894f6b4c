"""Per-address socket limits keep one client from crowding out others."""
import time

import pytest
from chatclient import Socket, guest_session

pytestmark = pytest.mark.e2e


def test_sockets_beyond_the_per_address_limit_are_closed_4008(start_server, redis_url):
    server = start_server(redis_url=redis_url, MAX_SOCKETS_PER_ADDRESS="3")
    sockets = [Socket(server.url, guest_session(server.url)) for _ in range(3)]
    for s in sockets:
        assert s.expect("welcome")["type"] == "welcome"
    extra = Socket(server.url, guest_session(server.url))
    error = extra.expect("error")
    assert error["code"] == "rate_limited" and "address" in error["detail"]
    assert extra.recv(5) is None and extra.close_code == 4008

    sockets[0].close()  # a place frees up once the server has handled the close
    refused = 0
    while True:
        again = Socket(server.url, guest_session(server.url))
        first = again.recv(10)
        if first["type"] == "welcome":
            break
        # Not yet handled: refused like the extra one, and tried again.
        assert first["code"] == "rate_limited" and again.recv(5) is None
        assert again.close_code == 4008
        refused += 1
        assert refused < 50, "the closed socket's place was never given back"
        time.sleep(0.1)
    again.close()
