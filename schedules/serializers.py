"""The JSON of a weekly schedule and of a date override, in and out."""

from datetime import timedelta

from rest_framework import serializers

from doctor import rules
from doctor.clock import clinic_now
from doctor.serializers import ClockTimeField, IsoDateField
from schedules.models import MAX_SLOT_MINUTES, MAX_WEEKS, MIN_SLOT_MINUTES, MIN_WEEKS
from schedules.services import OVERRIDE_DAYS_AHEAD

MAX_WINDOWS = 7 * 48  # far more than any week has; bounds the work of one request
TOO_FAR = f"Must be at most {OVERRIDE_DAYS_AHEAD} days from today."


class HoursSerializer(serializers.Serializer):
    """Working hours on the clinic's wall clock: the end after the start."""

    start_time = ClockTimeField()
    end_time = ClockTimeField()

    def validate(self, attrs):
        if refusal := rules.order_refusal(attrs["start_time"], attrs["end_time"]):
            raise serializers.ValidationError({"end_time": [refusal]})
        return attrs


class WindowSerializer(HoursSerializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="Monday is 0.")

    class Meta:
        fields = ["weekday", "start_time", "end_time"]


def overlap_errors(windows, key=lambda window: None):
    """The overlaps among windows of one day (`key`: the weekday); touching is fine."""
    errors = []
    ordered = sorted(windows, key=lambda w: (key(w) or 0, w["start_time"]))
    for before, after in zip(ordered, ordered[1:], strict=False):
        if key(before) == key(after) and after["start_time"] < before["end_time"]:
            day = "" if key(after) is None else f" on weekday {key(after)}"
            errors.append(
                f"Windows overlap{day}: {before['start_time']:%H:%M}-{before['end_time']:%H:%M}"
                f" and {after['start_time']:%H:%M}-{after['end_time']:%H:%M}."
            )
    return errors


class ScheduleSerializer(serializers.Serializer):
    """A doctor's week: slot length, horizon and windows (Monday is 0)."""

    slot_minutes = serializers.IntegerField(min_value=MIN_SLOT_MINUTES, max_value=MAX_SLOT_MINUTES)
    weeks_ahead = serializers.IntegerField(min_value=MIN_WEEKS, max_value=MAX_WEEKS)
    windows = WindowSerializer(many=True, max_length=MAX_WINDOWS)

    def validate_windows(self, windows):
        if errors := overlap_errors(windows, key=lambda window: window["weekday"]):
            raise serializers.ValidationError(errors)
        return sorted(windows, key=lambda w: (w["weekday"], w["start_time"]))


class ChangedSerializer(serializers.Serializer):
    """What a change did to the slots: counts over the days it touched."""

    made = serializers.IntegerField(help_text="Slots made.")
    removed = serializers.IntegerField(help_text="Free schedule-made slots removed (or retired).")
    kept = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Ids of schedule-made slots outside the new hours that stay because they "
        "are booked or held: the doctor calls those patients.",
    )


class ScheduleChangedSerializer(ScheduleSerializer, ChangedSerializer):
    pass


class OverrideSerializer(serializers.Serializer):
    """One date's own hours: `windows` empty closes the day."""

    date = IsoDateField()
    windows = HoursSerializer(many=True, max_length=48)

    def validate_date(self, value):
        today = clinic_now().date()
        if value < today:
            raise serializers.ValidationError(rules.RANGE_PASSED)
        if value > today + timedelta(days=OVERRIDE_DAYS_AHEAD):
            raise serializers.ValidationError(TOO_FAR)
        return value

    def validate_windows(self, windows):
        if errors := overlap_errors(windows):
            raise serializers.ValidationError(errors)
        return sorted(windows, key=lambda w: w["start_time"])


class OverrideChangedSerializer(OverrideSerializer, ChangedSerializer):
    pass


class OverrideDeletedSerializer(ChangedSerializer):
    date = IsoDateField()

    class Meta:
        fields = ["date", "made", "removed", "kept"]


def schedule_reply(schedule, outcome=None):
    """The schedule as GET shows it; after a change, with what it made and removed."""
    reply = {
        "slot_minutes": schedule.slot_minutes,
        "weeks_ahead": schedule.weeks_ahead,
        "windows": window_rows(schedule.windows.all() if schedule.pk else []),
    }
    return reply if outcome is None else reply | changed(outcome)


def window_rows(windows, weekday=True):
    rows = []
    for window in windows:
        row = {"weekday": window.weekday} if weekday else {}
        rows.append(
            row
            | {
                "start_time": window.start_time.isoformat(),
                "end_time": window.end_time.isoformat(),
            }
        )
    return rows


def override_reply(override):
    return {
        "date": override.date.isoformat(),
        "windows": window_rows(override.windows.all(), weekday=False),
    }


def changed(outcome):
    return {
        "made": len(outcome.made),
        "removed": len(outcome.removed),
        "kept": sorted(slot.pk for slot in outcome.kept),
    }
