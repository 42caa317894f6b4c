"""A lean connection to Redis for the relay's hot path: the line's script (`chat.store`'s
`ScriptBatch`), the matcher's scripts (`chat.matching.Batches`) and the channel layer's
batches of PUBLISH (`plumbing.layers.Publisher`).

redis-py's asyncio client spends about 0.1 ms of CPU per command on a two-core machine above
writing it and reading its answer (a connection pool behind a lock, retry wrappers, a
`StreamReader`, per-command options and answer callbacks): on a quiet relay, where each line
is a command of its own, a tenth of all a process does for a line. Here a command is its RESP
bytes written to one connection's transport, and answers are parsed in C by hiredis as they
arrive and handed, in order, to the futures that wait for them; a command costs a third.

What it keeps of redis-py: its URL (`redis.connection.parse_url`: host and port or a unix
socket, user and password, database, `rediss://`) and its errors (`redis.exceptions`), so a
caller handles either client's failures alike. What it leaves out: timeouts per command (the
runtime's asyncio clients have none either; a connection that drops fails every command
waiting on it, and the next command connects again), pub/sub, transactions, retries.
"""
from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from collections.abc import Sequence
from typing import Any

import hiredis
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

Arg = str | bytes | int | float


def pack_command(args: Sequence[Arg]) -> bytes:
    """One command in RESP: an array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            value = arg.encode()
        elif isinstance(arg, bytes):
            value = arg
        elif isinstance(arg, bool) or not isinstance(arg, int | float):
            # As redis-py: what would reach Redis as "True" or "None" is a caller's mistake.
            raise TypeError(f"a Redis argument must be str, bytes, int or float: {arg!r}")
        else:
            value = repr(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(value), value))
    return b"".join(parts)


def tls_context(options: dict[str, Any]) -> ssl.SSLContext | None:
    """TLS for a `rediss://` URL: verified against the system's (or `ssl_ca_certs`')
    authorities unless the URL says `ssl_cert_reqs=none` (or `optional`), as redis-py reads it."""
    if not getattr(options.get("connection_class"), "__name__", "").startswith("SSL"):
        return None
    context = ssl.create_default_context(cafile=options.get("ssl_ca_certs"))
    requirement = str(options.get("ssl_cert_reqs", "required")).lower()
    if requirement in ("none", "optional"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE if requirement == "none" else ssl.CERT_OPTIONAL
    return context


class _Answers(asyncio.Protocol):
    """One connection: answers parsed as they come, each to the oldest waiting command."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader(replyError=ResponseError, encoding="utf-8")
        self.waiting: deque[asyncio.Future] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiting = self.waiting
        while True:
            try:
                answer = self.reader.gets()
            except (hiredis.ProtocolError, UnicodeDecodeError) as error:
                # Not Redis speaking: nothing after this point can be matched to a command.
                assert self.transport is not None
                self.transport.close()
                self.connection_lost(error)
                return
            if answer is False:
                return
            future = waiting.popleft()
            if future.done():  # its caller was cancelled; the answer is still consumed
                continue
            if isinstance(answer, ResponseError):
                future.set_exception(NoScriptError(str(answer))
                                     if str(answer).startswith("NOSCRIPT") else answer)
            else:
                future.set_result(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.lost is not None:
            return
        self.lost = RedisConnectionError(f"connection to Redis lost: {exc or 'closed'}")
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(self.lost)

    def send(self, data: bytes, count: int) -> list[asyncio.Future]:
        """Write `count` commands (already packed, together in `data`); a future each."""
        if self.lost is not None or self.transport is None:
            raise self.lost or RedisConnectionError("not connected to Redis")
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in range(count)]
        self.waiting.extend(futures)
        self.transport.write(data)
        return futures


class LeanRedis:
    """Commands to the Redis at `url` on one connection of the running event loop, opened on
    first use and again after it drops. Answers are decoded as UTF-8 (as the runtime's
    clients, `decode_responses=True`)."""

    def __init__(self, url: str) -> None:
        self.options = parse_url(url)
        self._answers: _Answers | None = None
        self._connecting: asyncio.Future[_Answers] | None = None
        self._scripts: dict[str, LeanScript] = {}

    async def execute(self, *args: Arg) -> Any:
        answers = self._answers
        if answers is None or answers.lost is not None:
            answers = await self._connected()
        (future,) = answers.send(pack_command(args), 1)
        return await future

    async def execute_many(self, commands: Sequence[Sequence[Arg]],
                           raise_on_error: bool = True) -> list[Any]:
        """Several commands in one write (a pipeline, not a transaction); their answers in
        order. A command Redis refuses raises its error once all have been answered, or,
        with `raise_on_error` False, stands in the list as its answer."""
        answers = self._answers
        if answers is None or answers.lost is not None:
            answers = await self._connected()
        futures = answers.send(b"".join(map(pack_command, commands)), len(commands))
        results = await asyncio.gather(*futures, return_exceptions=True)
        for result in results:
            if raise_on_error and isinstance(result, BaseException):
                raise result
        return results

    def script(self, source: str) -> LeanScript:
        """The Lua script `source`, called by its hash (loaded again if Redis lost it)."""
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = LeanScript(self, source)
        return script

    async def _connected(self) -> _Answers:
        """A new connection; callers that come while one is opening share it (a caller
        cancelled meanwhile does not cancel it for the others)."""
        connecting = self._connecting
        if connecting is None or connecting.done():
            connecting = self._connecting = asyncio.ensure_future(self._connect())
        return await asyncio.shield(connecting)

    async def _connect(self) -> _Answers:
        loop = asyncio.get_running_loop()
        options = self.options
        try:
            if "path" in options:
                _, answers = await loop.create_unix_connection(_Answers, options["path"])
            else:
                _, answers = await loop.create_connection(
                    _Answers, options.get("host", "localhost"), options.get("port", 6379),
                    ssl=tls_context(options))
        except OSError as error:
            raise RedisConnectionError(f"cannot connect to Redis: {error}") from error
        hello: list[list[Arg]] = []
        if options.get("password"):
            hello.append(["AUTH", *([options["username"]] if options.get("username") else []),
                          options["password"]])
        if options.get("db"):
            hello.append(["SELECT", options["db"]])
        if hello:
            futures = answers.send(b"".join(map(pack_command, hello)), len(hello))
            try:
                await asyncio.gather(*futures)
            except BaseException:
                assert answers.transport is not None
                answers.transport.close()
                raise
        self._answers = answers
        return answers

    async def aclose(self) -> None:
        answers, self._answers = self._answers, None
        if answers is not None and answers.transport is not None:
            answers.transport.close()


class LeanScript:
    """A Lua script on a `LeanRedis`, called as redis-py's `AsyncScript` is:
    `await script(keys=[...], args=[...])`."""

    def __init__(self, client: LeanRedis, source: str) -> None:
        self.client = client
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, keys: Sequence[Arg] = (), args: Sequence[Arg] = ()) -> Any:
        try:
            return await self.client.execute("EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            # A Redis restarted or flushed: load it again, once, and call it.
            await self.client.execute("SCRIPT", "LOAD", self.source)
            return await self.client.execute("EVALSHA", self.sha, len(keys), *keys, *args)
