"""Refresh tokens: each one is redeemed at most once, even by parallel requests."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.utils import datetime_from_epoch


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """simplejwt's refresh with rotation, the old token blacklisted *before* a new pair.

    simplejwt checks the blacklist, issues the new pair, then blacklists with
    get_or_create: ten parallel requests with one token all passed the check and
    several got a valid pair. Here inserting the token's BlacklistedToken row is
    the claim: its unique token_id lets exactly one request through, and the
    others are 401 like any blacklisted token. (The project always rotates and
    blacklists, see SIMPLE_JWT in config/settings.py.)
    """

    def validate(self, attrs):
        refresh = self.token_class(attrs["refresh"])  # signature, expiry, type, blacklist
        user = self.active_user(refresh)
        claim(refresh, user)
        data = {"access": str(refresh.access_token)}
        refresh.set_jti()
        refresh.set_exp()
        refresh.set_iat()
        refresh.outstand()
        data["refresh"] = str(refresh)
        return data

    def active_user(self, refresh):
        """The token's user; a deleted or deactivated one is a 401 (simplejwt's .get() a 500)."""
        user_id = refresh.payload.get(api_settings.USER_ID_CLAIM)
        if not user_id:
            return None
        user = get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: user_id}).first()
        if user is None or not api_settings.USER_AUTHENTICATION_RULE(user):
            raise exceptions.AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            )
        return user


def claim(token, user):
    """Blacklist `token` now; TokenError (a 401) if another request already has."""
    outstanding, _created = OutstandingToken.objects.get_or_create(
        jti=token[api_settings.JTI_CLAIM],
        defaults={
            "user": user,
            "token": str(token),
            "created_at": token.current_time,
            "expires_at": datetime_from_epoch(token["exp"]),
        },
    )
    try:
        with transaction.atomic():
            BlacklistedToken.objects.create(token=outstanding)
    except IntegrityError as exc:
        raise TokenError(_("Token is blacklisted")) from exc
