"""Extraction time per response shape and over a mock profile's shape mix, per extractor.

`test_extract_mix` cycles through a seeded sample of the profile's mix, one response per call,
so every record's `time_s` is the time of one extraction.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

from harness.runners.support.micro_inputs import mix_samples, profile_mix, shape_samples
from harness.subjects.extractors import load_extractor


def test_extract_shape(benchmark: Any, extractor_spec: str, shape: str, seed: int) -> None:
    extract = load_extractor(extractor_spec)
    sample = shape_samples(seed)[shape]
    benchmark.group = f"extract {shape}"
    benchmark.extra_info.update(
        scenario="extract", extractor=extractor_spec, shape=shape, calls_per_round=1
    )
    result = benchmark(extract, sample.response, sample.endpoint)
    if result.error is not None:  # a user's extractor, timed raising: its record says so
        benchmark.extra_info["raised"] = result.error
        return
    assert result.text == sample.text, f"{extractor_spec} got the wrong text from {shape}"


def test_extract_mix(
    benchmark: Any, extractor_spec: str, profile: str, seed: int, mix_size: int
) -> None:
    extract = load_extractor(extractor_spec)
    samples = mix_samples(profile_mix(profile), mix_size, seed)
    # One response per call, cycling through the sample: rounds stay as short as the per-shape
    # ones (a long round is more often cut by the scheduler on a busy machine).
    pairs = itertools.cycle([(s.response, s.endpoint) for s in samples])
    benchmark.group = f"extract mix:{profile}"
    benchmark.extra_info.update(
        scenario="extract", extractor=extractor_spec, shape=f"mix:{profile}",
        calls_per_round=1, profile=profile,
    )  # fmt: skip
    benchmark(_extract_next, extract, pairs)


def _extract_next(extract: Callable[[Any, str], Any], pairs: Iterator[tuple[Any, str]]) -> Any:
    response, endpoint = next(pairs)
    return extract(response, endpoint)
