from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.activity import mark_seen_on_login

        user_logged_in.connect(mark_seen_on_login, dispatch_uid="accounts.mark_seen_on_login")
