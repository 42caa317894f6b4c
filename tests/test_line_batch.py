"""Lines accepted together (one pipeline to Redis) keep every guarantee of a line alone."""
import asyncio

import redis

from chat.store import RedisStore


async def accept_many(store: RedisStore, conversation: str, senders: int, each: int,
                      rate: str = "1000/10s") -> list[list[int | None]]:
    """`senders` sockets accept `each` lines each, all at once; the numbers each one got."""
    async def sender(n: int) -> list[int | None]:
        seqs = []
        for k in range(each):
            seq, _ = await store.accept_line(conversation, {"sender": n, "text": f"{n}/{k}"},
                                             f"lines:{n}", rate)
            seqs.append(seq)
        return seqs

    return list(await asyncio.gather(*(sender(n) for n in range(senders))))


async def test_lines_accepted_at_once_get_every_number_once_each_senders_in_order(redis_url):
    store = RedisStore(redis_url, prefix="t")
    got = await accept_many(store, "c1", senders=40, each=5)
    numbers = [seq for seqs in got for seq in seqs]
    assert sorted(numbers) == list(range(1, 201))
    assert all(seqs == sorted(seqs) for seqs in got)
    # The log holds each line under the number its sender was told.
    logged = {line["text"]: line["seq"] for line in await store.lines_after("c1", 0)}
    assert all(logged[f"{n}/{k}"] == seq for n, seqs in enumerate(got)
               for k, seq in enumerate(seqs))


async def test_a_sender_over_its_rate_is_refused_inside_a_batch_and_others_are_not(redis_url):
    store = RedisStore(redis_url, prefix="t")
    results = await asyncio.gather(*(
        store.accept_line("c2", {"sender": n, "text": "hi"}, f"lines:{n % 2}", "3/m")
        for n in range(10)))
    accepted = [seq for seq, _ in results if seq is not None]
    refused = [retry for seq, retry in results if seq is None]
    assert sorted(accepted) == list(range(1, 7))  # three for each of the two senders
    assert len(refused) == 4 and all(retry > 0 for retry in refused)


async def test_a_redis_that_lost_its_scripts_still_accepts_a_batch(redis_url):
    store = RedisStore(redis_url, prefix="t")
    await accept_many(store, "c3", senders=5, each=1)
    redis.Redis.from_url(redis_url).script_flush()
    got = await accept_many(store, "c3", senders=5, each=2)
    assert sorted(seq for seqs in got for seq in seqs) == list(range(6, 16))


async def test_lines_that_come_while_a_batch_is_on_its_way_leave_together(redis_url):
    """A group commit: 39 senders, each one loop turn after the other, that come while a lone
    line's batch is on its way, leave together in one call when its answer is back, and each
    still gets its own number."""
    store = RedisStore(redis_url, prefix="t")
    batch = store._accept_batch()
    script, calls = batch.script, []
    answer_back = asyncio.Event()

    async def counted(keys: list, args: list) -> list:
        calls.append(len(keys) // 3)
        if len(calls) == 1:
            await answer_back.wait()  # the first batch stays on its way while the others come
        return await script(keys=keys, args=args)

    batch.script = counted

    async def sender(n: int) -> int | None:
        for _ in range(n):
            await asyncio.sleep(0)
        seq, _ = await store.accept_line("c4", {"sender": n, "text": "hi"}, f"lines:{n}",
                                         "1000/10s")
        return seq

    first = asyncio.ensure_future(sender(0))
    await asyncio.sleep(0.05)
    others = [asyncio.ensure_future(sender(n)) for n in range(1, 40)]
    await asyncio.sleep(0.05)
    answer_back.set()
    seqs = await asyncio.gather(first, *others)
    assert sorted(seqs) == list(range(1, 41))
    assert calls == [1, 39]
