"""Staff edit webhook endpoints; events, deliveries and attempts are a read-only
record of what was sent (the outbox and its workers write them)."""

from django import forms
from django.contrib import admin

from events.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class WebhookEndpointForm(forms.ModelForm):
    # The model's validator decides which URLs may receive webhooks
    # (events/addresses.py): https to public addresses.
    url = forms.URLField(max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "secret", "event_types", "enabled"]

    def clean_event_types(self):
        types = self.cleaned_data["event_types"]
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise forms.ValidationError('A list of event types, e.g. ["booking.created"].')
        return types


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "event_types", "enabled", "from_environment", "created_at"]
    list_filter = ["enabled", "from_environment"]
    search_fields = ["url"]
    readonly_fields = ["from_environment"]


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = ["endpoint", "status", "attempts", "next_attempt_at", "delivered_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["id", "type", "created_at"]
    list_filter = ["type"]
    search_fields = ["id"]
    readonly_fields = ["id", "type", "data", "created_at"]
    inlines = [DeliveryInline]


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ["number", "started_at", "finished_at", "outcome"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event", "endpoint", "status", "attempts", "next_attempt_at", "delivered_at"]
    list_filter = ["status", "endpoint"]
    list_select_related = ["event", "endpoint"]
    search_fields = ["event__id"]
    readonly_fields = [
        "event",
        "endpoint",
        "status",
        "attempts",
        "next_attempt_at",
        "leased_until",
        "give_up_at",
        "delivered_at",
    ]
    inlines = [AttemptInline]


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = ["delivery", "number", "started_at", "finished_at", "outcome"]
    list_select_related = ["delivery__event", "delivery__endpoint"]
    readonly_fields = ["delivery", "number", "started_at", "finished_at", "status_code", "error"]
