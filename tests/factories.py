from datetime import datetime, time, timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from doctor.models import Booking, TimeSlot

# The one password every test user has.
PASSWORD = "S3cure-pass-123"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    user_type = "user"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class PatientFactory(UserFactory):
    user_type = "user"


class DoctorFactory(UserFactory):
    user_type = "doctor"
    full_name = factory.Sequence(lambda n: f"Dr Doctor {n}")
    specialization = "pediatric"
    years_of_experience = 8
    consultation_fee = 500
    clinic_address = "MG Road"


def tomorrow():
    return timezone.localdate() + timedelta(days=1)


class TimeSlotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimeSlot

    doctor = factory.SubFactory(DoctorFactory)
    date = factory.LazyFunction(tomorrow)
    start_time = time(10, 0)
    duration = 30
    end_time = factory.LazyAttribute(
        lambda o: (datetime.combine(o.date, o.start_time) + timedelta(minutes=o.duration)).time()
    )


class BookingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Booking

    slot = factory.SubFactory(TimeSlotFactory, is_booked=True, is_available=False)
    patient = factory.SubFactory(PatientFactory)


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "events.WebhookEndpoint"

    url = factory.Sequence(lambda n: f"http://127.0.0.1:9/hook{n}")
