import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from chat.lifecycle import allow_service_close_codes  # noqa: E402
from chat.middleware import socket_auth_stack  # noqa: E402
from chat.routing import websocket_urlpatterns  # noqa: E402

allow_service_close_codes()

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    # The Origin check holds also with DEBUG on: ALLOWED_HOSTS is never empty here.
    "websocket": AllowedHostsOriginValidator(socket_auth_stack(URLRouter(websocket_urlpatterns))),
})
