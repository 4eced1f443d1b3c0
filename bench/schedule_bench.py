"""The weekly schedules' bench (issue 20): printed by bench/run.py.

    .venv/bin/python bench/run.py --schedules       # this bench alone, ~1 min
    .venv/bin/python bench/run.py                   # the whole bench, this one last

1. PUT /api/doctor/schedule/ for one doctor: 26 weeks of 15-minute slots,
   every day 08:00-10:45 (11 slots a day, 2,002 slots), through the whole view
   stack in-process (auth, throttle, validation, the unit of work), on an empty
   horizon, again unchanged, and moved by 5 minutes (every slot removed and
   made again, 5 minutes later); wall time and query count of each. Target: within 2 s, and the
   same number of queries whatever the horizon (1 week against 26).
2. The daily roll for 1,000 doctors (4 weeks ahead, 08:00-16:00 in 30-minute
   slots, one day entered the horizon: 16,000 slots made), then again (nothing
   to make). Target: within a minute.

Runs in its own PostgreSQL database (quickmed_bench_schedules by default), so
it never disturbs the slot tables bench/run.py's load runs seed.
"""

import time
from datetime import timedelta

import common

DB_URL = "postgres://postgres@127.0.0.1:5432/quickmed_bench_schedules"
PUT_TARGET_S = 2.0
ROLL_TARGET_S = 60.0
ROLL_DOCTORS = 1000
EVERY_DAY = [(day, "08:00", "10:45") for day in range(7)]
CAP = "100000"  # MAX_OPEN_SLOTS_PER_DOCTOR: 26 weeks of slots is above the default 2,000


def _week(windows, weeks_ahead, minutes=15):
    rows = [{"weekday": d, "start_time": s, "end_time": e} for d, s, e in windows]
    return {"slot_minutes": minutes, "weeks_ahead": weeks_ahead, "windows": rows}


def _reset():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE doctor_booking, doctor_timeslot, schedules_schedule,"
            " schedules_override RESTART IDENTITY CASCADE"
        )


def _timed_put(client, body):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        response = client.put("/api/doctor/schedule/", body, format="json")
        elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise SystemExit(f"bench: schedule PUT answered {response.status_code}: {response.json()}")
    reply = response.json()
    return {
        "seconds": elapsed,
        "queries": len(queries.captured_queries),
        "made": reply["made"],
        "removed": reply["removed"],
    }


def bench_put():
    from rest_framework.test import APIClient

    (doctor,) = common.doctors(1)
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {common.access_token(doctor)}")
    _reset()
    one_week = _timed_put(client, _week(EVERY_DAY, 1))
    _reset()
    runs = {"26 weeks, empty horizon": _timed_put(client, _week(EVERY_DAY, 26))}
    runs["26 weeks, unchanged"] = _timed_put(client, _week(EVERY_DAY, 26))
    moved = [(day, "08:05", "10:50") for day in range(7)]
    runs["26 weeks, every slot moved"] = _timed_put(client, _week(moved, 26))
    return {"one_week": one_week, "runs": runs}


def _seed_roll(today):
    """1,000 doctors with a schedule made through yesterday's horizon end."""
    from datetime import time as clock

    from schedules.models import Schedule, Window

    _reset()
    doctor_list = common.doctors(ROLL_DOCTORS)
    made_through = today + timedelta(days=7 * 4 - 2)
    schedules = Schedule.objects.bulk_create(
        Schedule(doctor=d, slot_minutes=30, weeks_ahead=4, made_through=made_through)
        for d in doctor_list
    )
    Window.objects.bulk_create(
        Window(schedule=s, weekday=day, start_time=clock(8), end_time=clock(16))
        for s in schedules
        for day in range(7)
    )


def bench_roll():
    from doctor.clock import clinic_now
    from schedules.services import roll

    _seed_roll(clinic_now().date())
    start = time.perf_counter()
    made = roll()
    first = time.perf_counter() - start
    start = time.perf_counter()
    again = roll()
    second = time.perf_counter() - start
    return {"made": made, "seconds": first, "again_made": again, "again_seconds": second}


def run(db_url=DB_URL):
    """Both benches in this process (Django set up on the schedules' bench database)."""
    import os

    os.environ["MAX_OPEN_SLOTS_PER_DOCTOR"] = CAP
    common.ensure_database(db_url)
    common.setup_django(db_url)
    return {"put": bench_put(), "roll": bench_roll()}


def checks(results):
    """(name, value, passed) for the targets, as bench/run.py prints them."""
    runs, one_week = results["put"]["runs"], results["put"]["one_week"]
    found = [
        (f"schedule PUT, {name}: s <= {PUT_TARGET_S}", r["seconds"], r["seconds"] <= PUT_TARGET_S)
        for name, r in runs.items()
    ]
    same = runs["26 weeks, empty horizon"]["queries"] == one_week["queries"]
    found.append(
        (
            "schedule PUT: queries for 26 weeks == for 1 week",
            f"{runs['26 weeks, empty horizon']['queries']} vs {one_week['queries']}",
            same,
        )
    )
    roll = results["roll"]
    found.append(
        (
            f"daily roll, {ROLL_DOCTORS:,} doctors: s <= {ROLL_TARGET_S:.0f}",
            roll["seconds"],
            roll["seconds"] <= ROLL_TARGET_S,
        )
    )
    found.append(
        ("daily roll run again: slots made == 0", roll["again_made"], not roll["again_made"])
    )
    return found


def print_report(results):
    print("\n# Weekly schedules (issue 20)")
    for name, r in results["put"]["runs"].items():
        print(
            f"  PUT {name:<28} {r['seconds'] * 1000:8.0f} ms  {r['queries']:3} queries"
            f"  made {r['made']:5}  removed {r['removed']:5}"
        )
    w = results["put"]["one_week"]
    label = "1 week, empty horizon"
    print(f"  PUT {label:<28} {w['seconds'] * 1000:8.0f} ms  {w['queries']:3} queries")
    roll = results["roll"]
    print(
        f"  roll, {ROLL_DOCTORS:,} doctors: {roll['seconds']:.1f} s, {roll['made']:,} slots made;"
        f" again: {roll['again_seconds']:.1f} s, {roll['again_made']} made"
    )


def main():
    """Run both, print the figures and the targets (bench/run.py --schedules calls this)."""
    results = run()
    print_report(results)
    print("\n# Targets (weekly schedules)")
    for name, value, ok in checks(results):
        shown = f"{value:.2f}" if isinstance(value, float) else value
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {shown}")
    return results


if __name__ == "__main__":
    main()
