"""The hot path's lean Redis connection (chatsite.plumbing.resp), against the real Redis:
answers reach the command that asked, in order, also past errors, cancelled callers and a
dropped connection; scripts survive a Redis that forgot them; the URL's database is used."""
from __future__ import annotations

import asyncio
from urllib.parse import urlparse

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from chatsite.plumbing.resp import LeanRedis, pack_command


def plain(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


async def test_answers_decoded_and_in_order(redis_url: str) -> None:
    lean = LeanRedis(redis_url)
    assert await lean.execute("SET", "greeting", "héllo 👋") == "OK"
    assert await lean.execute("GET", "greeting") == "héllo 👋"
    assert await lean.execute("GET", "nothing") is None
    assert await lean.execute("INCRBY", "n", 41) == 41
    answers = await asyncio.gather(*(lean.execute("INCR", "n") for _ in range(50)))
    assert answers == list(range(42, 92))
    assert await lean.execute_many([("RPUSH", "l", "a", "b"), ("LRANGE", "l", 0, -1),
                                    ("GET", "greeting")]) == [2, ["a", "b"], "héllo 👋"]
    await lean.aclose()


async def test_a_refused_command_is_its_own_error_and_the_next_answer_is_right(
        redis_url: str) -> None:
    lean = LeanRedis(redis_url)
    await lean.execute("SET", "s", "text")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await lean.execute("LPUSH", "s", "x")
    with pytest.raises(ResponseError, match="unknown command"):
        await lean.execute("NOSUCHCOMMAND")
    assert await lean.execute("GET", "s") == "text"
    with pytest.raises(ResponseError):
        await lean.execute_many([("INCR", "counter"), ("LPUSH", "s", "x"), ("INCR", "counter")])
    assert await lean.execute("GET", "counter") == "2"  # the others ran
    await lean.aclose()


async def test_a_cancelled_caller_does_not_take_another_commands_answer(redis_url: str) -> None:
    lean = LeanRedis(redis_url)
    waiting = asyncio.ensure_future(lean.execute("BLPOP", "queue", 5))
    await asyncio.sleep(0.1)
    waiting.cancel()
    later = asyncio.ensure_future(lean.execute("GET", "marker"))
    plain(redis_url).set("marker", "mine")
    plain(redis_url).rpush("queue", "for the cancelled one")
    assert await later == "mine"
    assert await lean.execute("LLEN", "queue") == 0  # BLPOP did take it, answering no one
    await lean.aclose()


async def test_a_dropped_connection_fails_whoever_waits_and_the_next_command_reconnects(
        redis_url: str) -> None:
    lean = LeanRedis(redis_url)
    await lean.execute("CLIENT", "SETNAME", "lean-under-test")
    waiting = asyncio.ensure_future(lean.execute("BLPOP", "never", 10))
    await asyncio.sleep(0.1)
    plain(redis_url).client_kill_filter(_type="normal", skipme=True)
    with pytest.raises(RedisConnectionError):
        await asyncio.wait_for(waiting, 5)
    assert await lean.execute("PING") == "PONG"
    await lean.aclose()


async def test_a_script_redis_forgot_is_loaded_again(redis_url: str) -> None:
    lean = LeanRedis(redis_url)
    script = lean.script("return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}")
    assert await script(keys=["k"], args=["v", 41]) == ["k", "v", 42]
    plain(redis_url).script_flush()
    assert await script(keys=["k2"], args=["w", 1]) == ["k2", "w", 2]
    with pytest.raises(ResponseError):
        await lean.script("return redis.call('NOSUCH')")()
    await lean.aclose()


async def test_the_urls_database_and_a_refused_password(redis_url: str) -> None:
    parsed = urlparse(redis_url)
    other_db = (int(parsed.path.lstrip("/") or 0) + 1) % 16
    other = parsed._replace(path=f"/{other_db}").geturl()
    plain(other).delete("where")
    lean = LeanRedis(other)
    await lean.execute("SET", "where", "the other database")
    assert plain(other).get("where") == "the other database"
    assert plain(redis_url).get("where") is None
    plain(other).delete("where")
    await lean.aclose()
    refused = LeanRedis(parsed._replace(netloc=f":wrong@{parsed.netloc}").geturl())
    with pytest.raises(ResponseError):
        await refused.execute("PING")
    with pytest.raises(RedisConnectionError):
        await LeanRedis("redis://127.0.0.1:1/0").execute("PING")


def test_arguments_redis_would_misread_are_refused() -> None:
    assert pack_command(["SET", "k", 1.5, b"\x00"]) == (
        b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n1.5\r\n$1\r\n\x00\r\n")
    for bad in (None, True, ["list"]):
        with pytest.raises(TypeError):
            pack_command(["SET", "k", bad])
