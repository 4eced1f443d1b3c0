from collections.abc import Mapping
from urllib.parse import urlsplit

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import photos
from accounts.models import (
    DOCTOR_FIELDS,
    PERSONAL_FIELDS,
    Gender,
    UserProfile,
    UserType,
    normalize_email,
    parse_role,
    refuse_bidi_controls,
    validate_pincode,
)


def camel_case(name):
    """full_name -> fullName, the React pages' spelling."""
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


# The fields a person sets at signup or on their profile; optional ones take null or "" as unset.
OPTIONAL_FIELDS = ("phone", *DOCTOR_FIELDS)
PROFILE_FIELDS = ("email", "full_name", "user_type", *PERSONAL_FIELDS, *OPTIONAL_FIELDS)
# The React signup and profile pages send camelCase; the contract accepts both spellings.
CAMEL_CASE = {name: camel_case(name) for name in (*PROFILE_FIELDS, "profile_photo") if "_" in name}
SNAKE_CASE = {camel: snake for snake, camel in CAMEL_CASE.items()}
# The doctor page sends the address as deliveryAddress: one field, two names.
PROFILE_SPELLING = {**CAMEL_CASE, "deliveryAddress": "address", "delivery_address": "address"}
# The names the doctor page keeps after saving (contract Part 5): in doctors' replies only.
DOCTOR_REPLY_KEYS = ("experience", "hospital", "licenseNumber", "visitTypes")
DOCTOR_KEYS = {
    *DOCTOR_FIELDS,
    *(CAMEL_CASE.get(name, name) for name in DOCTOR_FIELDS),
    *DOCTOR_REPLY_KEYS,
}
# Fields that would grant privileges, or bypass the password and verification flows:
# refused outright, in either spelling and whatever the value.
PRIVILEGED_FIELDS = ("is_staff", "is_superuser", "is_active", "groups", "user_permissions")
PROFILE_LOCKED_FIELDS = (*PRIVILEGED_FIELDS, "password", "email_verified")


def both_spellings(names):
    return tuple(dict.fromkeys(key for name in names for key in (name, camel_case(name))))


PRIVILEGED_KEYS = both_spellings(PRIVILEGED_FIELDS)
PROFILE_REFUSED_KEYS = both_spellings(PROFILE_LOCKED_FIELDS)


def respelled(data, spelling):
    """Each known key in the spelling wanted; one field sent in both spellings needs one value."""
    out = dict(data)
    for other, name in spelling.items():
        if other in out:
            value = out.pop(other)
            if name in out and out[name] != value:
                # e.g. userType "admin" beside user_type "user": never pick one silently.
                raise serializers.ValidationError(
                    {name: [f"Given as {name} and {other} with different values."]}
                )
            out[name] = value
    return out


def normalised(data, *, spelling, refused, doctor):
    """The one reading of a signup or profile body, in the order that matters:
    privilege keys are refused whatever their value; a non-doctor's doctor fields are
    dropped unread (in either spelling, so never validated); each key is respelled as the
    serializer names it; and null or "" for an optional field means unset, stored as the
    column's empty value (None for numbers and dates, "" for text and choices, False for
    the home-visit flag). A form post (multipart or urlencoded) is read as a plain dict,
    one value a key, so that it is judged exactly as the same JSON object would be.
    """
    if hasattr(data, "getlist"):
        data = {key: data[key] for key in data}
    errors = {key: ["This field cannot be set."] for key in refused if key in data}
    if errors:
        raise serializers.ValidationError(errors)
    if not doctor:
        data = {key: value for key, value in data.items() if key not in DOCTOR_KEYS}
    return unset_as_stored(respelled(data, spelling), spelling)


def unset_as_stored(data, spelling):
    """null or "" for an optional field: the column's empty value."""
    for name in (*OPTIONAL_FIELDS, *PERSONAL_FIELDS):
        key = spelling.get(name, name)
        if key in data and data[key] in (None, ""):
            data[key] = UserProfile._meta.get_field(name).get_default()
    return data


# One account per address, whatever its case: accounts.services decides, after validation,
# so that a taken address never changes how the rest of a body is judged. (The model's
# case-sensitive unique check is dropped here; its other rule stays.)
# Signup and profile need an email (only the desk's walk-ins have none, desk/).
EMAIL_UNCHECKED = {
    "validators": [refuse_bidi_controls],
    "required": True,
    "allow_null": False,
    "allow_blank": False,
}


