"""How sfperf's clients check a target served over https.

By default they verify its certificate against the system's CAs, as any client would. A gateway
on loopback often serves a self-signed certificate: `--target-ca FILE` names the CA (or the
certificate itself) to trust, `--target-insecure` skips the check for a loopback target. Every
client sfperf points at the target (probes, discovery, warm-up, locust, sweep, profile load,
metrics reads) takes the same `TargetTls`; a certificate they refuse is said at once, in one
line, with those two ways through, never as a target that "answers nothing".
"""

from __future__ import annotations

import json
import ssl
import urllib.error
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.errors import UsageError

# How the load runner hands the choice to its locust children (JSON), beside the headers.
TLS_VARIABLE = "SFPERF_TARGET_TLS"
WAYS_THROUGH = "give its CA with --target-ca FILE, or --target-insecure for a loopback target"


class TlsRefused(UsageError):
    """A client of sfperf's refused the target's TLS: one line, said at once (waiting longer
    cannot help)."""


@dataclass(frozen=True)
class TargetTls:
    """What sfperf's clients trust of a target's certificate (default: the system's CAs)."""

    ca_file: str = ""  # a PEM file of the CA (or the self-signed certificate) to trust
    insecure: bool = False  # no certificate check at all (a loopback target only)

    @property
    def default(self) -> bool:
        return not (self.ca_file or self.insecure)

    def context(self) -> ssl.SSLContext | None:
        """The client context these choices make; None for the default (each library's own)."""
        if self.insecure:
            return unverified_context()
        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None

    def aiohttp_ssl(self) -> ssl.SSLContext | bool:
        """What aiohttp's connector takes: True (its default checks), or the context."""
        return self.context() or True

    def as_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TargetTls:
        """The choices a parent process passed in `TLS_VARIABLE` ("" or "{}": the default)."""
        fields: Mapping[str, Any] = json.loads(text or "{}")
        return cls(str(fields.get("ca_file", "")), bool(fields.get("insecure", False)))


DEFAULT_TLS = TargetTls()  # the system's CAs, as every client library checks by default


def unverified_context() -> ssl.SSLContext:
    """A client context that checks neither the certificate nor the host name."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def target_tls(ca_file: str | None, insecure: bool) -> TargetTls:
    """The options checked: one of the two at most, and a CA file that is readable PEM (that
    `--target-insecure` goes with a loopback target only is `check_insecure`'s)."""
    if ca_file and insecure:
        raise UsageError("--target-ca and --target-insecure exclude each other: give one")
    if ca_file:
        try:
            ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"--target-ca {ca_file}: not a readable PEM file ({exc})") from None
    return TargetTls(str(Path(ca_file).resolve()) if ca_file else "", insecure)


def check_insecure(tls: TargetTls, url: str | None, loopback: bool) -> None:
    """`--target-insecure` for a loopback target only: a remote target's certificate is what
    keeps its traffic private."""
    if tls.insecure and url and not loopback:
        raise UsageError(f"--target-insecure is for a loopback target only, not {url}; give "
                         "its CA with --target-ca FILE")  # fmt: skip


def tls_refusal(url: str, error: BaseException) -> TlsRefused | None:
    """The one-line error for a TLS failure talking to `url` (a urllib or ssl error), None for
    any other error (refused, reset, timeout: a target not up yet)."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, ssl.SSLCertVerificationError):
        said = reason.verify_message or reason.reason or str(reason)
        return TlsRefused(f"{url}: certificate verify failed ({said}): sfperf's clients check "
                          f"the target's certificate; {WAYS_THROUGH}")  # fmt: skip
    if isinstance(reason, ssl.SSLError):
        said = reason.reason or str(reason)
        return TlsRefused(f"{url}: TLS handshake failed ({said}): does it serve https there?")
    return None
