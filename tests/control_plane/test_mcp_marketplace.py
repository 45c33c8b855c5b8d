"""The marketplace for AI agents: the MCP SDK's own client on ``POST /mcp`` of the control plane app (moto, the
Stripe fake), and the person confirming on the pages with a signed-in ``TestClient``.

An agent searches, reads an API's plans and tools, asks to subscribe and polls for its key; only the person's
confirmation (a free plan straight away, a paid one through Stripe) makes the key, which the agent gets once.
"""

import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.api import agent_requests
from api_direct.control_plane.api.app import create_app
from api_direct.control_plane.api.lambda_adapter import lambda_handler
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.api.store import PK, SK, Store, consumer_pk
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from api_direct.local.rest_proxy import RestProxy
from api_direct.local.stripe_server import running_stripe_fake
from api_direct.runtime.api_keys import hash_key
from tests.cli.mcp_stdio_client import AgentSession
from tests.control_plane.billing.stripe_settings import with_billing
from tests.control_plane.marketplace import (
    ALICE,
    CAROL,
    EventLog,
    Headers,
    creator_key_bus,
    link_account,
    published,
    table,
)
from tests.control_plane.mcp_agent import lambda_transport, agent_on, failure, marketplace_agent, outcome
from tests.control_plane.resources import REGION, TABLE
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.web.pages import ORIGIN, as_user, text

API = "weather-api"
PLAINTEXT_KEY = re.compile(r"apid_[A-Za-z0-9_-]{43}")
#: Two operations, as FastAPI documents them: each becomes a tool of the API's own MCP server.
DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "Weather", "version": "1"},
    "paths": {
        "/current/{city}": {
            "get": {
                "operationId": "current_weather",
                "summary": "Current conditions",
                "parameters": [{"name": "city", "in": "path", "required": True, "schema": {"type": "string"}}],
            }
        },
        "/forecast/{city}": {
            "get": {
                "operationId": "forecast",
                "summary": "7-day forecast",
                "description": "Daily highs and lows.",
                "parameters": [{"name": "city", "in": "path", "required": True, "schema": {"type": "string"}}],
            }
        },
    },
}


@pytest.fixture
def agent(api: TestClient, listed: EventLog) -> Iterator[AgentSession]:
    """An agent connected to the app, weather-api listed (plans free and pro)."""
    with marketplace_agent(api.app) as session:
        yield session


@pytest.fixture
def person(api: TestClient, mint: Mint) -> TestClient:
    """Carol, a consumer, signed in to the pages (the agent's person)."""
    return as_user(api, mint(CAROL, "consumers"))


def ask(agent: AgentSession, plan: str = "free") -> dict[str, Any]:
    return outcome(agent.call("subscribe", {"api": API, "plan": plan}))


def fetch(agent: AgentSession, asked: dict[str, Any], claim_token: str | None = None) -> Any:
    return agent.call(
        "fetch_key", {"request_id": asked["request_id"], "claim_token": claim_token or asked["claim_token"]}
    )


def confirm_path(asked: dict[str, Any]) -> str:
    """The confirm URL below the site: the agent shows it to its person, who opens it signed in."""
    path = asked["confirm_url"].removeprefix("http://testserver")
    assert path == f"/web/agent-requests/{asked['request_id']}"
    return path


def confirmed(person: TestClient, asked: dict[str, Any], status: int = 201) -> str:
    """The person reviews the request and confirms it; the page's words."""
    review = person.get(confirm_path(asked))
    assert review.status_code == 200, review.text
    answer = person.post(f"{confirm_path(asked)}/confirm", headers=ORIGIN)
    assert answer.status_code == status, text(answer.text)
    return text(answer.text)


def agent_keys(consumer: str = CAROL) -> list[dict[str, Any]]:
    store = Store(table())
    return [item for item in store.query(consumer_pk(consumer), "KEY#", index="gsi2") if item["name"] != "default"]


def everything_stored() -> str:
    """Every item of the table, as one text (to look for a secret in)."""
    return repr(boto3.client("dynamodb", region_name=REGION).scan(TableName=TABLE)["Items"])


