import datetime
import re
from pathlib import PurePosixPath

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class UserType(models.TextChoices):
    USER = "user", "Patient"
    DOCTOR = "doctor", "Doctor"
    ADMIN = "admin", "Admin"
    # A receptionist (contract Part 5): made by staff only, books for its doctors' patients.
    DESK = "desk", "Front desk"


def parse_role(value):
    """A role as clients send it: any case, spaces around it, `patient` for `user`; "" if none."""
    role = str(value or "").strip().lower()
    return UserType.USER.value if role == "patient" else role


# Bidirectional controls reorder how text is displayed ("Dr \u202eevil" shows as "Dr live"),
# so a name could pass for another: refused in every text a person sets and others read.
# The marks (LRM, RLM, ALM) are invisible too, and no name needs them typed in.
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def refuse_bidi_controls(value):
    if BIDI_CONTROLS.search(str(value)):
        raise ValidationError(
            "Bidirectional control characters are not allowed.", code="bidi_control"
        )


# C0 controls, DEL and C1 controls (Unicode's category Cc): invisible or moving the
# cursor (a vertical tab, an escape starting a terminal sequence), and forbidden in
# a calendar's text by RFC 5545 (calendars.feeds strips them from older rows).
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")
# The validators leave NUL out: every CharField already refuses it with its own
# message ("Null characters are not allowed."), and one message is enough.
# A name is one line: no other control character.
LINE_CONTROL_CHARACTERS = re.compile("[\x01-\x1f\x7f-\x9f]")
# A multi-line text (a description) keeps tab and line feed, and a carriage return
# only before a line feed (the CRLF a browser's textarea sends).
TEXT_CONTROL_CHARACTERS = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n)")


def refuse_control_characters(value):
    """For one-line texts: names, phone, address, specialization, languages."""
    if LINE_CONTROL_CHARACTERS.search(str(value)):
        raise ValidationError("Control characters are not allowed.", code="control_character")


def refuse_text_control_characters(value):
    """For multi-line texts: any control character but tab and line breaks."""
    if TEXT_CONTROL_CHARACTERS.search(str(value)):
        raise ValidationError(
            "Control characters other than tab and line breaks are not allowed.",
            code="control_character",
        )


# The validators of a text a person sets and others read.
LINE_VALIDATORS = [refuse_bidi_controls, refuse_control_characters]
TEXT_VALIDATORS = [refuse_bidi_controls, refuse_text_control_characters]


def normalize_email(email):
    """Emails are stored lower-cased so that one address is one account."""
    return (email or "").strip().lower()


class Gender(models.TextChoices):
    MALE = "male", "Male"
    FEMALE = "female", "Female"
    OTHER = "other", "Other"
    PREFER_NOT_TO_SAY = "prefer-not-to-say", "Prefer not to say"


# Six ASCII digits (\d would take other scripts' digits too); "" is unset.
validate_pincode = RegexValidator(r"\A[0-9]{6}\Z", "A pincode is 6 digits.", code="invalid_pincode")

EARLIEST_BIRTH_DATE = datetime.date(1900, 1, 1)


def validate_date_of_birth(value):
    """Not before 1900, not after today on the clinic's calendar."""
    if value < EARLIEST_BIRTH_DATE:
        raise ValidationError("The date of birth cannot be before 1900.", code="too_early")
    if value > timezone.localdate():
        raise ValidationError("The date of birth cannot be in the future.", code="future")


def photo_name(instance, filename):
    """The stored name: accounts.photos already gave the file a random one in profiles/."""
    return f"profiles/{PurePosixPath(filename).name}"


# The fields every profile has besides name, email and phone (contract Part 5): optional,
# "" (text) or null (the date) when unset. The photo is handled on its own (accounts.photos).
PERSONAL_FIELDS = (
    "last_name",
    "address",
    "apartment",
    "district",
    "city",
    "state",
    "pincode",
    "gender",
    "date_of_birth",
    "emergency_contact",
)

# The fields only a doctor has: set by signup and profile update for doctors, shown on
# their profile and cards, ignored (neither validated nor stored) for anyone else.
DOCTOR_FIELDS = (
    "specialization",
    "years_of_experience",
    "consultation_fee",
    "clinic_address",
    "video_consult_fee",
    "home_consult_fee",
    "home_consultation",
    "languages",
    "description",
    "medical_license",
    # Clinic policy (contract Part 3): checked by doctor.services and the public list.
    "cancel_notice_minutes",
    "min_booking_notice_minutes",
    "max_booking_days_ahead",
)

MAX_NOTICE_MINUTES = 30 * 24 * 60  # a notice window of at most 30 days
MAX_BOOKING_DAYS = 730  # doctor.services.MAX_DAYS_AHEAD: no slot starts later anyway


def default_cancel_notice():
    """A new doctor's cancellation notice: the clinic's CANCEL_NOTICE_MINUTES."""
    return settings.CANCEL_NOTICE_MINUTES