class SignupSerializer(serializers.ModelSerializer):
    """A new patient or doctor account; every check but the email's comes from the model."""

    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    user_type = serializers.CharField()

    class Meta:
        model = UserProfile
        fields = ["email", "password", "full_name", "user_type", *OPTIONAL_FIELDS]
        extra_kwargs = {"email": EMAIL_UNCHECKED}

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            role = parse_role(data.get("user_type", data.get("userType")))
            data = normalised(
                data,
                spelling=SNAKE_CASE,
                refused=PRIVILEGED_KEYS,
                doctor=role == UserType.DOCTOR,
            )
        return super().to_internal_value(data)

    def validate_email(self, value):
        return normalize_email(value)

    def validate_user_type(self, value):
        role = parse_role(value)
        if role == UserType.ADMIN:
            raise serializers.ValidationError("Admin accounts cannot be created by signup.")
        if role == UserType.DESK:  # staff make desk users in the admin
            raise serializers.ValidationError("Desk accounts cannot be created by signup.")
        if role not in (UserType.USER, UserType.DOCTOR):
            raise serializers.ValidationError('Must be "user", "patient" or "doctor".')
        return role

    def validate(self, attrs):
        candidate = UserProfile(email=attrs["email"], full_name=attrs["full_name"])
        try:
            password_validation.validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs


class LoginSerializer(serializers.Serializer):
    # Any string: a malformed address is just a failed login, not a form error.
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    user_type = serializers.CharField(required=False, allow_blank=True, allow_null=True)

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            data = respelled(data, SNAKE_CASE)
        return super().to_internal_value(data)

    def validate_user_type(self, value):
        return parse_role(value)


class LoginUserSerializer(serializers.ModelSerializer):
    userType = serializers.CharField(source="user_type")
    fullName = serializers.CharField(source="full_name")

    class Meta:
        model = UserProfile
        fields = ["id", "email", "userType", "fullName"]


def camel_case_fields(names):
    """Meta.fields and extra_kwargs for a model serializer keyed in camelCase."""
    fields = [CAMEL_CASE.get(name, name) for name in names]
    sources = {CAMEL_CASE[name]: {"source": name} for name in names if name in CAMEL_CASE}
    return fields, sources


@extend_schema_field(OpenApiTypes.NUMBER)
class FeeOrZeroField(serializers.Field):
    """A doctor's fee as a JSON number, 0 when unset: what the React client shows.

    Output only. DRF skips a field's to_representation for a None value, so the
    field reads the whole object (source "*") and looks the fee up itself.
    """

    def __init__(self, attr, **kwargs):
        self.attr = attr
        super().__init__(source="*", **kwargs)

    def to_representation(self, doctor):
        fee = getattr(doctor, self.attr)
        return 0 if fee is None else fee


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "enum": ["clinic", "video", "home"]},
        "example": ["clinic", "video"],
    }
)
class VisitTypesField(serializers.Field):
    """The kinds of visit a doctor offers (UserProfile.visit_types), output only.

    `read_only` is left off on purpose: drf-spectacular marks every read-only field
    required, and a patient's profile has no `visitTypes` (as with the other doctor
    keys, _doctor_only). The serializers holding it are never given input."""

    def __init__(self, **kwargs):
        super().__init__(source="*", **kwargs)

    def to_representation(self, doctor):
        return doctor.visit_types


def _doctor_only(fields):
    """Doctor keys appear on doctors' profiles only: not required in the schema
    (drf-spectacular marks every read-only field required)."""
    return {camel: {"required": False} for camel in fields if camel in DOCTOR_KEYS}


@extend_schema_field(OpenApiTypes.STR)
class ExperienceText(serializers.Field):
    """yearsOfExperience as the doctor page keeps it: "12", or "" when unset (output only)."""

    def __init__(self, **kwargs):
        super().__init__(source="*", **kwargs)

    def to_representation(self, doctor):
        years = doctor.years_of_experience
        return "" if years is None else str(years)


