"""The barometer's staff pages, mounted at /staff/barometer/ by config/urls.py. Each views module owns its routes."""

from minyi.barometer import views_dashboard, views_quality, views_reports, views_topics, views_warnings

app_name = "barometer"
urlpatterns = [
    *views_dashboard.urlpatterns,
    *views_topics.urlpatterns,
    *views_warnings.urlpatterns,
    *views_quality.urlpatterns,
    *views_reports.urlpatterns,
]
