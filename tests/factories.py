from datetime import datetime, time, timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from doctor.models import Booking, Hold, Review, TimeSlot, WaitlistEntry

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


def yesterday():
    return timezone.localdate() - timedelta(days=1)


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

    class Params:
        # A slot that has already started: yesterday's (the API refuses to make one).
        past = factory.Trait(date=factory.LazyFunction(yesterday))


class BookingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Booking

    slot = factory.SubFactory(TimeSlotFactory, is_booked=True, is_available=False)
    patient = factory.SubFactory(PatientFactory)

    class Params:
        # A booking whose slot has already started.
        past = factory.Trait(slot__past=True)


# The rows below are states a test starts from: made directly, they bypass the
# services (no list-cache bump, no event, no waitlist offer). A test of a service
# makes them through the API or the service instead.


class HoldFactory(factory.django.DjangoModelFactory):
    """A live hold of the patient's own, as doctor.services.hold_place leaves it."""

    class Meta:
        model = Hold

    slot = factory.SubFactory(TimeSlotFactory)
    patient = factory.SubFactory(PatientFactory)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=5))

    class Params:
        # A waitlist offer (doctor.services.offer_freed_slot): 15 minutes, apart from
        # the one-hold-per-patient rule.
        offer = factory.Trait(
            kind=Hold.Kind.OFFER,
            expires_at=factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=15)),
        )
        # Still marked active, but its time is up.
        lapsed = factory.Trait(
            expires_at=factory.LazyFunction(lambda: timezone.now() - timedelta(seconds=1))
        )


class WaitlistEntryFactory(factory.django.DjangoModelFactory):
    """A patient waiting for a slot of `doctor` tomorrow."""

    class Meta:
        model = WaitlistEntry

    patient = factory.SubFactory(PatientFactory)
    doctor = factory.SubFactory(DoctorFactory)
    date_from = factory.LazyFunction(tomorrow)
    date_to = factory.LazyAttribute(lambda o: o.date_from)


class ReviewFactory(factory.django.DjangoModelFactory):
    """A patient's review of a completed visit (yesterday's)."""

    class Meta:
        model = Review

    booking = factory.SubFactory(BookingFactory, past=True, status=Booking.Status.COMPLETED)
    doctor = factory.LazyAttribute(lambda o: o.booking.slot.doctor)
    rating = 5


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "events.WebhookEndpoint"

    url = factory.Sequence(lambda n: f"http://127.0.0.1:9/hook{n}")
