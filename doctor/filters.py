"""Query-string filters of the list endpoints (contract Part 2)."""

import django_filters
from django import forms
from django.db.models import Q
from rest_framework.exceptions import ValidationError

from accounts.models import UserProfile
from doctor.models import TimeSlot
from doctor.serializers import DATE_FORMATS, ISO_DATE, MAX_ID


class IdFilter(django_filters.NumberFilter):
    """An integer id; anything that cannot be a bigint is a 400, not a database error."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class IsoDateFormField(forms.DateField):
    """YYYY-MM-DD, exactly (strptime alone also takes "2032-5-5")."""

    input_formats = DATE_FORMATS

    def to_python(self, value):
        if isinstance(value, str) and value and not ISO_DATE.fullmatch(value.strip()):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class IsoDateFilter(django_filters.DateFilter):
    field_class = IsoDateFormField


def filtered(filterset_class, request, queryset):
    """Apply a FilterSet to the query string; invalid values answer 400 with field errors."""
    filterset = filterset_class(request.query_params, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs


class AvailableSlotFilter(django_filters.FilterSet):
    doctor = IdFilter(field_name="doctor_id")
    date = IsoDateFilter(field_name="date")
    date_from = IsoDateFilter(field_name="date", lookup_expr="gte")
    date_to = IsoDateFilter(field_name="date", lookup_expr="lte")
    specialization = django_filters.CharFilter(
        field_name="doctor__specialization", lookup_expr="iexact", max_length=100
    )

    class Meta:
        model = TimeSlot
        fields = []


class OwnSlotFilter(django_filters.FilterSet):
    date = IsoDateFilter(field_name="date")
    upcoming = django_filters.ChoiceFilter(
        choices=[(v, v) for v in ("true", "false", "1", "0")], method="filter_upcoming"
    )

    class Meta:
        model = TimeSlot
        fields = []

    def filter_upcoming(self, queryset, name, value):
        # upcoming=true: only slots still to start; false or absent: all.
        return queryset.upcoming() if value in ("true", "1") else queryset


class DoctorFilter(django_filters.FilterSet):
    specialization = django_filters.CharFilter(lookup_expr="iexact", max_length=100)
    search = django_filters.CharFilter(method="filter_search", max_length=100)

    class Meta:
        model = UserProfile
        fields = []

    def filter_search(self, queryset, name, value):
        """Doctors whose name, specialization or clinic address contains the text."""
        return queryset.filter(
            Q(full_name__icontains=value)
            | Q(specialization__icontains=value)
            | Q(clinic_address__icontains=value)
        )
