"""What the front desk does besides booking (the booking flows are doctor/bookings.py)."""

from django.db import IntegrityError, transaction
from django.db.models import Q

from accounts.models import UserProfile, UserType, normalize_email
from config.errors import Refused

MAX_FOUND = 20
EMAIL_TAKEN = "Email already registered"


def patients(**filters):
    """Active patients (role `user`)."""
    return UserProfile.objects.filter(user_type=UserType.USER, is_active=True, **filters)


def patient_search(text):
    """At most MAX_FOUND active patients whose name, email or phone contains `text`, by id."""
    found = Q(full_name__icontains=text) | Q(email__icontains=text) | Q(phone__icontains=text)
    return patients().filter(found).order_by("id")[:MAX_FOUND]


def walk_in_register(*, full_name, phone, email=None):
    """A patient account for a walk-in or phone caller: it cannot log in (no usable
    password; staff may set one in the admin)."""
    email = normalize_email(email) or None
    if email and UserProfile.objects.filter(email__iexact=email).exists():
        raise Refused(EMAIL_TAKEN)
    user = UserProfile(email=email, full_name=full_name, phone=phone, user_type=UserType.USER)
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # registered at the same moment
        raise Refused(EMAIL_TAKEN) from exc
    return user
