"""Retry policies as immutable values.

A :class:`RetryPolicy` says how often and how patiently to try again.  It
never changes: :meth:`RetryPolicy.increment` takes the error that just
happened and returns a :class:`RetryDecision` — retry or not, after which
delay, and why — carrying a new policy whose :attr:`~RetryPolicy.history`
includes that error.  The policy never sleeps; the runner sleeps on its
clock, so tests control time completely.

Delays grow exponentially: the *n*-th retry waits
``delay * factor ** (n - 1)`` seconds, spread by ``± jitter`` (a fraction)
so that many clients failing together do not come back together, and capped
at ``max_delay``.  ``budget`` bounds the whole run: a retry whose wait would
end past the budget is not made.  Only errors the ``retryable`` predicate
accepts are retried — by default :func:`entrepot.errors.is_transient`, so a
dropped connection is retried and a wrong password is not.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from entrepot.errors import is_transient


@dataclass(frozen=True)
class RetryRecord:
    """One failed try, as kept in a policy's history and the ledger."""

    attempt: int
    step: str
    error: str
    error_type: str
    transient: bool
    delay: float | None
    """Seconds waited before the next try, or ``None`` when it was the last."""


@dataclass(frozen=True)
class RetryDecision:
    """What to do after a failure: ``retry`` after ``delay`` seconds, or stop."""

    retry: bool
    delay: float
    reason: str
    policy: RetryPolicy
    """The policy to use from now on (its history includes this failure)."""


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@dataclass(frozen=True)
class RetryPolicy:
    """How many tries, how far apart, and which errors deserve another try."""

    attempts: int = 3
    """Total tries, the first included (1 means never retry)."""
    delay: float = 1.0
    """Seconds before the first retry."""
    factor: float = 2.0
    """Each further retry waits this many times longer."""
    max_delay: float = 300.0
    """No single wait is longer than this."""
    jitter: float = 0.1
    """Spread each wait by up to this fraction either way (0 disables)."""
    budget: float | None = None
    """Seconds the whole run may take, waits included (``None``: no limit)."""
    retryable: Callable[[BaseException], bool] = field(default=is_transient, compare=False)
    """Tells which errors are worth retrying."""
    history: tuple[RetryRecord, ...] = ()
    """The failures seen so far, oldest first."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.delay < 0 or self.max_delay < 0:
            raise ValueError("delays cannot be negative")
        if self.delay > self.max_delay:
            raise ValueError("delay cannot exceed max_delay")
        if self.factor < 1:
            raise ValueError("factor must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")
        if self.budget is not None and self.budget < 0:
            raise ValueError("budget cannot be negative")

    @classmethod
    def never(cls) -> RetryPolicy:
        """Try once."""
        return cls(attempts=1)

    @classmethod
    def fixed(
        cls,
        attempts: int,
        delay: float,
        *,
        retryable: Callable[[BaseException], bool] = is_transient,
    ) -> RetryPolicy:
        """``attempts`` tries exactly ``delay`` seconds apart, without jitter."""
        return cls(
            attempts=attempts,
            delay=delay,
            factor=1.0,
            max_delay=delay,
            jitter=0.0,
            retryable=retryable,
        )

    @property
    def failures(self) -> int:
        """How many failures the history holds."""
        return len(self.history)

    def backoff(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first)."""
        if retry < 1:
            raise ValueError("retry numbers start at 1")
        # Capping the exponent first keeps huge retry numbers from overflowing.
        base = self.delay * self.factor ** min(retry - 1, 1000) if self.delay else 0.0
        base = min(base, self.max_delay)
        if self.jitter and base:
            spread = (rng or random).uniform(-self.jitter, self.jitter)
            base *= 1.0 + spread
        return float(min(max(base, 0.0), self.max_delay))

    def increment(
        self,
        error: BaseException,
        *,
        step: str = "",
        elapsed: float = 0.0,
        rng: random.Random | None = None,
        allowed: bool = True,
    ) -> RetryDecision:
        """Decide about ``error``, which happened ``elapsed`` seconds into the run.

        ``allowed=False`` records the failure but never retries it (a step
        that must not run twice).
        """
        attempt = self.failures + 1
        transient = bool(self.retryable(error))
        delay = 0.0
        if not allowed:
            retry, reason = False, f"step {step or '?'} is not retried"
        elif not transient:
            retry, reason = False, "permanent error"
        elif attempt >= self.attempts:
            retry, reason = False, f"no tries left after {attempt}"
        else:
            delay = self.backoff(attempt, rng)
            if self.budget is not None and elapsed + delay > self.budget:
                retry, reason = False, f"time budget of {self.budget:g} s spent"
                delay = 0.0
            else:
                retry, reason = True, f"transient error, try {attempt + 1} of {self.attempts}"
        record = RetryRecord(
            attempt=attempt,
            step=step,
            error=_describe(error),
            error_type=type(error).__name__,
            transient=transient,
            delay=delay if retry else None,
        )
        policy = replace(self, history=(*self.history, record))
        return RetryDecision(retry=retry, delay=delay, reason=reason, policy=policy)


#: In-run retries used when none is given: three tries, 1 s then 2 s apart.
DEFAULT_RETRY = RetryPolicy()

#: Between backlog runs: up to 8 runs, an hour-capped back-off from 1 minute.
DEFAULT_RERUNS = RetryPolicy(attempts=8, delay=60.0, factor=2.0, max_delay=3600.0, jitter=0.1)
