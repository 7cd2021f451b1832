import base64
import json

import pytest

from mock_salesforce.oauth import OAuthError, TokenIssuer
from tests.conftest import FakeClock

NOW_S = 1_700_000_000.0  # a realistic epoch: tokens carry it as issued_at

FORM = {"grant_type": "client_credentials", "client_id": "id", "client_secret": "s"}
BASE = "http://127.0.0.1:1"


def claims_of(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def issuer(clock: FakeClock, **kwargs: object) -> TokenIssuer:
    return TokenIssuer(seed=1, now_s=clock, **kwargs)  # type: ignore[arg-type]


def test_the_token_response_has_the_real_field_set_and_no_expires_in() -> None:
    document = issuer(FakeClock(NOW_S)).issue(FORM, BASE)
    assert set(document) == {
        "access_token", "signature", "token_format", "scope", "instance_url", "id",
        "token_type", "issued_at", "api_instance_url",
    }  # fmt: skip
    assert document["token_format"] == "jwt" and document["token_type"] == "Bearer"
    assert document["issued_at"] == "1700000000000"
    assert document["instance_url"] == document["api_instance_url"] == BASE


def test_the_access_token_is_a_jwt_with_exp_and_jti_after_the_lifetime() -> None:
    token = issuer(FakeClock(NOW_S), lifetime_s=600).issue(FORM, BASE)["access_token"]
    claims = claims_of(token)
    assert token.count(".") == 2
    assert claims["exp"] == 1_700_000_600
    assert isinstance(claims["jti"], str) and claims["jti"]


def test_expires_in_is_sent_only_when_configured() -> None:
    document = issuer(FakeClock(NOW_S), include_expires_in=True, lifetime_s=900).issue(FORM, BASE)
    assert document["expires_in"] == 900


def test_a_token_is_valid_until_its_lifetime_then_expired() -> None:
    clock = FakeClock(NOW_S)
    tokens = issuer(clock)
    bearer = "Bearer " + tokens.issue(FORM, BASE)["access_token"]
    assert tokens.check(bearer).status == "valid"
    clock.now_s += 1799
    assert tokens.check(bearer).status == "valid"
    clock.now_s += 1
    check = tokens.check(bearer)
    assert check.status == "expired" and check.token_id is not None


def test_missing_and_garbled_tokens_are_told_apart() -> None:
    clock = FakeClock(NOW_S)
    tokens = issuer(clock)
    assert tokens.check(None).status == "missing"
    assert tokens.check("Bearer not.a.jwt").status == "unknown"
    assert tokens.check("Basic abc").status == "unknown"


def test_a_token_another_mock_with_the_same_seed_signed_is_valid_until_it_expires() -> None:
    clock = FakeClock(NOW_S)
    foreign = issuer(clock).issue(FORM, BASE)["access_token"]  # same key, not issued here
    tokens = issuer(clock)
    assert tokens.check("Bearer " + foreign).status == "valid"
    clock.now_s += 1800
    assert tokens.check("Bearer " + foreign).status == "expired"


def test_a_token_signed_with_another_seed_is_unknown() -> None:
    clock = FakeClock(NOW_S)
    other = TokenIssuer(seed=99, now_s=clock)
    assert issuer(clock).check("Bearer " + other.issue(FORM, BASE)["access_token"]).status == (
        "unknown"
    )


def sign(tokens: TokenIssuer, claims: object) -> str:
    """A token signed with `tokens`' key whatever its claims (as a hostile client can)."""
    return tokens._sign_jwt(claims)  # type: ignore[arg-type]


@pytest.mark.parametrize("exp", ["soon", None, [1], {"s": 1}, True, float("nan")])
def test_a_well_signed_token_without_a_numeric_exp_is_unknown(exp: object) -> None:
    tokens = issuer(FakeClock())
    assert tokens.check("Bearer " + sign(tokens, {"jti": "j", "exp": exp})).status == "unknown"
    assert tokens.check("Bearer " + sign(tokens, ["not", "claims"])).status == "unknown"


@pytest.mark.parametrize(
    "authorization", ["Bearer \udcff\udcfe.a.b", "Bearer a.\xff.b", "Bearer \x00", "Bearer ..."]
)
def test_a_bearer_with_bytes_that_are_not_text_is_unknown(authorization: str) -> None:
    assert issuer(FakeClock()).check(authorization).status == "unknown"


def test_each_token_has_its_own_jti() -> None:
    tokens = issuer(FakeClock(NOW_S))
    jtis = {claims_of(tokens.issue(FORM, BASE)["access_token"])["jti"] for _ in range(50)}
    assert len(jtis) == 50


def test_two_mocks_with_one_seed_accept_each_others_tokens_but_never_issue_the_same_id() -> None:
    clock = FakeClock(NOW_S)
    first, second = issuer(clock), issuer(clock)
    earlier = "Bearer " + first.issue(FORM, BASE)["access_token"]
    later = "Bearer " + second.issue(FORM, BASE)["access_token"]
    assert second.check(earlier).status == "valid"
    assert second.check(earlier).token_id != second.check(later).token_id


def test_an_id_nonce_makes_the_ids_reproducible() -> None:
    def first_jti() -> object:
        tokens = issuer(FakeClock(NOW_S), id_nonce="run-1")
        return claims_of(tokens.issue(FORM, BASE)["access_token"])["jti"]

    assert first_jti() == first_jti()


@pytest.mark.parametrize(
    "form, status, error",
    [
        ({**FORM, "grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, 400, "invalid_client_id"),
        ({"grant_type": "client_credentials", "client_id": "id"}, 401, "invalid_client"),
    ],
)
def test_bad_requests_get_standard_oauth_errors(
    form: dict[str, str], status: int, error: str
) -> None:
    with pytest.raises(OAuthError) as caught:
        issuer(FakeClock(NOW_S)).issue(form, BASE)
    assert (caught.value.status, caught.value.error) == (status, error)
    assert set(json.loads(caught.value.body())) == {"error", "error_description"}


def assertion(**claims: object) -> str:
    def part(document: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


GOOD = {"iss": "id", "sub": "user@example.com", "aud": "https://login.salesforce.com"}


def jwt_form(token: str) -> dict[str, str]:
    return {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": token}


def test_the_jwt_bearer_grant_gets_a_token_like_client_credentials() -> None:
    tokens = issuer(FakeClock(NOW_S), credentials=("id", "secret"))
    document = tokens.issue(jwt_form(assertion(**GOOD, exp=NOW_S + 180)), BASE)
    assert tokens.check(f"Bearer {document['access_token']}").status == "valid"


@pytest.mark.parametrize(
    "token, error",
    [
        ("not-a-jwt", "invalid_grant"),
        (assertion(iss="id", aud="x", exp=NOW_S + 180), "invalid_grant"),  # no sub
        (assertion(**GOOD, exp=NOW_S - 1), "invalid_grant"),
        (assertion(**GOOD), "invalid_grant"),  # no exp
        (assertion(**{**GOOD, "iss": "other"}, exp=NOW_S + 180), "invalid_client_id"),
    ],
)
def test_a_jwt_bearer_assertion_is_checked_as_far_as_the_mock_can(token: str, error: str) -> None:
    with pytest.raises(OAuthError) as caught:
        issuer(FakeClock(NOW_S), credentials=("id", "secret")).issue(jwt_form(token), BASE)
    assert (caught.value.status, caught.value.error) == (400, error)


def test_configured_credentials_must_match() -> None:
    tokens = issuer(FakeClock(NOW_S), credentials=("id", "right"))
    with pytest.raises(OAuthError) as caught:
        tokens.issue({**FORM, "client_secret": "wrong"}, BASE)
    assert caught.value.status == 401
    assert tokens.issue({**FORM, "client_secret": "right"}, BASE)["access_token"]


def test_repeated_checks_of_one_token_still_follow_the_clock() -> None:
    clock = FakeClock(NOW_S)
    tokens = issuer(clock, lifetime_s=60.0)
    header = "Bearer " + tokens.issue(FORM, BASE)["access_token"]
    assert [tokens.check(header).status for _ in range(3)] == ["valid"] * 3
    clock.now_s += 61
    assert tokens.check(header).status == "expired"
    assert [tokens.check(h).status for h in (None, "Bearer x", "Bearer x")] == [
        "missing", "unknown", "unknown",
    ]  # fmt: skip


def test_a_token_checked_before_this_issuer_issued_it_stays_valid_once_issued() -> None:
    clock = FakeClock(NOW_S)
    # Same seed, same ids, same second: only issuers given one id_nonce issue the same token.
    earlier = issuer(clock, id_nonce="n").issue(FORM, BASE)["access_token"]
    tokens = issuer(clock, id_nonce="n")
    header = f"Bearer {earlier}"
    assert tokens.check(header).status == "valid"
    assert tokens.issue(FORM, BASE)["access_token"] == earlier
    assert tokens.check(header).status == "valid"
