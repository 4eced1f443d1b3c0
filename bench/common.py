"""What bench/run.py and bench/profile_list.py share: the bench database and its
data, and the in-process timing.

Everything here runs against a dedicated PostgreSQL database (quickmed_bench by
default), never the test databases, and is only ever imported by the bench
scripts: pytest does not collect this folder (testpaths is tests/).
"""

import json
import os
import statistics
import sys
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from time import perf_counter, process_time
from urllib.parse import urlsplit, urlunsplit

# The application the bench runs: this checkout, or (bench/booking.py's baseline)
# another ref's checkout, named by BENCH_APP_ROOT.
ROOT = Path(os.environ.get("BENCH_APP_ROOT") or Path(__file__).resolve().parent.parent)
DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/quickmed_bench"
FORBIDDEN_DBS = {"test", "test_test", "postgres", "template0", "template1"}

# The server under test runs as in production (DEBUG off), unthrottled so that
# the figures measure the code, not the rate limits.
BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "0",
    "SECRET_KEY": "bench-only-secret-key-never-used-elsewhere-0123456789",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "TIME_ZONE": "UTC",
    "THROTTLE_RATE_BOOKING": "100000/min",
    "THROTTLE_RATE_LOGIN": "100000/min",
    "THROTTLE_RATE_SIGNUP": "100000/min",
    "THROTTLE_RATE_SLOTS": "100000/min",
}


def __getattr__(name):
    """SLOT_COLUMNS and DOCTOR_COLUMNS, the columns the slot and doctor JSON show,
    which the floor reads: derived from the app's one description of the shape
    (so read them after setup_django(), as the scripts do)."""
    from doctor.rendering import shape_of
    from doctor.serializers import DoctorMiniSerializer, TimeSlotSerializer

    shapes = {"SLOT_COLUMNS": TimeSlotSerializer, "DOCTOR_COLUMNS": DoctorMiniSerializer}
    if name not in shapes:
        raise AttributeError(name)
    return shape_of(shapes[name]).all_columns()


SPECIALIZATIONS = ["pediatric", "cardiology", "dermatology", "orthopedics", "general", ""]
SLOT_MINUTES = 30
SLOTS_PER_DAY = 16  # 08:00 to 16:00


def bench_env(db_url):
    return dict(BENCH_ENV, DATABASE_URL=db_url)


def ensure_database(db_url):
    """Create the bench database if it is missing; refuse anything but a bench one."""
    import psycopg

    parts = urlsplit(db_url)
    name = parts.path.lstrip("/")
    if parts.scheme not in ("postgres", "postgresql") or not name:
        sys.exit(f"bench: DATABASE_URL must be a PostgreSQL URL with a database name: {db_url}")
    if name in FORBIDDEN_DBS:
        sys.exit(f"bench: refusing to use the {name!r} database; pick a dedicated one")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(db_url):
    """Configure this process like the server: same settings, the bench database."""
    os.environ.update(bench_env(db_url))
    # Per-process throttle counters: the bench needs no Redis (and is unthrottled anyway).
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _user(email, **fields):
    from accounts.models import UserProfile

    user = UserProfile.objects.filter(email=email).first()
    if user is None:
        # No password: the bench mints tokens directly, and hashing costs seconds.
        user = UserProfile(email=email, **fields)
        user.set_unusable_password()
        user.save()
    return user


def doctors(count):
    """`count` doctors whose fields take every shape the JSON has (fee unset, cents, ...)."""
    made = []
    for i in range(count):
        fee = None if i % 10 == 3 else Decimal("499.50") if i % 7 == 1 else Decimal(300 + 50 * i)
        made.append(
            _user(
                f"bench-doctor-{i}@bench.invalid",
                full_name=f"Dr Bench {i}",
                user_type="doctor",
                specialization=SPECIALIZATIONS[i % len(SPECIALIZATIONS)],
                years_of_experience=None if i % 9 == 4 else i % 40,
                consultation_fee=fee,
                clinic_address=f"{i} MG Road, Bengaluru",
            )
        )
    return made


def patients(count):
    return [
        _user(f"bench-patient-{i}@bench.invalid", full_name=f"Patient {i}", user_type="user")
        for i in range(count)
    ]


def access_token(user):
    from rest_framework_simplejwt.tokens import RefreshToken

    return str(RefreshToken.for_user(user).access_token)


def first_day():
    """Tomorrow in the clinic's zone: no seeded slot is past, whatever the hour."""
    from django.utils import timezone

    return timezone.localdate() + timedelta(days=1)


