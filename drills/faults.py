"""The fault drills' driver: booking load against a running gunicorn while the
drill restarts PostgreSQL or SIGKILLs a gunicorn worker, then the checks.

.ci/faults starts the throwaway PostgreSQL cluster and gunicorn and runs this
with their coordinates; it is not meant to be run against anything else.

Each drill books with CLIENTS patients at once, each on slots of its own, and
all of them racing for one shared "contested" slot every CONTEST_EVERY seconds.
Afterwards, with the service back to normal:
- `manage.py check_bookings` passes (the booking invariants hold);
- every 200 reply names an active Booking row of that slot and that patient;
- every Booking row is either such a 200, or the booking of a request whose
  reply was lost (a 5xx or a dropped connection: committed, then the fault hit);
- every "Slot already booked" reply is on a slot that has an active booking.
"""

import argparse
import http.client
import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dt_time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 8
PRIVATE_SLOTS = 1500  # per client and drill: more than a client books in one drill
CONTEST_EVERY = 0.2  # seconds each contested slot is the clients' shared target
CONTESTED_SLOTS = 150  # per drill: CONTEST_EVERY x 150 = 30 s, longer than a drill
BASELINE = 1.5  # seconds of normal load before the fault
AFTER = 3.0  # seconds of load after the fault is over
OUTAGE = 2.0  # seconds PostgreSQL stays down
KILLS = 3
RECOVERY_BOUND = 15.0  # seconds: the service must answer normally again within this
REQUEST_TIMEOUT = 10.0

BOOKED = "Slot booked successfully"
ALREADY_BOOKED = "Slot already booked"


def now():
    return time.monotonic()


# -- talking to the server ---------------------------------------------------


@dataclass
class Reply:
    patient: int  # the patient's user id
    slot: int
    start: float
    end: float
    status: int | None  # None: no HTTP reply at all (the connection dropped)
    body: dict | None  # None when the body is not JSON
    error: str = ""

    @property
    def ok(self):
        return self.status == 200 and (self.body or {}).get("message") == BOOKED

    @property
    def already_booked(self):
        return self.status == 400 and self.body == {"message": ALREADY_BOOKED}

    @property
    def settled(self):
        """A verdict the contract allows: booked, or lost the race."""
        return self.ok or self.already_booked

    @property
    def server_error(self):
        return self.status is not None and self.status >= 500

    @property
    def lost(self):
        """No verdict: the booking may or may not have committed."""
        return self.status is None or self.status >= 500

    def describe(self):
        if self.status is None:
            return f"dropped ({self.error})"
        return f"{self.status}{'' if self.body is not None else ' (not JSON)'}"


def request(port, method, path, token=None):
    """One request on a fresh connection: (status, body) or (None, error)."""
    headers = {"Content-Length": "0"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as exc:
        return None, type(exc).__name__
    finally:
        conn.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, None


class Gate:
    """Lets the drill's traffic through while open. pause() returns once no request
    is in flight, so a fault can hit a server that is quiet; stop() ends it all."""

    def __init__(self):
        self.lock = threading.Lock()
        self.opened = threading.Event()
        self.opened.set()
        self.stopped = False
        self.in_flight = 0

    def enter(self):
        """Wait until open and count one request in flight; False once stopped."""
        while True:
            self.opened.wait()
            with self.lock:
                if self.stopped:
                    return False
                if self.opened.is_set():
                    self.in_flight += 1
                    return True

    def leave(self):
        with self.lock:
            self.in_flight -= 1

    def pause(self):
        with self.lock:
            self.opened.clear()
        deadline = now() + REQUEST_TIMEOUT + 1
        while self.in_flight and now() < deadline:
            time.sleep(0.01)

    def resume(self):
        self.opened.set()

    def stop(self):
        with self.lock:
            self.stopped = True
        self.opened.set()


class Load:
    """CLIENTS threads booking through the gate; every reply is recorded."""

    def __init__(self, port, gate, patients, plan):
        self.port, self.gate, self.patients = port, gate, patients
        self.private, self.contested = plan
        self.replies = []
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self.client, args=(i,), daemon=True)
            for i in range(len(patients))
        ]

    def start(self):
        self.t0 = now()
        for thread in self.threads:
            thread.start()

    def join(self):
        for thread in self.threads:
            thread.join(REQUEST_TIMEOUT + 5)

    def contested_now(self):
        # Every client targets the same contested slot for CONTEST_EVERY seconds.
        return self.contested[int((now() - self.t0) / CONTEST_EVERY) % len(self.contested)]

    def book(self, patient, slot):
        user_id, token = patient
        start = now()
        status, body = request(self.port, "POST", f"/api/doctor/timeslots/{slot}/book/", token)
        error = body if status is None else ""
        return Reply(user_id, slot, start, now(), status, None if error else body, error)

    def client(self, i):
        own = list(self.private[i])
        for n in itertools.count():
            if not self.gate.enter():
                return
            try:
                # Two requests on a slot of its own, then one in the race of the moment.
                slot = own.pop() if own and n % 3 else self.contested_now()
                reply = self.book(self.patients[i], slot)
            finally:
                self.gate.leave()
            with self.lock:
                self.replies.append(reply)
            if not reply.settled:
                time.sleep(0.05)  # as a real client would, rather than spin on a failing server


