"""All settings, read from the environment.

With nothing set the site runs on an embedded default (SQLite, an in-memory channel layer,
in-process matching, Celery tasks run eagerly) so that `make run` works on a bare machine.
`REDIS_URL` moves everything that several processes must share into Redis; `DATABASE_URL`
selects the database (PostgreSQL in deployment).
"""
import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
env = os.environ


def env_bool(name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env.get(name, default).split(",") if item.strip()]


def redis_channel_layer(redis_url: str) -> dict:
    """The pub/sub channel layer on `redis_url`. Pub/sub channels are shared by every
    database of one Redis server, so the prefix names the database: two sites (or two test
    runs) on one server, each in its own database, never hear each other's events."""
    database = urlparse(redis_url).path.lstrip("/") or "0"
    return {
        "BACKEND": "chatsite.plumbing.layers.ProcessPubSubLayer",
        # redis-py's own socket timeout would kill idle consumers; keep reads blocking.
        "CONFIG": {"hosts": [{"address": redis_url, "socket_timeout": None}],
                   "prefix": f"asgi{database}",
                   "publish_buffer": env_int("CHANNEL_PUBLISH_BUFFER", 10_000)},
    }


def _local_secret_key() -> str:
    # A newcomer has no SECRET_KEY; keep one per checkout so that sessions survive restarts
    # and several local processes agree on it. Deployments set SECRET_KEY.
    path = BASE_DIR / ".secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.get("SECRET_KEY") or _local_secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
REDIS_URL = env.get("REDIS_URL", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "allauth",
    "allauth.account",
    "accounts",
    "chat",
    "chat.contacts.apps.ContactsConfig",
    "moderation",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.staff.StaffSecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "chatsite.plumbing.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: it turns a lock-out into its response.
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy on every response: scripts only from the site's own files (no inline
# script or on* handler anywhere), no style attributes in markup. Inline <style> elements stay
# allowed for the admin's templated charts and the self-contained HTML export. 'self' covers
# the socket's ws:/wss: URL; call video comes from MediaStreams, not URLs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "style-src-attr": ["'none'"],
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

ROOT_URLCONF = "chatsite.urls"
ASGI_APPLICATION = "chatsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        # Kept: without it the first query after PostgreSQL restarts fails on every idle
        # persistent connection (20 of 20 tries, bench/db_health_check.py).
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend whose connection check before reuse polls the socket instead of a
    # `SELECT 1` round trip (chatsite.plumbing.postgresql.base has the measurements' why).
    DATABASES["default"]["ENGINE"] = "chatsite.plumbing.postgresql"
    # Fail fast while PostgreSQL is unreachable instead of hanging requests and sockets.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int(
        "DATABASE_CONNECT_TIMEOUT", 3)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out handle and address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
# Lock-out after repeated failed logins on /accounts/login/ and /admin/login/ (django-axes,
# accounts.staff): LOGIN_FAILURE_LIMIT failures from one address for one handle lock that pair
# out for LOGIN_LOCKOUT_MINUTES. Counted in the database, so every process sees them.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "accounts.staff.axes_client_address"
# Only failures are recorded (they are the lock-out); successful logins leave no address.
AXES_DISABLE_ACCESS_LOG = True
AXES_USERNAME_CALLABLE = "accounts.staff.axes_username"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
# A second factor (TOTP, accounts.staff) for /admin/: required of every staff account when
# true; otherwise only of staff who enrolled a device on /account/2fa/.
STAFF_REQUIRE_2FA = env_bool("STAFF_REQUIRE_2FA", False)
OTP_TOTP_ISSUER = env.get("OTP_TOTP_ISSUER", "Strangers")
LOGIN_REDIRECT_URL = "/chat/"
LOGOUT_REDIRECT_URL = "/"

# django-allauth: usernames are the public handles; e-mail is optional; no verification mail.
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.AdultSignupForm"
# Signup and login pass the same ban check as every other door (moderation.doors).
ACCOUNT_ADAPTER = "moderation.doors.AccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
# Handles (usernames) are checked by accounts.handles.HandleValidator with these limits.
HANDLE_MIN_LENGTH = env_int("HANDLE_MIN_LENGTH", 3)
HANDLE_MAX_LENGTH = min(env_int("HANDLE_MAX_LENGTH", 30), 150)  # the column holds 150
ACCOUNT_USERNAME_MIN_LENGTH = HANDLE_MIN_LENGTH
# Characters and length (accounts.handles), then words and staff-like names (moderation).
ACCOUNT_USERNAME_VALIDATORS = "moderation.filtering.filters.HANDLE_VALIDATORS"
HANDLE_RESERVED_NAMES = env_list(
    "HANDLE_RESERVED_NAMES",
    "admin,administrator,moderator,mod,mods,support,system,official,staff,root,sysop,"
    "helpdesk,operator,strangers")
