"""Parsing the client's frames of the live socket (PROTOCOL.md section 2).

`parse_frame` turns raw text into a validated dict or raises `FrameError` carrying the error
code and detail that the client is told; nothing else happens for a refused frame. It never
raises anything else, whatever the text: the size is checked before parsing, orjson parses
without recursion, the nesting depth is measured without recursion, and C0 control
characters other than tab, newline and carriage return are removed before parsing
(docs/protocol-extensions.md, "Hostile input").
"""
from __future__ import annotations

import re
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import orjson
from django.conf import settings

from chat.matching import MODES, normalise_interest, normalise_interests
from moderation.filtering.filters import name_problem
from moderation.reports import NOTE_MAX_LENGTH, REASONS

LANG_MAX_LENGTH = 16
CLIENT_ID_MAX_LENGTH = 64
ID_MAX_LENGTH = 64  # contact and invitation ids (UUIDs)
DESCRIPTION_TYPES = ("offer", "answer")

# A C0 control character written as a JSON escape (`\u0000`..`\u001f`, `\b`, `\f`) and not
# itself escaped; tab, newline and carriage return stay (an SDP's lines end with CRLF).
# Unescaped control characters are not valid JSON, so these escapes are the only way in.
_C0_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\(?:u00(?:0[0-8bBcCeEfF]|1[0-9a-fA-F])|[bf])")


def iso_utc(moment: datetime | None) -> str | None:
    """The contract's time format (as in message frames): milliseconds, `Z`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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


def _mode(frame: dict[str, Any]) -> str:
    """A conversation's mode, `text` when left out (find and invite alike)."""
    mode = frame.get("mode", "text")
    if mode not in MODES:
        raise _bad(f"mode must be one of {', '.join(MODES)}")
    return mode


def _parse_find(frame: dict[str, Any]) -> dict[str, Any]:
    mode = _mode(frame)
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
    # The same word lists as lines and handles; refused rather than dropped, so that the
    # person sees why (docs/protocol-extensions.md, "Interests through the filter").
    for position, tag in enumerate(interests, start=1):
        if name_problem(tag, reserved=False):
            raise _bad(f"interest {position} may not contain offensive words")
    lang = _language(frame, "lang")
    practice = _language(frame, "practice")
    if practice and not lang:
        raise _bad("practice needs lang: the language you speak")
    # Practising the language one speaks is simply speaking it (docs/protocol-extensions.md).
    practice = None if practice == lang else practice
    # `queue` frames only for a client that asks: strict clients stop at unknown frames.
    queue_status = frame.get("queue_status", False)
    if not isinstance(queue_status, bool):
        raise _bad("queue_status must be true or false")
    return {"type": "find", "mode": mode, "interests": normalise_interests(interests),
            "lang": lang, "practice": practice, "queue_status": queue_status}


def _language(frame: dict[str, Any], key: str) -> str | None:
    value = _optional_str(frame, key, LANG_MAX_LENGTH)
    return value.strip().lower() or None if value else None


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


def _signal_description(description: Any) -> dict[str, Any]:
    if not isinstance(description, dict) or description.get("type") not in DESCRIPTION_TYPES:
        raise _bad("data.description must be an offer or an answer")
    sdp = description.get("sdp")
    if not isinstance(sdp, str):
        raise _bad("data.description.sdp must be a string")
    return {"type": description["type"], "sdp": sdp}


def _signal_candidate(candidate: Any) -> dict[str, Any] | None:
    if candidate is None:
        return None  # the end of gathering
    if not isinstance(candidate, dict) or not isinstance(candidate.get("candidate"), str):
        raise _bad("data.candidate must be a candidate object or null")
    kept: dict[str, Any] = {"candidate": candidate["candidate"]}
    for key, kind in (("sdpMid", str), ("sdpMLineIndex", int), ("usernameFragment", str)):
        value = candidate.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise _bad(f"data.candidate.{key} has the wrong type")
        if key in candidate:
            kept[key] = value
    return kept


def _parse_signal(frame: dict[str, Any]) -> dict[str, Any]:
    """Only the contract's shapes pass, rebuilt from their known fields."""
    data = frame.get("data")
    if not isinstance(data, dict) or len(data) != 1:
        raise _bad("data must be {description: ...} or {candidate: ...}")
    if "description" in data:
        data = {"description": _signal_description(data["description"])}
    elif "candidate" in data:
        data = {"candidate": _signal_candidate(data["candidate"])}
    else:
        raise _bad("data must be {description: ...} or {candidate: ...}")
    if len(orjson.dumps(data)) > settings.SIGNAL_MAX_BYTES:
        raise FrameError("too_long", f"a signal is at most {settings.SIGNAL_MAX_BYTES} bytes")
    return {"type": "signal", "data": data}


def _parse_media_state(frame: dict[str, Any]) -> dict[str, Any]:
    audio, video = frame.get("audio"), frame.get("video")
    if not isinstance(audio, bool) or not isinstance(video, bool):
        raise _bad("audio and video must be true or false")
    return {"type": "media_state", "audio": audio, "video": video}


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


def _required_id(frame: dict[str, Any], key: str) -> str:
    value = frame.get(key)
    if not isinstance(value, str) or not value or len(value) > ID_MAX_LENGTH:
        raise _bad(f"{key} must be an id string")
    return value


def _parse_invite(frame: dict[str, Any]) -> dict[str, Any]:
    return {"type": "invite", "contact": _required_id(frame, "contact"), "mode": _mode(frame)}


def _parse_invitation(frame: dict[str, Any]) -> dict[str, Any]:
    return {"type": frame["type"], "invitation": _required_id(frame, "invitation")}


def _bare(frame: dict[str, Any]) -> dict[str, Any]:
    return {"type": frame["type"]}


PARSERS = MappingProxyType({
    "find": _parse_find,
    "cancel": _bare,
    "message": _parse_message,
    "typing": _parse_typing,
    "signal": _parse_signal,
    "media_state": _parse_media_state,
    "leave": _bare,
    "report": _parse_report,
    "block": _bare,
    "ping": _bare,
    "resume": _parse_resume,
    # Section 5, handled by chat.live.contacts.
    "keep_in_touch": _bare,
    "invite": _parse_invite,
    "accept": _parse_invitation,
    "decline": _parse_invitation,
    "cancel_invite": _parse_invitation,
})


def too_big(raw: str) -> bool:
    limit = settings.FRAME_MAX_BYTES
    # A character is 1 to 4 bytes: most frames are decided without encoding them.
    if len(raw) > limit:
        return True
    return len(raw) * 4 > limit and len(raw.encode("utf-8", "surrogatepass")) > limit


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest deeper than `limit` (the frame itself is depth 1); a loop
    over a stack, so that no depth can exhaust Python's recursion."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False


def parse_frame(raw: str | None) -> dict[str, Any]:
    if raw is None:
        raise _bad("frames are JSON text")
    if too_big(raw):
        raise FrameError("too_long", f"a frame is at most {settings.FRAME_MAX_BYTES} bytes")
    try:
        frame = orjson.loads(_C0_ESCAPE.sub(r"\1", raw))
    except orjson.JSONDecodeError:
        raise _bad("not JSON") from None
    if not isinstance(frame, dict):
        raise _bad("a frame is a JSON object")
    if nested_deeper_than(frame, settings.FRAME_MAX_DEPTH):
        raise _bad(f"a frame nests at most {settings.FRAME_MAX_DEPTH} levels deep")
    kind = frame.get("type")
    parser = PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise _bad(f"unknown frame type {kind!r}")
    return parser(frame)