class HealthPoller:
    """GET /api/health/ every 0.1 s through the gate: (time, status) samples."""

    def __init__(self, port, gate):
        self.port, self.gate, self.samples = port, gate, []
        self.thread = threading.Thread(target=self.poll, daemon=True)

    def poll(self):
        while self.gate.enter():
            try:
                t = now()
                status, _ = request(self.port, "GET", "/api/health/")
            finally:
                self.gate.leave()
            self.samples.append((t, status))
            time.sleep(0.1)

    def start(self):
        self.thread.start()

    def join(self):
        self.thread.join(REQUEST_TIMEOUT + 5)


# -- the processes under test ---------------------------------------------


def as_postgres(args):
    """Run a PostgreSQL tool as the postgres user (we may be root, which it refuses)."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def workers(master):
    """The pids of the gunicorn master's children, its workers."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == master:
            found.add(int(entry))
    return found


# A backend inside a transaction of several statements: a booking half done
# (row locked, slot or booking row written, not yet committed).
MID_TRANSACTION = """
    SELECT client_port FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND client_port > 0
      AND (state = 'idle in transaction' OR (state = 'active' AND xact_start < query_start))
"""


def socket_inodes(pid):
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def worker_mid_booking(master, timeout=3.0):
    """The worker whose database connection is inside a transaction right now, if
    one is within `timeout`: its client port in pg_stat_activity, looked up among
    the workers' sockets in /proc/net/tcp."""
    from django.db import connection

    deadline = now() + timeout
    while now() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(MID_TRANSACTION)
            ports = {row[0] for row in cursor.fetchall()}
        inodes = {
            line.split()[9]
            for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
            if int(line.split()[1].split(":")[1], 16) in ports
        }
        for pid in workers(master):
            if socket_inodes(pid) & inodes:
                return pid
        time.sleep(0.005)
    return None


def gunicorn_alive(master):
    return Path(f"/proc/{master}").exists() and len(workers(master)) > 0


# -- the data ------------------------------------------------------------------


def setup_django():
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def seed(drills):
    """A doctor per client and, for each drill, private slots per client and contested ones."""
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import UserProfile
    from doctor.models import TimeSlot

    stamp = int(time.time())
    doctors = [
        UserProfile.objects.create_user(
            f"drill-doctor-{stamp}-{i}@drill.invalid", full_name=f"Dr Drill {i}", user_type="doctor"
        )
        for i in range(CLIENTS)
    ]
    patients = [
        UserProfile.objects.create_user(f"drill-patient-{stamp}-{i}@drill.invalid", full_name="P")
        for i in range(CLIENTS)
    ]
    per_doctor = drills * (PRIVATE_SLOTS + CONTESTED_SLOTS)
    first = timezone.localdate() + timedelta(days=1)
    slots = [
        TimeSlot(doctor=doctor, date=day, start_time=start, end_time=end, duration=30)
        for doctor in doctors
        for day, start, end in half_hours(first, per_doctor)
    ]
    ids = [s.id for s in TimeSlot.objects.bulk_create(slots, batch_size=5000)]
    tokens = [(p.id, str(AccessToken.for_user(p))) for p in patients]
    return tokens, split(ids, drills, per_doctor)


