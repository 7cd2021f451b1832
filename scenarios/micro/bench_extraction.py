"""Extraction time per response shape and over a mock profile's shape mix, per extractor.

One round of `test_extract_mix` extracts every response of the sample once; `calls_per_round`
tells the converter to divide, so every record's `time_s` is the time of one extraction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.runners.micro_inputs import mix_samples, profile_mix, shape_samples
from harness.subjects.extractors import load_extractor


def test_extract_shape(benchmark: Any, extractor_spec: str, shape: str, seed: int) -> None:
    extract = load_extractor(extractor_spec)
    sample = shape_samples(seed)[shape]
    benchmark.group = f"extract {shape}"
    benchmark.extra_info.update(
        scenario="extract", extractor=extractor_spec, shape=shape, calls_per_round=1
    )
    result = benchmark(extract, sample.response, sample.endpoint)
    assert result.text == sample.text, f"{extractor_spec} got the wrong text from {shape}"


def test_extract_mix(
    benchmark: Any, extractor_spec: str, profile: str, seed: int, mix_size: int
) -> None:
    extract = load_extractor(extractor_spec)
    samples = mix_samples(profile_mix(profile), mix_size, seed)
    pairs = [(s.response, s.endpoint) for s in samples]
    benchmark.group = f"extract mix:{profile}"
    benchmark.extra_info.update(
        scenario="extract", extractor=extractor_spec, shape=f"mix:{profile}",
        calls_per_round=len(pairs), profile=profile,
    )  # fmt: skip
    benchmark(_extract_all, extract, pairs)


def _extract_all(extract: Callable[[Any, str], Any], pairs: list[tuple[Any, str]]) -> None:
    for response, endpoint in pairs:
        extract(response, endpoint)