ACCOUNT_PREVENT_ENUMERATION = True
EMAIL_BACKEND = env.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve static files straight from the app directories, so no collectstatic step is needed.
WHITENOISE_USE_FINDERS = True
# Files edited while the server runs are served fresh only when this is on.
WHITENOISE_AUTOREFRESH = env_bool("WHITENOISE_AUTOREFRESH", DEBUG)

if REDIS_URL:
    CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL)}
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": env_int("CHANNEL_CAPACITY", 1000)},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env.get("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_TASK_ALWAYS_EAGER = not (REDIS_URL or env.get("CELERY_BROKER_URL"))
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"

# Chat limits; each one is a setting so that load tests can raise it.
MESSAGE_MAX_LENGTH = env_int("MESSAGE_MAX_LENGTH", 2000)
MESSAGE_RATE_LIMIT = env.get("MESSAGE_RATE_LIMIT", "20/10s")
RATE_LIMIT_STRIKES = env_int("RATE_LIMIT_STRIKES", 10)
FRAME_RATE_LIMIT = env.get("FRAME_RATE_LIMIT", "60/10s")
GUEST_RATE_LIMIT = env.get("GUEST_RATE_LIMIT", "10/m")
# How many reverse proxies stand in front of daphne and append to X-Forwarded-For. 0 (the
# default) trusts no header and counts guests per connecting address; with N, the client is
# the Nth address from the right of X-Forwarded-For (earlier ones can be forged).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# Guest accounts not seen for this many days are deleted (accounts.tasks.purge_idle_guests).
GUEST_RETENTION_DAYS = env_int("GUEST_RETENTION_DAYS", 30)
REPORT_RATE_LIMIT = env.get("REPORT_RATE_LIMIT", "10/h")
# Moderation: the preset durations moderators pick from (m, h, d), and how long a ban refuses
# new accounts (guest, signup) from the address the banned account last signed in from (only
# a keyed hash of it is kept, in the cache, for that long; 0 turns the address part off).
BAN_DURATIONS = env_list("BAN_DURATIONS", "1h,24h,7d,30d")
MUTE_DURATIONS = env_list("MUTE_DURATIONS", "1h,24h,7d")
BAN_ADDRESS_HOURS = env_int("BAN_ADDRESS_HOURS", 24)
# A refused browser carries a signed marker naming the banned account for this long; accounts
# made after the ban from that browser are refused while the ban is in force.
BAN_MARKER_DAYS = env_int("BAN_MARKER_DAYS", 365)
MAX_SOCKETS_PER_ADDRESS = env_int("MAX_SOCKETS_PER_ADDRESS", 20)
MATCH_INTEREST_WAIT_SECONDS = env_int("MATCH_INTEREST_WAIT_SECONDS", 10)
MATCH_LEASE_SECONDS = env_int("MATCH_LEASE_SECONDS", 15)
# Matching at scale: each decision looks at this many waiting users per language list (a
# renewal moves the window); two who just left each other meet again after LAST_PARTNER_SECONDS;
# a searching socket is told how many others search in its mode every QUEUE_STATUS_SECONDS.
MATCH_SCAN_WINDOW = env_int("MATCH_SCAN_WINDOW", 100)
LAST_PARTNER_SECONDS = env_int("LAST_PARTNER_SECONDS", 60)
QUEUE_STATUS_SECONDS = env_int("QUEUE_STATUS_SECONDS", 5)
RECONNECT_GRACE_SECONDS = env_int("RECONNECT_GRACE_SECONDS", 15)
CONVERSATION_LOG_LINES = env_int("CONVERSATION_LOG_LINES", 500)
# Keeping in touch (protocol section 5): how long after a conversation ended either side may
# still press "Keep in touch"; how long an invitation waits for its answer; invitations a
# user may send.
KEEP_IN_TOUCH_WINDOW_SECONDS = env_int("KEEP_IN_TOUCH_WINDOW_SECONDS", 600)
INVITE_TIMEOUT_SECONDS = env_int("INVITE_TIMEOUT_SECONDS", 60)
INVITE_RATE_LIMIT = env.get("INVITE_RATE_LIMIT", "10/m")
MAX_INTERESTS = 10
MAX_INTEREST_LENGTH = 30
SIGNAL_MAX_BYTES = 64 * 1024
# Hostile input on the live socket (docs/protocol-extensions.md, "Hostile input"): a frame
# larger than FRAME_MAX_BYTES is refused before it is parsed (daphne itself drops a socket
# whose message exceeds 1 MiB), one nested deeper than FRAME_MAX_DEPTH is refused, and a
# socket whose client does not read is closed once the server holds SEND_BUFFER_MAX_BYTES for it.
FRAME_MAX_BYTES = env_int("FRAME_MAX_BYTES", 128 * 1024)
FRAME_MAX_DEPTH = env_int("FRAME_MAX_DEPTH", 8)
SEND_BUFFER_MAX_BYTES = env_int("SEND_BUFFER_MAX_BYTES", 1024 * 1024)

