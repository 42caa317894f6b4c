"""The HTTP doors a ban shuts: guest creation, signup, login and claim.

Each door calls `refusal` (moderation.bans.door_refusal with the request's address and ban
marker) and answers a refused request with `refused_response`, which also gives the browser
the marker. Signup and login are allauth's, reached through `AccountAdapter`
(ACCOUNT_ADAPTER); the socket's door is in chat.consumers.
"""
from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.addresses import client_address
from moderation.bans import BAN_MARKER_COOKIE, active_ban, door_refusal, marker_morsel
from moderation.models import Ban


def refusal(request: HttpRequest, user: Any = None) -> Ban | None:
    """The ban that shuts the door to `user` (None: an account about to be made)."""
    return door_refusal(getattr(user, "pk", None), getattr(user, "date_joined", None),
                        client_address(request), request.COOKIES.get(BAN_MARKER_COOKIE))


def give_marker(response: HttpResponse, ban: Ban) -> HttpResponse:
    response.cookies[BAN_MARKER_COOKIE] = marker_morsel(ban)
    return response


def refused_response(request: HttpRequest, ban: Ban, own: bool) -> HttpResponse:
    """403 with the reason; `own`: the ban is on this very account (its end is shown)."""
    response = render(request, "accounts/guest_refused.html", {"ban": ban if own else None},
                      status=403)
    return give_marker(response, ban)


class AccountAdapter(DefaultAccountAdapter):
    """allauth's signup and login, behind the same ban check as every other door."""

    def door_response(self, request: HttpRequest, user: Any = None) -> HttpResponse | None:
        """The refusal for a door of the accounts app (guest sign-up, claim), or None when
        it is open: accounts reaches this check through allauth's adapter (ACCOUNT_ADAPTER),
        not by importing moderation."""
        ban = refusal(request, user)
        if ban is None:
            return None
        return refused_response(request, ban, own=user is not None and ban.user_id == user.pk)

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        ban = refusal(request)
        if ban is not None:
            raise ImmediateHttpResponse(refused_response(request, ban, own=False))
        return super().is_open_for_signup(request)

    def pre_login(self, request: HttpRequest, user: Any, **kwargs: Any) -> HttpResponse | None:
        ban = refusal(request, user)
        # The banned account itself may still sign in, to read the decision and appeal it
        # (its socket stays shut); an account made to get around a ban may not.
        if ban is not None and ban.user_id != user.pk:
            return refused_response(request, ban, own=False)
        return super().pre_login(request, user, **kwargs)

    def post_login(self, request: HttpRequest, user: Any, **kwargs: Any) -> HttpResponse:
        response = super().post_login(request, user, **kwargs)
        ban = active_ban(user.pk)
        return give_marker(response, ban) if ban is not None else response
