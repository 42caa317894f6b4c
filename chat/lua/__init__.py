"""The live rules that run inside Redis, one `.lua` file each: pairing (`find_partner.lua`,
with the queue's filing in `queue.lua`) and the live log (`append.lua`, `accept_line.lua`
with the rate limit). The loader, the clock prelude and the rate limit itself are in
`chatsite.plumbing.lua`; without a Redis URL the same files run in this process."""
from __future__ import annotations

from pathlib import Path

from chatsite.plumbing import lua

HERE = Path(__file__).resolve().parent


class LuaRedis(lua.LuaRedis):
    """A backend's Redis that finds the live scripts here (and the shared ones in plumbing)."""

    def __init__(self, url: str) -> None:
        super().__init__(url, HERE)
