"""What the property-based state machines (test_booking_properties,
test_journey_properties) share. A state machine takes no fixtures, so this is a
base class and a runner rather than conftest fixtures."""

from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, run_state_machine_as_test

from config.errors import DomainError
from doctor.invariants import violations

# Every exception a service may raise to refuse a request.
REFUSALS = (DomainError,)


class ServiceMachine(RuleBasedStateMachine):
    """Random steps through doctor.services: each example runs in a savepoint rolled
    back at its end, and the booking invariants (doctor.invariants, as `manage.py
    check_bookings` checks them) hold after every step."""

    def __init__(self):
        super().__init__()
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()

    def teardown(self):
        transaction.set_rollback(True)
        self._savepoint.__exit__(None, None, None)

    @invariant()
    def booking_invariants_hold(self):
        assert violations() == []


def run_machine(machine, *, examples, steps):
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            database=None,  # each run explores afresh; a failure prints its steps
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
