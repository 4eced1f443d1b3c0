"""The write path's bench: booking distinct slots, beside its floor and beside a
baseline ref measured in the same run (issue 23).

    .venv/bin/python bench/run.py --booking-only [--baseline main] [--duration 10]
    .venv/bin/python bench/booking.py measure --db-url URL --json OUT   # one side alone

`measure` runs in a process of its own for each side: the code under test is the
checkout named by BENCH_APP_ROOT (this one, or the baseline's temporary git
worktree), on a database of its own (the baseline's: the bench database's name
+ `_base`), so each side runs with its own migrations. Each side: gunicorn (2
workers, as run.py starts it) loaded with wrk's book.lua at c=1 and c=8, every
request on a fresh slot with its own Idempotency-Key; the workers' CPU per
booking (/proc); the 24-client race; the statements of one booking; a cProfile
of one booking request split by stage. The current side also times the floor:
the booking's own statements sent through psycopg, with no Django at all.
"""

import argparse
import cProfile
import http.client
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from time import perf_counter, process_time

import common

HERE = Path(__file__).resolve().parent
PATIENTS = 16
PROFILED = 200  # bookings in the profile
# Days after the first seeded day at which each use of fresh slots starts.
DAYS = {"warm": 0, "c=1": 30, "c=8": 60, "floor c=1": 90, "floor c=8": 120, "profile": 150}
# The stages of a booking request, by the function whose cumulative time is theirs.
STAGES = [
    ("authentication", "rest_framework/views.py", "perform_authentication"),
    ("permissions", "rest_framework/views.py", "check_permissions"),
    ("throttling", "rest_framework/views.py", "check_throttles"),
    ("idempotency: fingerprint", "idempotency/decorators.py", "fingerprint"),
    ("idempotency: claim", "idempotency/services.py", "key_claim"),
    ("the service (slot_book)", "doctor/bookings.py", "slot_book"),
    ("idempotency: answer", "idempotency/services.py", "key_answer"),
    ("rendering (JSONRenderer)", "rest_framework/renderers.py", "render"),
]
WHOLE = ("django/test/client.py", "request")


def pool_size(duration):
    """Fresh slots enough for `duration` seconds of booking at any speed seen here."""
    return max(2000, 700 * duration)


# --- the floor: the booking's statements through psycopg ------------------------------


class Floor:
    """The statements the booking service sends (doctor/bookings.py with
    idempotency/ and events/; see tests/test_query_counts.py), sent through one
    psycopg connection with client-side binding, as Django sends them: the token's
    user, the key's claim (its own transaction), then in one transaction the slot's
    lock (with its doctor), the patient's lock with the slot's live hold, the
    slot's update (with the booking count), the booking, its audit entry with the
    event and its deliveries (one statement: events/services.py emit_sql), the
    list version and the key's answer. The
    inserts are compiled by Django from the models once, so a column added to a
    model is in the floor too."""

    def __init__(self, db_url, patient_id):
        import psycopg

        self.conn = psycopg.connect(db_url, cursor_factory=psycopg.ClientCursor)
        self.patient_id = patient_id
        self.statements = 0

    def close(self):
        self.conn.close()

    def run(self, sql, params=()):
        self.statements += 1
        cursor = self.conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else None

    def book(self, slot_id):
        from django.conf import settings
        from django.utils import timezone
        from psycopg.types.json import Jsonb

        from events.services import deliveries_sql

        now = timezone.now()
        p = self.patient_id
        self.run(USER_SQL, [p])
        key = f"floor-{uuid.uuid4().hex}"
        ((key_id,),) = self.run(*insert(INSERTS["key"], user_id=p, key=key, created_at=now))
        self.conn.commit()  # the claim: its own transaction
        self.run(LOCK_SQL, [slot_id])
        self.run(PATIENT_SQL, [slot_id] * len(HOLD_COLUMNS) + [p])
        today = now.date()
        cap = settings.MAX_ACTIVE_BOOKINGS  # the server's: measure() raises it for both
        self.run(BOOKED_SQL, [slot_id, p, today, now.time(), today, cap])
        ((booking_id,),) = self.run(
            *insert(INSERTS["booking"], slot_id=slot_id, patient_id=p, created_at=now)
        )
        audit_sql, audit_params = audit_insert(booking_id, slot_id, p, now)
        event_id = uuid.uuid4()
        data = Jsonb({"id": booking_id, "status": "booked", "slot": {"id": slot_id}})
        event_sql, event_params = insert(INSERTS["event"], id=event_id, data=data, created_at=now)
        sql, params = deliveries_sql(event_id, "booking.created", now)
        self.run(
            f'WITH "w0" AS ({audit_sql}), "w1" AS ({event_sql}) {sql}',
            [*audit_params, *event_params, *params],
        )
        self.run(VERSION_SQL)
        self.run(ANSWER_SQL, [200, b'{"message":"Slot booked successfully"}', key_id, now])
        self.conn.commit()


