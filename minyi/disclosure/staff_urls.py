"""Staff pages of the disclosure app, mounted under /staff/ by config/urls.py: a case's publication."""

from django.urls import path

from minyi.disclosure import staff_views

app_name = "disclosure_staff"
urlpatterns = [
    path("cases/<int:case_id>/publication/", staff_views.publication_panel, name="publication"),
    path(
        "cases/<int:case_id>/publication/<slug:operation>/",
        staff_views.publication_action,
        name="publication_action",
    ),
]
