"""The address a request came from, for per-address limits such as guest creation."""
from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    return address_from(request.META.get("REMOTE_ADDR", ""),
                        request.META.get("HTTP_X_FORWARDED_FOR", ""))


def socket_address(scope: dict) -> str:
    """`client_address` for a Channels scope (the live socket)."""
    client = scope.get("client") or ("", 0)
    headers = dict(scope.get("headers") or [])
    return address_from(client[0], headers.get(b"x-forwarded-for", b"").decode("latin-1"))


def address_from(remote: str, forwarded_for: str) -> str:
    """The connecting address, or with TRUSTED_PROXY_COUNT proxies in front, the address the
    outermost trusted proxy saw. Entries left of that one are whatever the client sent, so
    they are never used: a client cannot choose its own address by sending the header."""
    remote = remote or "unknown"
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return remote
    forwarded = [part.strip() for part in forwarded_for.split(",") if part.strip()]
    if not forwarded:
        return remote
    return forwarded[-min(trusted, len(forwarded))]
