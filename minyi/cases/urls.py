"""Staff pages, mounted at /staff/ by config/urls.py."""

from django.urls import path

from minyi.cases import views

app_name = "cases"
urlpatterns = [
    path("", views.workbench, name="workbench"),
    path("export.xlsx", views.export_xlsx, name="export_xlsx"),
    path("export.csv", views.export_csv, name="export_csv"),
    path("cases/<int:case_id>/", views.case_detail, name="detail"),
    path("cases/<int:case_id>/actions/<slug:action>/", views.case_action, name="action"),
    path("cases/<int:case_id>/contact/", views.case_contact, name="contact"),
    path(
        "cases/<int:case_id>/attachments/<int:attachment_id>/", views.attachment_download, name="attachment"
    ),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
]
