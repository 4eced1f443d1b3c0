"""`manage.py seed_demo`: demo accounts and upcoming slots, once however often it runs,
and only under DEBUG unless forced."""

from datetime import time
from io import StringIO

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.management import CommandError, call_command

from accounts.models import UserProfile
from doctor.management.commands.seed_demo import ADMIN, DEMO_PASSWORD, DOCTORS, PATIENTS
from doctor.models import TimeSlot
from doctor.rules import overlaps

pytestmark = pytest.mark.django_db

SLOTS_PER_DOCTOR = 5 * 6  # five weekdays, 09:00-12:00 in 30 minutes


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def counts():
    return {
        kind: UserProfile.objects.filter(user_type=kind).count()
        for kind in ("admin", "doctor", "user")
    } | {"slots": TimeSlot.objects.count()}


def test_it_creates_the_demo_accounts_and_upcoming_slots(debug, api_client):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert DEMO_PASSWORD in out.getvalue()
    for account in [ADMIN, *PATIENTS, *DOCTORS]:
        assert account["email"] in out.getvalue()
    assert counts() == {"admin": 1, "doctor": 4, "user": 2, "slots": 4 * SLOTS_PER_DOCTOR}
    admin = UserProfile.objects.get(email=ADMIN["email"])
    assert admin.is_staff and admin.is_superuser
    doctors = UserProfile.objects.filter(user_type="doctor")
    assert len({d.specialization for d in doctors}) == 4
    for user in UserProfile.objects.all():
        assert user.check_password(DEMO_PASSWORD)
        validate_password(DEMO_PASSWORD, user)  # raises if a validator refuses it

    response = api_client.get("/api/doctor/user/timeslots/")
    assert response.status_code == 200
    assert len(response.json()) == 4 * SLOTS_PER_DOCTOR
    first = response.json()[0]
    assert (first["start_time"], first["end_time"], first["duration"]) == (
        "09:00:00",
        "09:30:00",
        30,
    )
    assert {s["date"] for s in response.json()} == {
        s.date.isoformat() for s in TimeSlot.objects.all()
    }
    assert all(s.date.weekday() < 5 for s in TimeSlot.objects.all())


def test_running_it_twice_creates_no_duplicates(debug):
    call_command("seed_demo")
    before = counts()
    call_command("seed_demo")
    assert counts() == before


def test_it_skips_slots_that_would_overlap_existing_ones(debug):
    call_command("seed_demo")
    doctor = UserProfile.objects.get(email=DOCTORS[0]["email"])
    day = TimeSlot.objects.filter(doctor=doctor).first().date
    TimeSlot.objects.filter(doctor=doctor, date=day, start_time__lt=time(10, 0)).delete()
    TimeSlot.objects.create(
        doctor=doctor, date=day, start_time=time(9, 15), end_time=time(9, 45), duration=30
    )
    call_command("seed_demo")
    assert TimeSlot.objects.filter(doctor=doctor).count() == SLOTS_PER_DOCTOR - 1
    slots = list(TimeSlot.objects.filter(doctor=doctor))
    for slot in slots:
        assert [other for other in slots if overlaps(slot, other)] == [slot]


def test_it_refuses_to_run_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")
    assert counts() == {"admin": 0, "doctor": 0, "user": 0, "slots": 0}


def test_force_runs_it_without_debug(settings):
    settings.DEBUG = False
    call_command("seed_demo", "--force")
    assert counts() == {"admin": 1, "doctor": 4, "user": 2, "slots": 4 * SLOTS_PER_DOCTOR}


def test_the_demo_patient_logs_in_with_the_documented_password(debug, api_client):
    call_command("seed_demo")
    response = api_client.post(
        "/api/login/",
        {"email": PATIENTS[0]["email"], "password": DEMO_PASSWORD, "userType": "patient"},
    )
    assert response.status_code == 200
    assert response.json()["user"]["email"] == PATIENTS[0]["email"]
    assert response.json()["user"]["userType"] == "user"


def test_every_demo_doctor_card_is_filled_and_named_without_dr(debug, api_client):
    call_command("seed_demo")

    cards = api_client.get("/api/doctor/list/").json()

    assert len(cards) == len(DOCTORS)
    for card in cards:
        # The React client shows "Dr. <name>": a name starting with "Dr" reads "Dr. Dr".
        assert not card["name"].lower().startswith("dr"), card["name"]
        for key in ("name", "specialty", "hospital", "languages", "description"):
            assert card[key].strip(), (card["name"], key)
        assert card["experience"] > 0
        # A fee for every visit the doctor offers: clinic, video, and home when offered.
        assert card["consultationFee"] > 0 and card["videoConsultFee"] > 0
        assert card["homeConsultFee"] > 0 or not card["homeConsultation"]
    for account in [*DOCTORS, *PATIENTS]:
        assert not account["full_name"].lower().startswith("dr")


def test_every_demo_doctor_profile_is_filled(debug):
    call_command("seed_demo")

    for doctor in UserProfile.objects.filter(user_type="doctor"):
        for name in ("phone", "medical_license", "city", "state", "pincode"):
            assert getattr(doctor, name), (doctor.email, name)
        doctor.full_clean()  # every demo value passes the model's own rules
