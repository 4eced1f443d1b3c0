"""The booking race through the whole stack: nginx over TLS, two gunicorn servers,
PgBouncer in transaction pooling (.ci/stack starts them).

`python drills/stack.py race https://127.0.0.1:8443 cert.pem` signs a doctor and
CLIENTS patients up through the API, the doctor adds ROUNDS slots, and for each
slot every patient asks to book it at once (tests/test_multiprocess_race.py's
race, over HTTPS through the proxy instead of straight at gunicorn): exactly one
200 per round, every other reply 400 `Slot already booked`, and the doctor's own
list shows each slot booked. Prints one PASS or FAIL line per round, exits 1 on
any failure. Talks to the API only (no Django import), as a client would.

`python drills/stack.py same EXPECTED ACTUAL`: each line of ACTUAL (the README's
curl flow, run through the stack) is the JSON reply the README prints on that
line, ids aside, and may carry more keys (the contract: a reply may gain keys,
never lose or rename one). Exits 1 naming the first line that differs.
"""

import json
import ssl
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

CLIENTS = 24
ROUNDS = 5
PASSWORD = "Stack-race-2026"
BOOKED = "Slot booked successfully"
ALREADY_BOOKED = {"message": "Slot already booked"}


class Api:
    def __init__(self, base, cafile):
        self.base = base.rstrip("/") + "/api"
        self.context = ssl.create_default_context(cafile=cafile)

    def call(self, method, path, body=None, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.context) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def account(self, email, user_type, **fields):
        signup = {"email": email, "password": PASSWORD, "user_type": user_type}
        signup["full_name"] = "Stack Tester"
        status, body = self.call("POST", "/signup/", {**signup, **fields})
        assert status == 201, (status, body)
        status, body = self.call("POST", "/login/", {"email": email, "password": PASSWORD})
        assert status == 200, (status, body)
        return body["access"]


def together(calls):
    """Every call in its own thread, all released at once (tests/conftest.py's run_together)."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def is_win(reply):
    status, body = reply
    return status == 200 and body.get("message") == BOOKED


def is_loss(reply):
    return reply == (400, ALREADY_BOOKED)


def race_round(api, slot_id, tokens):
    """One round: the failures as text, empty when exactly one patient won."""
    path = f"/doctor/timeslots/{slot_id}/book/"
    results = together([lambda t=t: api.call("POST", path, token=t) for t in tokens])
    wins = sum(map(is_win, results))
    losses = sum(map(is_loss, results))
    problems = []
    if wins != 1:
        problems.append(f"{wins} bookings")
    if losses != len(tokens) - 1:
        others = sorted({status for status, _ in results if status not in (200, 400)})
        problems.append(f"{losses} 'Slot already booked' (other statuses: {others})")
    return problems


def setup(api):
    """A doctor with ROUNDS slots on one day, and CLIENTS patients' tokens."""
    run_id = date.today().strftime("%Y%m%d") + f"-{threading.get_native_id()}"
    doctor = api.account(f"race-doctor-{run_id}@example.com", "doctor")
    tokens = [api.account(f"race-{n}-{run_id}@example.com", "patient") for n in range(CLIENTS)]
    day = (date.today() + timedelta(days=30)).isoformat()
    slots = []
    for hour in range(8, 8 + ROUNDS):
        slot = {"date": day, "start_time": f"{hour}:00", "end_time": f"{hour}:30"}
        status, body = api.call("POST", "/doctor/timeslots/", slot, token=doctor)
        assert status == 201, (status, body)
        slots.append(body["id"])
    return doctor, tokens, day, slots


def main(base, cafile):
    api = Api(base, cafile)
    doctor, tokens, day, slots = setup(api)
    failed = 0
    for number, slot_id in enumerate(slots, 1):
        problems = race_round(api, slot_id, tokens)
        failed += bool(problems)
        detail = "; ".join(problems) or f"one winner of {CLIENTS}, {CLIENTS - 1} already booked"
        print(f"{'FAIL' if problems else 'PASS'} race round {number} (slot {slot_id}): {detail}")

    status, mine = api.call("GET", f"/doctor/timeslots/?date={day}", token=doctor)
    booked = sorted(slot["id"] for slot in mine if slot["is_booked"])
    if status != 200 or booked != sorted(slots):
        failed += 1
        print(f"FAIL race: the doctor's list shows {booked} booked, expected {sorted(slots)}")
    return 1 if failed else 0


IDS = {"id", "doctor", "slot_id", "doctor_id", "user_id", "booking_id"}


def within(expected, actual):
    """True when actual says everything expected says (ids may differ, keys may be added)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and (key in IDS or within(value, actual[key]))
            for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(map(within, expected, actual))
        )
    return expected == actual


def same(expected_file, actual_file):
    expected = Path(expected_file).read_text().splitlines()
    actual = Path(actual_file).read_text().splitlines()
    if len(expected) != len(actual):
        print(f"{len(actual)} lines, the README shows {len(expected)}")
        return 1
    for number, (want, got) in enumerate(zip(expected, actual, strict=True), 1):
        if not within(json.loads(want), json.loads(got)):
            print(f"line {number}: got {got}\nthe README shows {want}")
            return 1
    return 0


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    sys.exit({"race": main, "same": same}[command](*args))
