"""The mock's live state: config, the models parsed from it, counters, journal, token issuer.

`Runtime` is everything derived from a `MockConfig`; a config change builds a new one and swaps
it in with one assignment, so requests in flight finish under the config they started with.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mock_salesforce.config import MockConfig, latency_keys
from mock_salesforce.corpus import Corpus, load_corpus
from mock_salesforce.counters import Counters
from mock_salesforce.effective import check_reach
from mock_salesforce.errors import ConfigError
from mock_salesforce.faults import FaultPlan, parse_fault
from mock_salesforce.ids import IdMaker
from mock_salesforce.journal import Journal
from mock_salesforce.latency import LatencyModel, parse_latency
from mock_salesforce.oauth import TokenIssuer
from mock_salesforce.quotas import QuotaBook
from mock_salesforce.replies import ReplyLengths, ShapeMix, parse_lengths
from mock_salesforce.validation import MAX_EMBEDDING_DIMS, body_limits_bytes

SEEN_SLOTS = 65_536  # a power of two: request bytes hash to slot `hash & (SEEN_SLOTS - 1)`


@dataclass
class Runtime:
    """Models parsed from one config; latency lookups are memoised per (endpoint, model)."""

    config: MockConfig
    latency: dict[str, LatencyModel]
    faults: FaultPlan | None
    quotas: QuotaBook | None
    mix: ShapeMix
    lengths: ReplyLengths
    rng: random.Random
    corpus: Corpus
    body_limits_bytes: dict[str, int]  # per endpoint (see `validation.body_limits_bytes`)
    # Request bytes -> everything derived from them (see `rendering.prepared_for`).
    prepared: dict[tuple[str, str, bytes], Any] = field(default_factory=dict)
    # The hash of the request bytes last met in each of SEEN_SLOTS slots: a packed table
    # (512 KiB), so a new body's sighting allocates nothing and touches one cache line.
    seen: array[int] = field(default_factory=lambda: array("q", bytes(8 * SEEN_SLOTS)))
    _by_route: dict[tuple[str, str], LatencyModel | None] = field(default_factory=dict)

    def sample_latency_ms(self, endpoint: str, model: str, output_tokens: int) -> float:
        """Injected latency for one request (0 when no model applies)."""
        key = (endpoint, model)
        try:
            latency_model = self._by_route[key]
        except KeyError:
            latency_model = self._by_route[key] = self._find_model(endpoint, model)
        if latency_model is None:
            return 0.0
        return max(0.0, latency_model.sample_ms(self.rng, output_tokens))

    def _find_model(self, endpoint: str, model: str) -> LatencyModel | None:
        latency = self.latency
        return next((latency[k] for k in latency_keys(endpoint, model) if k in latency), None)


def build_runtime(config: MockConfig, corpus: Corpus, instance: int = 0) -> Runtime:
    """Parse and check every spec in `config`; raises ConfigError naming the bad one.

    `instance` (a worker's index) decorrelates request ids and latency draws across processes.
    """
    mix = ShapeMix.from_mapping(config.mix)
    corpus.check_mix(config.mix)
    if config.embedding_dims > MAX_EMBEDDING_DIMS:
        raise ConfigError(f"embedding_dims must be at most {MAX_EMBEDDING_DIMS}")
    rules = [parse_fault(spec) for spec in config.faults]
    latency = {k: parse_latency(v) for k, v in config.latency.items()}
    check_reach(config, latency, rules)
    return Runtime(
        config=config,
        latency=latency,
        faults=FaultPlan(rules, config.seed) if rules else None,
        quotas=QuotaBook(config.quotas_rpm) if config.quotas_rpm else None,
        mix=mix,
        lengths=parse_lengths(config.reply_lengths),
        rng=random.Random(config.seed * 1_000_003 + instance),
        corpus=corpus,
        body_limits_bytes=body_limits_bytes(config.body_limit_bytes),
    )


class MockState:
    """Everything a running mock holds; handlers and the admin API share one instance."""

    def __init__(
        self,
        config: MockConfig,
        *,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        corpus: Corpus | None = None,
        instance: int = 0,
        workers: int = 1,
    ) -> None:
        self.instance = instance
        self.workers = workers  # processes sharing the port, each with its own journal
        self.clock = clock
        self.start_s = clock()
        self.epoch_start_s = wall_clock()
        self.corpus = corpus if corpus is not None else load_corpus()
        self.runtime = build_runtime(config, self.corpus, instance)
        self.counters = Counters()
        self.journal = Journal(config.journal_size)
        self.issuer = TokenIssuer(
            seed=config.seed,
            now_s=self.now_epoch_s,
            lifetime_s=config.token_lifetime_s,
            credentials=config.credentials,
            include_expires_in=config.token_expires_in,
        )
        self.seq = 0
        # The epoch second replies last said they were created in, and it as JSON: a float floor
        # and a compare a reply, where formatting it was 3.7k instructions (`rendering`).
        self.second, self.second_json = -1.0, b""
        self.ids = IdMaker(random.Random(f"{config.seed}/{instance}/{self.epoch_start_s}"))

    @property
    def config(self) -> MockConfig:
        return self.runtime.config

    def now_epoch_s(self) -> float:
        """Wall-clock epoch seconds, advanced by the injected monotonic clock."""
        return self.epoch_start_s + (self.clock() - self.start_s)

    def uptime_s(self) -> float:
        return self.clock() - self.start_s

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def apply(self, config: MockConfig) -> None:
        """Switch to `config` (all checks first: a bad config changes nothing).

        Fault schedules (`first=`, `every=` counts) and quota windows carry on when their own
        settings are unchanged: setting a latency must not replay a `429:first=1`.
        """
        runtime = build_runtime(config, self.corpus, self.instance)
        _carry_over(self.runtime, runtime)
        self.runtime = runtime
        self.issuer.lifetime_s = config.token_lifetime_s
        self.issuer.credentials = config.credentials
        self.issuer.include_expires_in = config.token_expires_in
        self.journal.resize(config.journal_size)

    def reset(self) -> None:
        """Zero counters, empty the journal, restart fault schedules and quota windows."""
        self.counters.reset()
        self.journal.clear()
        self.runtime = build_runtime(self.config, self.corpus, self.instance)


def _carry_over(old: Runtime, new: Runtime) -> None:
    """Keep `old`'s fault plan and quota book in `new` when their settings did not change."""
    before, after = old.config, new.config
    if tuple(before.faults) == tuple(after.faults) and before.seed == after.seed:
        new.faults = old.faults
    if dict(before.quotas_rpm) == dict(after.quotas_rpm):
        new.quotas = old.quotas