USER_SQL = 'SELECT * FROM "accounts_userprofile" WHERE "id" = %s LIMIT 21'
LOCK_SQL = (
    'SELECT * FROM "doctor_timeslot" INNER JOIN "accounts_userprofile"'
    ' ON ("doctor_timeslot"."doctor_id" = "accounts_userprofile"."id")'
    ' WHERE "doctor_timeslot"."retired_at" IS NULL AND "doctor_timeslot"."id" = %s'
    ' ORDER BY "doctor_timeslot"."id" LIMIT 1 FOR UPDATE OF "doctor_timeslot"'
)
HOLD_COLUMNS = ("id", "patient_id", "status", "kind", "visit_type", "created_at", "expires_at")
PATIENT_SQL = (
    "SELECT "
    + ", ".join(
        f'(SELECT "{c}" FROM "doctor_hold" WHERE "slot_id" = %s AND "status" = \'active\''
        f' ORDER BY "id" LIMIT 1) AS "hold_{c}"'
        for c in HOLD_COLUMNS
    )
    + ' FROM "accounts_userprofile" WHERE "id" = %s ORDER BY "id" LIMIT 1 FOR UPDATE'
)
# The slot's update, booked only while the patient is under the booking cap.
BOOKED_SQL = (
    'UPDATE "doctor_timeslot" SET "is_available" = false, "is_booked" = true WHERE "id" = %s'
    ' AND COALESCE((SELECT COUNT(*) FROM "doctor_booking" WHERE "patient_id" = %s'
    ' AND "status" = \'booked\' AND "slot_id" IN (SELECT "id" FROM "doctor_timeslot" WHERE'
    ' ("date" > %s OR "start_time" > %s) AND "date" >= %s)), 0) < %s'
)
VERSION_SQL = 'UPDATE "doctor_listversion" SET "value" = "value" + 1 WHERE "id" = 1'
ANSWER_SQL = (
    'UPDATE "idempotency_idempotencykey" SET "status_code" = %s, "body" = %s,'
    ' "locked_at" = NULL WHERE "id" = %s AND "locked_at" = %s AND "status_code" IS NULL'
)
INSERTS = {}


def compile_inserts():
    """The INSERTs of the key, the booking, the audit entry and the event, as Django
    compiles them for the models (every column, defaults included):
    {name: (sql, params, columns)}."""
    from django.db import DEFAULT_DB_ALIAS
    from django.db.models.sql import InsertQuery

    from audit.models import AuditEntry
    from doctor.models import Booking
    from events.models import Event
    from idempotency.models import IdempotencyKey

    samples = {
        "key": IdempotencyKey(user_id=0, key="", fingerprint="0" * 64, locked_at=None),
        "booking": Booking(slot_id=0, patient_id=0),
        "event": Event(type="booking.created", data={}),
        "audit": AuditEntry(action="booking.created", actor_role="user"),
    }
    for name, obj in samples.items():
        opts = obj._meta
        fields = [f for f in opts.local_concrete_fields if f is not opts.auto_field]
        query = InsertQuery(type(obj))
        query.insert_values(fields, [obj])
        compiler = query.get_compiler(using=DEFAULT_DB_ALIAS)
        compiler.returning_fields = [opts.pk] if opts.auto_field else None
        ((sql, params),) = compiler.as_sql()
        INSERTS[name] = (sql, list(params), [f.attname for f in fields])


