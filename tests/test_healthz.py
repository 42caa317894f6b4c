import pytest


@pytest.mark.django_db
def test_healthz_reports_each_part_ok_on_embedded_default(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "channel_layer": "ok", "broker": "eager"}

