from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers
from rest_framework_simplejwt.views import (
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
)

from accounts import views
from accounts.tokens import TokenRefreshSerializer
from config.openapi import FIELD_ERRORS, THROTTLED, UNAUTHENTICATED
from config.throttles import SharedScopedRateThrottle

TOKEN_PAIR = inline_serializer(
    "TokenPair", {"access": serializers.CharField(), "refresh": serializers.CharField()}
)


class TokenObtainView(TokenObtainPairView):
    """The standard token pair: a login by another name, so under the login throttle."""

    throttle_classes = [SharedScopedRateThrottle]
    throttle_scope = "login"


class TokenRefresh(TokenRefreshView):
    """Refresh with rotation: the token sent is blacklisted before the new pair is issued."""

    serializer_class = TokenRefreshSerializer


def documented(view_class, ok, description):
    """simplejwt's views with their error replies in the schema too."""
    responses = {200: ok, 400: FIELD_ERRORS, 401: UNAUTHENTICATED}
    if getattr(view_class, "throttle_scope", None):
        responses[429] = THROTTLED
    schema = extend_schema(responses=responses, description=description, auth=[])
    return extend_schema_view(post=schema)(view_class).as_view()


urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.login, name="login"),
    path("profile/", views.profile, name="profile"),
    path("profile/update/", views.profile_update, name="profile-update"),
    path(
        "token/",
        documented(TokenObtainView, TOKEN_PAIR, "Email and password for a JWT pair."),
        name="token-obtain-pair",
    ),
    path(
        "token/refresh/",
        documented(
            TokenRefresh,
            TOKEN_PAIR,
            "A new access token, and a new refresh token: the one sent is blacklisted.",
        ),
        name="token-refresh",
    ),
    path(
        "token/blacklist/",
        documented(
            TokenBlacklistView,
            inline_serializer("LoggedOut", {}),
            "Log out: the refresh token can no longer be used.",
        ),
        name="token-blacklist",
    ),
]
