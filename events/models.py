"""The outbox: an Event per change, a Delivery per (event, endpoint), and a
DeliveryAttempt per HTTP request made for a delivery."""

import base64
import secrets
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from standardwebhooks import Webhook

from events.addresses import validate_webhook_url


def new_secret():
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def validate_secret(value):
    try:
        if not value.startswith("whsec_"):
            raise ValueError
        Webhook(value)
    except Exception as error:
        raise ValidationError("A secret is whsec_ followed by base64.") from error


class Event(models.Model):
    # Sent as `webhook-id`: the same on every attempt, so receivers can dedupe.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=50)
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.type} {self.id}"


class WebhookEndpoint(models.Model):
    # https to public addresses only (events/addresses.py), checked again at
    # every attempt.
    url = models.URLField(max_length=500, unique=True, validators=[validate_webhook_url])
    secret = models.CharField(max_length=100, default=new_secret, validators=[validate_secret])
    event_types = models.JSONField(
        default=list, blank=True, help_text='e.g. ["booking.created"]; empty means every event.'
    )
    # A disabled endpoint gets no new deliveries, and its pending ones get no
    # further attempt: the next sweep fails them.
    enabled = models.BooleanField(default=True)
    # Made by the worker for WEBHOOK_URL (events.services.env_endpoint); disabled
    # by it when WEBHOOK_URL changes or goes.
    from_environment = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["url"]

    def __str__(self):
        return self.url

    def wants(self, event_type):
        return self.enabled and (not self.event_types or event_type in self.event_types)


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # Set while a worker attempts it; a lease in the past is free to claim.
    leased_until = models.DateTimeField(null=True, blank=True)
    # 24 hours after the event: no attempt starts later, it is failed instead.
    # On the row itself so that the claim is a one-table UPDATE (see services).
    give_up_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-next_attempt_at"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_once_per_endpoint")
        ]
        indexes = [
            # The sweep: pending deliveries in due order.
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_pending_idx",
                condition=Q(status="pending"),
            )
        ]

    def __str__(self):
        return f"{self.event} to {self.endpoint} ({self.status})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    # Both empty while the request runs, and for good when its worker died.
    finished_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self):
        return f"Attempt {self.number} of {self.delivery_id}"

    @property
    def delivered(self):
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def outcome(self):
        if self.status_code is not None:
            return f"HTTP {self.status_code}"
        return self.error or "no outcome yet (in progress, or its worker died)"
