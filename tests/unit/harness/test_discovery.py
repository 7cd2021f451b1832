import json
from typing import Any

from harness.targets.discovery import (
    DEFAULT_MODEL,
    ModelChoice,
    choice_hint,
    discover_model,
    model_ids,
    model_upstreams,
)
from harness.targets.probes import Probe, probe_fidelity, token_refusal
from mock_salesforce.journal import text_sha256
from mock_salesforce.markers import find_markers

URL = "http://127.0.0.1:9"


class FakeGateway:
    """Answers GET /v1/models with `listing`, GET /health with `health_status` and chat
    completions 200 for `works`, else 404."""

    def __init__(
        self, listing: Any, works: set[str], models_status: int = 200, health_status: int = 200
    ) -> None:
        self.listing = listing
        self.works = works
        self.models_status = models_status
        self.health_status = health_status
        self.posted: list[str] = []

    def get(self, url: str, timeout_s: float) -> tuple[int, bytes] | None:
        if url == URL + "/health":
            return self.health_status, b"{}"
        assert url == URL + "/v1/models"
        return self.models_status, json.dumps(self.listing).encode()

    def post(self, url: str, body: Any, timeout_s: float) -> tuple[int, bytes] | None:
        assert url == URL + "/v1/chat/completions"
        self.posted.append(body["model"])
        if body["model"] in self.works:
            return 200, b'{"choices": []}'
        return 404, json.dumps({"error": f"model {body['model']!r} is not served"}).encode()


def listing(*names: str) -> dict[str, Any]:
    return {"object": "list", "data": [{"id": n, "object": "model"} for n in names]}


def test_the_first_served_model_that_answers_is_chosen_by_probe() -> None:
    gateway = FakeGateway(listing("claude-haiku", "gpt-4-mini"), works={"gpt-4-mini"})
    choice = discover_model(URL, get=gateway.get, post=gateway.post)
    assert (choice.model, choice.source) == ("gpt-4-mini", "probe")
    assert choice.served == ("claude-haiku", "gpt-4-mini")
    assert gateway.posted == ["claude-haiku", "gpt-4-mini"]
    assert choice.as_params()["model_probes"][0]["status"] == 404


def test_the_probe_prompt_goes_beyond_ascii() -> None:
    # R77: a probe of ASCII text could not see a gateway mangle UTF-8 on its way up.
    gateway = FakeGateway(listing("m"), works={"m"})
    sent: list[Any] = []

    def post(url: str, body: Any, timeout_s: float) -> tuple[int, bytes] | None:
        sent.append(body)
        return gateway.post(url, body, timeout_s)

    discover_model(URL, get=gateway.get, post=post)
    prompt = sent[0]["messages"][0]["content"]
    assert not prompt.isascii() and max(map(ord, prompt)) > 0xFFFF


def test_a_given_model_is_used_without_trying_the_others() -> None:
    gateway = FakeGateway(listing("a", "b"), works={"b"})
    choice = discover_model(URL, requested="b", get=gateway.get, post=gateway.post)
    assert (choice.model, choice.source, gateway.posted) == ("b", "--model", ["b"])


def test_a_gateway_serving_only_chat_completions_is_asked_the_given_model_and_lacks_are_noted() -> (
    None
):
    gateway = FakeGateway({"detail": "Not Found"}, {"gpt-4o"}, models_status=404, health_status=404)
    choice = discover_model(URL, requested="gpt-4o", get=gateway.get, post=gateway.post)
    assert (choice.model, choice.source, gateway.posted) == ("gpt-4o", "--model", ["gpt-4o"])
    params = choice.as_params()
    assert params["target_health"] == "GET /health answered 404"
    assert params["model_listing"] == "GET /v1/models answered 404"


def test_a_given_model_that_fails_leaves_no_model_and_says_what_the_target_answered() -> None:
    gateway = FakeGateway(listing("a"), works={"a"})
    choice = discover_model(URL, requested="nope", get=gateway.get, post=gateway.post)
    assert choice.model is None
    assert "'nope' -> HTTP 404" in choice.reason and "is not served" in choice.reason


