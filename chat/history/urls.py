"""Included at the root: `path("", include("chat.history.urls"))`."""
from django.urls import path

from chat.history import views as history_views

urlpatterns = [
    path("history/", history_views.history_list, name="history"),
    path("history/<uuid:conversation>/", history_views.transcript, name="history_transcript"),
    path("account/export/", history_views.export_record, name="account_export"),
    path("account/export/<uuid:export_id>/", history_views.export_progress,
         name="export_progress"),
    path("account/export/<uuid:export_id>/status", history_views.export_status,
         name="export_status"),
    path("account/export/<uuid:export_id>/download", history_views.export_download,
         name="export_download"),
]
