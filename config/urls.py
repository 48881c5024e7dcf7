from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from minyi.api.urls import urlpatterns as api_urlpatterns

urlpatterns = [
    *api_urlpatterns,
    path("admin/", admin.site.urls),
    path("accounts/", include("minyi.accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("open311/v2/", include("minyi.api.open311.urls")),
    path("staff/barometer/", include("minyi.barometer.urls")),
    path("staff/", include("minyi.disclosure.staff_urls")),
    path("staff/", include("minyi.cases.urls")),
    path("", include("minyi.intake.urls")),
    path("", include("minyi.disclosure.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
