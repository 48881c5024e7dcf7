"""Public pages: the portal and case tracking, mounted at the site root by config/urls.py."""

from django.urls import path

from minyi.disclosure import views

app_name = "disclosure"
urlpatterns = [
    path("", views.portal, name="portal"),
    path("track/", views.track, name="track"),
    path("track/<str:tracking_number>/", views.track_case, name="track_case"),
    path("track/<str:tracking_number>/<slug:action>/", views.track_action, name="track_action"),
]
