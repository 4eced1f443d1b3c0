from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone


def clinic_now():
    """Now as the clinic's wall clock (settings.TIME_ZONE), the frame of slot times."""
    return timezone.localtime(timezone.now(), timezone.get_default_timezone())


def clinic_datetime(date, time):
    """A slot's date and time on the clinic's wall clock, as an aware datetime.

    A time that happens twice (clocks going back) means its first occurrence
    (fold=0); see wall_clock_exists for the hour that is skipped.
    """
    return datetime.combine(date, time, tzinfo=timezone.get_default_timezone())


def wall_clock_exists(date, time):
    """False for a time the clinic's clock skips when it goes forward.

    In a skipped hour the offset before the change (fold=0) is smaller than the
    one after (fold=1), PEP 495; everywhere else it is not. No conversion, so
    no overflow at date.min or date.max.
    """
    aware = clinic_datetime(date, time)
    return aware.utcoffset() >= aware.replace(fold=1).utcoffset()


class TimeSlotQuerySet(models.QuerySet):
    def upcoming(self):
        """Slots whose start is still after now, judged on the clinic's clock."""
        now = clinic_now()
        # date >= today adds nothing logically, but lets the planner read the
        # (date, start_time) index from today on instead of filtering every row.
        return self.filter(
            Q(date__gt=now.date()) | Q(start_time__gt=now.time()), date__gte=now.date()
        )

    def with_held(self):
        """Each slot with `is_held`: whether a patient's hold on it is live now."""
        return self.annotate(is_held=Exists(Hold.objects.live().filter(slot=OuterRef("pk"))))

    def bookable(self):
        """What a patient may book: enabled, free, unheld, upcoming, of an active doctor."""
        held = Hold.objects.live().filter(slot=OuterRef("pk"))
        return (
            self.filter(is_available=True, is_booked=False, doctor__is_active=True)
            .exclude(Exists(held))
            .upcoming()
        )


class TimeSlot(models.Model):
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="doctor_slots",
    )
    date = models.DateField()
    start_time = models.TimeField()
    end_time = models.TimeField()
    duration = models.IntegerField()
    is_available = models.BooleanField(default=True)
    is_booked = models.BooleanField(default=False)

    objects = TimeSlotQuerySet.as_manager()

    class Meta:
        ordering = ["date", "start_time", "id"]
        indexes = [
            # The public available-slot list: only bookable rows, in list order.
            models.Index(
                fields=["date", "start_time"],
                name="slot_available_idx",
                condition=Q(is_available=True, is_booked=False),
            ),
            # A doctor's own list and the overlap check.
            models.Index(fields=["doctor", "date", "start_time"], name="slot_doctor_date_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")), name="slot_end_after_start"
            ),
            models.CheckConstraint(condition=Q(duration__gt=0), name="slot_duration_positive"),
            # Booked implies unavailable: the flags can never say "free" for a taken slot.
            models.CheckConstraint(
                condition=Q(is_booked=False) | Q(is_available=False),
                name="slot_booked_is_unavailable",
            ),
        ]

    def __str__(self):
        return f"{self.doctor_id} {self.date} {self.start_time}-{self.end_time}"

    @property
    def is_past(self):
        """Past when its start on the clinic's clock is not after now."""
        return clinic_datetime(self.date, self.start_time) <= timezone.now()

    @property
    def is_held(self):
        """Whether a patient's hold on the slot is live; with_held() reads it in the query."""
        if "_is_held" not in self.__dict__:
            self._is_held = self.holds.live().exists()
        return self._is_held

    @is_held.setter
    def is_held(self, value):
        self._is_held = value


class Booking(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        CANCELLED = "cancelled", "Cancelled"
        RESCHEDULED = "rescheduled", "Moved to another slot"

    slot = models.ForeignKey(TimeSlot, on_delete=models.CASCADE, related_name="bookings")
    # PROTECT: deleting a patient must not silently leave a slot marked booked.
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.BOOKED)
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # The booking this one replaced when the patient moved their visit.
    rescheduled_from = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="rescheduled_to"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The last line of the booking guarantee: whatever the code does,
            # the database refuses a second active booking of one slot.
            models.UniqueConstraint(
                fields=["slot"],
                condition=Q(status="booked"),
                name="booking_one_active_per_slot",
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "-created_at"], name="booking_patient_idx"),
        ]

    def __str__(self):
        return f"Booking {self.pk} of slot {self.slot_id} ({self.status})"


class HoldQuerySet(models.QuerySet):
    def live(self):
        """Holds that keep their slot now: neither released, used nor past `expires_at`."""
        return self.filter(status=Hold.Status.ACTIVE, expires_at__gt=timezone.now())


class Hold(models.Model):
    """A slot kept for one patient while they pay; live while `expires_at` is ahead.

    Nothing has to run for a hold to expire: every reader compares `expires_at`
    with now. An expired hold is marked so, under its slot's lock, before the
    slot is held again, so the constraint below can speak of `active` rows.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RELEASED = "released", "Released"
        USED = "used", "Used by a booking"
        EXPIRED = "expired", "Expired"

    slot = models.ForeignKey(TimeSlot, on_delete=models.CASCADE, related_name="holds")
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="holds"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    objects = HoldQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Whatever the code does, the database keeps one unreleased, unused hold per slot...
            models.UniqueConstraint(
                fields=["slot"], condition=Q(status="active"), name="hold_one_active_per_slot"
            ),
            # ...and one per patient.
            models.UniqueConstraint(
                fields=["patient"], condition=Q(status="active"), name="hold_one_active_per_patient"
            ),
        ]

    def __str__(self):
        return f"Hold {self.pk} of slot {self.slot_id} ({self.status})"

    @property
    def is_live(self):
        return self.status == self.Status.ACTIVE and self.expires_at > timezone.now()


class ListVersion(models.Model):
    """One row: the version of the public lists' cache when that cache is per process
    (no Redis), so every process sees a change made by any other (doctor/listcache.py)."""

    value = models.BigIntegerField(default=0)

    def __str__(self):
        return f"List version {self.value}"
