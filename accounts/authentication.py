"""The API's JWT authentication: simplejwt's, with the token's user read by a query
compiled once per process (config/prepared.py): the read every authenticated
request makes, and the largest CPU cost of authenticating a booking."""

from django.contrib.auth import get_user_model
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.settings import api_settings

from config.prepared import STAND_INS, Prepared, instances

_TOKEN_USER = Prepared(
    lambda user_id: get_user_model().objects.filter(pk=user_id)[:1], STAND_INS[:1]
)


class JWTAuthentication(authentication.JWTAuthentication):
    def get_user(self, validated_token):
        """The token's active user, as simplejwt finds it. Anything else (no id claim,
        a user gone or deactivated, a revoked token) goes to simplejwt's own get_user,
        which reads again and refuses exactly as it always has."""
        user_id = validated_token.get(api_settings.USER_ID_CLAIM)
        if user_id is None or api_settings.USER_ID_FIELD != "id":
            return super().get_user(validated_token)
        rows = _TOKEN_USER.rows(self.user_model._meta.pk.get_prep_value(user_id))
        user = instances(self.user_model, rows[0])[0] if rows else None
        if user is None or not user.is_active or api_settings.CHECK_REVOKE_TOKEN:
            return super().get_user(validated_token)
        return user


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI of this authentication: simplejwt's Bearer scheme, as before."""

    target_class = "accounts.authentication.JWTAuthentication"