def slot_rows(doctor_ids, count, start_day=None):
    """(doctor_id, date, start_time, end_time) of `count` future slots spread evenly
    over the doctors, 16 half-hour slots a day each."""
    start_day = start_day or first_day()
    clock = [
        datetime.combine(date.min, time(8)) + timedelta(minutes=SLOT_MINUTES * k)
        for k in range(SLOTS_PER_DAY + 1)
    ]
    times = [(clock[k].time(), clock[k + 1].time()) for k in range(SLOTS_PER_DAY)]
    for n in range(count):
        k = n // len(doctor_ids)  # the doctor's k-th slot
        start, end = times[k % SLOTS_PER_DAY]
        yield (
            doctor_ids[n % len(doctor_ids)],
            start_day + timedelta(days=k // SLOTS_PER_DAY),
            start,
            end,
        )


def build_slots(doctor_list, count, start_day=None):
    """The same slots as unsaved TimeSlot objects."""
    from doctor.models import TimeSlot

    ids = [d.id for d in doctor_list]
    return [
        TimeSlot(doctor_id=d, date=day, start_time=s, end_time=e, duration=SLOT_MINUTES)
        for d, day, s, e in slot_rows(ids, count, start_day)
    ]


def copy_slots(doctor_list, count):
    """The seeded slots through PostgreSQL's COPY: a million rows in seconds, where
    bulk_create would build a million model objects first."""
    from django.db import connection

    # COPY fills no Django default: every NOT NULL column is named (source: issue 20).
    columns = "doctor_id, date, start_time, end_time, duration, is_available, is_booked, source"
    sql = f"COPY doctor_timeslot ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in slot_rows([d.id for d in doctor_list], count):
            copy.write_row((*row, SLOT_MINUTES, True, False, "manual"))
    bump()


def bump():
    """The bench writes rows behind the services' back: tell the servers' list cache."""
    from listcache.services import bump_after_commit

    bump_after_commit()


def reset_slots():
    """Empty the slot and booking tables (TRUNCATE: deleting 100,000 rows one by one is slow)."""
    from django.db import connection

    with connection.cursor() as cursor:
        # CASCADE: whatever hangs off slots and bookings (holds, events) goes with them.
        cursor.execute("TRUNCATE doctor_booking, doctor_timeslot RESTART IDENTITY CASCADE")
    bump()


def delete_unused(slot_ids):
    """Delete the slots among `slot_ids` no booking took (and their holds): a booking
    run's pool is larger than it can use, and its leftovers would otherwise stay
    bookable and swell the lists measured after it. Booked slots stay.

    A request still in flight when the load stopped holds its slot's lock: the
    unbooked slots are locked first (waiting for it), so the deletes that follow,
    each a statement with a fresh snapshot, see what it committed."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM doctor_timeslot WHERE id = ANY(%s) AND NOT is_booked FOR UPDATE",
            [slot_ids],
        )
        unused = [row[0] for row in cursor.fetchall()]
        unbooked = (
            "SELECT id FROM doctor_timeslot WHERE id = ANY(%s) AND NOT EXISTS"
            " (SELECT 1 FROM doctor_booking WHERE doctor_booking.slot_id = doctor_timeslot.id)"
        )
        cursor.execute(f"DELETE FROM doctor_hold WHERE slot_id IN ({unbooked})", [unused])
        cursor.execute(f"DELETE FROM doctor_timeslot WHERE id IN ({unbooked})", [unused])
        deleted = cursor.rowcount
    bump()
    return deleted


def insert_slots(slots):
    from doctor.models import TimeSlot

    created = TimeSlot.objects.bulk_create(slots, batch_size=5000)
    bump()
    return created


def analyze():
    """Fresh planner statistics, as autovacuum would give a table that has been in use."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE doctor_timeslot")
        cursor.execute("VACUUM ANALYZE doctor_booking")
        cursor.execute("VACUUM ANALYZE accounts_userprofile")


def seed(n_slots, n_doctors):
    """N future bookable slots over M doctors, on empty slot and booking tables."""
    doctor_list = doctors(n_doctors)
    reset_slots()
    copy_slots(doctor_list, n_slots)
    analyze()
    return doctor_list


def encode(rows):
    """JSON bytes with the same encoder and separators as DRF's JSONRenderer, so
    dates, times and Decimals cost what they cost in the real response."""
    from rest_framework.utils.encoders import JSONEncoder

    return json.dumps(rows, cls=JSONEncoder, separators=(",", ":"), ensure_ascii=False).encode()


def median_ms(func, repeat=30):
    """{"wall", "cpu"}: median wall and CPU milliseconds of `repeat` calls, after
    one warm-up call (first-call caches: serializer fields, query compilation).
    The CPU figure is this process's: not inflated by other processes competing
    for the cores, and, like the workers' CPU figure, without PostgreSQL's work."""
    func()
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = perf_counter(), process_time()
        func()
        wall.append(perf_counter() - start)
        cpu.append(process_time() - start_cpu)
    return {"wall": statistics.median(wall) * 1000, "cpu": statistics.median(cpu) * 1000}
