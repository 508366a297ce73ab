"""The retry policy: an immutable value deciding retry or not, and how long to wait."""

from __future__ import annotations

import dataclasses
import random

import pytest

from entrepot.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    RemoteLocked,
    TargetTimeout,
)
from entrepot.jobs import RetryPolicy


def test_the_policy_is_frozen_and_increment_returns_a_new_one() -> None:
    policy = RetryPolicy(attempts=3, jitter=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.attempts = 5  # type: ignore[misc]
    decision = policy.increment(ConnectionFailed("down"), step="send")
    assert policy.history == ()
    assert decision.policy is not policy
    assert len(decision.policy.history) == 1
    record = decision.policy.history[0]
    assert (record.attempt, record.step, record.error_type, record.transient) == (
        1,
        "send",
        "ConnectionFailed",
        True,
    )
    assert record.error == "ConnectionFailed: down"


def test_exponential_delays_without_jitter_are_exact() -> None:
    policy = RetryPolicy(attempts=6, delay=1.5, factor=3.0, max_delay=1000, jitter=0)
    delays = []
    for _ in range(5):
        decision = policy.increment(TargetTimeout())
        assert decision.retry
        delays.append(decision.delay)
        policy = decision.policy
    assert delays == [1.5, 4.5, 13.5, 40.5, 121.5]
    last = policy.increment(TargetTimeout())
    assert not last.retry
    assert last.reason == "no tries left after 6"
    assert last.policy.history[-1].delay is None


def test_max_delay_caps_every_wait() -> None:
    policy = RetryPolicy(attempts=10, delay=10, factor=10, max_delay=60, jitter=0)
    assert [policy.backoff(n) for n in range(1, 6)] == [10, 60, 60, 60, 60]
    assert policy.backoff(10_000) == 60  # no overflow on absurd retry numbers


def test_jitter_spreads_within_bounds_and_is_repeatable_with_a_seed() -> None:
    policy = RetryPolicy(attempts=50, delay=10, factor=1, max_delay=100, jitter=0.2)
    waits = [policy.backoff(1, random.Random(seed)) for seed in range(200)]
    assert all(8.0 <= wait <= 12.0 for wait in waits)
    assert len(set(waits)) > 100
    again = [policy.backoff(1, random.Random(seed)) for seed in range(200)]
    assert waits == again
    rng = random.Random(7)
    expected = 10 * (1 + random.Random(7).uniform(-0.2, 0.2))
    assert policy.increment(ConnectionFailed(), rng=rng).delay == pytest.approx(expected)


def test_jitter_never_pushes_past_max_delay() -> None:
    policy = RetryPolicy(attempts=5, delay=100, max_delay=100, jitter=0.5)
    assert all(policy.backoff(1, random.Random(s)) <= 100 for s in range(100))


def test_permanent_errors_are_not_retried() -> None:
    decision = RetryPolicy(attempts=5).increment(AuthenticationFailed("bad password"))
    assert not decision.retry
    assert decision.reason == "permanent error"
    assert decision.policy.history[0].transient is False


def test_unknown_exceptions_are_permanent_but_os_level_network_errors_retry() -> None:
    policy = RetryPolicy(attempts=5)
    assert not policy.increment(ValueError("bug")).retry
    assert policy.increment(ConnectionResetError()).retry
    assert policy.increment(TimeoutError()).retry
    assert policy.increment(RemoteLocked()).retry


def test_time_budget_stops_a_retry_that_would_end_too_late() -> None:
    policy = RetryPolicy(attempts=10, delay=10, factor=2, max_delay=1000, jitter=0, budget=60)
    assert policy.increment(ConnectionFailed(), elapsed=0).retry  # waits 10: ends at 10
    late = policy.increment(ConnectionFailed(), elapsed=55)
    assert not late.retry
    assert late.reason == "time budget of 60 s spent"
    assert late.delay == 0


def test_a_step_that_is_not_retried_is_recorded_but_never_retried() -> None:
    decision = RetryPolicy(attempts=5).increment(ConnectionFailed(), step="x", allowed=False)
    assert not decision.retry
    assert decision.reason == "step x is not retried"
    assert decision.policy.history[0].transient is True


def test_a_custom_retryable_predicate() -> None:
    policy = RetryPolicy.fixed(3, 5, retryable=lambda e: isinstance(e, KeyError))
    assert policy.increment(KeyError("x")).delay == 5
    assert not policy.increment(ConnectionFailed()).retry


def test_never_and_fixed() -> None:
    assert not RetryPolicy.never().increment(ConnectionFailed()).retry
    fixed = RetryPolicy.fixed(4, 2.5)
    assert [fixed.backoff(n) for n in (1, 2, 3)] == [2.5, 2.5, 2.5]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempts": 0},
        {"delay": -1},
        {"max_delay": -1},
        {"delay": 10, "max_delay": 5},
        {"factor": 0.5},
        {"jitter": 1.5},
        {"budget": -1},
    ],
)
def test_nonsense_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