# The inline filter (moderation.filtering.filters): contact details are masked unless a deployment
# turns it off; links only where a deployment asks for it.
FILTER_MASK_CONTACTS = env_bool("FILTER_MASK_CONTACTS", True)
FILTER_MASK_URLS = env_bool("FILTER_MASK_URLS", False)
# The classifier's analysis of relayed lines (moderation.analysis): a line counts towards its
# sender's score in a conversation when the classifier gives it at least
# ANALYSIS_LINE_MIN_SCORE; a sum of ANALYSIS_REPORT_THRESHOLD files an automatic report.
ANALYSIS_ENABLED = env_bool("ANALYSIS_ENABLED", True)
ANALYSIS_BATCH_SIZE = env_int("ANALYSIS_BATCH_SIZE", 200)
ANALYSIS_LINE_MIN_SCORE = float(env.get("ANALYSIS_LINE_MIN_SCORE") or 0.5)
ANALYSIS_REPORT_THRESHOLD = float(env.get("ANALYSIS_REPORT_THRESHOLD") or 3.0)
ANALYSIS_PENDING_MAX = env_int("ANALYSIS_PENDING_MAX", 100_000)
ANALYSIS_DRAIN_SECONDS = float(env.get("ANALYSIS_DRAIN_SECONDS") or 1.0)
ANALYSIS_TRIGGER_MS = env_int("ANALYSIS_TRIGGER_MS", 500)
ANALYSIS_FLUSH_MS = env_int("ANALYSIS_FLUSH_MS", 50)
ANALYSIS_ENQUEUE_TIMEOUT_MS = env_int("ANALYSIS_ENQUEUE_TIMEOUT_MS", 250)
ANALYSIS_BATCHES_PER_TASK = env_int("ANALYSIS_BATCHES_PER_TASK", 50)
# A queued line (encrypted with HISTORY_KEYS) waits at most this long for a worker; older
# ones are dropped unanalysed, and the whole queue expires this long after its last line.
ANALYSIS_PENDING_TTL_SECONDS = env_int("ANALYSIS_PENDING_TTL_SECONDS", 3600)
# The classifier's score alone files no report (profanity is not harm); with this on, a
# sender's tally reaching ANALYSIS_REPORT_THRESHOLD files one as before.
ANALYSIS_CLASSIFIER_REPORTS = env_bool("ANALYSIS_CLASSIFIER_REPORTS", False)
# Harm rules (filtering.harm): threats, doxxing, self-harm, minor safety, slurs as insults.
HARM_RULES_ENABLED = env_bool("HARM_RULES_ENABLED", True)
# Help offered (privately) to someone who says they think of hurting themselves:
# comma-separated "name|https://url" entries.
SUPPORT_RESOURCES = env_list(
    "SUPPORT_RESOURCES",
    "Find a Helpline (international)|https://findahelpline.com,"
    "Befrienders Worldwide|https://befrienders.org,"
    "IASP crisis centres|https://www.iasp.info/crisis-centres-helplines/")

# WebRTC: STUN/TURN servers for voice and video. With TURN configured, calls are relay-only
# unless WEBRTC_RELAY_ONLY=false, so that neither side learns the other's address.
STUN_URLS = env_list("STUN_URLS", "")
TURN_URLS = env_list("TURN_URLS", "")
TURN_SECRET = env.get("TURN_SECRET", "")
TURN_TTL_SECONDS = env_int("TURN_TTL_SECONDS", 3600)
WEBRTC_RELAY_ONLY = env_bool("WEBRTC_RELAY_ONLY", True)

# Opt-in history (chat.history): line text is encrypted with HISTORY_KEYS, a comma-separated
# list of Fernet keys, newest first (older ones still decrypt; `manage.py
# rotate_history_keys` re-encrypts with the newest). Without keys one is derived from
# SECRET_KEY, so that `make run` works.
HISTORY_KEYS = env_list("HISTORY_KEYS", "")
HISTORY_RETENTION_DAYS = env_int("HISTORY_RETENTION_DAYS", 365)
HISTORY_PAGE_SIZE = env_int("HISTORY_PAGE_SIZE", 20)
HISTORY_WRITE_BATCH = env_int("HISTORY_WRITE_BATCH", 200)
HISTORY_WRITE_INTERVAL_MS = env_int("HISTORY_WRITE_INTERVAL_MS", 250)
HISTORY_SEARCH_MAX_LENGTH = env_int("HISTORY_SEARCH_MAX_LENGTH", 200)
EXPORT_LINK_HOURS = env_int("EXPORT_LINK_HOURS", 24)

