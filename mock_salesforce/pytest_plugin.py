"""pytest plugin (entry point `sfperf_mock`): fixtures that start the mock Salesforce.

    def test_gateway_retries_429(sfperf_mock):
        sfperf_mock.admin.add_fault("429:first=1,retry_after=1")
        call_my_gateway(upstream=sfperf_mock.url)
        assert sfperf_mock.admin.counters()["requests"]...

    @pytest.mark.sfperf_mock(profile="salesforce-prod", seed=7, latency="fixed:50ms")
    def test_under_prod_limits(sfperf_mock): ...

    def test_two_upstreams(sfperf_mock_factory):
        primary, backup = sfperf_mock_factory(seed=1), sfperf_mock_factory(faults=["503"])

    async def test_client_that_hard_codes_salesforce(sfperf_salesforce_responses):
        await my_client.chat("hi")   # https://api.salesforce.com/... answered by the mock

Each mock listens on a free 127.0.0.1 port for one test. Unless told otherwise it runs the `fast`
profile (official shapes, zero latency) so tests stay quick; `--sfperf-mock-profile` and
`--sfperf-mock-seed` change the defaults for a whole run.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the server stack (aiohttp) is imported when a fixture is used, not at load
    from mock_salesforce.admin_client import AdminClient
    from mock_salesforce.config import MockConfig
    from mock_salesforce.state import MockState
    from mock_salesforce.testing import InterceptedSalesforce

API_PATH = "/einstein/platform/v1"
MARKER = "sfperf_mock"
DEFAULT_PROFILE = "fast"
REQUIRED_HEADERS = {
    "x-sfdc-app-context": "EinsteinGPT",
    "x-client-feature-id": "ai-platform-models-connected-app",
}


@dataclass(frozen=True)
class SfperfMock:
    """A running mock: where it listens, its admin client and its live state."""

    url: str
    admin: AdminClient
    state: MockState

    @property
    def config(self) -> MockConfig:
        """The configuration the mock runs with now (admin changes included)."""
        return self.state.config

    @property
    def token_url(self) -> str:
        """The OAuth client-credentials endpoint."""
        return f"{self.url}/services/oauth2/token"

    @property
    def models_url(self) -> str:
        """The Models API base: append `/models/{model}/chat-generations` and so on."""
        return f"{self.url}{API_PATH}"

    def model_url(self, model: str, endpoint: str = "chat-generations") -> str:
        """The URL of one Models API operation for one model."""
        return f"{self.models_url}/models/{model}/{endpoint}"

    def fetch_token(self, client_id: str = "sfperf-test", client_secret: str = "secret") -> str:
        """A fresh access token from the mock's OAuth endpoint."""
        form = {"grant_type": "client_credentials", "client_id": client_id}
        data = urllib.parse.urlencode({**form, "client_secret": client_secret}).encode()
        with urllib.request.urlopen(self.token_url, data=data, timeout=10) as response:
            return str(json.load(response)["access_token"])

    def headers(self, token: str | None = None) -> dict[str, str]:
        """The headers a Models API call needs (fetching a token when none is given)."""
        bearer = token if token is not None else self.fetch_token()
        return {"Authorization": f"Bearer {bearer}", **REQUIRED_HEADERS}


MockFactory = Callable[..., SfperfMock]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sfperf_mock", "mock Salesforce (sfperf)")
    group.addoption(
        "--sfperf-mock-profile",
        default=DEFAULT_PROFILE,
        help=f"profile name or file for the sfperf_mock fixture (default: {DEFAULT_PROFILE})",
    )
    group.addoption(
        "--sfperf-mock-seed", type=int, default=0, help="seed for the sfperf_mock fixture"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(profile=None, seed=None, latency=None, faults=None, quotas=None, **config): "
        "how the sfperf_mock fixture configures the mock Salesforce for this test",
    )


@pytest.fixture
def sfperf_mock_factory(request: pytest.FixtureRequest) -> Iterator[MockFactory]:
    """Start mocks on demand: `factory(profile=..., seed=..., latency=..., faults=[...])`."""
    from mock_salesforce.config import build_config
    from mock_salesforce.server import run_in_thread

    options = request.config.option
    with ExitStack() as stack:

        def start(profile: str | None = None, seed: int | None = None, **kwargs: Any) -> SfperfMock:
            config = build_config(
                profile or options.sfperf_mock_profile,
                options.sfperf_mock_seed if seed is None else seed,
                **kwargs,
            )
            running = stack.enter_context(run_in_thread(config))
            return SfperfMock(running.url, running.admin, running.state)

        yield start


@pytest.fixture
def sfperf_mock(request: pytest.FixtureRequest, sfperf_mock_factory: MockFactory) -> SfperfMock:
    """A mock Salesforce for this test, configured by its `sfperf_mock` marker if any."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None and marker.args:
        raise pytest.UsageError(f"@pytest.mark.{MARKER} takes keyword arguments only")
    return sfperf_mock_factory(**(marker.kwargs if marker is not None else {}))


@pytest.fixture
def sfperf_salesforce_responses(
    request: pytest.FixtureRequest,
) -> Iterator[InterceptedSalesforce]:
    """aiohttp calls to Salesforce URLs answered by a mock (see `mock_salesforce.testing`),
    configured by the test's `sfperf_mock` marker like `sfperf_mock`."""
    from mock_salesforce.testing import salesforce_responses

    marker = request.node.get_closest_marker(MARKER)
    kwargs = dict(marker.kwargs) if marker is not None else {}
    options = request.config.option
    kwargs.setdefault("profile", options.sfperf_mock_profile)
    kwargs.setdefault("seed", options.sfperf_mock_seed)
    with salesforce_responses(**kwargs) as intercepted:
        yield intercepted
