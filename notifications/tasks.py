from celery import shared_task

from notifications import services


@shared_task
def send_reminders():
    """Periodic (beat, every minute); harmless twice (one Reminder row per booking)."""
    return services.send_due_reminders()