def test_without_a_listing_the_default_name_is_tried() -> None:
    gateway = FakeGateway({"detail": "Not Found"}, works={DEFAULT_MODEL}, models_status=404)
    choice = discover_model(URL, get=gateway.get, post=gateway.post)
    assert (choice.model, choice.source) == (DEFAULT_MODEL, "default")
    assert choice.listing == "GET /v1/models answered 404"


def test_when_no_model_works_the_reason_names_every_probe_and_the_listing() -> None:
    gateway = FakeGateway(listing(), works=set())
    choice = discover_model(URL, get=gateway.get, post=gateway.post)
    assert (choice.model, choice.source) == (None, "none")
    assert choice.reason.startswith("no model works on this target (GET /v1/models listed no")
    assert f"{DEFAULT_MODEL!r} -> HTTP 404" in choice.reason


def test_probes_stop_after_a_few_models_and_say_the_others_were_not_tried() -> None:
    gateway = FakeGateway(listing(*(f"m{i}" for i in range(6))), works={"m5"})
    choice = discover_model(URL, get=gateway.get, post=gateway.post, max_probes=3)
    assert gateway.posted == ["m0", "m1", "m2"]
    assert choice.reason.startswith("none of the first 3 of 6 listed models works on this target")
    assert choice.reason.endswith("the other 3 were not tried: pass --model NAME")
    assert choice.not_measured("gw") == "none of the first 3 of 6 listed models works on gw"


def test_a_200_that_never_reached_the_mock_does_not_count_as_working() -> None:
    probe = Probe("m", 200, "cached", reached_mock=False)
    assert not probe.works
    assert "never called the Models API" in probe.describe()
    assert Probe("m", 200, "", reached_mock=None).works


def test_a_listed_entry_naming_a_models_api_model_says_which_one_its_id_stands_for() -> None:
    body = {
        "data": [
            {"id": "gpt-4o", "root": "sfdc_ai__DefaultGPT4Omni"},
            {"id": "sfdc_ai__DefaultO3", "owned_by": "sfdc_ai__DefaultO3"},
            {"id": "mine", "owned_by": "acme"},
            {"upstream": "sfdc_ai__DefaultO3"},
        ]
    }
    assert model_upstreams(json.dumps(body).encode()) == (("gpt-4o", "sfdc_ai__DefaultGPT4Omni"),)
    assert model_upstreams(b"not json") == ()


def test_model_ids_read_an_openai_listing_and_nothing_else() -> None:
    assert model_ids(json.dumps(listing("a", "b", "a")).encode()) == ("a", "b")
    assert model_ids(b"not json") == ()
    assert model_ids(b'{"data": [{"name": "x"}, 3, {"id": ""}]}') == ()
    assert model_ids(b"[1, 2]") == ()


def test_a_reference_choice_needs_no_probe() -> None:
    choice = ModelChoice.given(DEFAULT_MODEL)
    assert (choice.model, choice.reason, choice.as_params()["model_source"]) == (
        DEFAULT_MODEL,
        "",
        "default",
    )


def test_every_probe_sends_a_prompt_no_earlier_probe_sent() -> None:
    # R14: a gateway with a reply cache answered a second probe of the same prompt from it.
    prompts: list[str] = []

    def post(url: str, body: Any, timeout_s: float) -> tuple[int, bytes] | None:
        prompts.append(body["messages"][0]["content"])
        return 200, b'{"choices": []}'

    for _ in range(2):
        discover_model(URL, requested="m", get=FakeGateway(listing("m"), set()).get, post=post)
    assert len(set(prompts)) == 2
    assert all(find_markers(p.encode()) for p in prompts)


ERROR_TEXT = "[Error: Could not extract generated text from Salesforce response]"


def chat_reply(text: str) -> bytes:
    return json.dumps({"choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": text}}],
                       "usage": {"prompt_tokens": 5, "completion_tokens": 2,
                                 "total_tokens": 7}}).encode()  # fmt: skip


class ErrorTextGateway(FakeGateway):
    """Answers 200 to every model, with error text inside for those in `broken`."""

    def __init__(self, names: tuple[str, ...], broken: set[str]) -> None:
        super().__init__(listing(*names), works=set(names))
        self.broken = broken

    def post(self, url: str, body: Any, timeout_s: float) -> tuple[int, bytes] | None:
        self.posted.append(body["model"])
        return 200, chat_reply(ERROR_TEXT if body["model"] in self.broken else "hi there")


