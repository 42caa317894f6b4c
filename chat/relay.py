"""Lines of a live conversation: one order for both sides, each line delivered once.

Every accepted line gets the next number of its conversation's sequence (see
`chat.store.LiveStore.append_line`). Each side hands its socket the lines strictly in that
order: a line that arrives early waits in `OrderedDelivery` until the ones before it have been
delivered, and a gap that does not close by itself is filled from the conversation's log.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson


def to_json(value: Any) -> str:
    """JSON text of a frame or a logged line, made once per use: orjson (a twentieth of the
    json module's time, UTF-8 unescaped); the json module, escaping to ASCII, only for what
    orjson refuses, such as a lone surrogate, which no UTF-8 encoder would take either."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"))


def message_id(conversation_id: str, seq: int) -> str:
    return f"{conversation_id}.{seq}"


def seq_of(message_id_: str | None, conversation_id: str) -> int | None:
    """The sequence number inside a message id of this conversation, else None."""
    if not message_id_:
        return 0
    conversation, _, seq = message_id_.rpartition(".")
    if conversation != conversation_id or not seq.isdigit():
        return None
    return int(seq)


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message_frame(conversation_id: str, line: dict[str, Any], viewer_id: int) -> dict[str, Any]:
    """A logged line as one side sees it."""
    mine = line["sender"] == viewer_id
    return {
        "type": "message",
        "id": message_id(conversation_id, line["seq"]),
        "client_id": line.get("client_id") if mine else None,
        "from": "me" if mine else "partner",
        "text": line["text"],
        "ts": line["ts"],
        "filtered": line.get("filtered", False),
    }


class OrderedDelivery:
    """Releases lines in sequence order, each exactly once."""

    def __init__(self, delivered: int = 0) -> None:
        self.delivered = delivered
        self.early: dict[int, dict[str, Any]] = {}

    def push(self, line: dict[str, Any]) -> list[dict[str, Any]]:
        seq = line["seq"]
        if seq > self.delivered:
            self.early.setdefault(seq, line)
        ready = []
        while self.delivered + 1 in self.early:
            self.delivered += 1
            ready.append(self.early.pop(self.delivered))
        return ready

    @property
    def has_gap(self) -> bool:
        return bool(self.early)

    def skip_gap(self) -> list[dict[str, Any]]:
        """Give up on missing lines that can no longer be had, and release what waits."""
        if not self.early:
            return []
        self.delivered = min(self.early) - 1
        return self.push(self.early.pop(self.delivered + 1))
