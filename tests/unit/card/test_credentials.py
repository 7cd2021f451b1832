"""A file is a credential file when it holds the bearer token the target sent, whatever its name
or format."""

from __future__ import annotations

import base64
import json
import pickle
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.card.credentials import (
    mark_token_files,
    read_head,
    sent_token_ids,
    token_files,
    token_ids_in,
)
from harness.card.measures import WindowObservation, card_record


def jwt(jti: str) -> str:
    """A token shaped as the mock's: header.payload.signature, base64url without padding."""

    def part(claims: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'jti': jti, 'exp': 2e9})}.c2lnbmVk"


SENT = jwt("2f0c5e5a-sent")


def write_json(path: Path, token: str) -> None:
    path.write_text(json.dumps({"access_token": token, "instance_url": "https://x"}))


def write_sqlite(path: Path, token: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute("create table state (key text, value text)")
        db.execute("insert into state values ('token', ?)", (token,))
    db.close()


def write_pickle(path: Path, token: str) -> None:
    path.write_bytes(pickle.dumps({"token": token, "expires": 2e9}))


def write_text(path: Path, token: str) -> None:
    path.write_text(f"Bearer {token}\n")


@pytest.mark.parametrize("write", [write_json, write_sqlite, write_pickle, write_text])
def test_a_file_holding_the_sent_token_is_found_in_any_format(
    tmp_path: Path, write: Callable[[Path, str], None]
) -> None:
    holder, other = tmp_path / "state", tmp_path / "other"
    write(holder, SENT)
    write(other, jwt("never-sent"))
    found = token_files([str(holder), str(other)], {"2f0c5e5a-sent"})
    assert found == {str(holder)}


def test_a_file_with_no_token_or_a_text_that_only_looks_like_one_holds_none() -> None:
    assert token_ids_in(b"eyJhbGciOi.eyJub3QganNvbg.sig plain words") == set()
    assert token_ids_in(SENT.encode()) == {"2f0c5e5a-sent"}


def test_devices_and_missing_files_are_never_read(tmp_path: Path) -> None:
    assert read_head("/dev/zero") is None
    assert read_head(str(tmp_path / "gone")) is None
    assert read_head(str(tmp_path)) is None


def test_the_tokens_sent_are_the_ids_on_the_journals_requests() -> None:
    entries: list[dict[str, str | None]] = [
        {"token_id": "a"},
        {"token_id": None},
        {"token_id": "b"},
        {"token_id": "a"},
    ]
    assert sent_token_ids(entries) == {"a", "b"}


def test_a_database_read_per_request_that_holds_the_token_counts_as_a_credential_file() -> None:
    io = {"files": {"/srv/gw/state.db": {"opens": 40, "reads": 40, "writes": 20},
                    "/srv/gw/gw.yaml": {"opens": 20, "reads": 20}}}  # fmt: skip
    marked = mark_token_files(io, {"/srv/gw/state.db"})
    record = card_record(WindowObservation("w", 1.0, io=marked), [], target="t", scenario="w")
    assert record.params["files"]["/srv/gw/state.db"]["class"] == "credential"
    assert record.get("credential_file_opens").values == (40.0,)
    assert record.get("data_file_opens").values == (0.0,)