# --- finding an API ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_the_four_tools_are_listed_on_either_protocol_revision(api: TestClient, listed: EventLog, mode: str) -> None:
    """``auto`` speaks the stateless 2026-07-28 revision; ``legacy`` the initialize handshake of earlier ones."""
    with marketplace_agent(api.app, mode=mode) as agent:
        tools = agent.tools()
        assert agent.client.protocol_version == ("2026-07-28" if mode == "auto" else "2025-11-25")
    assert list(tools) == ["search_apis", "get_api", "subscribe", "fetch_key"]
    assert tools["subscribe"].input_schema["required"] == ["api", "plan"]
    assert tools["fetch_key"].input_schema["required"] == ["request_id", "claim_token"]
    assert tools["search_apis"].input_schema["properties"]["limit"]["maximum"] == 20
    read_only = {name: tool.annotations.read_only_hint for name, tool in tools.items() if tool.annotations}
    assert read_only == {"search_apis": True, "get_api": True, "subscribe": False, "fetch_key": False}


def test_search_finds_a_published_api_with_its_plans_and_page(agent: AgentSession) -> None:
    [found] = outcome(agent.call("search_apis", {"query": "forecast"}))["apis"]
    assert found == {
        "api": API,
        "title": "Weather API",
        "description": "Current conditions and 7-day forecasts for any city",
        "base_url": "https://abc123.execute-api.eu-west-1.amazonaws.com/v1",
        "plans": ["free: no charge, 1,000 calls a month", "pro: 9.90 USD a month + 0.0125 USD per 1,000 calls"],
        "rating": None,
        "subscribers": 0,
        "page_url": f"http://testserver/web/apis/{API}",
    }
    assert outcome(agent.call("search_apis", {"query": "stock quotes"})) == {"apis": [], "more": False}


def test_search_pages_by_limit(api: TestClient, listed: EventLog, mint: Mint) -> None:
    published(api, bearer(mint(ALICE, "creators")), "weather-api-2")
    with marketplace_agent(api.app) as agent:
        first = outcome(agent.call("search_apis", {"query": "weather", "limit": 1}))
    assert (len(first["apis"]), first["more"]) == (1, True)


def test_get_api_shows_plans_the_apis_own_tools_and_its_mcp_url(api: TestClient, mint: Mint) -> None:
    link_account(ALICE)
    published(api, bearer(mint(ALICE, "creators")), openapi=DOCUMENT)
    with marketplace_agent(api.app) as agent:
        shown = outcome(agent.call("get_api", {"api": API}))
    assert shown["page_url"] == f"http://testserver/web/apis/{API}"
    assert shown["mcp_url"] == "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/mcp"
    assert shown["currency"] == "USD"
    assert [(p["name"], p["price_per_month"], p["price_per_1000_calls"]) for p in shown["plans"]] == [
        ("free", "0.00", "0.00"),
        ("pro", "9.90", "0.0125"),
    ]
    assert shown["plans"][0] | {"description": ""} == {
        "name": "free",
        "description": "",
        "price_per_month": "0.00",
        "price_per_1000_calls": "0.00",
        "free_calls_per_month": 1000,
        "rate_limit_per_second": 2.0,
        "burst": 5,
        "monthly_quota": 1000,
        "free_trial_days": None,
    }
    assert shown["tools"] == [
        {"name": "current_weather", "description": "Current conditions"},
        {"name": "forecast", "description": "7-day forecast\n\nDaily highs and lows."},
    ]


def test_get_api_leaves_out_the_tools_the_creator_excluded_and_an_api_without_mcp_has_none(
    api: TestClient, mint: Mint
) -> None:
    link_account(ALICE)
    creator = bearer(mint(ALICE, "creators"))
    published(api, creator, openapi=DOCUMENT, mcp={"exclude": ["/forecast/*"]})
    with marketplace_agent(api.app) as agent:
        excluded = outcome(agent.call("get_api", {"api": API}))
    published(api, creator, openapi=DOCUMENT, mcp=None)
    with marketplace_agent(api.app) as agent:
        without = outcome(agent.call("get_api", {"api": API}))
    assert [tool["name"] for tool in excluded["tools"]] == ["current_weather"]
    assert (without["mcp_url"], without["tools"]) == (None, [])


