import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from chat.lifecycle import allow_service_close_codes  # noqa: E402
from chat.metrics import watch_gc  # noqa: E402
from chat.routing import websocket_urlpatterns  # noqa: E402
from chatsite.plumbing.middleware import SameOriginValidator, socket_auth_stack  # noqa: E402
from chatsite.plumbing.sendbuffer import bound_send_buffers  # noqa: E402
from moderation.analysis import prepare_worker_nudge  # noqa: E402
from moderation.filtering.filters import filter_line  # noqa: E402

allow_service_close_codes()
bound_send_buffers()

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    # The Origin check holds also with DEBUG on: scheme, host and port are compared.
    "websocket": SameOriginValidator(socket_auth_stack(URLRouter(websocket_urlpatterns))),
})


def build_lazy_parts() -> None:
    """Build now what the first requests and lines would build lazily and keep for the
    process's life (the URL resolvers, the inline filter's automata, the analysis worker's nudge,
    made by Celery): not in the middle of a conversation's first lines, and so
    that the freeze below takes them too instead of leaving them for every full collection
    to walk."""
    get_resolver().resolve("/")
    filter_line("warm up")
    prepare_worker_nudge()


# What start-up made lives as long as the process: frozen, the collector no longer walks it on
# every full collection, a pause of the whole event loop (chat_gc_pause_seconds measures them).
# The collection first, so that start-up's garbage is freed rather than frozen for good.
gc.set_threshold(*settings.GC_THRESHOLDS)
build_lazy_parts()
if settings.GC_FREEZE:
    gc.collect()
    gc.freeze()
watch_gc()
