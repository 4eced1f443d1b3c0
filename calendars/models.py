import secrets

from django.conf import settings
from django.db import models


def new_token():
    """256 random bits: unguessable, so a plain indexed lookup is a safe comparison."""
    return secrets.token_urlsafe(32)


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
