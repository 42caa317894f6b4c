import pytest


@pytest.mark.django_db
def test_healthz_reports_each_part_ok_on_embedded_default(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "channel_layer": "ok", "broker": "eager"}


def test_smoke_two_daphne_processes_sharing_redis(start_server, redis_url):
    from chatclient import smoke

    servers = [start_server(redis_url=redis_url), start_server(redis_url=redis_url)]
    for server in servers:
        smoke(server.url)