def audit_insert(booking_id, slot_id, patient_id, now):
    """(sql, params) of the booking's audit entry: the unit's bulk_create of one row
    (doctor/unit.py), with the changes a patient's booking records."""
    from psycopg.types.json import Jsonb

    changes = {
        "status": [None, "booked"],
        "patient_id": [None, patient_id],
        "booked_by": [None, "patient"],
        "visit_type": [None, "clinic"],
        "fee": [None, 0],
        "slot.is_booked": [False, True],
        "slot.is_available": [True, False],
    }
    return insert(
        INSERTS["audit"],
        at=now,
        actor_id=patient_id,
        slot_id=slot_id,
        booking_id=booking_id,
        changes=Jsonb(changes),
    )


def insert(template, **values):
    """(sql, params) of a compiled INSERT with these columns' values replaced."""
    sql, params, columns = template
    params = list(params)
    for column, value in values.items():
        params[columns.index(column)] = value
    if "locked_at" in columns:  # the key's claim: locked while the request runs
        params[columns.index("locked_at")] = values["created_at"]
    return sql, params


def floor_run(db_url, patient_ids, slot_ids, connections, duration):
    """The floor loaded like the server: `connections` threads, each booking its
    share of `slot_ids` one after the other as a patient of its own, for `duration`
    seconds."""
    floors = [Floor(db_url, patient_ids[i % len(patient_ids)]) for i in range(connections)]
    deadline = time.monotonic() + duration
    latencies = []
    lock = threading.Lock()

    def worker(i):
        mine = []
        for slot_id in slot_ids[i::connections]:
            if time.monotonic() >= deadline:
                break
            start = perf_counter()
            floors[i].book(slot_id)
            mine.append(perf_counter() - start)
        with lock:
            latencies.extend(mine)

    started, cpu = time.monotonic(), process_time()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.monotonic() - started, process_time() - cpu
    statements = floors[0].statements
    booked = len(latencies)
    for floor in floors:
        floor.close()
    return {
        "rps": booked / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "client_cpu_ms": cpu * 1000 / booked,
        "requests": booked,
        "statements_per_booking": statements / (booked / connections) if booked else 0,
    }


# --- one side: the server, the profile, the statements -----------------------------------


def statements_of_one_booking(slot_id, token):
    """The SQL statements of one booking through Django's test client, with an
    Idempotency-Key, transaction control left out (as tests/test_query_counts.py)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    with CaptureQueriesContext(connection) as captured:
        response = client.generic(  # no body, as book.lua sends it
            "POST",
            f"/api/doctor/timeslots/{slot_id}/book/",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_IDEMPOTENCY_KEY=f"count-{uuid.uuid4().hex}",
        )
    assert response.status_code == 200, response.content
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")
    sql = [q["sql"] for q in captured.captured_queries]
    return [s[:160] for s in sql if not s.lstrip().upper().startswith(control)]


def profile(slot_ids, token):
    """cProfile of PROFILED booking requests in-process (after 20 unprofiled): ms per
    request in each stage, and the top functions by own time."""
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def book(slot_id):
        key = f"profile-{uuid.uuid4().hex}"
        response = client.generic(  # no body, as book.lua sends it
            "POST", f"/api/doctor/timeslots/{slot_id}/book/", HTTP_IDEMPOTENCY_KEY=key, **headers
        )
        assert response.status_code == 200, response.content

    for slot_id in slot_ids[:20]:
        book(slot_id)
    profiled = slot_ids[20 : 20 + PROFILED]
    profiler = cProfile.Profile(process_time)  # CPU time: what the workers spend
    start = process_time()
    profiler.enable()
    for slot_id in profiled:
        book(slot_id)
    profiler.disable()
    cpu_ms = (process_time() - start) * 1000 / len(profiled)
    stats = pstats.Stats(profiler)
    stages = {}
    for name, path, function in [*STAGES, ("whole request", *WHOLE)]:
        total = sum(
            row[3]  # cumulative time
            for (file, _, func), row in stats.stats.items()
            if func == function and file.endswith(path)
        )
        stages[name] = total * 1000 / len(profiled)
    calls = sum(row[1] for row in stats.stats.values()) / len(profiled)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    return {
        "stages_ms": stages,
        "cpu_ms_profiled": cpu_ms,
        "calls_per_request": calls,
        "top": out.getvalue(),
    }


def post(port, path, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, headers=headers)
        return conn.getresponse().read()
    finally:
        conn.close()


def fresh_tables():
    """Empty what the bench's bookings leave behind (slots, bookings, holds, events,
    idempotency keys): every side starts from the same empty tables."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE doctor_booking, doctor_timeslot, events_event, idempotency_idempotencykey"
            " RESTART IDENTITY CASCADE"
        )
    common.bump()


