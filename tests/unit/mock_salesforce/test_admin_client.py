"""The admin client's journal paging and answer checks, against a stand-in admin API."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from mock_salesforce.admin_client import AdminClient, AdminError, journal_entries


class PagingAdmin(AdminClient):
    """An admin client whose journal answers come from a list, `cap` entries a page at most."""

    def __init__(self, seqs: list[int], cap: int) -> None:
        super().__init__("http://mock")
        self.seqs, self.cap, self.paths = seqs, cap, list[str]()

    def call(self, method: str, path: str, document: Any = None) -> Any:
        self.paths.append(path)
        query = parse_qs(urlsplit(path).query)
        since, limit = int(query["since"][0]), int(query["limit"][0])
        fresh = [{"seq": s} for s in self.seqs if s > since]
        return {"entries": fresh[: min(limit, self.cap)], "last_seq": max(self.seqs, default=0)}


def test_reading_the_journal_follows_the_pages_after_since() -> None:
    admin = PagingAdmin(list(range(1, 11)), cap=3)
    assert [e["seq"] for e in admin.read_journal(since=2, page_size=3)] == list(range(3, 11))
    assert admin.paths[0] == "journal?since=2&limit=3"


def test_a_mock_that_caps_pages_below_the_asked_size_is_still_read_to_the_end() -> None:
    admin = PagingAdmin(list(range(1, 8)), cap=2)
    assert [e["seq"] for e in admin.read_journal(page_size=100)] == list(range(1, 8))


def test_an_empty_journal_is_one_request() -> None:
    admin = PagingAdmin([], cap=5)
    assert admin.read_journal() == []
    assert len(admin.paths) == 1


def test_a_journal_answer_is_an_object_with_entries_or_a_bare_list() -> None:
    assert journal_entries({"entries": [{"seq": 2}], "last_seq": 2}) == [{"seq": 2}]
    assert journal_entries([{"seq": 1}]) == [{"seq": 1}]


@pytest.mark.parametrize("answer", [{"hello": "world"}, [{"seq": "one"}], "text", [1]])
def test_anything_else_is_an_admin_error_without_a_status(answer: Any) -> None:
    with pytest.raises(AdminError, match="not a request journal") as error:
        journal_entries(answer)
    assert error.value.status is None
