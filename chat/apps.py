from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self) -> None:
        # Receivers connect once the app registry is ready (they import models): this is
        # Django's place for it, not a dodge of an import cycle.
        from chat import history, notify  # noqa: F401
