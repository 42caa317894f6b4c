from django.urls import path

from moderation import views

app_name = "moderation"
urlpatterns = [
    path("decisions/", views.my_decisions, name="decisions"),
    path("decisions/<int:decision_id>/appeal/", views.appeal, name="appeal"),
]
