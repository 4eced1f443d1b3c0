import math
from functools import cache

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from doctor import rules


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
    # Set when a slot with a history (a booking, of any status) is deleted: the
    # row stays for its bookings, but the slot leaves every list and every
    # slot endpoint answers 404 for it (rules.retires_instead, locks.locked_slot).
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Who made it: the doctor (one at a time, or a bulk run) or their weekly
    # schedule / a date override (schedules/).
    source = models.CharField(max_length=8, choices=rules.SOURCES, default="manual")
    # Set on a schedule-made slot that no longer fits its schedule while booked or
    # held: it stays for its patient, and goes once freed (rules.gone_unfit).
    unscheduled_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = rules.TimeSlotQuerySet.as_manager()

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
            # A retired slot is closed for good: neither booked nor available.
            models.CheckConstraint(
                condition=Q(retired_at__isnull=True) | Q(is_booked=False, is_available=False),
                name="slot_retired_is_closed",
            ),
        ]

    def __str__(self):
        return f"{self.doctor_id} {self.date} {self.start_time}-{self.end_time}"

    @property
    def is_past(self):
        return rules.slot_started(self)

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
        # Visit outcomes, recorded by the slot's doctor once the slot has started.
        COMPLETED = "completed", "Completed"
        NO_SHOW = "no_show", "No-show"

    class CancelledBy(models.TextChoices):
        PATIENT = "patient", "Patient"
        DOCTOR = "doctor", "Doctor"
        STAFF = "staff", "Staff (admin)"
        DESK = "desk", "Front desk"

    class BookedBy(models.TextChoices):
        PATIENT = "patient", "Patient"
        DESK = "desk", "Front desk"

    slot = models.ForeignKey(TimeSlot, on_delete=models.CASCADE, related_name="bookings")
    # PROTECT: deleting a patient must not silently leave a slot marked booked.
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.BOOKED)
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Who cancelled it; null unless status is `cancelled`.
    cancelled_by = models.CharField(  # noqa: DJ001 -- null: not cancelled, as the reply shows
        max_length=7, choices=CancelledBy.choices, null=True, blank=True
    )
    # Who made it: the patient, or the front desk for them (a moved booking keeps it).
    booked_by = models.CharField(max_length=7, choices=BookedBy.choices, default=BookedBy.PATIENT)
    # The booking this one replaced when the patient moved their visit.
    rescheduled_from = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="rescheduled_to"
    )
    # The kind of visit, and the doctor's fee for it on the day it was booked (a
    # later fee change does not alter it); null for bookings made before fees were kept.
    visit_type = models.CharField(max_length=6, choices=rules.VISIT_TYPES, default="clinic")
    fee = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)

    objects = rules.BookingQuerySet.as_manager()

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
            # The cards' `patients`: completed visits only, a small part of the table.
            models.Index(
                fields=["slot", "patient"],
                condition=Q(status="completed"),
                name="booking_completed_idx",
            ),
        ]

    def __str__(self):
        return f"Booking {self.pk} of slot {self.slot_id} ({self.status})"


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

    class Kind(models.TextChoices):
        HOLD = "hold", "Hold (the patient's own)"
        OFFER = "offer", "Waitlist offer"

    slot = models.ForeignKey(TimeSlot, on_delete=models.CASCADE, related_name="holds")
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="holds"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # An offer is made to a waiting patient (doctor.services.offer_freed_slot) and
    # lasts OFFER_SECONDS; it is apart from the one-hold-per-patient rule.
    kind = models.CharField(max_length=5, choices=Kind.choices, default=Kind.HOLD)
    # The visit the patient means to book; the booking made from the hold takes it.
    visit_type = models.CharField(max_length=6, choices=rules.VISIT_TYPES, default="clinic")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    objects = rules.HoldQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Whatever the code does, the database keeps one unreleased, unused hold per slot...
            models.UniqueConstraint(
                fields=["slot"], condition=Q(status="active"), name="hold_one_active_per_slot"
            ),
            # ...and one of the patient's own per patient (waitlist offers come on top).
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status="active", kind="hold"),
                name="hold_one_active_per_patient",
            ),
        ]
        indexes = [
            # The periodic pass-on looks for active holds whose time is up.
            models.Index(
                fields=["expires_at"], condition=Q(status="active"), name="hold_active_expiry_idx"
            ),
            # A new hold looks for the patient's holds of the slot within the hour
            # (rules.recent): the first one's expiry is the most it may last.
            models.Index(fields=["patient", "slot", "created_at"], name="hold_patient_slot_idx"),
        ]

    def __str__(self):
        return f"Hold {self.pk} of slot {self.slot_id} ({self.status})"

    @property
    def is_live(self):
        return rules.hold_is_live(self)

    @property
    def seconds_left(self):
        """Whole seconds until the hold lapses (rounded up), 0 once it has."""
        return max(math.ceil((self.expires_at - timezone.now()).total_seconds()), 0)


