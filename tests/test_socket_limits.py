"""Per-address socket limits keep one client from crowding out others."""
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

    sockets[0].close()  # a place frees up once a socket closes
    for _ in range(50):
        again = Socket(server.url, guest_session(server.url))
        if again.expect("welcome", 5)["type"] == "welcome":
            break
