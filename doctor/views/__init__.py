"""The doctor app's endpoints, one module per concern (doctor/urls.py lists them)."""

from rest_framework.decorators import api_view, permission_classes, throttle_classes, throttle_scope

from accounts.permissions import IsPatient
from config.throttles import SharedScopedRateThrottle
from idempotency.decorators import idempotent


def patient_step(view):
    """A patient's step on a slot (book, hold, reschedule): a POST by a patient,
    counted by the shared booking throttle, retried safely with an Idempotency-Key."""
    view = throttle_scope("booking")(idempotent(view))
    view = permission_classes([IsPatient])(throttle_classes([SharedScopedRateThrottle])(view))
    return api_view(["POST"])(view)