def measure(args):
    """One side, in this process: {"load", "race", "statements", "profile", "floor"}."""
    # The in-process bookings (statements, profile) book as few patients as the
    # server's do: the hoarding cap off, as run.Gunicorn sets it.
    os.environ.setdefault("MAX_ACTIVE_BOOKINGS", "1000000")
    common.ensure_database(args.db_url)
    common.setup_django(args.db_url)
    import run
    from django.db import connection

    fresh_tables()
    doctor_list = common.doctors(args.doctors)
    patients = common.patients(max(PATIENTS, args.racers))
    tokens = [common.access_token(p) for p in patients]
    size = pool_size(args.duration)

    def pool(use, count=size):
        start = common.first_day() + timedelta(days=DAYS[use])
        return [s.id for s in common.insert_slots(common.build_slots(doctor_list, count, start))]

    result = {"statements": statements_of_one_booking(pool("warm", 1)[0], tokens[0])}
    warm, c1, c8 = pool("warm", 100), pool("c=1"), pool("c=8")
    connection.close()
    workdir = Path(tempfile.mkdtemp(prefix="quickmed-bench-booking-"))
    server = run.Gunicorn(args.port, workdir / "gunicorn.log")
    try:
        headers = {"Authorization": f"Bearer {tokens[0]}", "Content-Length": "0"}
        for slot_id in warm[1:41]:  # both workers: imports, first-query caches
            post(args.port, f"/api/doctor/timeslots/{slot_id}/book/", headers)
        load = {}
        for c, ids in ((1, c1), (8, c8)):
            print(f"   POST book c={c} ({args.side}) ...", file=sys.stderr, flush=True)
            load[f"book c={c}"] = run.measured(
                server,
                run.load_booking,
                args.port,
                ids,
                tokens[:PATIENTS],
                c,
                args.duration,
                workdir,
                ("book",),
            )
        result["load"] = load
        print(f"   race ({args.side}) ...", file=sys.stderr, flush=True)
        result["race"] = run.race(args.port, doctor_list[0], tokens[: args.racers], args.rounds)
        connection.close()
    finally:
        server.stop()
    log = (workdir / "gunicorn.log").read_text()
    result["server_errors"] = log.count("Traceback")
    result["profile"] = profile(pool("profile", 20 + PROFILED), tokens[0])
    if args.floor:
        compile_inserts()
        patient_ids = [p.id for p in patients[:PATIENTS]]
        connection.close()
        result["floor"] = {}
        for c in (1, 8):
            print(f"   floor c={c} ...", file=sys.stderr, flush=True)
            ids = pool(f"floor c={c}")
            connection.close()
            result["floor"][f"c={c}"] = floor_run(args.db_url, patient_ids, ids, c, args.duration)
    result["commit"] = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=common.ROOT, capture_output=True, text=True
    ).stdout.strip()
    return result


