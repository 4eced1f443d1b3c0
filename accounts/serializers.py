from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from accounts.models import UserProfile, UserType, normalize_email

# The React signup and profile pages send camelCase; the contract accepts both.
CAMEL_TO_SNAKE = {
    "fullName": "full_name",
    "userType": "user_type",
    "yearsOfExperience": "years_of_experience",
    "consultationFee": "consultation_fee",
    "clinicAddress": "clinic_address",
}
DOCTOR_FIELDS = ("specialization", "years_of_experience", "consultation_fee", "clinic_address")
# Keys that would grant privileges or bypass the password flow: refused outright.
PRIVILEGED_KEYS = (
    "is_staff",
    "isStaff",
    "is_superuser",
    "isSuperuser",
    "is_active",
    "isActive",
    "groups",
    "user_permissions",
)


def snake_case_keys(data):
    """Rename the camelCase keys we know; both spellings at once must agree."""
    if not hasattr(data, "items"):
        return data
    out = dict(data.items())
    for camel, snake in CAMEL_TO_SNAKE.items():
        if camel in out:
            value = out.pop(camel)
            if snake in out and out[snake] != value:
                # e.g. userType "admin" beside user_type "user": never pick one silently.
                raise serializers.ValidationError(
                    {snake: [f"Given as {snake} and {camel} with different values."]}
                )
            out[snake] = value
    # Form pages send "" for an empty number input: that means unset.
    for key in ("years_of_experience", "consultation_fee"):
        if out.get(key) == "":
            out[key] = None
    return out


def refuse_privileged_keys(data, keys=PRIVILEGED_KEYS):
    if not hasattr(data, "keys"):
        return
    errors = {key: ["This field cannot be set."] for key in keys if key in data}
    if errors:
        raise serializers.ValidationError(errors)


class DoctorFieldsMixin(serializers.Serializer):
    specialization = serializers.CharField(
        max_length=100, required=False, allow_blank=True, allow_null=True
    )
    years_of_experience = serializers.IntegerField(
        min_value=0, max_value=80, required=False, allow_null=True
    )
    consultation_fee = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    clinic_address = serializers.CharField(
        max_length=255, required=False, allow_blank=True, allow_null=True
    )


def clean_optional_text(attrs, *keys):
    """null and "" both mean unset for the optional text fields."""
    for key in keys:
        if key in attrs and attrs[key] is None:
            attrs[key] = ""


class SignupSerializer(DoctorFieldsMixin):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    full_name = serializers.CharField(max_length=150)
    user_type = serializers.CharField()
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True, allow_null=True)

    def to_internal_value(self, data):
        refuse_privileged_keys(data)
        data = snake_case_keys(data)
        if hasattr(data, "items") and str(data.get("user_type", "")).lower() != UserType.DOCTOR:
            # Doctor fields mean nothing for a patient: not stored, so not validated.
            data = {k: v for k, v in data.items() if k not in DOCTOR_FIELDS}
        return super().to_internal_value(data)

    def validate_email(self, value):
        return normalize_email(value)

    def validate_user_type(self, value):
        value = value.strip().lower()
        if value == "patient":
            return UserType.USER
        if value in (UserType.USER, UserType.DOCTOR):
            return value
        if value == UserType.ADMIN:
            raise serializers.ValidationError("Admin accounts cannot be created by signup.")
        raise serializers.ValidationError('Must be "user", "patient" or "doctor".')

    def validate(self, attrs):
        if attrs["user_type"] != UserType.DOCTOR:
            for key in DOCTOR_FIELDS:
                attrs.pop(key, None)
        clean_optional_text(attrs, "phone", "specialization", "clinic_address")
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
        return super().to_internal_value(snake_case_keys(data))


class LoginUserSerializer(serializers.ModelSerializer):
    userType = serializers.CharField(source="user_type")
    fullName = serializers.CharField(source="full_name")

    class Meta:
        model = UserProfile
        fields = ["id", "email", "userType", "fullName"]


class ProfileSerializer(serializers.ModelSerializer):
    """The caller's own profile in the keys the dashboards read."""

    fullName = serializers.CharField(source="full_name", max_length=150)
    userType = serializers.CharField(source="user_type", read_only=True)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    yearsOfExperience = serializers.IntegerField(
        source="years_of_experience", min_value=0, max_value=80, required=False, allow_null=True
    )
    consultationFee = serializers.DecimalField(
        source="consultation_fee",
        max_digits=10,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
    )
    clinicAddress = serializers.CharField(
        source="clinic_address", max_length=255, required=False, allow_blank=True
    )
    specialization = serializers.CharField(max_length=100, required=False, allow_blank=True)

    class Meta:
        model = UserProfile
        fields = [
            "id",
            "email",
            "fullName",
            "userType",
            "phone",
            "specialization",
            "yearsOfExperience",
            "consultationFee",
            "clinicAddress",
        ]
        read_only_fields = ["id"]
        # Uniqueness is checked case-insensitively in validate_email.
        extra_kwargs = {"email": {"validators": []}}

    DOCTOR_KEYS = ("specialization", "yearsOfExperience", "consultationFee", "clinicAddress")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.user_type != UserType.DOCTOR:
            for key in self.DOCTOR_KEYS:
                data.pop(key)
        return data

    def to_internal_value(self, data):
        refuse_privileged_keys(data, PRIVILEGED_KEYS + ("password", "email_verified"))
        if not hasattr(data, "items"):
            return super().to_internal_value(data)
        data = dict(data.items())
        for camel, snake in CAMEL_TO_SNAKE.items():
            if snake in data:
                data.setdefault(camel, data.pop(snake))
        # Clients may send the whole profile back: an unchanged role is fine.
        role = data.pop("userType", None)
        role = str(role).strip().lower() if role is not None else None
        if role == "patient":
            role = UserType.USER
        if role is not None and role != self.instance.user_type:
            raise serializers.ValidationError({"userType": ["The role cannot be changed."]})
        data.pop("id", None)
        if self.instance.user_type != UserType.DOCTOR:
            for key in self.DOCTOR_KEYS:
                data.pop(key, None)
        for key in ("yearsOfExperience", "consultationFee"):
            if data.get(key) == "":
                data[key] = None
        for key in ("phone", "specialization", "clinicAddress"):
            if key in data and data[key] is None:
                data[key] = ""
        return super().to_internal_value(data)

    def validate_email(self, value):
        value = normalize_email(value)
        taken = UserProfile.objects.filter(email__iexact=value).exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError("Email already registered")
        return value