# --- subscribe, confirm, fetch the key ----------------------------------------------------------


def test_an_agent_gets_its_key_once_after_its_person_confirms_a_free_plan(
    api: TestClient, agent: AgentSession, person: TestClient, listed: EventLog, caplog: pytest.LogCaptureFixture
) -> None:
    asked = ask(agent)
    assert asked["status"] == "awaiting confirmation" and asked["confirm_url"].startswith("http://testserver/web/")
    pending = outcome(fetch(agent, asked))
    assert pending["status"] == "pending" and "not confirmed yet" in pending["message"]
    assert agent_keys() == [] and listed.details() == [], "asking subscribes nobody"

    review = text(person.get(confirm_path(asked)).text)
    assert "Your AI agent asks to subscribe you to Weather API" in review
    assert "Confirm only if you asked an agent to do this" in review and "Monthly fee 0.00 USD" in review
    page = confirmed(person, asked)
    assert "You subscribed to Weather API (free)" in page and "it fetches a key of its own" in page
    persons_key = PLAINTEXT_KEY.search(page)
    assert persons_key is not None, "the new subscription's first key is shown to the person, once"

    issued = outcome(fetch(agent, asked))
    assert issued["status"] == "issued" and (issued["api"], issued["plan"]) == (API, "free")
    assert PLAINTEXT_KEY.fullmatch(issued["api_key"]) and issued["api_key"] != persons_key.group()
    assert issued["key_name"] == f"agent-{asked['request_id'].removeprefix('areq_')[:8]}"
    assert issued["header"] == "x-api-key"
    assert issued["mcp_url"] == "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/mcp"
    [stored] = agent_keys()
    assert (stored["key_hash"], stored["status"], stored["name"]) == (
        hash_key(issued["api_key"]),
        "active",
        issued["key_name"],
    )
    sent = [(kind, detail["key_hash"], detail["plan"]) for kind, detail in listed.details()]
    assert sent[-1] == ("KeyIssued", hash_key(issued["api_key"]), "free"), "the API's account learns the key"

    again = failure(fetch(agent, asked))
    assert "already fetched" in again and "shown only once" in again
    assert issued["api_key"] not in str(fetch(agent, asked))
    secrets = (asked["claim_token"], issued["api_key"])
    assert not any(secret in everything_stored() for secret in secrets), "only hashes are stored"
    assert not any(secret in caplog.text for secret in secrets), "nor logged"


def test_two_fetches_at_once_get_one_key(agent: AgentSession, person: TestClient) -> None:
    """The claim is a condition of the key's own transaction: whichever fetch commits second is refused."""
    asked = ask(agent)
    confirmed(person, asked)
    arguments = {"request_id": asked["request_id"], "claim_token": asked["claim_token"]}
    results = [call.result() for call in [agent.start("fetch_key", arguments) for _ in range(2)]]
    assert sorted(result.is_error for result in results) == [False, True]
    assert len(agent_keys()) == 1


def test_a_paid_plan_is_confirmed_through_stripe(aws: Any, settings: ControlPlaneSettings, mint: Mint) -> None:
    with running_stripe_fake() as stripe_fake:
        app = create_app(with_billing(settings, aws, stripe_fake))
        app.state.services.billing.gateway.sleep = lambda _seconds: None
        api = TestClient(app, raise_server_exceptions=False)
        link_account(ALICE)
        published(api, bearer(mint(ALICE, "creators")))
        key_bus = creator_key_bus()
        with marketplace_agent(app) as agent:
            asked = ask(agent, "pro")
            assert stripe_fake.customers() == [], "asking never touches Stripe"
            confirmed(as_user(api, mint(CAROL, "consumers")), asked)
            issued = outcome(fetch(agent, asked))
        subscriptions = [r for r in stripe_fake.requests() if (r.method, r.path) == ("POST", "/v1/subscriptions")]
        subscription = Store(table()).get(consumer_pk(CAROL), f"SUB#{API}")
    assert len(subscriptions) == 1 and subscription is not None
    assert subscription["stripe_subscription"].startswith("sub_") and subscription["plan"] == "pro"
    assert [customer["metadata"] for customer in stripe_fake.customers()] == [{"apid_consumer": CAROL}]
    assert issued["plan"] == "pro"
    assert key_bus.details()[-1][1]["key_hash"] == hash_key(issued["api_key"])


