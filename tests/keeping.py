"""Helpers for the keeping-in-touch tests: full accounts, their sessions, contacts."""
from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from chat.contacts import services

_numbers = itertools.count(1)


def full_user(prefix: str = "Friend", **fields: Any) -> User:
    """A full account that accepted the community rules, as signup leaves it."""
    return User.objects.create_user(
        username=f"{prefix}{next(_numbers)}{uuid.uuid4().hex[:4]}", password="x-pass-123",
        rules_accepted_at=timezone.now(), adult_confirmed_at=timezone.now(), **fields)


def session_of(user: User) -> str:
    """A session cookie for `user` that any server process on the test database accepts."""
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def contacts(a: User, b: User) -> str:
    """Make the two contacts; the contact id."""
    return str(services.connect(a.pk, b.pk).pk)


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    """Run the consumer test on the embedded default, then on the real Redis."""
    if request.param == "redis":
        request.getfixturevalue("redis_live")
    return request.param
