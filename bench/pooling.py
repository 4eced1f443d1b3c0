"""Booking and list runs through PgBouncer against the same runs straight to
PostgreSQL, interleaved in one run: `bench/run.py --via-pgbouncer`.

Two sets of four gunicorn servers with three workers each (twelve clients of
the database per set) run side by side on the bench database: the direct set
with the default settings (a connection per worker, kept 60 s), the pooled set
with DATABASE_URL on a PgBouncer started here from deploy/pgbouncer/pgbouncer.ini
(transaction pooling, 8 server connections for the twelve workers,
query_wait_timeout 10 s) and DATABASE_POOL_MODE=transaction. Each measurement
loads the four servers of one set at once with wrk (three connections each: 12
clients) for --duration seconds; the legs alternate, direct then pooled then
pooled then direct ..., --pool-rounds times, so that the other work on a shared
machine falls on both alike. While the pooled set is loaded, PgBouncer's SHOW
POOLS is read every 0.2 s for the longest a client has waited for a server
connection (maxwait).

Passes when the pooled booking rate is within 15% of the direct one (pooled /
direct >= 0.85, the rates summed over the four servers and averaged over the
rounds), and no client waited as long as query_wait_timeout (such a client
gets an error, which the runs would count too).
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import common
import run

SERVERS = 4
WORKERS = 3  # per server: 12 database clients per set
CONNECTIONS = 3  # wrk connections per server: 12 HTTP clients per set
POOL_SIZE = 8
BOOKING_POOL = 1500  # fresh slots per server and booking run
RATIO_FLOOR = 0.85
KIT_INI = common.ROOT / "deploy" / "pgbouncer" / "pgbouncer.ini"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kit_setting(name):
    return float(re.search(rf"^{name} = (\S+)", KIT_INI.read_text(), re.M)[1])


class PgBouncer:
    """PgBouncer with the kit's settings, on a free port, for the bench database."""

    def __init__(self, db_url, workdir):
        parts = urlsplit(db_url)
        self.db = parts.path.lstrip("/")
        self.port = free_port()
        ini = KIT_INI.read_text()
        target = f"host={parts.hostname} port={parts.port or 5432} dbname={self.db}"
        local = {
            r"^quickmed = .*": f"{self.db} = {target} pool_size={POOL_SIZE}",
            r"^listen_port = .*": f"listen_port = {self.port}",
            r"^auth_type = .*": "auth_type = trust",
            r"^auth_file = .*": f"auth_file = {workdir / 'userlist.txt'}",
            r"^logfile = .*": f"logfile = {workdir / 'pgbouncer.log'}",
            r"^pidfile = .*": f"pidfile = {workdir / 'pgbouncer.pid'}",
            r"^stats_users = .*": f"stats_users = {parts.username}",
            r"^admin_users = .*": f"admin_users = {parts.username}",
        }
        for pattern, line in local.items():
            ini = re.sub(pattern, line, ini, flags=re.M)
        (workdir / "pgbouncer.ini").write_text(ini)
        (workdir / "userlist.txt").write_text(f'"{parts.username}" ""\n')
        cmd = [shutil.which("pgbouncer") or "/usr/sbin/pgbouncer", str(workdir / "pgbouncer.ini")]
        if os.geteuid() == 0:  # PgBouncer refuses root; the postgres user must write its files
            cmd[1:1] = ["-u", "postgres"]
            shutil.chown(workdir, "postgres")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{self.port}"))
        self.admin = f"postgres://{parts.username}@127.0.0.1:{self.port}/pgbouncer"
        self._wait_up()

    def _wait_up(self):
        import psycopg

        for _ in range(50):
            try:
                psycopg.connect(self.url, connect_timeout=1).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        self.stop()
        sys.exit(f"bench: PgBouncer did not start on {self.port}")

    def show(self, what):
        import psycopg

        # The admin console speaks the simple query protocol only: a ClientCursor.
        with psycopg.connect(
            self.admin, autocommit=True, cursor_factory=psycopg.ClientCursor
        ) as conn:
            cursor = conn.cursor()
            cursor.execute(f"SHOW {what}")
            names = [c.name for c in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def stats(self):
        return next(r for r in self.show("STATS") if r["database"] == self.db)

    def max_wait(self):
        """The longest a client of the bench database is waiting now, in seconds."""
        rows = [r for r in self.show("POOLS") if r["database"] == self.db]
        return max((r["maxwait"] + r.get("maxwait_us", 0) / 1e6 for r in rows), default=0.0)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Server:
    """gunicorn with 3 workers, as the kit's unit runs it (config/gunicorn.py)."""

    def __init__(self, env, log):
        self.port = free_port()
        cmd = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py"]
        cmd += ["config.wsgi:application", "--workers", str(WORKERS)]
        cmd += ["--bind", f"127.0.0.1:{self.port}", "--timeout", "120"]
        self.proc = subprocess.Popen(cmd, cwd=common.ROOT, env=env, stdout=log, stderr=log)

    def wait_up(self):
        for _ in range(300):
            try:
                if run.get(self.port, "/api/health/")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        sys.exit(f"bench: gunicorn on {self.port} did not answer")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def start_set(extra_env, log):
    env = {**os.environ, "MAX_ACTIVE_BOOKINGS": "1000000", **extra_env}
    servers = [Server(env, log) for _ in range(SERVERS)]
    for server in servers:
        server.wait_up()
    return servers


def together(servers, load):
    """load(server, index) on every server at once: the summed rate, the worst p99."""
    results = [None] * len(servers)

    def one(index):
        results[index] = load(servers[index], index)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(servers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "rps": sum(r["rps"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
        "requests": sum(r["requests"] for r in results),
        "errors": sum(r["errors"] for r in results),
    }


def booking_run(servers, doctor_list, tokens, args, workdir, offset_days):
    pools = [run.booking_pool(doctor_list, BOOKING_POOL, offset_days + i) for i in range(SERVERS)]

    def load(server, index):
        folder = workdir / f"book-{server.port}"
        folder.mkdir(exist_ok=True)
        return run.load_booking(
            server.port, pools[index], tokens, CONNECTIONS, args.duration, folder
        )

    return together(servers, load)


def list_run(servers, args):
    return together(
        servers, lambda server, _: run.load_get(server.port, run.CURSOR, CONNECTIONS, args.duration)
    )


class WaitWatch:
    """PgBouncer's SHOW POOLS maxwait, read every 0.2 s while a pooled run lasts."""

    def __init__(self, bouncer):
        self.bouncer, self.longest, self.stopped = bouncer, 0.0, threading.Event()
        self.thread = threading.Thread(target=self._watch)
        self.thread.start()

    def _watch(self):
        while not self.stopped.wait(0.2):
            self.longest = max(self.longest, self.bouncer.max_wait())

    def stop(self):
        self.stopped.set()
        self.thread.join()
        return self.longest


def measure(kind, leg, sets, bouncer, runner):
    watch = WaitWatch(bouncer) if leg == "pooled" else None
    result = runner(sets[leg])
    if watch:
        result["max_wait_s"] = watch.stop()
    print(
        f"   {kind:7} {leg:6} {result['rps']:7.1f} req/s  p99 {result['p99_ms']:7.1f} ms  "
        f"errors {result['errors']}"
        + (f"  longest pool wait {result['max_wait_s']:.3f} s" if watch else ""),
        flush=True,
    )
    return result


def interleaved(sets, bouncer, doctor_list, tokens, args, workdir):
    runs = {(kind, leg): [] for kind in ("booking", "list") for leg in ("direct", "pooled")}
    offset = 400  # days after the seeded slots: booking pools never meet the listed ones
    for number in range(args.pool_rounds):
        order = ("direct", "pooled") if number % 2 == 0 else ("pooled", "direct")
        print(f"   round {number + 1} of {args.pool_rounds}", flush=True)
        for leg in order:
            runs["booking", leg].append(
                measure(
                    "booking",
                    leg,
                    sets,
                    bouncer,
                    lambda s, o=offset: booking_run(s, doctor_list, tokens, args, workdir, o),
                )
            )
            offset += SERVERS
        for leg in order:
            runs["list", leg].append(
                measure("list", leg, sets, bouncer, lambda s: list_run(s, args))
            )
    return runs


def mean(values):
    return sum(values) / len(values)


def leg_line(kind, leg, rows):
    each = ", ".join(f"{r['rps']:.1f}" for r in rows)
    print(
        f"   {kind:7} {leg:6} mean {mean([r['rps'] for r in rows]):7.1f} req/s over"
        f" {len(rows)} runs (each: {each}), worst p99 {max(r['p99_ms'] for r in rows):.1f} ms,"
        f" errors {sum(r['errors'] for r in rows)}"
    )


def ratio(runs, kind):
    return mean([r["rps"] for r in runs[kind, "pooled"]]) / mean(
        [r["rps"] for r in runs[kind, "direct"]]
    )


def report(runs, timeout, stats):
    print(f"\n== Through PgBouncer vs direct ({SERVERS} servers x {WORKERS} workers, 12 clients)")
    for kind, leg in runs:
        leg_line(kind, leg, runs[kind, leg])
    booking = ratio(runs, "booking")
    pooled = runs["booking", "pooled"] + runs["list", "pooled"]
    longest = max(r["max_wait_s"] for r in pooled)
    errors = sum(r["errors"] for r in pooled)
    print(f"   PgBouncer: {stats}")
    print(f"   (list through PgBouncer: {ratio(runs, 'list'):.2f}x direct; not a target)")
    checks = [
        (f"booking through PgBouncer within 15% of direct: {booking:.2f}x", booking >= RATIO_FLOOR),
        (
            f"no request waited for a server connection as long as query_wait_timeout "
            f"({timeout:g} s): longest wait {longest:.3f} s, {errors} errors",
            longest < timeout and errors == 0,
        ),
    ]
    for text, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    return all(ok for _, ok in checks)


def pool_stats(before, after):
    xacts = after["total_xact_count"] - before["total_xact_count"]
    waited = after["total_wait_time"] - before["total_wait_time"]
    return (
        f"{xacts} transactions on {POOL_SIZE} server connections, "
        f"mean wait for a connection {waited / max(xacts, 1) / 1000:.2f} ms"
    )


def compare(args, workdir, doctor_list, tokens):
    """Both sets of servers up, the interleaved runs, everything stopped again."""
    bouncer = PgBouncer(args.db_url, workdir)
    log = open(workdir / "gunicorn.log", "ab")  # noqa: SIM115 - closed below
    sets = {}
    try:
        sets["direct"] = start_set({}, log)
        sets["pooled"] = start_set(
            {"DATABASE_URL": bouncer.url, "DATABASE_POOL_MODE": "transaction"}, log
        )
        before = bouncer.stats()
        runs = interleaved(sets, bouncer, doctor_list, tokens, args, workdir)
        stats = pool_stats(before, bouncer.stats())
    finally:
        for server in [s for servers in sets.values() for s in servers]:
            server.stop()
        bouncer.stop()
        log.close()
    if "Traceback" in (workdir / "gunicorn.log").read_text():
        print("bench: gunicorn logged errors", file=sys.stderr)
    return runs, stats


def utc_sessions(db_url):
    """The database's sessions start in UTC, as Django wants them: no SET TIME ZONE on
    each new connection (docs/deployment.md recommends the same for the role)."""
    import psycopg

    name = urlsplit(db_url).path.lstrip("/")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE \"{name}\" SET timezone TO 'UTC'")


def main(args):
    """bench/run.py --via-pgbouncer: the comparison, then exit 1 on a FAIL."""
    if not shutil.which("pgbouncer") and not Path("/usr/sbin/pgbouncer").exists():
        sys.exit("bench: --via-pgbouncer needs pgbouncer (apt-get install -y pgbouncer)")
    common.ensure_database(args.db_url)
    utc_sessions(args.db_url)
    common.setup_django(args.db_url)
    n = int(args.sizes.split(",")[0])
    print(f"== N = {n:,} slots over {args.doctors} doctors; PgBouncer vs direct", flush=True)
    doctor_list = common.seed(n, args.doctors)
    tokens = [common.access_token(p) for p in common.patients(12)]
    with tempfile.TemporaryDirectory(prefix="quickmed-pool-") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o755)
        runs, stats = compare(args, workdir, doctor_list, tokens)
    ok = report(runs, kit_setting("query_wait_timeout"), stats)
    return 0 if ok else 1