def half_hours(first, count):
    """`count` half-hour slots from 08:00 to 16:00, day after day."""
    for n in range(count):
        day = first + timedelta(days=n // 16)
        start = datetime.combine(day, dt_time(8)) + timedelta(minutes=30 * (n % 16))
        yield day, start.time(), (start + timedelta(minutes=30)).time()


def split(ids, drills, per_doctor):
    """For each drill: (private slot ids per client, contested slot ids)."""
    by_doctor = [ids[i * per_doctor : (i + 1) * per_doctor] for i in range(CLIENTS)]
    plans = []
    for d in range(drills):
        chunk = [mine[d * (PRIVATE_SLOTS + CONTESTED_SLOTS) :] for mine in by_doctor]
        private = [mine[:PRIVATE_SLOTS][::-1] for mine in chunk]  # pop() books the earliest first
        contested = chunk[0][PRIVATE_SLOTS : PRIVATE_SLOTS + CONTESTED_SLOTS]
        plans.append((private, contested))
    return plans


# -- the checks ----------------------------------------------------------------


def check_bookings():
    """The operator's command, as an operator runs it: (ok, its output)."""
    done = subprocess.run(
        [sys.executable, "manage.py", "check_bookings"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode == 0, (done.stdout + done.stderr).strip()


def check_rows(replies):
    """Compare every reply with the Booking rows of its slot: (problems, row count)."""
    from django.db import connection

    from doctor.models import Booking

    connection.close()  # the driver's own connection may predate a restart
    slots = {r.slot for r in replies}
    rows = defaultdict(list)
    for row in Booking.objects.filter(slot_id__in=slots).values(
        "id", "slot_id", "patient_id", "status"
    ):
        rows[row["slot_id"]].append(row)
    problems = []
    problems += check_ok_replies(replies, rows)
    problems += check_unanswered_rows(replies, rows)
    problems += [
        f"slot {r.slot}: 'Slot already booked' but no booking"
        for r in replies
        if r.already_booked and not rows[r.slot]
    ]
    return problems, sum(len(slot_rows) for slot_rows in rows.values())


def has_row(reply, rows):
    """Whether the booking a 200 reply names is an active booking of that slot and patient."""
    wanted = (reply.body.get("booking_id"), reply.slot, reply.patient, "booked")
    return reply.body.get("slot_id") == reply.slot and any(
        (row["id"], row["slot_id"], row["patient_id"], row["status"]) == wanted
        for row in rows[reply.slot]
    )


def check_ok_replies(replies, rows):
    ok = [r for r in replies if r.ok]
    problems = [
        f"slot {r.slot}: the 200 for patient {r.patient} names no such booking"
        for r in ok
        if not has_row(r, rows)
    ]
    winners = Counter(r.slot for r in ok)
    return problems + [f"slot {slot}: {n} replies of 200" for slot, n in winners.items() if n > 1]


def check_unanswered_rows(replies, rows):
    answered = {r.body["booking_id"] for r in replies if r.ok}
    lost = {(r.slot, r.patient) for r in replies if r.lost}
    problems = []
    for slot_rows in rows.values():
        for row in slot_rows:
            if row["id"] not in answered and (row["slot_id"], row["patient_id"]) not in lost:
                problems.append(f"booking {row['id']} on slot {row['slot_id']}: nobody was told")
    return problems


# -- reporting -----------------------------------------------------------------

# What an operator would grep for: one count and one example line each.
GUNICORN_SIGNS = [
    "Internal Server Error",
    "django.db.utils.OperationalError",
    "health check: database unreachable",
    "was sent SIGKILL",
    "Booting worker",
    "WORKER TIMEOUT",
]
POSTGRES_SIGNS = [
    "shutdown request",
    "terminating connection",
    "database system is shut down",
    "not properly shut down",
    "redo done",
    "ready to accept connections",
]


class LogWatch:
    """The lines a log gains from now on that match the signs."""

    def __init__(self, path, signs):
        self.path, self.signs = Path(path), signs
        self.offset = self.path.stat().st_size

    def report(self, label):
        with self.path.open(errors="replace") as log:
            log.seek(self.offset)
            lines = log.read().splitlines()
        for sign in self.signs:
            hits = [line.strip() for line in lines if sign in line]
            # Lines that differ only in numbers (times, pids, ids) are one kind.
            kinds = {re.sub(r"\d+", "N", hit): hit for hit in reversed(hits)}
            for example in list(kinds.values())[:3]:
                print(f"  {label} log, {len(hits)} x: {example[:200]}")


def summary(replies):
    """One line: what the clients got."""
    ok = sum(r.ok for r in replies)
    lost = sum(r.already_booked for r in replies)
    other = Counter(r.describe() for r in replies if not r.settled)
    failed = ", ".join(f"{what} x{n}" for what, n in sorted(other.items())) or "none"
    return f"requests {len(replies)}: booked {ok}, 'Slot already booked' {lost}, others: {failed}"


def health_line(samples, down, ready):
    during = Counter(status for t, status in samples if down <= t < ready)
    back = next((t - ready for t, status in samples if t >= ready and status == 200), None)
    shown = ", ".join(f"{s} x{n}" for s, n in sorted(during.items(), key=str)) or "no samples"
    again = f"{back:.2f} s" if back is not None else "never"
    return f"health during the outage: {shown}; 200 again {again} after PostgreSQL was ready"


class Drill:
    """What every drill shares: the load, the health poller, the verdict."""

    def __init__(self, args, name, patients, plan):
        self.args, self.name, self.problems = args, name, []
        self.gate = Gate()
        self.load = Load(args.port, self.gate, patients, plan)
        self.health = HealthPoller(args.port, self.gate)

    def run(self):
        print(f"\n== drill: {self.name}", flush=True)
        logs = [
            ("gunicorn", LogWatch(self.args.gunicorn_log, GUNICORN_SIGNS)),
            ("postgres", LogWatch(self.args.pg_log, POSTGRES_SIGNS)),
        ]
        self.load.start()
        self.health.start()
        time.sleep(BASELINE)
        try:
            marks = self.fault()
            time.sleep(AFTER)
        finally:
            self.gate.stop()
            self.load.join()
            self.health.join()
        self.judge(self.load.replies, marks)
        for label, log in logs:
            log.report(label)
        self.verify()
        return self.problems

    def fail(self, problem):
        self.problems.append(f"{self.name}: {problem}")

    def verify(self):
        replies = self.load.replies
        print(summary(replies))
        row_problems, booked = check_rows(replies)
        for problem in row_problems[:20]:
            self.fail(problem)
        ok = sum(r.ok for r in replies)
        print(
            f"rows: {booked} bookings for {ok} replies of 200 and {sum(r.lost for r in replies)} "
            f"without a verdict (5xx or dropped), of which {booked - ok} were booked all the "
            f"same; {len(row_problems)} mismatches"
        )
        ok, output = check_bookings()
        print(f"manage.py check_bookings: {output}")
        if not ok:
            self.fail("check_bookings failed")

    def baseline_failures(self, replies, fault_at):
        bad = [r for r in replies if r.end < fault_at and not r.settled]
        if bad:
            self.fail(f"{len(bad)} failures before the fault, e.g. {bad[0].describe()}")


class PostgresRestart(Drill):
    """quiet: `pg_ctl restart` while no request is in flight, so that every worker
    keeps a connection the restart killed; else: PostgreSQL stopped under load,
    OUTAGE seconds down, started again."""

    def __init__(self, args, patients, plan, mode, quiet):
        name = (
            f"PostgreSQL restarted (-m {mode}) while the service was idle, then load"
            if quiet
            else f"PostgreSQL stopped (-m {mode}) under booking load, {OUTAGE:.0f} s down"
        )
        super().__init__(args, name, patients, plan)
        self.mode, self.quiet = mode, quiet

    def fault(self):
        pg_ctl = [f"{self.args.pg_bin}/pg_ctl", "-D", self.args.pgdata, "-w", "-m", self.mode]
        self.before = workers(self.args.gunicorn_pid)
        if self.quiet:
            self.gate.pause()
        down = now()
        if self.quiet:
            as_postgres([*pg_ctl, "-l", self.args.pg_log, "restart"])
        else:
            as_postgres([*pg_ctl, "stop"])
            time.sleep(OUTAGE)
            as_postgres([*pg_ctl, "-l", self.args.pg_log, "start"])
        ready = now()
        self.gate.resume()
        print(f"PostgreSQL down {ready - down:.2f} s")
        return down, ready

    def judge(self, replies, marks):
        down, ready = marks
        self.baseline_failures(replies, down)
        failed = [r for r in replies if not r.settled]
        self.judge_failures(failed)
        self.judge_recovery(replies, failed, ready)
        # With CONN_HEALTH_CHECKS a worker tests its kept connection before use,
        # so not even the first request after the restart meets a dead one.
        stale = [r for r in failed if r.start >= ready]
        if stale:
            self.fail(f"{len(stale)} requests sent after PostgreSQL was back failed")
        print(health_line(self.health.samples, down, ready))
        self.judge_workers()

    def judge_failures(self, failed):
        # 500 today; 503 with Retry-After once the database-down answer lands.
        statuses = Counter(r.describe() for r in failed)
        print("failures: " + (", ".join(f"{s} x{n}" for s, n in statuses.items()) or "none"))
        for body in {json.dumps(r.body) for r in failed if r.body is not None}:
            print(f"  a failure's body: {body}")
        if not all(r.server_error and r.body is not None for r in failed):
            self.fail(f"failures other than 5xx JSON: {dict(statuses)}")

    def judge_workers(self):
        after = workers(self.args.gunicorn_pid)
        print(f"gunicorn workers before {sorted(self.before)}, after {sorted(after)}")
        if after != self.before:
            self.fail("gunicorn workers changed: the service did not recover by itself")

    def judge_recovery(self, replies, failed, ready):
        last_failure = max((r.end for r in failed), default=ready)
        recovery = max(0.0, last_failure - ready)
        first_ok = min((r.start for r in replies if r.ok and r.start >= ready), default=None)
        first = f"{first_ok - ready:.2f} s" if first_ok is not None else "never"
        print(
            f"recovery: last failed request ended {recovery:.2f} s after PostgreSQL was ready; "
            f"first booking after it: {first}"
        )
        if recovery > RECOVERY_BOUND or not any(r.ok and r.start > last_failure for r in replies):
            self.fail(f"no normal service within {RECOVERY_BOUND:.0f} s of PostgreSQL being back")


class WorkerKill(Drill):
    def __init__(self, args, patients, plan):
        super().__init__(args, f"{KILLS} gunicorn workers killed with SIGKILL", patients, plan)

    def fault(self):
        from django.db import connection

        connection.close()  # the driver's own connection may predate a restart
        master, kills, self.caught = self.args.gunicorn_pid, [], 0
        for _ in range(KILLS):
            before = workers(master)
            victim = worker_mid_booking(master)
            self.caught += victim is not None
            victim = victim or random.choice(sorted(before))
            killed_at = now()
            os.kill(victim, signal.SIGKILL)
            kills.append((killed_at, self.wait_for_replacement(master, before, victim)))
            time.sleep(1.0)
        return kills

    def wait_for_replacement(self, master, before, victim):
        # The victim lingers as a zombie until the master reaps it: wait for a new pid.
        deadline = now() + RECOVERY_BOUND
        while now() < deadline:
            current = workers(master)
            if victim not in current and len(current) == len(before):
                return now()
            time.sleep(0.05)
        return None

    def judge(self, replies, kills):
        self.baseline_failures(replies, kills[0][0])
        self.judge_respawns(kills)
        self.judge_replies(replies)
        if not any(r.ok and r.start > kills[-1][0] for r in replies):
            self.fail("no booking served after the last kill")

    def judge_respawns(self, kills):
        for killed_at, replaced_at in kills:
            if replaced_at is None:
                self.fail(f"no replacement worker within {RECOVERY_BOUND:.0f} s")
            else:
                print(f"worker killed; replacement up {replaced_at - killed_at:.2f} s later")
        if not gunicorn_alive(self.args.gunicorn_pid):
            self.fail("the gunicorn master is gone")

    def judge_replies(self, replies):
        dropped = [r for r in replies if r.status is None]
        others = Counter(r.describe() for r in replies if r.status and not r.settled)
        print(
            f"workers killed inside a booking transaction: {self.caught} of {KILLS}; "
            f"dropped connections (the requests they were serving): {len(dropped)}"
        )
        if others:
            self.fail(f"failures besides the killed requests: {dict(others)}")
        if not 1 <= len(dropped) <= KILLS:
            self.fail(f"{len(dropped)} dropped requests: expected 1 to {KILLS}, one per kill")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="gunicorn's port on 127.0.0.1")
    parser.add_argument("--gunicorn-pid", type=int, required=True, help="the gunicorn master")
    parser.add_argument("--pgdata", required=True)
    parser.add_argument("--pg-bin", required=True)
    parser.add_argument("--pg-log", required=True)
    parser.add_argument("--gunicorn-log", required=True)
    args = parser.parse_args()

    setup_django()
    patients, plans = seed(drills=3)
    drills = [
        PostgresRestart(args, patients, plans[0], "fast", quiet=True),
        PostgresRestart(args, patients, plans[1], "immediate", quiet=False),
        WorkerKill(args, patients, plans[2]),
    ]
    problems = [problem for drill in drills for problem in drill.run()]
    print()
    for problem in problems:
        print(f"FAIL {problem}")
    print("fault drills: " + ("FAILED" if problems else "all passed"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
