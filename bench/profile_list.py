"""Where the time of the whole available list goes, in-process.

    .venv/bin/python bench/profile_list.py [--slots 1000] [--doctors 50] [--no-seed]

Seeds the bench database (see bench/common.py), then times the stages of
GET /api/doctor/user/timeslots/ one by one (query + model rows, serializer,
JSON rendering, the whole request through Django's test client) and prints a
cProfile of the whole request, sorted by own time.
"""

import argparse
import cProfile
import gc
import io
import pstats
import statistics
import time

import common


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slots", type=int, default=1000)
    parser.add_argument("--doctors", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--db-url", default=common.DEFAULT_DB_URL)
    parser.add_argument("--no-seed", action="store_true", help="profile what is in the database")
    args = parser.parse_args()

    common.ensure_database(args.db_url)
    common.setup_django(args.db_url)
    if not args.no_seed:
        common.seed(args.slots, args.doctors)

    from django.test import Client
    from rest_framework.renderers import JSONRenderer

    from doctor.models import TimeSlot
    from doctor.serializers import TimeSlotSerializer

    client = Client(HTTP_HOST="127.0.0.1")
    url = "/api/doctor/user/timeslots/"

    def queryset():
        return (
            TimeSlot.objects.bookable()
            .select_related("doctor")
            .order_by("date", "start_time", "id")
        )

    rows = list(queryset())
    data = TimeSlotSerializer(rows, many=True).data

    def floor():
        values = TimeSlot.objects.bookable().order_by("date", "start_time", "id")
        return common.encode(list(values.values(*common.SLOT_COLUMNS)))

    # What-if for doctor/views/lists.py: load only the columns the JSON shows.
    shown = [c for c in common.SLOT_COLUMNS if c not in ("id", "doctor_id")]

    stages = {
        "query + model instances": lambda: list(queryset()),
        "  the same with .only(shown columns)": lambda: list(queryset().only(*shown)),
        "serializer .data (rows in memory)": lambda: TimeSlotSerializer(rows, many=True).data,
        "JSONRenderer (data in memory)": lambda: JSONRenderer().render(data),
        "whole request (test client)": lambda: client.get(url),
        "floor: .values() + json.dumps": floor,
    }
    print(f"{len(rows)} rows, median of {args.repeat} runs: wall ms, CPU ms (Python GC on)")
    for name, func in stages.items():
        ms = common.median_ms(func, args.repeat)
        print(f"  {name:36} {ms['wall']:8.2f} {ms['cpu']:8.2f}")

    # What-if for the gunicorn config: full collections re-scan every object
    # Django holds; gc.freeze() after start-up takes those out. GC spikes show in
    # the mean, not the median.
    def mean_cpu_ms():
        cpu = []
        for _ in range(60):
            start = time.process_time()
            client.get(url)
            cpu.append(time.process_time() - start)
        return statistics.mean(cpu) * 1000

    print(f"  whole request, mean CPU ms: {mean_cpu_ms():.2f}", end="")
    gc.freeze()
    print(f"; after gc.freeze(): {mean_cpu_ms():.2f}")
    gc.unfreeze()

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(10):
        client.get(url)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(30)
    print(out.getvalue())


if __name__ == "__main__":
    main()
