"""Extractors: both find the exact text of every corpus shape; they differ in the work it takes."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from harness.subjects.extractors import (
    EXTRACTORS,
    LEGACY_PATHS,
    Extraction,
    legacy,
    load_extractor,
    path_name,
    priority,
)
from tests.unit.subjects.shape_bodies import TEXT, load_shapes, text_shape_cases

CASES = text_shape_cases()
IDS = [f"{name}@{endpoint}" for name, endpoint, _, _ in CASES]


@pytest.mark.parametrize("name", sorted(EXTRACTORS))
@pytest.mark.parametrize(("shape", "endpoint", "body", "text_path"), CASES, ids=IDS)
def test_every_extractor_returns_the_exact_text_at_the_shapes_text_path(
    name: str, shape: str, endpoint: str, body: dict[str, Any], text_path: str
) -> None:
    extraction = EXTRACTORS[name](body, endpoint)
    assert extraction.text == TEXT
    assert extraction.path == text_path
    assert extraction.matched


def test_there_are_two_official_paths_and_nine_fallback_paths() -> None:
    assert len(LEGACY_PATHS) == 11
    corpus_paths = {s["text_path"] for s in load_shapes() if s["endpoint"] != "embeddings"}
    assert {path_name(p) for p in LEGACY_PATHS} == corpus_paths


def test_priority_takes_the_first_path_for_official_shapes_on_both_endpoints() -> None:
    for shape in load_shapes():
        if shape["official"] and shape["endpoint"] != "embeddings":
            extraction = priority(shape["body"], shape["endpoint"])
            assert (extraction.path_rank, extraction.fallback) == (1, False)


def test_legacy_needs_a_second_path_and_more_lookups_for_chat_generations() -> None:
    body = next(s["body"] for s in load_shapes() if s["name"] == "official-chat-generations")
    old, new = legacy(body, "chat-generations"), priority(body, "chat-generations")
    assert old.path_rank == 2
    assert old.fallback
    assert old.lookups > new.lookups == 4


def test_legacy_probes_every_step_twice_on_the_generations_path() -> None:
    body = next(s["body"] for s in load_shapes() if s["name"] == "official-generations")
    # check pass: "in" + index per key (4); fetch pass: index per key again (2)
    assert legacy(body, "generations").lookups == 6
    assert priority(body, "generations").lookups == 2


def test_priority_runs_the_fallback_routine_only_when_the_expected_path_misses() -> None:
    extraction = priority({"output": "x"}, "generations")
    assert extraction == Extraction("x", "output", 9, extraction.lookups, True)


@pytest.mark.parametrize("extract", [legacy, priority])
def test_an_unknown_body_matches_nothing_without_raising(extract: Any) -> None:
    bodies: list[dict[str, Any]] = [{}, {"generation": None}, {"choices": []}, {"text": 3}]
    for body in [*bodies, {"embeddings": []}]:
        result = extract(body, "chat-generations")
        assert (result.text, result.path, result.path_rank) == (None, None, 0)


def test_an_empty_string_is_a_text_not_a_miss() -> None:
    assert priority({"generation": {"generatedText": ""}}, "generations").text == ""


@pytest.fixture
def user_module() -> Iterator[types.ModuleType]:
    module = types.ModuleType("sfperf_user_extractors")
    module.two_args = lambda response, endpoint: f"{endpoint}:{response['t']}"  # type: ignore[attr-defined]
    module.one_arg = lambda sf_response, debug_mode=False: sf_response["t"]  # type: ignore[attr-defined]
    module.full = lambda response, endpoint: Extraction("z", "p", 3, 9, True)  # type: ignore[attr-defined]
    module.nothing = lambda response: None  # type: ignore[attr-defined]
    module.constant = 42  # type: ignore[attr-defined]
    module.chat_only = lambda response: response["generationDetails"]["generations"][0]["content"]  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


def test_a_user_function_returning_a_string_is_wrapped(user_module: types.ModuleType) -> None:
    extraction = load_extractor("sfperf_user_extractors:two_args")({"t": "hi"}, "generations")
    assert (extraction.text, extraction.path_rank) == ("generations:hi", 1)


def test_a_one_argument_user_function_never_gets_the_endpoint(
    user_module: types.ModuleType,
) -> None:
    assert load_extractor("sfperf_user_extractors:one_arg")({"t": "a"}, "generations").text == "a"


def test_a_user_extraction_is_kept_and_none_means_no_match(user_module: types.ModuleType) -> None:
    assert load_extractor("sfperf_user_extractors:full")({}, "x").path_rank == 3
    assert not load_extractor("sfperf_user_extractors:nothing")({}, "x").matched


def test_what_a_user_extractor_raises_is_returned_as_its_error_not_raised(
    user_module: types.ModuleType,
) -> None:
    extraction = load_extractor("sfperf_user_extractors:chat_only")({"generation": {}}, "x")
    assert (extraction.text, extraction.error) == (None, "KeyError: 'generationDetails'")
    assert load_extractor("sfperf_user_extractors:one_arg")({"t": "a"}, "x").error is None


@pytest.mark.parametrize(
    "spec",
    [
        "nope",
        "no_such_module_xyz:f",
        "sfperf_user_extractors:missing",
        "sfperf_user_extractors:constant",
        ":f",
    ],
)
def test_a_bad_extractor_spec_is_a_value_error(spec: str, user_module: types.ModuleType) -> None:
    with pytest.raises(ValueError, match="extractor"):
        load_extractor(spec)


def test_registry_names_resolve_to_the_reference_functions() -> None:
    assert load_extractor("legacy") is legacy
    assert load_extractor("priority") is priority
