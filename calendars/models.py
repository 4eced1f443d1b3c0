import re
import secrets

from django.conf import settings
from django.db import models

TOKEN_BYTES = 32
# token_urlsafe's shape: base64url without padding, 43 characters for 32 bytes.
TOKEN_LENGTH = len(secrets.token_urlsafe(TOKEN_BYTES))
TOKEN_SHAPE = re.compile(rf"[A-Za-z0-9_-]{{{TOKEN_LENGTH}}}")


def new_token():
    """256 random bits: unguessable, so a plain indexed lookup is a safe comparison."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_shaped(token):
    """Whether `token` could be one new_token made: only such a string reaches a query
    (PostgreSQL refuses a NUL byte in text, so a query with one would be a 500)."""
    return TOKEN_SHAPE.fullmatch(token) is not None


class CalendarFeed(models.Model):
    """A user's secret calendar feed: whoever holds the URL reads the feed."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(max_length=64, unique=True, default=new_token)
    # When the current token was issued (first request or last reset).
    issued_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Calendar feed of user {self.user_id}"
