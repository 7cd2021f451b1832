"""Errors of the mock: its own config errors, and the documented HTTP error bodies it serves."""

from __future__ import annotations

import json

# Real `messageCode` values are not published (the spec shows only `EXXXXX`); these are ours.
MESSAGE_CODES = {
    "REQUIRED_FIELD_MISSING": "E00400",
    "INVALID_TYPE": "E00401",
    "JSON_PARSER_ERROR": "E00402",
    "MISSING_HEADER": "E00403",
    "INVALID_AUTH": "E00410",
    "NOT_FOUND": "E00440",
    "METHOD_NOT_ALLOWED": "E00450",
    "REQUEST_TOO_LARGE": "E00480",
    "LIMIT_EXCEEDED": "E00490",
    "BAD_REQUEST": "E00404",
    "INVALID_INPUT": "E00405",
    "REQUEST_TIMEOUT": "E00481",
    "URI_TOO_LONG": "E00482",
    "HEADERS_TOO_LARGE": "E00483",
    "INTERNAL_ERROR": "E00001",
}
# What each status injected as a fault says; 423 really is documented with errorCode NOT_FOUND.
STATUS_ERRORS = {
    400: ("REQUIRED_FIELD_MISSING", "Field is required"),
    401: ("INVALID_AUTH", "Access bearer token is missing or invalid"),
    403: ("NOT_FOUND", "User forbidden from accessing the resource"),
    404: ("NOT_FOUND", "Resource not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    413: ("REQUEST_TOO_LARGE", "Request body is too large"),
    423: ("NOT_FOUND", "Server is busy and cannot process the request"),
    429: ("LIMIT_EXCEEDED", "Too many requests"),
    500: ("INTERNAL_ERROR", "Internal server error"),
    503: ("INTERNAL_ERROR", "Service is unavailable"),
}


class ConfigError(ValueError):
    """A bad latency/fault/quota spec, profile or setting; the message is one line for the user."""


class ApiError(Exception):
    """A documented Models API error: HTTP status plus `{errorCode, messageCode, message}`."""

    def __init__(
        self, status: int, error_code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}

    def said(self) -> str:
        """The journal's `error`: `NOT_FOUND: Model not found`."""
        return f"{self.error_code}: {self.message}"

    @classmethod
    def for_status(cls, status: int, message: str | None = None) -> ApiError:
        """The error the real API documents for `status` (a plain bad request for other 4xx,
        an internal error for other 5xx)."""
        fallback = ("BAD_REQUEST", "Bad request") if status < 500 else STATUS_ERRORS[500]
        code, default = STATUS_ERRORS.get(status, fallback)
        return cls(status, code, message or default)

    def body(self) -> bytes:
        return error_body(self.error_code, self.message)


def error_body(error_code: str, message: str) -> bytes:
    """The documented error object as JSON bytes."""
    document = {
        "errorCode": error_code,
        "messageCode": MESSAGE_CODES.get(error_code, "E00001"),
        "message": message,
    }
    return json.dumps(document, separators=(",", ":")).encode()


def oauth_error_body(error: str, description: str) -> bytes:
    """The standard Salesforce OAuth error object as JSON bytes."""
    return json.dumps({"error": error, "error_description": description}).encode()