# Keeping in touch (chat.contacts): letters to contacts are filtered like lines, rate-limited
# per writer, encrypted with HISTORY_KEYS, and purged after LETTER_RETENTION_DAYS (or when the
# contact ends). A report on a contact carries its last LETTER_EVIDENCE_COUNT letters.
LETTER_RATE_LIMIT = env.get("LETTER_RATE_LIMIT", "20/h")
LETTER_RETENTION_DAYS = env_int("LETTER_RETENTION_DAYS", 365)
LETTER_EVIDENCE_COUNT = env_int("LETTER_EVIDENCE_COUNT", 50)
CONTACTS_PAGE_POLL_SECONDS = env_int("CONTACTS_PAGE_POLL_SECONDS", 20)
# Web push for invitations and letters while no tab is open; absent unless both keys are set
# (`VAPID_PRIVATE_KEY`: the base64url raw private key or a PEM; `VAPID_PUBLIC_KEY`: the
# base64url uncompressed public point the browser subscribes with).
VAPID_PUBLIC_KEY = env.get("VAPID_PUBLIC_KEY", "")
VAPID_PRIVATE_KEY = env.get("VAPID_PRIVATE_KEY", "")
VAPID_SUBJECT = env.get("VAPID_SUBJECT", "mailto:admin@localhost")
PUSH_TTL_SECONDS = env_int("PUSH_TTL_SECONDS", 3600)
PUSH_TIMEOUT_SECONDS = env_int("PUSH_TIMEOUT_SECONDS", 10)
# The push services subscriptions may point at (a host or its parent domain); nothing else
# is ever sent to, so a forged subscription cannot aim the server at an internal address.
PUSH_ENDPOINT_HOSTS = env_list(
    "PUSH_ENDPOINT_HOSTS", "fcm.googleapis.com,push.services.mozilla.com,push.apple.com,"
    "notify.windows.com")

# Celery beat: retention, and draining the lines waiting for analysis.
CELERY_BEAT_SCHEDULE = {
    "purge-old-history": {"task": "chat.history.tasks.purge_old_history",
                          "schedule": env_int("HISTORY_PURGE_EVERY_SECONDS", 3600)},
    "purge-expired-exports": {"task": "chat.history.tasks.purge_expired_exports",
                              "schedule": env_int("EXPORT_PURGE_EVERY_SECONDS", 900)},
    "purge-idle-guests": {"task": "accounts.tasks.purge_idle_guests",
                          "schedule": env_int("GUEST_PURGE_EVERY_SECONDS", 3600)},
    "purge-old-letters": {"task": "chat.contacts.tasks.purge_old_letters",
                          "schedule": env_int("LETTER_PURGE_EVERY_SECONDS", 3600)},
    "purge-stale-contact-requests": {
        "task": "chat.contacts.tasks.purge_stale_requests",
        "schedule": env_int("CONTACT_REQUEST_PURGE_EVERY_SECONDS", 3600)},
    # A drain that waited longer than two periods is stale: the next one does the same work.
    "analyse-pending-lines": {"task": "moderation.tasks.analyse_pending",
                              "schedule": ANALYSIS_DRAIN_SECONDS,
                              "options": {"expires": 2 * ANALYSIS_DRAIN_SECONDS}},
}

# /metrics (chat.metrics): answered only with this bearer token or to these addresses
# (comma-separated IPs or networks, e.g. 10.0.0.0/8); with neither set it is a 404 for all.
METRICS_TOKEN = env.get("METRICS_TOKEN", "")
METRICS_ALLOWED_ADDRESSES = env_list("METRICS_ALLOWED_ADDRESSES", "")
# The garbage collector of a daphne process (chatsite/asgi.py): freeze what start-up made, and
# the thresholds of gc.set_threshold (generation 0 allocations, then collections of 0 and 1).
# Python's own stay the default: 10,000 collected 20-35 times less often under relay load but
# each pause grew about sevenfold, which is what a p99 feels (docs/benchmarks.md).
GC_FREEZE = env_bool("GC_FREEZE", True)
GC_THRESHOLDS = tuple(int(n) for n in env_list("GC_THRESHOLDS", "700,10,10"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # No chat text, note or handle in a log record: statement parameters and database error
    # details are stripped on every handler (chatsite.plumbing.logging).
    "filters": {"redact_user_text": {"()": "chatsite.plumbing.logging.RedactUserText"}},
    "handlers": {"console": {"class": "logging.StreamHandler",
                             "filters": ["redact_user_text"]}},
    "root": {"handlers": ["console"], "level": env.get("LOG_LEVEL", "WARNING")},
    # Django's own console handler (DEBUG only) has no such filter: its records go to root.
    "loggers": {"django": {"handlers": [], "level": "INFO"}},
}
