"""The clinic's clock: slot dates and times are its wall clock (settings.TIME_ZONE).

Every module that turns a slot's date and time into an instant, or asks what
day it is at the clinic, asks here: the rules, the reminders and the calendar
feeds alike.
"""

from datetime import datetime

from django.utils import timezone


def clinic_now():
    """Now on the clinic's wall clock, as an aware datetime."""
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
