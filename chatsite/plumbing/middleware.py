"""Staying honest while the database is down: pages answer 503 with a friendly page, and new
sockets are refused with 1013 (try again later) instead of failing half-way. And the socket's
Origin check, which compares scheme, host and port."""
from collections.abc import Callable
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from channels.auth import AuthMiddleware
from channels.security.websocket import WebsocketDenier
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.http.request import validate_host
from django.shortcuts import render


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DatabaseError) and request.path != "/healthz":
            response = render(request, "503.html", status=503)
            response["Retry-After"] = "10"
            return response
        return None


class SocketAuthMiddleware(AuthMiddleware):
    """Channels' session authentication, which marks the scope instead of failing when the
    database cannot be reached."""

    async def resolve_scope(self, scope: dict[str, Any]) -> None:
        try:
            await super().resolve_scope(scope)
        except DatabaseError:
            scope["user"]._wrapped = AnonymousUser()
            scope["database_unavailable"] = True


def socket_auth_stack(inner: Any) -> Any:
    return CookieMiddleware(SessionMiddleware(SocketAuthMiddleware(inner)))


DEFAULT_PORTS = MappingProxyType({"http": 80, "https": 443})
Origin = tuple[str, str, int]


def parse_origin(text: str) -> Origin | None:
    """(scheme, host, port) of an http(s) origin, the port filled in; None for anything else."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in DEFAULT_PORTS or not host or parts.path not in ("", "/"):
        return None
    return scheme, host.lower(), port or DEFAULT_PORTS[scheme]


def site_scheme(scope: dict[str, Any]) -> str:
    # daphne gives a socket's scope no scheme; behind TLS the session cookie is secure.
    if scope.get("scheme") in ("wss", "https"):
        return "https"
    if scope.get("scheme") in ("ws", "http"):
        return "http"
    return "https" if settings.SESSION_COOKIE_SECURE else "http"


def origin_allowed(scope: dict[str, Any]) -> bool:
    """The page's own origin (the scheme the site is served on, the Host header's host and
    port, a host in ALLOWED_HOSTS), or one listed in CSRF_TRUSTED_ORIGINS exactly."""
    headers = {name: value.decode("latin-1") for name, value in scope.get("headers", [])}
    origin = parse_origin(headers.get(b"origin", ""))
    if origin is None:
        return False
    if origin in {parse_origin(trusted) for trusted in settings.CSRF_TRUSTED_ORIGINS}:
        return True
    own = parse_origin(f"{site_scheme(scope)}://{headers.get(b'host', '')}")
    host = f"[{origin[1]}]" if ":" in origin[1] else origin[1]
    return origin == own and validate_host(host, settings.ALLOWED_HOSTS)


class SameOriginValidator:
    """Refuses the handshake of a socket opened from any other origin."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.inner(scope, receive, send)
