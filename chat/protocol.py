"""Parsing the client's frames of the live socket (PROTOCOL.md section 2).

`parse_frame` turns raw text into a validated dict or raises `FrameError` carrying the error
code and detail that the client is told; nothing else happens for a refused frame.
"""
from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from chat.matching import MODES, normalise_interest, normalise_interests
from moderation.reports import NOTE_MAX_LENGTH, REASONS

LANG_MAX_LENGTH = 16
CLIENT_ID_MAX_LENGTH = 64


class FrameError(Exception):
    def __init__(self, code: str, detail: str, **extra: Any):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra

    def frame(self) -> dict[str, Any]:
        return {"type": "error", "code": self.code, "detail": self.detail, **self.extra}


def _bad(detail: str) -> FrameError:
    return FrameError("bad_frame", detail)


def _optional_str(frame: dict[str, Any], key: str, max_length: int) -> str | None:
    value = frame.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(f"{key} must be a string")
    if len(value) > max_length:
        raise _bad(f"{key} is longer than {max_length} characters")
    return value


def _parse_find(frame: dict[str, Any]) -> dict[str, Any]:
    mode = frame.get("mode", "text")
    if mode not in MODES:
        raise _bad(f"mode must be one of {', '.join(MODES)}")
    interests = frame.get("interests")
    interests = [] if interests is None else interests
    if not isinstance(interests, list) or not all(isinstance(t, str) for t in interests):
        raise _bad("interests must be a list of strings")
    if len(interests) > settings.MAX_INTERESTS:
        raise _bad(f"at most {settings.MAX_INTERESTS} interests")
    # The limit holds for the tag as it is matched: NFKC can make a tag longer.
    if not all(1 <= len(normalise_interest(tag)) <= settings.MAX_INTEREST_LENGTH
               for tag in interests):
        raise _bad(f"each interest is 1 to {settings.MAX_INTEREST_LENGTH} characters")
    lang = _optional_str(frame, "lang", LANG_MAX_LENGTH)
    lang = lang.strip().lower() or None if lang else None
    return {"type": "find", "mode": mode, "interests": normalise_interests(interests),
            "lang": lang}


def _parse_message(frame: dict[str, Any]) -> dict[str, Any]:
    text = frame.get("text")
    if not isinstance(text, str):
        raise _bad("text must be a string")
    client_id = frame.get("client_id")
    if client_id is not None and not isinstance(client_id, (str, int)):
        raise _bad("client_id must be a string")
    client_id = None if client_id is None else str(client_id)
    if client_id is not None and len(client_id) > CLIENT_ID_MAX_LENGTH:
        raise _bad(f"client_id is longer than {CLIENT_ID_MAX_LENGTH} characters")
    text = text.strip()
    if not text:
        raise _bad("text is empty")
    if len(text) > settings.MESSAGE_MAX_LENGTH:
        raise FrameError("too_long", f"a line is at most {settings.MESSAGE_MAX_LENGTH} characters")
    return {"type": "message", "text": text, "client_id": client_id}


def _parse_typing(frame: dict[str, Any]) -> dict[str, Any]:
    active = frame.get("active", True)
    if not isinstance(active, bool):
        raise _bad("active must be true or false")
    return {"type": "typing", "active": active}


def _parse_signal(frame: dict[str, Any]) -> dict[str, Any]:
    data = frame.get("data")
    if not isinstance(data, dict):
        raise _bad("data must be an object")
    size = len(json.dumps(data, separators=(",", ":")).encode())
    if size > settings.SIGNAL_MAX_BYTES:
        raise FrameError("too_long", f"a signal is at most {settings.SIGNAL_MAX_BYTES} bytes")
    return {"type": "signal", "data": data}


def _parse_report(frame: dict[str, Any]) -> dict[str, Any]:
    reason = frame.get("reason")
    if reason not in REASONS:
        raise _bad(f"reason must be one of {', '.join(sorted(REASONS))}")
    note = _optional_str(frame, "note", NOTE_MAX_LENGTH) or ""
    return {"type": "report", "reason": reason, "note": note.strip()}


def _parse_resume(frame: dict[str, Any]) -> dict[str, Any]:
    conversation = frame.get("conversation")
    if not isinstance(conversation, str) or not conversation:
        raise _bad("conversation must be a string")
    after = frame.get("after")
    if after is not None and not isinstance(after, str):
        raise _bad("after must be a message id or null")
    return {"type": "resume", "conversation": conversation, "after": after}


def _bare(frame: dict[str, Any]) -> dict[str, Any]:
    return {"type": frame["type"]}


PARSERS = {
    "find": _parse_find,
    "cancel": _bare,
    "message": _parse_message,
    "typing": _parse_typing,
    "signal": _parse_signal,
    "leave": _bare,
    "report": _parse_report,
    "block": _bare,
    "ping": _bare,
    "resume": _parse_resume,
}


def parse_frame(raw: str | None) -> dict[str, Any]:
    if raw is None:
        raise _bad("frames are JSON text")
    try:
        frame = json.loads(raw)
    except ValueError:
        raise _bad("not JSON") from None
    if not isinstance(frame, dict):
        raise _bad("a frame is a JSON object")
    kind = frame.get("type")
    parser = PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise _bad(f"unknown frame type {kind!r}")
    return parser(frame)