# --- both sides, from run.py -----------------------------------------------------------


def side(args, db_url, app_root=None, floor=False, name="current"):
    """Run `measure` in a child process for the code at `app_root` (default: this
    checkout) and return its result."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [sys.executable, str(HERE / "booking.py"), "measure", "--db-url", db_url]
        cmd += ["--duration", str(args.duration), "--doctors", str(args.doctors)]
        cmd += ["--rounds", str(args.rounds), "--racers", str(args.racers)]
        cmd += ["--port", str(args.port), "--json", out.name, "--side", name]
        cmd += ["--floor"] if floor else []
        env = dict(os.environ)
        if app_root:
            env["BENCH_APP_ROOT"] = str(app_root)
        subprocess.run(cmd, check=True, env=env, cwd=HERE)
        return json.loads(Path(out.name).read_text())


def baseline_db(db_url):
    """The baseline's own database: the bench database's name + `_base`."""
    head, name = db_url.rsplit("/", 1)
    return f"{head}/{name}_base"


def compare(args):
    """The current checkout and `args.baseline` (a git ref, in a temporary worktree)
    in this run: {"current", "baseline"}. In ABBA order (current, baseline, baseline,
    current) unless `--once`: on this machine the side measured second used 10-20 %
    less CPU than the same code measured first, so each side's load figures are the
    mean of a run in each place."""
    if not args.baseline or args.baseline == "none":
        return {"current": side(args, args.db_url, floor=True)}
    with tempfile.TemporaryDirectory(prefix="quickmed-baseline-") as tmp:
        tree = Path(tmp) / "tree"
        git = ["git", "-C", str(common.ROOT)]
        subprocess.run(
            [*git, "worktree", "add", "--detach", str(tree), args.baseline],
            check=True,
            capture_output=True,
        )
        try:
            first = side(args, args.db_url, floor=True)
            base = [side(args, baseline_db(args.db_url), app_root=tree, name=args.baseline)]
            if args.once:
                return {"current": first, "baseline": base[0]}
            base.append(side(args, baseline_db(args.db_url), app_root=tree, name=args.baseline))
            last = side(args, args.db_url)
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(tree)], check=True)
    return {"current": averaged(first, last), "baseline": averaged(*base)}


def _mean(key, x, y):
    return x + y if key == "errors" else (x + y) / 2


def averaged(a, b):
    """Side result `a` with each load figure the mean of `a`'s and `b`'s, and both
    runs' race rounds and server tracebacks (the profile and floor are `a`'s)."""
    merged = dict(a)
    merged["load"] = {
        name: {key: _mean(key, value, b["load"][name][key]) for key, value in figures.items()}
        for name, figures in a["load"].items()
    }
    merged["race"] = {"rounds": a["race"]["rounds"] + b["race"]["rounds"]}
    merged["server_errors"] = a["server_errors"] + b["server_errors"]
    merged["runs"] = [a["load"], b["load"]]
    return merged


# --- the report ------------------------------------------------------------------------


def print_table(results):
    print("\n# Booking distinct slots (each request with its own Idempotency-Key)")
    if "runs" in results["current"]:
        print("  (ABBA: each side's load figures are the mean of its two runs, errors their sum)")
    print(
        f"  {'side':20} {'c':>2} {'req/s':>7} {'p50':>7} {'p99':>7} {'errors':>6}"
        f" {'cpu/req':>7} {'floor p50':>9} {'floor req/s':>11} {'p50/floor':>9}"
    )
    for name, r in results.items():
        floor = r.get("floor", {})
        for c in (1, 8):
            m = r["load"][f"book c={c}"]
            line = (
                f"  {name + ' ' + r['commit']:20} {c:>2} {m['rps']:7.1f} {m['p50_ms']:7.2f}"
                f" {m['p99_ms']:7.2f} {m['errors']:>6} {m['cpu_ms_per_request']:7.2f}"
            )
            f = floor.get(f"c={c}")
            if f:
                line += f" {f['p50_ms']:9.2f} {f['rps']:11.1f} {m['p50_ms'] / f['p50_ms']:9.2f}"
            print(line)
    for name, r in results.items():
        f = r.get("floor")
        if f:
            print(
                f"  floor ({name}): {f['c=1']['statements_per_booking']:.0f} statements per "
                f"booking, client CPU {f['c=1']['client_cpu_ms']:.2f} ms per booking at c=1"
            )
        wins = [x["successes"] for x in r["race"]["rounds"]]
        errors = r["server_errors"]
        print(f"  race ({name}): successes per round {wins}; server tracebacks {errors}")


def print_profiles(results):
    for name, r in results.items():
        p = r["profile"]
        print(
            f"\n# Profile of one booking request, {name} ({PROFILED} requests in-process under "
            f"cProfile: {p['cpu_ms_profiled']:.2f} ms CPU and {p['calls_per_request']:.0f} "
            "function calls per request)"
        )
        whole = p["stages_ms"]["whole request"]
        for stage, ms in p["stages_ms"].items():
            print(f"  {stage:28} {ms:7.2f} ms {100 * ms / whole:5.1f} %")
        print(p["top"].split("Ordered by")[-1][:3000])
        print(f"  statements of one booking ({len(r['statements'])}):")
        for sql in r["statements"]:
            print(f"    {sql}")


def pinned_book_statements():
    """tests/test_query_counts.py's pin of book (None where the checkout has none)."""
    sys.path.insert(0, str(common.ROOT))
    try:
        from tests.test_query_counts import BOOK
    except ImportError:
        return None
    return BOOK


