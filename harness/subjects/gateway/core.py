"""The framework-neutral gateway: request in, upstream result in, `Reply` out, all counted.

The Flask and aiohttp servers only move bytes; every decision (validation, model mapping,
extraction, error mapping, metrics) is made here, so both servers behave the same.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from harness.subjects.extractors import Extraction, Extractor
from harness.subjects.gateway.model_names import MODEL_NAMES
from harness.subjects.gateway.protocol import (
    Completion,
    Prepared,
    Reply,
    RequestError,
    completion_body,
    embeddings_body,
    error_body,
    find_finish_reason,
    find_usage,
    parse_request,
    stream_events,
)
from harness.subjects.tally import Tally
from harness.subjects.token_providers import TokenProvider
from harness.subjects.upstream import UpstreamResult

_log = logging.getLogger(__name__)

# Upstream outcome -> (status, OpenAI error type, code). Client errors keep their own status.
_UPSTREAM_ERRORS: Mapping[str, tuple[int, str, str]] = {
    "auth": (401, "authentication_error", "upstream_auth_failed"),
    "rate_limited": (429, "rate_limit_error", "rate_limit_exceeded"),
    "timeout": (504, "api_error", "upstream_timeout"),
    "connection": (502, "api_error", "upstream_unreachable"),
    "upstream_error": (502, "api_error", "upstream_error"),
    "bad_response": (502, "api_error", "upstream_bad_response"),
}
_CLIENT_ERRORS: Mapping[int, tuple[int, str, str]] = {
    400: (400, "invalid_request_error", "upstream_rejected_request"),
    403: (403, "permission_error", "upstream_forbidden"),
    404: (404, "invalid_request_error", "model_not_found"),
    423: (503, "api_error", "upstream_busy"),
}


class Gateway:
    """One gateway instance: its extractor, token provider, client counters and metrics."""

    def __init__(
        self,
        variant: str,
        extractor: Extractor,
        provider: TokenProvider,
        client_counters: Callable[[], Mapping[str, float]],
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.variant = variant
        self.extractor = extractor
        self.provider = provider
        self.client_counters = client_counters
        self.wall_clock = wall_clock
        self.tally = Tally()
        # What the server running this gateway says about itself (`server`, `loop`), set when
        # it starts; reported by /health and /metrics so every measurement can say what ran.
        self.runtime: dict[str, str] = {}

    def prepare(self, route: str, raw: bytes) -> Prepared | Reply:
        """Validate a request; a `Reply` means it is refused before any upstream call."""
        self.tally.add(f"requests.{route}")
        try:
            return parse_request(route, raw)
        except RequestError as exc:
            error_type = "invalid_request_error"
            return self._error(exc.status, str(exc), error_type, exc.code, f"request.{exc.code}")

    def finish(self, prepared: Prepared, result: UpstreamResult) -> Reply:
        """Turn the upstream result into a completion, a stream, or an OpenAI-style error."""
        if not result.ok or result.json is None:
            return self._upstream_error(result)
        if prepared.route == "embeddings":
            return self._embeddings(prepared, result)
        extraction = self.extractor(result.json, prepared.endpoint)
        if extraction.text is None:
            self._count_extraction(extraction, {})
            message = "upstream reply has no text the extractor recognises"
            return self._error(502, message, "api_error", "upstream_unrecognized", "unrecognized")
        completion = self._completion(prepared, result, extraction.text)
        self._count_extraction(extraction, {"status.200": 1, "streamed": int(prepared.stream)})
        if prepared.stream:
            events = tuple(stream_events(prepared.route, completion, prepared.include_usage))
            return Reply(200, events=events, headers=_request_id(result))
        return Reply(200, completion_body(prepared.route, completion), _request_id(result))

    def _embeddings(self, prepared: Prepared, result: UpstreamResult) -> Reply:
        body = embeddings_body(prepared.model, result.json or {})
        if body is None:
            message = "upstream reply has no embeddings"
            return self._error(502, message, "api_error", "upstream_unrecognized", "unrecognized")
        self.tally.add("status.200")
        return Reply(200, body, _request_id(result))

    def _completion(self, prepared: Prepared, result: UpstreamResult, text: str) -> Completion:
        payload = result.json or {}
        upstream_id = str(payload.get("id") or result.request_id or "sfperf")
        prefix = "chatcmpl-" if prepared.route == "chat" else "cmpl-"
        completion_id = upstream_id if upstream_id.startswith(prefix) else prefix + upstream_id
        return Completion(
            completion_id,
            int(self.wall_clock()),
            prepared.model,
            text,
            find_finish_reason(payload),
            find_usage(payload),
        )

    def _count_extraction(self, extraction: Extraction, more: dict[str, float]) -> None:
        """One locked update per request: the extraction's path and work, plus `more`."""
        path = extraction.path or "(none)"
        self.tally.add_many(
            {
                **more,
                f"path.{path}": 1,
                "extractions": 1,
                "lookups": extraction.lookups,
                "fallbacks": int(extraction.fallback),
                "first_path_hits": int(extraction.path_rank == 1),
            }
        )

    def _upstream_error(self, result: UpstreamResult) -> Reply:
        kind = result.error_kind or "bad_response"
        status, error_type, code = _UPSTREAM_ERRORS.get(kind, (502, "api_error", kind))
        if kind == "client_error":
            default = (result.status, "invalid_request_error", "upstream_client_error")
            status, error_type, code = _CLIENT_ERRORS.get(result.status, default)
        headers = dict(_request_id(result))
        if status == 429 and result.retry_after_s is not None:
            headers["Retry-After"] = str(math.ceil(result.retry_after_s))
        if kind in ("timeout", "connection"):  # no upstream status to quote: say what happened
            message = f"upstream {kind} failure: {result.message or kind}"
        else:
            message = f"upstream answered {result.status}: {result.message or kind}"
        return self._error(status, message, error_type, code, f"upstream.{kind}", headers)

    def _error(
        self,
        status: int,
        message: str,
        error_type: str,
        code: str,
        kind: str,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        self.tally.add_many({f"status.{status}": 1, f"errors.{kind}": 1})
        return Reply(status, error_body(message, error_type, code), headers or {})

    def internal_error(self, exc: BaseException) -> Reply:
        """A bug of the gateway's own: logged with its traceback, answered as an OpenAI 500."""
        _log.error("gateway error", exc_info=exc)
        message = f"gateway error: {type(exc).__name__}"
        return self._error(500, message, "api_error", "gateway_error", "gateway.internal")

    def models(self) -> Reply:
        created = int(self.wall_clock())
        data = [
            {"id": name, "object": "model", "created": created, "owned_by": sf_name}
            for name, sf_name in MODEL_NAMES.items()
        ]
        return Reply(200, {"object": "list", "data": data})

    def health(self) -> Reply:
        return Reply(200, {"status": "ok", "variant": self.variant, **self.runtime})

    def metrics(self) -> Reply:
        """Everything the gateway counted, grouped; it is the gateway's own claim, not the truth."""
        return Reply(200, metrics_snapshot(self))


def _request_id(result: UpstreamResult) -> dict[str, str]:
    return {"x-upstream-request-id": result.request_id} if result.request_id else {}


def _group(totals: Mapping[str, float], prefix: str) -> dict[str, float]:
    return {k[len(prefix) :]: v for k, v in totals.items() if k.startswith(prefix)}


def metrics_snapshot(gateway: Gateway) -> dict[str, Any]:
    """`/metrics/performance`: requests, errors by kind, extractor paths, tokens, upstream."""
    totals = gateway.tally.snapshot()
    client = dict(gateway.client_counters())
    calls = client.get("calls", 0)
    latency_s = client.get("latency_s", 0.0)
    extractions = totals.get("extractions", 0)
    return {
        "variant": gateway.variant,
        **gateway.runtime,
        "requests": _group(totals, "requests."),
        "responses_by_status": _group(totals, "status."),
        "errors": _group(totals, "errors."),
        "streamed": totals.get("streamed", 0),
        "extractor": {
            "paths": _group(totals, "path."),
            "extractions": extractions,
            "first_path_hits": totals.get("first_path_hits", 0),
            "fallbacks": totals.get("fallbacks", 0),
            "lookups": totals.get("lookups", 0),
        },
        "tokens": gateway.provider.counters().as_dict(),
        "upstream": {
            **client,
            "latency_total_ms": latency_s * 1000.0,
            "latency_mean_ms": latency_s * 1000.0 / calls if calls else None,
        },
    }
