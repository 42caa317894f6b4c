"""Included at `/contacts/`: the contacts page, threads, letters and push subscriptions."""
from django.urls import path

from chat.contacts import views

urlpatterns = [
    path("", views.contact_list, name="contacts"),
    path("push/subscribe/", views.push_subscribe, name="push_subscribe"),
    path("push/unsubscribe/", views.push_unsubscribe, name="push_unsubscribe"),
    path("<uuid:contact_id>/", views.thread, name="contact_thread"),
    path("<uuid:contact_id>/letters/", views.write, name="contact_write"),
    path("<uuid:contact_id>/remove/", views.remove, name="contact_remove"),
    path("<uuid:contact_id>/block/", views.block, name="contact_block"),
    path("<uuid:contact_id>/report/", views.report, name="contact_report"),
]