def test_a_declined_card_leaves_the_request_pending_until_another_card_confirms_it(
    aws: Any, settings: ControlPlaneSettings, mint: Mint
) -> None:
    with running_stripe_fake() as stripe_fake:
        app = create_app(with_billing(settings, aws, stripe_fake))
        billing: SubscriptionBilling = app.state.services.billing
        billing.gateway.sleep = lambda _seconds: None
        api = TestClient(app, raise_server_exceptions=False)
        link_account(ALICE)
        published(api, bearer(mint(ALICE, "creators")))
        creator_key_bus()
        stripe_fake.decline_cards(billing.customer(CAROL))
        person = as_user(api, mint(CAROL, "consumers"))
        with marketplace_agent(app) as agent:
            asked = ask(agent, "pro")
            assert "Payment declined" in confirmed(person, asked, status=402)
            assert outcome(fetch(agent, asked))["status"] == "pending"
            stripe_fake.accept_cards(billing.customer(CAROL))
            confirmed(person, asked)
            assert outcome(fetch(agent, asked))["status"] == "issued"


def test_a_person_already_on_the_plan_gives_the_agent_a_key_on_that_subscription(
    api: TestClient, agent: AgentSession, person: TestClient, carol: Headers
) -> None:
    assert api.post("/subscriptions", json={"api_id": API, "plan": "free"}, headers=carol).status_code == 201
    asked = ask(agent)
    assert "You already subscribe to this plan" in text(person.get(confirm_path(asked)).text)
    page = confirmed(person, asked, status=200)
    assert "Confirmed: your agent can fetch its key" in page and PLAINTEXT_KEY.search(page) is None
    issued = outcome(fetch(agent, asked))
    assert [item["key_hash"] for item in agent_keys()] == [hash_key(issued["api_key"])]


def test_a_person_on_another_plan_changes_it_first(
    api: TestClient, agent: AgentSession, person: TestClient, carol: Headers
) -> None:
    assert api.post("/subscriptions", json={"api_id": API, "plan": "free"}, headers=carol).status_code == 201
    asked = ask(agent, "pro")
    review = person.get(confirm_path(asked))
    assert "on the free plan. Change the plan on your dashboard first" in text(review.text)
    assert "/confirm" not in review.text, "no confirm button"
    refused = person.post(f"{confirm_path(asked)}/confirm", headers=ORIGIN)
    assert refused.status_code == 409 and "You subscribe to weather-api on plan free, not pro" in text(refused.text)
    assert outcome(fetch(agent, asked))["status"] == "pending"


