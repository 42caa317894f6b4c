"""Every page carries a Content-Security-Policy that allows no inline script."""
from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/chat/", "/history/", "/account/settings/", "/rules/",
                                  "/terms/", "/privacy/", "/admin/", "/accounts/login/"])
def test_pages_forbid_inline_script(path: str) -> None:
    client = Client()
    client.force_login(User.objects.create_user(username="Viewer1", password="viewer-pass-1",
                                                is_staff=True))
    response = client.get(path, follow=True)
    policy = response.headers["Content-Security-Policy"]
    script = re.search(r"script-src ([^;]*)", policy).group(1).split()
    assert script == ["'self'"]
    assert "style-src-attr 'none'" in policy and "object-src 'none'" in policy
    body = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", body), path
    assert not re.search(r"\son[a-z]+=\"", body), path
