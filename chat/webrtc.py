"""WebRTC configuration for voice and video: ICE servers with short-lived TURN credentials,
and the candidate filter that keeps a relay-only deployment from leaking addresses."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from typing import Any

from django.conf import settings

_CANDIDATE_TYPE = re.compile(r"\btyp\s+(\w+)")
# An SDP line with its own ending: parsers accept CRLF, bare LF and mixes of the two, and the
# filter keeps whatever ending each line had.
_SDP_LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r|$)")


def turn_credentials(user_id: int, now: float | None = None) -> tuple[str, str]:
    """The TURN REST scheme coturn checks with `use-auth-secret`: the username carries its
    expiry, the credential is base64(HMAC-SHA1(secret, username))."""
    expiry = int((now if now is not None else time.time()) + settings.TURN_TTL_SECONDS)
    username = f"{expiry}:{user_id}"
    digest = hmac.new(settings.TURN_SECRET.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def relay_only() -> bool:
    return bool(settings.TURN_URLS) and settings.WEBRTC_RELAY_ONLY


def ice_servers(user_id: int, mode: str) -> list[dict[str, Any]]:
    """The RTCIceServer list for one user's call; empty for text."""
    if mode == "text":
        return []
    servers: list[dict[str, Any]] = []
    if settings.STUN_URLS and not relay_only():
        servers.append({"urls": settings.STUN_URLS})
    if settings.TURN_URLS and settings.TURN_SECRET:
        username, credential = turn_credentials(user_id)
        servers.append({"urls": settings.TURN_URLS, "username": username,
                        "credential": credential})
    return servers


def is_relay_candidate(candidate_line: str) -> bool:
    match = _CANDIDATE_TYPE.search(candidate_line)
    return bool(match) and match.group(1) == "relay"


def filter_signal(data: dict[str, Any]) -> dict[str, Any] | None:
    """The signal as the partner may see it, or None when nothing of it may be relayed.

    Only in a relay-only deployment: non-relay candidates are dropped, also from the
    `a=candidate` lines of an SDP, so that a modified client cannot leak its address."""
    if not relay_only():
        return data
    candidate = data.get("candidate")
    if isinstance(candidate, dict):
        line = candidate.get("candidate")
        if isinstance(line, str) and line and not is_relay_candidate(line):
            return None
    description = data.get("description")
    if isinstance(description, dict) and isinstance(description.get("sdp"), str):
        sdp = without_foreign_candidates(description["sdp"])
        if sdp != description["sdp"]:
            data = {**data, "description": {**description, "sdp": sdp}}
    return data


def without_foreign_candidates(sdp: str) -> str:
    """The SDP without its `a=candidate` lines that are not relay candidates, each kept line
    with the line ending it had."""
    lines = _SDP_LINE.findall(sdp)
    return "".join(line for line in lines if not line.lstrip().startswith("a=candidate:")
                   or is_relay_candidate(line))