class PhotoField(serializers.ImageField):
    """profilePhoto on update: an uploaded picture (accounts.photos judges and re-encodes
    it), null or "" to remove the photo, or the current photo's URL or path sent back,
    which changes nothing. Anything else is 400, naming the field."""

    def __init__(self, **kwargs):
        super().__init__(source="profile_photo", required=False, allow_null=True, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, UploadedFile):
            try:
                return photos.reencoded(data)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(list(exc.messages)) from exc
        if data == "":
            return None
        if isinstance(data, str) and self._is_current(data):
            raise serializers.SkipField
        return self.fail("invalid")

    def _is_current(self, value):
        photo = self.parent.instance.profile_photo
        if not photo:
            return False
        return value in (photo.name, photo.url) or urlsplit(value).path == photo.url


class PincodeField(serializers.CharField):
    """Six digits as a string; a JSON number is refused (it would lose leading zeros)."""

    def __init__(self, **kwargs):
        kwargs.update(max_length=6, allow_blank=True, validators=[validate_pincode])
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "array", "items": {"type": "integer"}})
class DeskDoctorsField(serializers.Field):
    """The ids of a desk user's doctors, in id order (output only; anyone else's
    profile has `[]`, read without a query, so the reply has one shape for all)."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, user):
        return sorted(user.desk_doctor_ids())


class ProfileSerializer(serializers.ModelSerializer):
    """The caller's own profile in the keys the dashboards read (output only).

    The photo is an absolute URL when the request is in the context (the views pass it).
    """

    videoConsultFee = FeeOrZeroField("video_consult_fee", required=False)
    homeConsultFee = FeeOrZeroField("home_consult_fee", required=False)
    deliveryAddress = serializers.CharField(source="address", read_only=True)
    # Declared: a read-only field built from the model loses allow_blank, and the
    # schema would then say an unset gender ("") is not a valid reply.
    gender = serializers.ChoiceField(choices=Gender.choices, allow_blank=True, read_only=True)
    profilePhoto = serializers.ImageField(source="profile_photo", read_only=True, allow_null=True)
    experience = ExperienceText(required=False)
    hospital = serializers.CharField(source="clinic_address", required=False)
    licenseNumber = serializers.CharField(source="medical_license", required=False)
    # A desk user's doctors (ids), on desk users' profiles only.
    deskDoctors = DeskDoctorsField(required=False)
    visitTypes = VisitTypesField(required=False)

    class Meta:
        model = UserProfile
        fields, extra_kwargs = camel_case_fields(["id", *PROFILE_FIELDS])
        for key, options in _doctor_only(fields).items():
            extra_kwargs.setdefault(key, {}).update(options)
        read_only_fields = [key for key in fields if key not in DOCTOR_KEYS]
        fields += ["deliveryAddress", "profilePhoto", *DOCTOR_REPLY_KEYS, "deskDoctors"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not instance.is_doctor:
            return {key: value for key, value in data.items() if key not in DOCTOR_KEYS}
        return data


class ProfileUpdateSerializer(serializers.ModelSerializer):
    """Changes to the caller's own profile, keyed as the profile is (snake_case respelled,
    deliveryAddress read as address), from JSON or a form post (multipart with the photo).

    Clients may send their whole profile back: `id` is ignored, an unchanged `userType`
    too; role, flags and password never change here.
    """

    userType = serializers.CharField(source="user_type", required=False, allow_null=True)
    pincode = PincodeField(required=False)
    profilePhoto = PhotoField()

    class Meta:
        model = UserProfile
        fields, extra_kwargs = camel_case_fields(PROFILE_FIELDS)
        fields += ["profilePhoto"]
        extra_kwargs["email"] = EMAIL_UNCHECKED

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            data = normalised(
                data,
                spelling=PROFILE_SPELLING,
                refused=PROFILE_REFUSED_KEYS,
                doctor=self.instance.is_doctor,
            )
        return super().to_internal_value(data)

    def validate_email(self, value):
        return normalize_email(value)

    def validate_userType(self, value):
        if value is not None and parse_role(value) != self.instance.user_type:
            raise serializers.ValidationError("The role cannot be changed.")
        return value

    def validate(self, attrs):
        attrs.pop("user_type", None)  # accepted above only when unchanged
        return attrs
