"""The payment intent state machine, on its own (no database)."""
import itertools

import pytest

from servicekit.errors import FailedPrecondition
from services.payment import states
from services.payment.models import STATUSES, PaymentIntent

ALLOWED_PAIRS = {("created", "pending"), ("created", "failed"), ("created", "cancelled"),
                 ("pending", "succeeded"), ("pending", "failed"), ("pending", "cancelled"),
                 ("succeeded", "refunded")}


def intent(status):
    return PaymentIntent(id="pi-1", status=status)


@pytest.mark.parametrize("current,target", sorted(ALLOWED_PAIRS))
def test_allowed_transitions_move_and_stamp_times(current, target):
    pi = intent(current)
    assert states.move(pi, target) is True
    assert pi.status == target and pi.updated_at is not None
    assert (pi.closed_at is not None) == (target in ("failed", "cancelled", "refunded"))


@pytest.mark.parametrize("current,target", sorted(
    (a, b) for a, b in itertools.product(STATUSES, STATUSES)
    if a != b and (a, b) not in ALLOWED_PAIRS))
def test_every_other_transition_is_refused_and_changes_nothing(current, target):
    pi = intent(current)
    with pytest.raises(FailedPrecondition) as err:
        states.move(pi, target)
    assert pi.status == current and pi.updated_at is None
    assert current in err.value.message and target in err.value.message


@pytest.mark.parametrize("status", STATUSES)
def test_asking_for_the_current_status_is_a_no_op(status):
    pi = intent(status)
    assert states.move(pi, status) is False
    assert pi.updated_at is None


def test_success_records_the_provider_transaction():
    pi = intent("pending")
    states.move(pi, "succeeded", provider_transaction_id="4200001234202611230000000001")
    assert pi.provider_transaction_id == "4200001234202611230000000001"
    assert pi.succeeded_at is not None and pi.closed_at is None


def test_an_unknown_status_is_a_programming_error():
    with pytest.raises(ValueError):
        states.move(intent("created"), "paid")
