"""Calendar feeds: the secret token per user, and the bookings a feed shows."""

from datetime import timedelta

from accounts.models import UserType
from calendars.models import CalendarFeed, new_token, token_shaped
from config.errors import NotFound
from doctor.clock import clinic_now
from doctor.models import Booking

# A feed shows visits from this many days back (by the slot's date) on.
DAYS_BACK = 30


class FeedNotFound(NotFound):
    def __init__(self):
        super().__init__("Calendar not found")


def feed_get(*, user):
    """The user's feed, created with a fresh token on first use."""
    feed, _ = CalendarFeed.objects.get_or_create(user=user)
    return feed


def feed_reset(*, user):
    """Replace the user's token: the old feed URL stops working at once."""
    feed, _ = CalendarFeed.objects.update_or_create(user=user, defaults={"token": new_token()})
    return feed


def feed_owner(*, token):
    """Whose feed this token opens; an unknown or malformed token, or a deactivated
    account, is a 404. A malformed one is refused before any query."""
    if not token_shaped(token):
        raise FeedNotFound()
    feed = (
        CalendarFeed.objects.select_related("user")
        .filter(token=token, user__is_active=True)
        .first()
    )
    if feed is None:
        raise FeedNotFound()
    return feed.user


def feed_bookings(*, user):
    """A doctor's feed has the bookings on their slots, a desk user's its doctors'
    bookings, anyone else's their own bookings, from DAYS_BACK days ago on, ordered
    by start."""
    if user.user_type == UserType.DOCTOR:
        bookings = Booking.objects.filter(slot__doctor=user)
    elif user.user_type == UserType.DESK:
        bookings = Booking.objects.filter(slot__doctor_id__in=user.desk_doctor_ids())
    else:
        bookings = Booking.objects.filter(patient=user)
    since = clinic_now().date() - timedelta(days=DAYS_BACK)
    return (
        bookings.filter(slot__date__gte=since)
        .select_related("slot__doctor", "patient")
        .order_by("slot__date", "slot__start_time", "id")
    )
