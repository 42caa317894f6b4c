"""Staying honest while the database is down: pages answer 503 with a friendly page, and new
sockets are refused with 1013 (try again later) instead of failing half-way."""
from collections.abc import Callable
from typing import Any

from channels.auth import AuthMiddleware
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
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
