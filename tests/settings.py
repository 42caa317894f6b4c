"""The site's settings for every process of the test suite: the pytest workers and the daphne,
Celery and benchmark processes they start (they inherit DJANGO_SETTINGS_MODULE).

One difference from `chatsite.settings`: passwords are hashed with one PBKDF2 round instead of
Django's million. A million rounds cost about half a second of CPU for every account made
with a password (each guest too) and every login, and the suite makes hundreds of them on two
cores; no test is about the cost of a guess. The algorithm, the hash format and every check
stay Django's own (a deployment's hasher would accept these hashes and upgrade them).
"""
from __future__ import annotations

from django.conf import global_settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from chatsite.settings import *  # noqa: F403 - the site's settings, all of them


class OneRoundPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1


PASSWORD_HASHERS = ["tests.settings.OneRoundPBKDF2PasswordHasher",
                    *global_settings.PASSWORD_HASHERS]
