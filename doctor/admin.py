"""Staff screens for slots and bookings that keep the booking rules.

The flags `is_booked`/`is_available` of a booked slot change only through
booking and cancelling (doctor.services), never by editing or deleting rows here.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.db import transaction

from accounts.models import UserProfile, UserType
from config.exceptions import MessageError
from doctor import services
from doctor.models import Booking, TimeSlot, slot_minutes, starts_in_past


class TimeSlotAdminForm(forms.ModelForm):
    """The API's slot rules for slots staff add or edit: times, duration, no overlap."""

    class Meta:
        model = TimeSlot
        fields = ["doctor", "date", "start_time", "end_time", "duration", "is_available"]
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
        doctor, date = cleaned.get("doctor"), cleaned.get("date")
        start, end = cleaned.get("start_time"), cleaned.get("end_time")
        if None in (doctor, date, start, end):
            return cleaned  # the missing field already carries its error
        cleaned["duration"] = slot_minutes(date, start, end, cleaned.get("duration"))
        # Like the API, no new slot in the past; an old slot may still be edited otherwise.
        moved = {"date", "start_time"} & set(self.changed_data)
        if moved and starts_in_past(date, start):
            raise forms.ValidationError("The slot cannot start in the past.")
        # The admin validates inside its save transaction; taking the lock that
        # services.slot_create takes makes check and save one step per doctor.
        services.lock_doctor(doctor)
        clash = (
            services.overlapping_slots(doctor=doctor, date=date, start_time=start, end_time=end)
            .exclude(pk=self.instance.pk)
            .first()
        )
        if clash is not None:
            raise forms.ValidationError(
                f"Overlaps slot {clash.pk} of this doctor on {clash.date} "
                f"({clash.start_time:%H:%M}-{clash.end_time:%H:%M})."
            )
        return cleaned


@admin.register(TimeSlot)
class TimeSlotAdmin(admin.ModelAdmin):
    form = TimeSlotAdminForm
    list_display = (
        "doctor",
        "date",
        "start_time",
        "end_time",
        "duration",
        "is_available",
        "is_booked",
    )
    list_filter = ("date", "is_available", "is_booked")
    date_hierarchy = "date"
    search_fields = ("doctor__full_name", "doctor__email")
    list_select_related = ("doctor",)
    readonly_fields = ("is_booked",)
    # Our delete_selected below replaces the site-wide action of that name.
    actions = ["delete_selected"]

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and request.method == "POST":
            # The change and delete views run this inside their transaction:
            # deciding and saving on a locked copy means a booking made while
            # staff had the form open is seen (403), never overwritten.
            obj = TimeSlot.objects.select_for_update().filter(pk=obj.pk).first()
        return obj

    def has_change_permission(self, request, obj=None):
        # A booked slot is shown read-only: it changes only through cancel.
        return not (obj and obj.is_booked) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not (obj and obj.is_booked) and super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Only free slots get here, so their bookings are cancelled ones (no
        # delete permission of their own); they go with the slot, as through the API.
        perms_needed.discard(Booking._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    @admin.action(permissions=["delete"], description="Delete selected free time slots")
    def delete_selected(self, request, queryset):
        booked = queryset.filter(is_booked=True).count()
        if booked:
            self.message_user(
                request,
                f"Skipped {booked} booked slot(s): a booked slot cannot be deleted; "
                "cancel its booking first.",
                messages.ERROR,
            )
        free = queryset.filter(is_booked=False)
        if not free.exists():
            return None
        # Django's own flow: confirmation page first, then delete_queryset below.
        return django_delete_selected(self, request, free)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            # Re-read under lock: a slot booked since the confirmation page stays.
            free = queryset.filter(is_booked=False).select_for_update().order_by("pk")
            TimeSlot.objects.filter(pk__in=list(free.values_list("pk", flat=True))).delete()


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = ("id", "slot_label", "patient", "status", "created_at", "cancelled_at")
    list_filter = ("status", "created_at")
    search_fields = ("patient__email", "patient__full_name", "slot__doctor__full_name")
    list_select_related = ("slot__doctor", "patient")
    actions = ["cancel_bookings"]

    @admin.display(description="slot", ordering="slot__date")
    def slot_label(self, booking):
        # TimeSlot's str shows the doctor's id; staff read the name.
        slot = booking.slot
        return f"{slot.doctor.full_name}, {slot.date} {slot.start_time:%H:%M}-{slot.end_time:%H:%M}"

    # Rows are read-only: adding or deleting one would leave the slot's flags
    # wrong, and a booking changes only through the cancel action below.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_cancel_permission(self, request):
        return request.user.has_perm("doctor.change_booking")

    @admin.action(permissions=["cancel"], description="Cancel selected bookings")
    def cancel_bookings(self, request, queryset):
        for booking in queryset.order_by("pk"):
            if booking.status != Booking.Status.BOOKED:
                self.message_user(
                    request, f"Booking {booking.pk}: already cancelled.", messages.WARNING
                )
                continue
            try:
                # The staff path (no user): cancels exactly this booking and frees the slot.
                services.booking_cancel(slot_id=booking.slot_id, booking_id=booking.pk)
            except MessageError as exc:
                self.message_user(request, f"Booking {booking.pk}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"Booking {booking.pk} cancelled.", messages.SUCCESS)
