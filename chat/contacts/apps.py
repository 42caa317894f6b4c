"""The `contacts` app: lasting connections between two people who met in a conversation."""
from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "chat.contacts"
    label = "contacts"
    verbose_name = "Contacts"

    def ready(self) -> None:
        # Signal receivers: a ban removes the banned user from everyone's contacts.
        from chat.contacts import receivers  # noqa: F401