class WaitlistEntry(models.Model):
    """A patient waiting for a slot of one doctor between two dates (FIFO by created_at, id).

    An entry is offered at most once: the offer (a Hold of kind offer) ends it as
    booked, declined or expired, and the slot passes to the next waiting entry.
    """

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        OFFERED = "offered", "Offered a slot"
        BOOKED = "booked", "Booked the offer"
        DECLINED = "declined", "Declined the offer"
        EXPIRED = "expired", "Expired (offer lapsed, or the dates passed)"
        LEFT = "left", "Left the waitlist"

    OPEN = (Status.WAITING, Status.OFFERED)

    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="waitlisted_by"
    )
    date_from = models.DateField()
    date_to = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WAITING)
    created_at = models.DateTimeField(default=timezone.now)
    # The offer made to this entry; kept (as history) once it is booked, declined or lapsed.
    offer = models.OneToOneField(
        Hold, on_delete=models.SET_NULL, null=True, blank=True, related_name="waitlist_entry"
    )

    objects = rules.WaitlistEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "waitlist entries"
        constraints = [
            # One open entry per patient and doctor, whatever the code does (two joins at once).
            models.UniqueConstraint(
                fields=["patient", "doctor"],
                condition=Q(status__in=["waiting", "offered"]),
                name="waitlist_one_open_per_doctor",
            ),
            models.CheckConstraint(
                condition=Q(date_from__lte=F("date_to")), name="waitlist_dates_in_order"
            ),
        ]
        indexes = [
            # offer_freed_slot: a doctor's waiting entries, oldest first.
            models.Index(
                fields=["doctor", "created_at", "id"],
                condition=Q(status="waiting"),
                name="waitlist_waiting_idx",
            ),
            models.Index(fields=["patient", "-created_at"], name="waitlist_patient_idx"),
        ]

    def __str__(self):
        return f"Waitlist entry {self.pk} of patient {self.patient_id} ({self.status})"

    @property
    def live_offer(self):
        """The offer while it keeps its slot, else None."""
        offered = self.status == self.Status.OFFERED and self.offer is not None
        return self.offer if offered and self.offer.is_live else None

    @property
    def current_status(self):
        """The status as of now: an offer that lapsed, or a waiting range that has
        passed, has ended the entry even before the periodic task (within a
        minute) or the patient's next join writes it down."""
        if self.status == self.Status.OFFERED and self.live_offer is None:
            return self.Status.EXPIRED
        if self.status == self.Status.WAITING and rules.range_passed(self):
            return self.Status.EXPIRED
        return self.status


class Review(models.Model):
    """A patient's review of a completed visit: one per booking, the database says so."""

    booking = models.OneToOneField(Booking, on_delete=models.CASCADE, related_name="review")
    # The booking's doctor, copied (a booked slot never changes doctor): the cards'
    # rating reads one index of reviews per doctor instead of joining their slots.
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews"
    )
    rating = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = models.TextField(max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1, rating__lte=5), name="review_rating_1_to_5"
            ),
        ]

    def __str__(self):
        return f"Review of booking {self.booking_id} ({self.rating}/5)"


@cache
def _card_figures_sql(doctors_table):
    """The three figures as correlated subqueries on `doctors_table`'s row, written
    out once: Django compiling the same three Subquery() expressions cost more CPU
    per request than the rest of the list (docs/performance.md)."""
    review, booking, slot = (m._meta.db_table for m in (Review, Booking, TimeSlot))
    doctor = f'"{doctors_table}"."id"'
    completed = Booking.Status.COMPLETED.value
    return {
        "rating_total": f'SELECT SUM(r."rating") FROM "{review}" r WHERE r."doctor_id" = {doctor}',
        "review_count": f'SELECT COUNT(*) FROM "{review}" r WHERE r."doctor_id" = {doctor}',
        "patients": (
            f'SELECT COUNT(DISTINCT b."patient_id") FROM "{booking}" b'
            f' INNER JOIN "{slot}" s ON s."id" = b."slot_id"'
            f' WHERE b."status" = \'{completed}\' AND s."doctor_id" = {doctor}'
        ),
    }


def with_card_figures(doctors):
    """Doctors with what their cards show beyond the profile, in the list's one query:
    `rating_total` and `review_count` (the card's rating is their quotient) and
    `patients`, the distinct patients with a completed visit. Reviews carry their
    doctor (one index scan each); completed visits have a partial index."""
    figures = _card_figures_sql(doctors.model._meta.db_table)
    return doctors.annotate(
        **{
            name: RawSQL(sql, (), output_field=models.IntegerField())
            for name, sql in figures.items()
        }
    )
