"""What is said stays private: after a conversation with history off (an ordinary line, a line
whose phone number is masked for the partner, a line with a NUL), none of the sent text is in
any Redis key or value, in any table of the database, or in the servers' and worker's logs,
whether a Celery worker analysed the lines or none ran."""
import json
import os
import time
from pathlib import Path

import pytest
import redis
from django.db import connection

from conftest import pair_guests
from moderation.analysis import PENDING_KEY

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

# Words that appear nowhere else (not in generated handles either): any trace is a leak.
SENT = ["kumquat marmalade zeppelin on tuesday",
        "ring me on 0171 555 0199 about the xylophone",
        "nul\x00byte pomegranate line"]
NEEDLES = ["kumquat", "marmalade", "zeppelin", "0171", "555 0199", "xylophone", "pomegranate"]


def redis_dump(client: redis.Redis) -> dict[str, object]:
    """Every key of the test database with its value, whatever its type."""
    dump: dict[str, object] = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        if kind == "string":
            value: object = client.get(key)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "hash":
            # As pairs: JSON object keys must be text, and a hash's fields are bytes.
            value = sorted(client.hgetall(key).items())
        elif kind == "set":
            value = sorted(client.smembers(key))
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            value = client.xrange(key)
        else:
            value = kind
        dump[key.decode(errors="replace")] = {"type": kind, "ttl": client.ttl(key),
                                             "value": value}
    return dump


def database_dump() -> str:
    """Every row of every table, as PostgreSQL prints it (pg_dump's view of the text)."""
    rows: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT t::text FROM "{table}" t')
            rows.extend(f"{table}: {row}" for (row,) in cursor.fetchall())
    return "\n".join(rows)


def leaks(text: str) -> list[str]:
    """Each sent word found, with what surrounds it."""
    folded = text.lower()
    return [f"{needle}: …{text[max(0, at - 300):at + 100]}…" for needle in NEEDLES
            if (at := folded.find(needle)) >= 0]


@pytest.mark.parametrize("worker", ["celery", "none"])
def test_nothing_said_is_kept_in_plaintext(start_server, start_worker, redis_live: str,
                                           worker: str, tmp_path: Path) -> None:
    client = redis.Redis.from_url(redis_live)
    env = {"LOG_LEVEL": "INFO", "ANALYSIS_TRIGGER_MS": "100",
           "ANALYSIS_ENQUEUE_TIMEOUT_MS": "10000"}  # a loaded test machine is slow
    server_a, server_b = start_server(redis_live, **env), start_server(redis_live, **env)
    celery = start_worker(redis_live, **env) if worker == "celery" else None
    (a, _), (b, _), conversation = pair_guests(server_a.url, server_b.url)
    for text in SENT:
        a.send({"type": "message", "text": text})
        a.expect("message")
        received = b.expect("message")["text"]
        assert "0199" not in received  # the number is masked for the partner
    b.send({"type": "message", "text": "bye"})
    a.expect("message")
    a.send({"type": "leave"})
    a.expect("ended")

    if celery is not None:
        # The worker empties the queue (it was pushed to, so the key exists meanwhile).
        deadline = time.monotonic() + 60
        while client.exists(PENDING_KEY) and time.monotonic() < deadline:
            assert celery.poll() is None, celery.log_path.read_text(errors="replace")
            time.sleep(0.2)
        assert not client.exists(PENDING_KEY), celery.log_path.read_text(errors="replace")
    else:
        deadline = time.monotonic() + 30
        while client.llen(PENDING_KEY) < len(SENT) + 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        # With no worker, the lines wait encrypted and the queue expires by itself.
        assert client.llen(PENDING_KEY) == len(SENT) + 1, server_a.log() + server_b.log()
        assert 0 < client.ttl(PENDING_KEY) <= 3600

    dump = redis_dump(client)
    database = database_dump()
    logs = "\n".join(s.log() for s in (server_a, server_b))
    if celery is not None:
        logs += celery.log_path.read_text(errors="replace")
    out = Path(os.environ.get("PRIVACY_DUMP_DIR", tmp_path)) / f"privacy-dump-{worker}.json"
    out.write_text(json.dumps(dump, default=repr, indent=1))
    # The dump does see where the text lives (the encrypted live log) ...
    assert any(key.endswith(f"log:{conversation}") for key in dump), sorted(dump)
    assert leaks(json.dumps(dump, default=repr)) == [], out
    assert leaks(database) == []
    assert leaks(logs) == []
    assert conversation in database  # ... and the tables the chat wrote
    client.close()
