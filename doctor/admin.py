"""Staff screens for slots and bookings that keep the booking rules.

Every add, edit and delete here goes through doctor.services, as the API's do:
the same rules, under the same locks, with the same texts. The flags of a
booked slot change only through booking and cancelling.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied

from accounts.models import UserProfile, UserType
from config.errors import Invalid, NotFound, Refused
from doctor import services
from doctor.models import Booking, Hold, Review, TimeSlot, WaitlistEntry

SLOT_FIELDS = ["doctor", "date", "start_time", "end_time", "duration", "is_available"]


def attempt(modeladmin, request, label, service, **kwargs):
    """Run one service call for an admin action; a refusal becomes an error
    message with the service's own text. True when it went through."""
    try:
        service(**kwargs)
    except (NotFound, Refused) as exc:
        modeladmin.message_user(request, f"{label}: {exc.message}", messages.ERROR)
        return False
    return True


class TimeSlotAdminForm(forms.ModelForm):
    """Staff add or edit a slot under the API's rules: services.slot_check decides."""

    class Meta:
        model = TimeSlot
        fields = SLOT_FIELDS
        help_texts = {"duration": "Minutes; left blank, it is computed from the times."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A booked slot's form is view-only and has no fields at all.
        if "doctor" in self.fields:
            self.fields["doctor"].queryset = UserProfile.objects.filter(
                user_type=UserType.DOCTOR
            ).order_by("full_name")
        if "duration" in self.fields:
            self.fields["duration"].required = False

    def clean(self):
        cleaned = super().clean()
        times = {name: cleaned.get(name) for name in ("doctor", "date", "start_time", "end_time")}
        if None in times.values():
            return cleaned  # the missing field already carries its error
        # The admin validates inside its save transaction: the locks slot_check
        # takes are held until save_model writes through the service.
        try:
            cleaned["duration"] = services.slot_check(
                slot_id=self.instance.pk, duration=cleaned.get("duration"), **times
            )
        except Invalid as exc:
            # DRF's "non_field_errors" is the form's NON_FIELD_ERRORS.
            errors = {NON_FIELD_ERRORS: exc.errors.pop("non_field_errors", []), **exc.errors}
            raise forms.ValidationError({k: v for k, v in errors.items() if v}) from exc
        except (NotFound, Refused) as exc:
            raise forms.ValidationError(exc.message) from exc
        return cleaned


class RetiredFilter(admin.SimpleListFilter):
    """Retired slots stay in the admin (read-only) beside their bookings' history."""

    title = "retired"
    parameter_name = "retired"

    def lookups(self, request, model_admin):
        return [("no", "No (current)"), ("yes", "Yes")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(retired_at__isnull=self.value() == "no")
        return queryset


@admin.register(TimeSlot)
class TimeSlotAdmin(admin.ModelAdmin):
    form = TimeSlotAdminForm
    list_display = (*SLOT_FIELDS, "is_booked", "source", "retired_at")
    list_filter = (RetiredFilter, "date", "is_available", "is_booked", "source")
    date_hierarchy = "date"
    search_fields = ("doctor__full_name", "doctor__email")
    list_select_related = ("doctor",)
    readonly_fields = ("is_booked", "source", "unscheduled_at", "retired_at")
    # Our delete_selected below replaces the site-wide action of that name.
    actions = ["delete_selected"]

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in SLOT_FIELDS}
        if change:
            saved = services.slot_update(slot_id=obj.pk, **fields)
        else:
            saved = services.slot_create(**fields)
        obj.pk = saved.pk  # for the admin's log and redirect

    def delete_model(self, request, obj):
        try:
            services.slot_delete(slot_id=obj.pk)
        except (NotFound, Refused) as exc:
            raise PermissionDenied(exc.message) from exc

    def delete_queryset(self, request, queryset):
        # Slot by slot through the service, each under its lock: a slot booked
        # since the confirmation page stays, and says why.
        for slot in queryset.order_by("pk"):
            attempt(self, request, f"Slot {slot.pk}", services.slot_delete, slot_id=slot.pk)

    # What the service would refuse is shown read-only, and cannot be deleted.
    def has_change_permission(self, request, obj=None):
        refused = obj is not None and services.slot_change_refusal(obj)
        return not refused and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        refused = obj is not None and services.slot_change_refusal(obj, delete=True)
        return not refused and super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        # Only free, current slots get here. One with a history (its bookings,
        # cancelled or moved away) is retired, not deleted: it takes nothing
        # with it, so the confirmation page lists it alone.
        objs = list(objs)
        kept = [slot for slot in objs if services.retires_instead(slot)]
        gone = [slot for slot in objs if slot not in kept]
        deleted, counts, perms_needed, protected = super().get_deleted_objects(gone, request)
        deleted += [f"{slot} (retired: it has bookings, which are kept)" for slot in kept]
        if kept:
            name = TimeSlot._meta.verbose_name_plural
            counts[name] = counts.get(name, 0) + len(kept)
        return deleted, counts, perms_needed, protected

    @admin.action(permissions=["delete"], description="Delete selected free time slots")
    def delete_selected(self, request, queryset):
        refused = []
        for slot in queryset.order_by("pk"):
            if refusal := services.slot_change_refusal(slot, delete=True):
                self.message_user(request, f"Slot {slot.pk}: {refusal}", messages.ERROR)
                refused.append(slot.pk)
        free = queryset.exclude(pk__in=refused)
        if not free.exists():
            return None
        # Django's own flow: confirmation page first, then delete_queryset above.
        return django_delete_selected(self, request, free)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows staff look at but never add, edit or delete here: writing them by hand
    would leave slots, holds and bookings out of step (they change through
    doctor.services only: the booking admin's cancel action), or rewrite the
    append-only audit trail (audit/admin.py)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SlotRowAdmin(ReadOnlyAdmin):
    """Bookings and holds: rows about a slot."""

    list_filter = ("status", "created_at")
    search_fields = ("patient__email", "patient__full_name", "slot__doctor__full_name")
    list_select_related = ("slot__doctor", "patient")

    @admin.display(description="slot", ordering="slot__date")
    def slot_label(self, row):
        """The slot of a booking or hold as staff read it (TimeSlot's str shows the doctor's id)."""
        slot = row.slot
        return f"{slot.doctor.full_name}, {slot.date} {slot.start_time:%H:%M}-{slot.end_time:%H:%M}"


def inactive(booking):
    if booking.status == Booking.Status.CANCELLED:
        return f"Booking {booking.pk}: already cancelled."
    return f"Booking {booking.pk}: not active ({booking.get_status_display()})."


@admin.register(Booking)
class BookingAdmin(SlotRowAdmin):
    list_display = (
        "id",
        "slot_label",
        "patient",
        "status",
        "visit_type",
        "fee",
        "created_at",
        "cancelled_at",
        "cancelled_by",
    )
    list_filter = ("status", "visit_type", "cancelled_by", "created_at")
    actions = ["cancel_bookings"]

    def has_cancel_permission(self, request):
        return request.user.has_perm("doctor.change_booking")

    @admin.action(permissions=["cancel"], description="Cancel selected bookings")
    def cancel_bookings(self, request, queryset):
        for booking in queryset.order_by("pk"):
            if booking.status != Booking.Status.BOOKED:
                self.message_user(request, inactive(booking), messages.WARNING)
                continue
            # The staff path (no user): cancels exactly this booking, frees the slot
            # and records `staff` as who cancelled.
            label = f"Booking {booking.pk}"
            ids = {"slot_id": booking.slot_id, "booking_id": booking.pk}
            if attempt(self, request, label, services.booking_cancel, **ids):
                self.message_user(request, f"{label} cancelled.", messages.SUCCESS)


@admin.register(Hold)
class HoldAdmin(SlotRowAdmin):
    """Holds end by booking, release or time, never by hand."""

    list_display = (
        "id",
        "slot_label",
        "patient",
        "kind",
        "status",
        "visit_type",
        "live",
        "created_at",
        "expires_at",
    )
    list_filter = ("kind", "status", "created_at")

    @admin.display(boolean=True, description="live now")
    def live(self, hold):
        return hold.is_live


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnlyAdmin):
    """Patients join and leave; offers are made and ended by doctor.services."""

    list_display = ("id", "patient", "doctor", "date_from", "date_to", "status", "created_at")
    list_filter = ("status", "created_at")
    search_fields = ("patient__email", "patient__full_name", "doctor__full_name")
    list_select_related = ("patient", "doctor")


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    """Reviews are the patients' words: staff read them (and may delete abuse), never
    write them. A delete goes through the service: the doctor card's rating changes."""

    list_display = ("id", "booking", "rating", "comment", "created_at")
    list_filter = ("rating", "created_at")
    search_fields = ("booking__patient__email", "booking__slot__doctor__full_name", "comment")
    list_select_related = ("booking",)

    def has_delete_permission(self, request, obj=None):
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    def delete_model(self, request, obj):
        services.review_delete(review_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for review in queryset.order_by("pk"):
            services.review_delete(review_id=review.pk)
