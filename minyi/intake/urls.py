"""Submission pages, mounted at the site root by config/urls.py (the staff log lives under /staff/log/), and the
staff pages of intake: a case's triage panel and the import of history."""

from django.urls import path

from minyi.intake import staff_views, views

app_name = "intake"
urlpatterns = [
    path("submit/", views.submit, name="submit"),
    path("submit/receipt/", views.receipt, name="receipt"),
    path("staff/log/", views.log_appeal, name="log"),
    path("staff/log/receipt/", views.log_receipt, name="log_receipt"),
    path("staff/cases/<int:case_id>/triage/", staff_views.triage_panel, name="triage_panel"),
    path("staff/cases/<int:case_id>/triage/rerun/", staff_views.triage_rerun, name="triage_rerun"),
    path(
        "staff/cases/<int:case_id>/triage/merge/<int:candidate_id>/",
        staff_views.triage_merge_view,
        name="triage_merge",
    ),
    path(
        "staff/cases/<int:case_id>/triage/<slug:part>/", staff_views.triage_review_view, name="triage_review"
    ),
    path("staff/import/", staff_views.import_index, name="import_index"),
    path("staff/import/upload/", staff_views.import_index, name="import_upload"),
    path("staff/import/<int:job_id>/", staff_views.import_preview, name="import_preview"),
    path("staff/import/<int:job_id>/start/", staff_views.import_start, name="import_start"),
    path("staff/import/<int:job_id>/progress/", staff_views.import_progress, name="import_progress"),
    path("staff/import/<int:job_id>/errors.csv", staff_views.import_errors, name="import_errors"),
]