def test_a_model_whose_200_holds_error_text_is_passed_over_for_one_that_answers() -> None:
    gateway = ErrorTextGateway(("broken", "fine"), broken={"broken"})
    choice = discover_model(URL, get=gateway.get, post=gateway.post)
    assert (choice.model, choice.flaw) == ("fine", "")
    assert choice.as_params()["model_probes"][0]["fidelity"] == ("error_in_200",)


def test_when_every_200_holds_error_text_the_first_is_sent_and_the_choice_says_so() -> None:
    gateway = ErrorTextGateway(("a", "b"), broken={"a", "b"})
    choice = discover_model(URL, get=gateway.get, post=gateway.post)
    assert choice.model == "a" and gateway.posted == ["a", "b"]
    assert choice.flaw.startswith("its answer was not the upstream's (error in 200): {")
    assert choice.as_params()["model_flaw"] == choice.flaw


def test_a_probes_answer_is_judged_against_the_reply_the_upstream_gave() -> None:
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    call = {"endpoint": "chat-generations", "reply_sha256": text_sha256("hi there"),
            "finish_reason": "stop", "prompt_tokens": 5, "completion_tokens": 2}  # fmt: skip
    assert probe_fidelity(request, 200, chat_reply("hi there"), [call]) == ()
    assert probe_fidelity(request, 200, chat_reply(ERROR_TEXT), [call]) == ("error_in_200",)
    assert probe_fidelity(request, 200, chat_reply("other text"), [call]) == ("wrong_content",)
    assert probe_fidelity(request, 500, b"boom", [call]) == ()


def test_a_probe_that_never_reached_the_models_api_names_the_token_request_the_mock_refused() -> (
    None
):
    # R59: a JWT assertion the mock refused was only "400 Bad Request for .../oauth2/token".
    journal = [
        {"seq": 4, "endpoint": "token", "status": 200, "error": None},
        {"seq": 5, "endpoint": "token", "status": 400, "error": "invalid_grant: invalid assertion"},
    ]
    refused = token_refusal(journal)
    assert refused == "400 invalid_grant: invalid assertion"
    probe = Probe("gpt-4o", 502, "upstream: HTTPStatusError(...)", False, (), refused)
    assert probe.describe() == (
        "'gpt-4o' -> HTTP 502 but never called the Models API (the mock refused its token "
        "request: 400 invalid_grant: invalid assertion): upstream: HTTPStatusError(...)"
    )


def test_token_requests_the_mock_granted_explain_nothing() -> None:
    assert token_refusal([{"endpoint": "token", "status": 200, "error": None}]) == ""
    assert token_refusal([{"endpoint": "chat-generations", "status": 429}]) == ""
    assert token_refusal([{"endpoint": "token", "status": 401}]) == "HTTP 401"  # an older mock


def test_a_target_that_gave_up_on_the_mock_before_its_reply_is_told_the_mocks_latency() -> None:
    # R75: a gateway whose read timeout (0.3 s) is below the mock's default latency (~450 ms).
    timed_out = '{"error": {"message": "upstream timed out"}}'
    probes = (Probe("gpt-4o-mini", 504, timed_out, True, abandoned_ms=986.4),
              Probe("gpt-4o", 504, timed_out, True, abandoned_ms=618.0))  # fmt: skip
    assert probes[0].describe() == (
        f"'gpt-4o-mini' -> HTTP 504: {timed_out} (it gave up on the mock, which was answering "
        "in 986 ms)"
    )
    choice = ModelChoice(None, "none", ("gpt-4o-mini", "gpt-4o"), probes,
                         hint=choice_hint(probes, {}))  # fmt: skip
    assert "sooner than the Models API usually answers" in choice.reason
    assert "`--mock-profile fast`" in choice.reason
    # One probe answered by the mock in time and refused for another reason: no such hint.
    assert choice_hint((probes[0], Probe("m", 404, "not served", True)), {}) == ""
