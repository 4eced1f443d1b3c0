"""The schedules' periodic work; harmless twice or on two workers at once."""

from celery import shared_task

from schedules import services


@shared_task
def roll_horizons():
    """Beat (SCHEDULE_ROLL_SECONDS, default hourly): make the days that entered each
    schedule's horizon since its last run. Only the first run after the clinic's
    midnight finds work; the others read one row per schedule. Slots made."""
    return services.roll()


@shared_task
def sweep_unfit_slots():
    """Beat (every 30 s): remove the kept schedule-made slots whose hold lapsed."""
    return services.unfit_sweep()
