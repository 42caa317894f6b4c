from django.contrib import admin
from django.urls import include, path

from accounts import staff
from accounts import views as account_views
from chat import metrics
from chat import views as chat_views
from chatsite import pages

urlpatterns = [
    path("", chat_views.landing, name="landing"),
    path("chat/", chat_views.chat_page, name="chat"),
    path("healthz", chat_views.healthz, name="healthz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("terms/", pages.terms, name="terms"),
    path("rules/", pages.rules, name="rules"),
    path("rules/accept/", pages.rules_accept, name="rules_accept"),
    path("privacy/", pages.privacy, name="privacy"),
    path("accounts/guest/", account_views.guest_signup, name="guest_signup"),
    path("accounts/", include("allauth.urls")),
    path("account/settings/", account_views.account_settings, name="account_settings"),
    path("account/delete/", account_views.account_delete, name="account_delete"),
    path("account/2fa/", staff.two_factor, name="staff_two_factor"),
    path("", include("chat.history.urls")),
    path("contacts/", include("chat.contacts.urls")),
    path("moderation/", include("moderation.urls")),
    path("admin/", admin.site.urls),
]