def fee_field():
    """A fee: a JSON number in replies, never negative, null while the doctor leaves it unset."""
    return models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )


class UserProfileManager(BaseUserManager):
    def get_by_natural_key(self, email):
        return self.get(email__iexact=normalize_email(email))

    def create_user(self, email, password=None, **fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.update(user_type=UserType.ADMIN, is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class UserProfile(AbstractBaseUser, PermissionsMixin):
    # Null for a walk-in patient registered by the front desk without an address.
    email = models.EmailField(  # noqa: DJ001 -- null: any number of patients without one
        unique=True, null=True, blank=True, validators=[refuse_bidi_controls]
    )
    full_name = models.CharField(max_length=150, validators=LINE_VALIDATORS)
    user_type = models.CharField(
        max_length=10, choices=UserType.choices, default=UserType.USER, db_index=True
    )
    phone = models.CharField(max_length=20, blank=True, validators=LINE_VALIDATORS)

    # PERSONAL_FIELDS and the photo: every profile, "" or null when unset.
    last_name = models.CharField(max_length=150, blank=True, validators=LINE_VALIDATORS)
    address = models.CharField(max_length=255, blank=True, validators=LINE_VALIDATORS)
    apartment = models.CharField(max_length=100, blank=True, validators=LINE_VALIDATORS)
    district = models.CharField(max_length=100, blank=True, validators=LINE_VALIDATORS)
    city = models.CharField(max_length=100, blank=True, validators=LINE_VALIDATORS)
    state = models.CharField(max_length=100, blank=True, validators=LINE_VALIDATORS)
    pincode = models.CharField(max_length=6, blank=True, validators=[validate_pincode])
    gender = models.CharField(max_length=20, choices=Gender.choices, blank=True)
    date_of_birth = models.DateField(null=True, blank=True, validators=[validate_date_of_birth])
    emergency_contact = models.CharField(max_length=100, blank=True, validators=LINE_VALIDATORS)
    # Re-encoded under a random name by accounts.photos; served under MEDIA_URL.
    profile_photo = models.ImageField(upload_to=photo_name, max_length=255, blank=True)

    # DOCTOR_FIELDS: blank, null or False for patients and for doctors who left them unset.
    specialization = models.CharField(max_length=100, blank=True, validators=LINE_VALIDATORS)
    years_of_experience = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(80)]
    )
    consultation_fee = fee_field()
    clinic_address = models.CharField(max_length=255, blank=True, validators=LINE_VALIDATORS)
    video_consult_fee = fee_field()
    home_consult_fee = fee_field()
    home_consultation = models.BooleanField(default=False)
    languages = models.CharField(max_length=200, blank=True, validators=LINE_VALIDATORS)
    description = models.TextField(max_length=2000, blank=True, validators=TEXT_VALIDATORS)
    medical_license = models.CharField(max_length=100, blank=True, validators=LINE_VALIDATORS)
    # A patient may not cancel or move a visit later than this before its start.
    cancel_notice_minutes = models.PositiveIntegerField(
        default=default_cancel_notice, validators=[MaxValueValidator(MAX_NOTICE_MINUTES)]
    )
    # A slot starting sooner than this is neither listed nor bookable.
    min_booking_notice_minutes = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(MAX_NOTICE_MINUTES)]
    )
    # A slot dated more than this many days after today neither; null: no limit.
    max_booking_days_ahead = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(MAX_BOOKING_DAYS)]
    )

    # A desk user's doctors, assigned by staff in the admin (no API changes them).
    desk_doctors = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="desk_users",
        limit_choices_to={"user_type": UserType.DOCTOR},
    )

    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserProfileManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        verbose_name = "user"
        constraints = [
            # The database, not only the signup code, keeps one account per address.
            models.UniqueConstraint(Lower("email"), name="accounts_unique_email_ci"),
        ]

    def __str__(self):
        return f"{self.full_name} <{self.email or 'no email'}>"

    def clean(self):
        super().clean()
        self.email = normalize_email(self.email) or None

    @property
    def is_doctor(self):
        return self.user_type == UserType.DOCTOR

    @property
    def visit_types(self):
        """The kinds of visit a doctor offers (contract Part 5): `clinic` always,
        `video` with a video fee above 0, `home` when home visits are offered with a
        home fee above 0. doctor.rules judges a booking's `visit_type` by it."""
        offered = ["clinic"]
        if (self.video_consult_fee or 0) > 0:
            offered.append("video")
        if self.home_consultation and (self.home_consult_fee or 0) > 0:
            offered.append("home")
        return offered

    @property
    def is_patient(self):
        return self.user_type == UserType.USER

    @property
    def is_desk(self):
        return self.user_type == UserType.DESK

    def desk_doctor_ids(self):
        """The ids of the doctors a desk user serves (none for anyone else), read once."""
        if "_desk_doctor_ids" not in self.__dict__:
            served = self.desk_doctors.values_list("id", flat=True) if self.is_desk else []
            self._desk_doctor_ids = set(served)
        return self._desk_doctor_ids