def test_confirming_needs_a_signed_in_consumer_and_a_form_of_this_site(
    api: TestClient, agent: AgentSession, mint: Mint
) -> None:
    asked = ask(agent)
    signed_out = api.get(confirm_path(asked), follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/web/sign-in?next=")
    person = as_user(api, mint(CAROL, "consumers"))
    assert person.post(f"{confirm_path(asked)}/confirm").status_code == 403, "no Origin: another site's form"
    creator = as_user(api, mint(ALICE, "creators"))
    assert creator.get(confirm_path(asked)).status_code == 403
    assert outcome(fetch(agent, asked))["status"] == "pending"


def test_nothing_links_to_the_confirm_pages(api: TestClient, agent: AgentSession, person: TestClient) -> None:
    for page in ("/web/", f"/web/apis/{API}", "/web/dashboard"):
        assert "agent-requests" not in person.get(page).text


# --- refusals -------------------------------------------------------------------------------------


def test_a_wrong_claim_token_and_an_unknown_request_are_refused_alike(agent: AgentSession, person: TestClient) -> None:
    asked = ask(agent)
    confirmed(person, asked)
    wrong = failure(fetch(agent, asked, claim_token="x" * 43))
    unknown = failure(fetch(agent, {**asked, "request_id": "areq_" + "0" * 24}))
    assert wrong == unknown == "refused: no request has that id and claim token; ask again with subscribe"
    assert outcome(fetch(agent, asked))["status"] == "issued", "a wrong guess does not spend the request"


def test_an_expired_request_is_refused_to_the_agent_and_to_the_person(agent: AgentSession, person: TestClient) -> None:
    asked = ask(agent)
    table().update_item(
        Key=agent_requests.request_key(asked["request_id"]),
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": 1_700_000_000},
    )
    assert "expired" in failure(fetch(agent, asked))
    page = person.get(confirm_path(asked))
    assert page.status_code == 410 and "has expired" in text(page.text)


BAD_ARGUMENTS = [
    ("get_api", {"api": "Not An API!"}, "api: must be an API name as in apid.toml, such as weather-api"),
    ("get_api", {"api": "no-such-api"}, "no API 'no-such-api' is listed; find one with search_apis"),
    ("get_api", {}, "api: Field required"),
    ("get_api", {"api": API, "plan": "free"}, "plan: Extra inputs are not permitted"),
    ("subscribe", {"api": API, "plan": "gold"}, "plan: weather-api has no plan 'gold'; choose one of: free, pro"),
    ("subscribe", {"api": "no-such-api", "plan": "free"}, "no API 'no-such-api' is listed"),
    ("subscribe", {}, "api: Field required (and 1 more)"),
    ("search_apis", {"limit": 500}, "limit: Input should be less than or equal to 20"),
    ("search_apis", {"limit": 0}, "limit: Input should be greater than or equal to 1"),
    ("search_apis", {"query": "x" * 201}, "query: String should have at most 200 characters"),
    ("fetch_key", {"request_id": "areq_1"}, "claim_token: Field required"),
]


def test_bad_arguments_are_one_line_error_results(agent: AgentSession) -> None:
    """Every case in one session: each answer is an error result, and the server goes on to the next."""
    said = [failure(agent.call(tool, arguments)) for tool, arguments, _ in BAD_ARGUMENTS]
    for (tool, _, expected), answer in zip(BAD_ARGUMENTS, said, strict=True):
        assert answer.startswith(expected), (tool, answer)
    assert "\n" not in "".join(said)


def test_subscribe_requests_are_bounded_per_source_address(
    api: TestClient, listed: EventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent_requests, "MAX_REQUESTS_PER_HOUR", 2)
    with marketplace_agent(api.app) as agent:
        ask(agent)
        ask(agent)
        refused = failure(agent.call("subscribe", {"api": API, "plan": "free"}))
    assert refused.startswith("at most 2 subscribe requests an hour come from one address; try again after")
    with marketplace_agent(api.app, address="198.51.100.4") as elsewhere:
        ask(elsewhere)
    counters = [item for item in table().scan()["Items"] if item[PK].startswith(agent_requests.LIMIT_PREFIX)]
    assert sorted(int(item["requests"]) for item in counters) == [1, 2]
    assert not any("203.0.113.7" in repr(item) for item in counters), "addresses are kept as hashes"
    assert all(item[SK].startswith("HOUR#") and item["expires_at"] for item in counters)


# --- how it is served -------------------------------------------------------------------------------


def test_the_endpoint_offers_no_event_stream(api: TestClient) -> None:
    """Stateless: nothing for a GET stream to carry, so 405 (MCP's answer for it) rather than a stream held open."""
    assert api.get("/mcp").status_code == 405


def test_through_the_lambda_handler_behind_the_stage(settings: ControlPlaneSettings, listed: EventLog) -> None:
    """Each POST is its own invocation, as in Lambda: the session manager and its task group live within it."""
    proxy = RestProxy(stage="v1")
    site = f"https://{proxy.host}/v1"
    with agent_on(lambda_transport(lambda_handler(settings), proxy, "203.0.113.9"), site) as agent:
        assert list(agent.tools()) == ["search_apis", "get_api", "subscribe", "fetch_key"]
        [found] = outcome(agent.call("search_apis", {"query": "weather"}))["apis"]
        asked = ask(agent)
    assert found["page_url"] == f"{site}/web/apis/{API}"
    assert asked["confirm_url"] == f"{site}/web/agent-requests/{asked['request_id']}"
