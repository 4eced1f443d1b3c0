"""A doctor's weekly schedule, its windows, and the dates it does not apply to.

The schedule makes ordinary slots (doctor.TimeSlot, source `schedule`); these
rows only say what it should make. schedules/services.py keeps the slots in
step with them, under the doctor's lock.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

MIN_SLOT_MINUTES, MAX_SLOT_MINUTES = 5, 240
MIN_WEEKS, MAX_WEEKS = 1, 26
DEFAULT_SLOT_MINUTES, DEFAULT_WEEKS = 30, 4
WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


def slot_minutes_field(**kwargs):
    return models.PositiveSmallIntegerField(
        validators=[MinValueValidator(MIN_SLOT_MINUTES), MaxValueValidator(MAX_SLOT_MINUTES)],
        **kwargs,
    )


class Schedule(models.Model):
    doctor = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="schedule"
    )
    slot_minutes = slot_minutes_field(default=DEFAULT_SLOT_MINUTES)
    weeks_ahead = models.PositiveSmallIntegerField(
        default=DEFAULT_WEEKS,
        validators=[MinValueValidator(MIN_WEEKS), MaxValueValidator(MAX_WEEKS)],
    )
    # The last day the schedule has made slots for: the daily roll makes the days
    # after it that entered the horizon (schedules.services.roll).
    made_through = models.DateField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(slot_minutes__gte=MIN_SLOT_MINUTES, slot_minutes__lte=MAX_SLOT_MINUTES),
                name="schedule_slot_minutes_range",
            ),
            models.CheckConstraint(
                condition=Q(weeks_ahead__gte=MIN_WEEKS, weeks_ahead__lte=MAX_WEEKS),
                name="schedule_weeks_ahead_range",
            ),
        ]

    def __str__(self):
        return f"Schedule of doctor {self.doctor_id}"


class Window(models.Model):
    """Working hours on one weekday (Monday is 0), on the clinic's wall clock."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="windows")
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS)
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["weekday", "start_time", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")), name="window_end_after_start"
            ),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="window_weekday_range"),
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}-{self.end_time:%H:%M}"


class Override(models.Model):
    """One date's own hours (none: closed), cut into the slot length it was saved with."""

    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="schedule_overrides"
    )
    date = models.DateField()
    slot_minutes = slot_minutes_field(default=DEFAULT_SLOT_MINUTES)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["doctor", "date"], name="override_one_per_date"),
        ]

    def __str__(self):
        return f"Override of doctor {self.doctor_id} on {self.date}"


class OverrideWindow(models.Model):
    override = models.ForeignKey(Override, on_delete=models.CASCADE, related_name="windows")
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["start_time", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")), name="override_window_end_after_start"
            ),
        ]

    def __str__(self):
        return f"{self.start_time:%H:%M}-{self.end_time:%H:%M}"
