"""The analysis queue's scripts, one `.lua` file each: `enqueue.lua` (a flush pushes its lines,
trims and expires the queue) and `dequeue.lua` (a drained batch leaves it). They are loaded
and registered once per client by `chatsite.plumbing.lua` (with its clock prelude), like the
live rules in `chat/lua/`."""
from __future__ import annotations

from pathlib import Path

from chatsite.plumbing import lua
from chatsite.plumbing.runtime import runtime

HERE = Path(__file__).resolve().parent


def scripts(url: str) -> lua.LuaRedis:
    """The process's one `LuaRedis` for `url` that finds the analysis scripts here."""
    return runtime().part(f"analysis.lua:{url}", lambda: lua.LuaRedis(url, HERE))
