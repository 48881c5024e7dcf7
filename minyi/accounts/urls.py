"""Login and logout (Django's auth views with our templates), mounted at /accounts/ by config/urls.py.

django-axes locks an account + address out after repeated failures and renders
registration/locked_out.html (settings.AXES_LOCKOUT_TEMPLATE). On top of that, login attempts from one
address are rate-limited (scope "auth"), which slows guessing across many usernames.
"""

from django.contrib.auth import views as auth_views
from django.shortcuts import render
from django.urls import path

from minyi.core.exceptions import RateLimited
from minyi.core.ratelimit import check_request_rate


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        try:
            check_request_rate(request, "auth")
        except RateLimited as exc:
            response = render(request, "errors/429.html", {"error_message": exc.message}, status=429)
            response["Retry-After"] = "60"
            return response
        return super().post(request, *args, **kwargs)


urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
