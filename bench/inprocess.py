"""A booking's CPU in-process: the WSGI application called as gunicorn calls it,
no server, no sockets, no load generator; and what-ifs against it (issue 23).

    .venv/bin/python bench/inprocess.py [--bookings 2000] [--what-if NAME ...]

Each request books a fresh slot with its own Idempotency-Key and no body, as
book.lua sends it. Prints the process CPU per booking of the unchanged
application, then of each what-if, alternating, `--rounds` times: the figures
move by about 5 % from run to run, so only a difference seen in every round
means anything. A what-if changes this process only, never the code.
"""

import argparse
import gc
import io
import os
import subprocess
import sys
import uuid
from time import process_time

import common

# What an API request could do without, one at a time (docs/performance.md).
KEPT_MIDDLEWARE = ("corsheaders.middleware.CorsMiddleware", "audit.actor.RequestActorMiddleware")


def lean_middleware():
    """Every middleware but CORS and the audit actor."""
    from django.conf import settings

    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m in KEPT_MIDDLEWARE]


def no_health_check():
    """CONN_HEALTH_CHECKS off: no `SELECT 1` before a request's first statement."""
    from django.db import connections

    connections["default"].settings_dict["CONN_HEALTH_CHECKS"] = False


def gc_freeze():
    """Start-up's objects out of the garbage collector's reach."""
    gc.collect()
    gc.freeze()


def server_side_binding():
    """psycopg binds the parameters on the server instead of in Python."""
    from django.db import connections

    connections["default"].settings_dict.setdefault("OPTIONS", {})["server_side_binding"] = True
    connections["default"].close()


WHAT_IFS = {
    f.__name__.replace("_", "-"): f
    for f in (lean_middleware, no_health_check, gc_freeze, server_side_binding)
}


def environ(slot_id, token):
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": f"/api/doctor/timeslots/{slot_id}/book/",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "HTTP_IDEMPOTENCY_KEY": f"inprocess-{uuid.uuid4().hex}",
        "CONTENT_LENGTH": "0",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def cpu_ms_per_booking(application, slot_ids, token):
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    start = process_time()
    for slot_id in slot_ids:
        response = application(environ(slot_id, token), start_response)
        body = b"".join(response)
        response.close()  # as gunicorn does: request_finished, the connection's upkeep
        if not statuses[-1].startswith("200"):
            sys.exit(f"bench: booking {slot_id} answered {statuses[-1]}: {body[:300]!r}")
    return (process_time() - start) * 1000 / len(slot_ids)


def run_child(args, what_if):
    """One measurement in a fresh process (a what-if may change settings for good)."""
    cmd = [sys.executable, __file__, "--child", what_if or "none", "--db-url", args.db_url]
    cmd += ["--bookings", str(args.bookings)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(out.stderr[-3000:])
    return float(out.stdout.split()[-1])


def child(args):
    os.environ.setdefault("MAX_ACTIVE_BOOKINGS", "1000000")  # a few patients book thousands
    common.ensure_database(args.db_url)
    common.setup_django(args.db_url)
    import booking

    booking.fresh_tables()
    doctors = common.doctors(20)
    token = common.access_token(common.patients(1)[0])
    slots = common.build_slots(doctors, args.bookings + 100, common.first_day())
    slot_ids = [s.id for s in common.insert_slots(slots)]
    if args.child != "none":
        WHAT_IFS[args.child]()
    from django.core.handlers.wsgi import WSGIHandler

    application = WSGIHandler()  # config.wsgi's, with the settings as the what-if left them
    cpu_ms_per_booking(application, slot_ids[:100], token)  # warm: imports, compiled SQL
    print(f"{cpu_ms_per_booking(application, slot_ids[100:], token):.4f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db-url", default=common.DEFAULT_DB_URL)
    parser.add_argument("--bookings", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--what-if", action="append", default=[], choices=sorted(WHAT_IFS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    print(f"# CPU ms per booking in-process ({args.bookings} bookings a measurement)")
    for n in range(1, args.rounds + 1):
        for what_if in [None, *args.what_if]:
            ms = run_child(args, what_if)
            print(f"  round {n}  {what_if or 'unchanged':22} {ms:6.3f}", flush=True)


if __name__ == "__main__":
    main()
