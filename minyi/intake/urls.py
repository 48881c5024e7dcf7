"""Submission pages, mounted at the site root by config/urls.py (the staff log lives under /staff/log/)."""

from django.urls import path

from minyi.intake import views

app_name = "intake"
urlpatterns = [
    path("submit/", views.submit, name="submit"),
    path("submit/receipt/", views.receipt, name="receipt"),
    path("staff/log/", views.log_appeal, name="log"),
    path("staff/log/receipt/", views.log_receipt, name="log_receipt"),
]
