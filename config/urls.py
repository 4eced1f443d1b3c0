from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import media, views

urlpatterns = [
    # The site root (and so the admin's "View site" link) is the API's docs.
    path("", RedirectView.as_view(pattern_name="docs"), name="root"),
    path("admin/", admin.site.urls),
    path("api/health/", views.health, name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/", include("accounts.urls")),
    path("api/doctor/schedule/", include("schedules.urls")),
    path("api/doctor/", include("doctor.urls")),
    path("api/desk/", include("desk.urls")),
    path("api/", include("calendars.urls")),
    # Profile photos, in DEBUG and production alike (config/media.py).
    re_path(rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>.+)$", media.media, name="media"),
]

handler400 = "config.views.bad_request"
handler403 = "config.views.permission_denied"
handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
