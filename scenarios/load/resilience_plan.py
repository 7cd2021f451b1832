"""The resilience scenario's plan: which faults the mock injects when, and the token lifetime.

Pure data (no locust, no harness), so the locustfile, the resilience runner and tests read the
same plan. Times scale with the run: a full run (>= 2 minutes) hangs requests for 45 s, long
enough to tell a missing read timeout from a sane 30 s one; a quick run's short hangs cannot
(they end before any sane timeout fires), so in a quick run `hang_no_timeout` stays silent
rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass

FULL_RUN_S = 120.0
FULL_HANG_S = 45.0  # > the grading's default hang wait (35 s): a client without a read timeout
TOKEN_LIFETIME_MAX_S = 600.0
# What the load's chat completions may become upstream: chat-generations, or generations for a
# gateway that flattens chat into a prompt. Faults on both reach either kind of gateway; OAuth,
# embeddings and feedback are left alone.
TEXT_ENDPOINTS = ("chat-generations", "generations")


@dataclass(frozen=True)
class Phase:
    """From `start_s` after the run starts, the mock injects `faults` (mock fault specs)."""

    name: str
    start_s: float
    faults: tuple[str, ...]

    @property
    def calm(self) -> bool:
        """No fault hits calls at random: none at all, or only ones aimed at the first few
        calls (`first=N`), which the journal names."""
        return all("first=" in spec for spec in self.faults)


@dataclass(frozen=True)
class ResiliencePlan:
    """Phases in time order, the token lifetime to set and how long the hangs last."""

    duration_s: float
    token_lifetime_s: float
    hang_s: float
    phases: tuple[Phase, ...]

    def proves_read_timeout(self, hang_wait_s: float) -> bool:
        """Whether the hangs outlast `hang_wait_s`, the grading's threshold for a missing read
        timeout (so a target without one is caught)."""
        return self.hang_s > hang_wait_s

    def mock_args(self) -> tuple[str, ...]:
        """The command line of a mock started for this plan: its tokens are short-lived from the
        first one, so a token a gateway fetched at start-up and never refreshes expires in the
        run (patching the lifetime when the load starts would come after that fetch)."""
        return ("--token-lifetime", f"{self.token_lifetime_s:g}")


def resilience_plan(duration_s: float) -> ResiliencePlan:
    """The plan for a run of `duration_s`: calm, a 429 burst, calm, a 503 outage, calm, hangs."""
    d = duration_s
    hang_s = FULL_HANG_S if d >= FULL_RUN_S else round(max(1.0, 0.3 * d), 1)
    on = f"endpoint={'|'.join(TEXT_ENDPOINTS)}"
    phases = (
        Phase("calm", 0.0, ()),
        Phase("429 burst", 0.10 * d, (f"429:p=0.5,retry_after=1,{on}",)),
        Phase("calm", 0.25 * d, ()),
        Phase("503 outage", 0.35 * d, (f"503:{on}",)),
        Phase("calm", 0.45 * d, ()),
        Phase("hangs", 0.55 * d, (f"hang:first=2,duration={hang_s:g}s,{on}",)),
    )
    # Tokens expire within the run, so a token kept past `exp` shows. They live shorter than
    # the margin a gateway may refresh before `exp`, so the grading leaves refresh habits alone.
    lifetime_s = min(max(d / 3.0, 2.0), TOKEN_LIFETIME_MAX_S)
    return ResiliencePlan(d, round(lifetime_s, 1), hang_s, phases)