def checks(results):
    """The issue's targets as (name, value, passed)."""
    cur, base = results["current"], results.get("baseline")
    c1, c8 = cur["load"]["book c=1"], cur["load"]["book c=8"]
    cpu = (c1["cpu_ms_per_request"] + c8["cpu_ms_per_request"]) / 2
    floor = cur["floor"]["c=1"]["p50_ms"]
    found = []
    if base:
        b1, b8 = base["load"]["book c=1"], base["load"]["book c=8"]
        base_cpu = (b1["cpu_ms_per_request"] + b8["cpu_ms_per_request"]) / 2
        bound = min(base_cpu / 2, 4.0)
        found.append(
            (
                f"CPU per booking {cpu:.2f} ms <= min(baseline {base_cpu:.2f} / 2, 4 ms)",
                cpu / bound,
                cpu <= bound,
            )
        )
        rps = c8["rps"] / b8["rps"]
        found.append(("bookings/s at c=8: current / baseline >= 1.8", rps, rps >= 1.8))
    found.append(
        ("booking p50 at c=1 / its floor <= 2", c1["p50_ms"] / floor, c1["p50_ms"] <= 2 * floor)
    )
    pin = pinned_book_statements()
    count = len(cur["statements"])
    found.append(
        (
            f"statements of one booking {count} <= pin {pin} <= 10",
            count,
            pin is not None and count <= pin <= 10,
        )
    )
    wins = {x["successes"] for r in results.values() for x in r["race"]["rounds"]}
    found.append(("race: exactly one success per round", sorted(wins), wins == {1}))
    return found


def print_report(results):
    print_table(results)
    print_profiles(results)
    print("\n# Booking targets (issue 23)")
    for name, value, ok in checks(results):
        shown = f"{value:.2f}" if isinstance(value, float) else value
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {shown}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["measure"])
    parser.add_argument("--db-url", default=common.DEFAULT_DB_URL)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--doctors", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--racers", type=int, default=24)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--side", default="current")
    parser.add_argument("--floor", action="store_true", help="also time the floor")
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    args.json.write_text(json.dumps(measure(args)))


if __name__ == "__main__":
    main()
