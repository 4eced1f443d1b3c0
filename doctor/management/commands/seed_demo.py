"""Demo data for local use: four doctors (every card field filled) with a week of slots,
two patients, one admin.

Every demo account has the password DEMO_PASSWORD. Safe to run again: accounts
are looked up by email and left as they are, and a slot is only added where the
doctor has none overlapping it. Refuses to run with DEBUG off unless --force is
given, so accounts with a published password never reach production by accident.
"""

from datetime import time, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import UserProfile, UserType
from doctor.services import slots_bulk_create

DEMO_PASSWORD = "Demo-pass-2026"

# Every field a doctor card shows is filled, with a fee for each visit the doctor
# offers (clinic, video, and home where home_consultation), and no name starts with
# "Dr": the React client adds "Dr." itself.
DOCTORS = [
    {
        "email": "dr.lakshman@demo.quickmed.example",
        "full_name": "Lakshman Rao",
        "phone": "+91 80 4110 2301",
        "specialization": "pediatric",
        "years_of_experience": 8,
        "consultation_fee": 500,
        "video_consult_fee": 400,
        "home_consult_fee": 900,
        "home_consultation": True,
        "clinic_address": "12 MG Road, Bengaluru",
        "languages": "English, Kannada, Hindi",
        "description": "Child health from newborns to teens: check-ups, vaccinations, "
        "fevers and growth.",
        "medical_license": "KMC-48213",
        "city": "Bengaluru",
        "state": "Karnataka",
        "pincode": "560001",
    },
    {
        "email": "dr.meera@demo.quickmed.example",
        "full_name": "Meera Iyer",
        "phone": "+91 44 2829 3302",
        "specialization": "cardiology",
        "years_of_experience": 15,
        "consultation_fee": 1200,
        "video_consult_fee": 900,
        "home_consult_fee": 2000,
        "home_consultation": False,
        "clinic_address": "Heart Care Centre, 4 Greams Road, Chennai",
        "languages": "English, Tamil",
        "description": "Heart check-ups, blood pressure and cholesterol care, ECG review "
        "and follow-up after a cardiac event.",
        "medical_license": "TNMC-77102",
        "city": "Chennai",
        "state": "Tamil Nadu",
        "pincode": "600006",
    },
    {
        "email": "dr.arjun@demo.quickmed.example",
        "full_name": "Arjun Mehta",
        "phone": "+91 22 2640 3303",
        "specialization": "dermatology",
        "years_of_experience": 6,
        "consultation_fee": 800,
        "video_consult_fee": 600,
        "home_consult_fee": 1500,
        "home_consultation": False,
        "clinic_address": "Skin Clinic, 21 Hill Road, Bandra West, Mumbai",
        "languages": "English, Hindi, Marathi, Gujarati",
        "description": "Acne, eczema, psoriasis, hair and nail problems; photos welcome "
        "on a video visit.",
        "medical_license": "MMC-2019-05531",
        "city": "Mumbai",
        "state": "Maharashtra",
        "pincode": "400050",
    },
    {
        "email": "dr.sara@demo.quickmed.example",
        "full_name": "Sara Thomas",
        "phone": "+91 484 231 3304",
        "specialization": "general",
        "years_of_experience": 20,
        "consultation_fee": 400,
        "video_consult_fee": 300,
        "home_consult_fee": 700,
        "home_consultation": True,
        "clinic_address": "Family Clinic, Panampilly Nagar, Kochi",
        "languages": "English, Malayalam, Tamil",
        "description": "Family medicine for all ages: fevers, diabetes and blood pressure "
        "reviews, and home visits for elderly patients.",
        "medical_license": "TCMC-31877",
        "city": "Kochi",
        "state": "Kerala",
        "pincode": "682036",
    },
]
PATIENTS = [
    {
        "email": "asha@demo.quickmed.example",
        "full_name": "Asha Nair",
        "phone": "+91 98450 11111",
        "gender": "female",
        "city": "Kochi",
        "district": "Ernakulam",
        "state": "Kerala",
        "pincode": "682020",
    },
    {
        "email": "rahul@demo.quickmed.example",
        "full_name": "Rahul Verma",
        "phone": "+91 98450 22222",
        "gender": "male",
        "city": "Bengaluru",
        "district": "Bengaluru Urban",
        "state": "Karnataka",
        "pincode": "560034",
    },
]
ADMIN = {"email": "admin@demo.quickmed.example", "full_name": "Demo Admin"}

DAYS = 5  # weekdays, starting tomorrow
DAY_START, DAY_END = time(9, 0), time(12, 0)
SLOT_MINUTES = 30


def next_weekdays(count):
    """The next `count` Monday-to-Friday dates after today, on the clinic's calendar."""
    day, days = timezone.localdate(), []
    while len(days) < count:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days


class Command(BaseCommand):
    help = "Create demo doctors, patients, an admin and upcoming slots (local use only)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off (creates accounts with a published password).",
        )

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to create demo accounts with a published password while DEBUG "
                "is off. Run with DEBUG=1 for local use, or pass --force if you mean it."
            )
        with transaction.atomic():
            logins = [self.account(UserType.ADMIN, ADMIN)]
            logins += [self.account(UserType.USER, fields) for fields in PATIENTS]
            logins += [self.account(UserType.DOCTOR, fields) for fields in DOCTORS]
            # is_doctor, not the list: an address already taken by a patient gets no slots.
            slots = sum(self.add_slots(user) for user, _ in logins if user.is_doctor)
        self.stdout.write(f"Added {slots} slot(s). Demo logins (password {DEMO_PASSWORD}):")
        for user, created in logins:
            state = "created" if created else "already there, left unchanged"
            self.stdout.write(f"  {user.get_user_type_display():<8} {user.email:<36} {state}")

    def account(self, user_type, fields):
        """The account with this email, created with the demo password if missing."""
        email, extra = fields["email"], {k: v for k, v in fields.items() if k != "email"}
        user = UserProfile.objects.filter(email=email).first()
        if user is not None:
            return user, False
        if user_type == UserType.ADMIN:
            user = UserProfile.objects.create_superuser(email, DEMO_PASSWORD, **extra)
        else:
            user = UserProfile.objects.create_user(
                email, DEMO_PASSWORD, user_type=user_type, **extra
            )
        return user, True

    def add_slots(self, doctor):
        """The week's slots for `doctor`, through the API's own service; slots that
        would overlap one already there are left out, so a second run adds none."""
        days = next_weekdays(DAYS)
        added = slots_bulk_create(
            doctor=doctor,
            skip_taken=True,
            date=days[0],
            date_to=days[-1],
            weekdays=range(5),
            start_time=DAY_START,
            end_time=DAY_END,
            duration=SLOT_MINUTES,
        )
        return len(added)
