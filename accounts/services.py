from django.db import IntegrityError, transaction

from accounts.models import UserProfile
from config.exceptions import MessageError

EMAIL_TAKEN = "Email already registered"


def user_signup(*, email, password, **fields):
    """Create a patient or doctor account; one account per address, whatever its case."""
    if UserProfile.objects.filter(email__iexact=email).exists():
        raise MessageError(EMAIL_TAKEN)
    try:
        with transaction.atomic():
            return UserProfile.objects.create_user(email, password, **fields)
    except IntegrityError as exc:
        # Two signups with one address at once: the unique index decides.
        raise MessageError(EMAIL_TAKEN) from exc
