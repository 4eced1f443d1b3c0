from contextlib import contextmanager
from functools import partial

from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from accounts.models import UserProfile
from config.errors import Refused
from listcache.services import bump_after_commit


class EmailTaken(Refused):
    """Another account has this address, in any case: one shape, however it was found."""

    def __init__(self):
        super().__init__("Email already registered")


def user_signup(*, email: str, password: str, **fields) -> UserProfile:
    """Create a patient or doctor account; one account per address, whatever its case."""
    _refuse_taken(email)
    with _one_account_per_address():
        user = UserProfile.objects.create_user(email, password, **fields)
        bump_after_commit()  # a new doctor's card
        return user


def user_update(*, user: UserProfile, **fields) -> UserProfile:
    """Change the user's own profile fields; the address may move to one nobody else has.

    `profile_photo`, when given, is a clean picture to store (accounts.photos.reencoded)
    or None to remove the photo. The new file is written before the row; a refusal
    deletes it again, and the old file goes only once the change is committed.
    """
    if "email" in fields:
        _refuse_taken(fields["email"], user)
    old_photo = user.profile_photo.name if "profile_photo" in fields else ""
    new_photo = fields.get("profile_photo")
    stored = ""
    try:
        if new_photo is not None:
            stored = default_storage.save(new_photo.name, new_photo)
            fields["profile_photo"] = stored
        for name, value in fields.items():
            setattr(user, name, value)
        with _one_account_per_address():
            user.save(update_fields=list(fields))
            bump_after_commit()  # what the user's doctor card (and slots' doctor_details) show
            if old_photo and old_photo != stored:
                transaction.on_commit(partial(default_storage.delete, old_photo))
    except BaseException:
        if stored:
            default_storage.delete(stored)
        raise
    return user


def _refuse_taken(email, user=None):
    others = UserProfile.objects.filter(email__iexact=email)
    if user is not None:
        others = others.exclude(pk=user.pk)
    if others.exists():
        raise EmailTaken


@contextmanager
def _one_account_per_address():
    # Two requests claiming one address at once both pass the check above: the unique
    # index on lower(email) decides, and the loser hears what the check would have said.
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        raise EmailTaken from exc
