"""The marketplace for AI agents: an MCP server at ``POST /mcp`` of the control plane.

Four tools: ``search_apis`` and ``get_api`` read what the marketplace's pages show
(the same search and listing code); ``subscribe`` and ``fetch_key`` are the agent's
half of :mod:`.agent_requests`: the agent never pays, never signs in, and gets a key
only after its person confirmed the plan on a page of the marketplace.

Streamable HTTP, stateless, JSON responses (no event stream: ``GET /mcp`` is 405).
Each POST is served by a session manager of its own, whose task group (the SDK's
``run()``) lives exactly as long as the request: nothing outlives an invocation,
which Lambda may freeze or discard right after, and no app lifespan is needed (a
``TestClient`` or an ASGI transport runs none). It costs a few objects per request.
The SDK's DNS-rebinding check (a ``Host`` allow-list) is off: it guards servers on a
person's own machine, while this one is public on whatever host the operator serves
it, and reads no cookie or other ambient credential an attacker's page could ride on.

Every failure is a tool result with ``isError`` and one line for the agent to act on,
never a protocol error: bad arguments in the words of the API's own 422s, unknown APIs
and plans as the marketplace says them, anything unexpected logged and answered
generically. No argument or result is logged (a claim token or key would be in one).
"""

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import anyio.to_thread
import mcp_types as types
from fastapi import FastAPI
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from api_direct import __version__
from api_direct.control_plane.api import agent_requests, listings
from api_direct.control_plane.api.agent_requests import NotConfirmed
from api_direct.control_plane.api.deployments import ApiId
from api_direct.control_plane.api.plan_access import pickable
from api_direct.control_plane.api.problems import Problem, describe_validation
from api_direct.control_plane.api.services import Services
from api_direct.control_plane.api.store import api_pk
from api_direct.control_plane.api.subscriptions import PlanName
from api_direct.control_plane.web.rendering import WEB_PREFIX, price
from api_direct.project import PricingPlan
from api_direct.runtime.mcp_tools import tools_of

MCP_PATH = "/mcp"
#: The most results one search returns (the pages show 12 a page).
MAX_SEARCH_RESULTS = 20
#: Where a creator's API serves its own MCP server: one tool per operation, called with the API key.
API_MCP_PATH = "/mcp"
#: The header a key travels in to the creator's API (its authorizer's identity source).
KEY_HEADER = "x-api-key"
INSTRUCTIONS = (
    "API-Direct's marketplace of paid APIs. Find an API with search_apis, read its plans and tools with get_api."
    " To use one, call subscribe: it never pays. Show the confirm_url it returns to your user, who signs in,"
    " reviews the plan and its price, and confirms. Then call fetch_key with the request_id and claim_token"
    " (poll every few seconds until it is confirmed): it returns the API key once. Call the API, or its MCP"
    " server at mcp_url, with the key in the x-api-key header."
)

logger = logging.getLogger(__name__)


class _Arguments(BaseModel):
    """A tool's arguments: unknown ones are an error, as in the API's bodies."""

    model_config = ConfigDict(extra="forbid")


class SearchArguments(_Arguments):
    query: Annotated[
        str, Field(max_length=200, description="words that must all occur in the name, description or tags")
    ] = ""
    limit: Annotated[int, Field(ge=1, le=MAX_SEARCH_RESULTS, description="how many APIs, best first")] = 10


class ApiArguments(_Arguments):
    api: Annotated[ApiId, Field(description="the API's name, as search_apis returns it (e.g. weather-api)")]


class SubscribeArguments(ApiArguments):
    plan: Annotated[PlanName, Field(description="one of the plan names get_api lists")]


class FetchKeyArguments(_Arguments):
    request_id: Annotated[str, Field(max_length=64, description="what subscribe returned")]
    claim_token: Annotated[str, Field(max_length=128, description="what subscribe returned; keep it secret")]


@dataclass(frozen=True)
class Caller:
    """What a tool needs of the request: the services, the control plane's URL as called, the source address."""

    services: Services
    site: str
    source: str

    def page_url(self, api_id: str) -> str:
        return f"{self.site}{WEB_PREFIX}/apis/{api_id}"


@dataclass(frozen=True)
class MarketplaceTool:
    name: str
    description: str
    arguments: type[_Arguments]
    run: Callable[[Caller, Any], dict[str, Any]]
    read_only: bool

    def definition(self) -> types.Tool:
        return types.Tool(
            name=self.name,
            description=self.description,
            input_schema=self.arguments.model_json_schema(),
            annotations=types.ToolAnnotations(
                read_only_hint=self.read_only, destructive_hint=False, open_world_hint=False
            ),
        )


def search_apis(caller: Caller, arguments: SearchArguments) -> dict[str, Any]:
    found = listings.search(
        caller.services,
        q=arguments.query,
        category=None,
        max_price=None,
        sort="popularity",
        limit=arguments.limit,
        cursor=None,
    )
    currency = caller.services.settings.currency
    return {
        "apis": [
            {
                "api": listing.api_id,
                "title": listing.name,
                "description": listing.description,
                "base_url": listing.base_url,
                "plans": [
                    _plan_line(plan, currency)
                    for plan in listings.listed_plans(caller.services.store, listing.api_id)
                    if pickable(plan)
                ],
                "rating": listing.rating,
                "subscribers": listing.subscribers,
                "page_url": caller.page_url(listing.api_id),
            }
            for listing in found.items
        ],
        "more": found.next_cursor is not None,
    }


def get_api(caller: Caller, arguments: ApiArguments) -> dict[str, Any]:
    _require_api(caller, arguments.api)
    listing = listings.read_listing(caller.services.store, arguments.api)
    currency = caller.services.settings.currency.upper()
    return {
        "api": listing.api_id,
        "title": listing.name,
        "description": listing.description,
        "category": listing.category,
        "base_url": listing.base_url,
        "page_url": caller.page_url(listing.api_id),
        "mcp_url": _mcp_url(listing.base_url) if listing.mcp else None,
        "currency": currency,
        "plans": [
            {
                "name": plan.name,
                "description": plan.description,
                "price_per_month": price(plan.monthly_fee),
                "price_per_1000_calls": price(plan.price_per_1000),
                "free_calls_per_month": plan.free_calls,
                "rate_limit_per_second": plan.rate_limit,
                "burst": plan.burst,
                "monthly_quota": plan.monthly_quota,
                # A trial needs a card, which only the person adds (on Stripe's page, when they confirm).
                "free_trial_days": plan.trial_days,
            }
            for plan in listing.plans
            if pickable(plan)  # an agent may ask only for these (agent_requests.ask)
        ],
        "tools": [
            {"name": tool.name, "description": tool.description}
            for tool in (tools_of(listing.openapi, listing.mcp.exclude).tools if listing.mcp else ())
        ],
        "rating": listing.rating,
        "review_count": listing.review_count,
    }


def subscribe(caller: Caller, arguments: SubscribeArguments) -> dict[str, Any]:
    _require_api(caller, arguments.api)
    asked = agent_requests.ask(caller.services, arguments.api, arguments.plan, caller.source)
    request = asked.request
    trial_days = PricingPlan.of(listings.require_plan(caller.services.store, request.api_id, request.plan)).trial_days
    card = (
        f" The plan's {trial_days}-day free trial needs a card: confirming takes your user to Stripe's Checkout"
        " page to add one (you never see it); nothing is charged until the trial ends."
        if trial_days and caller.services.billing is not None
        else ""
    )
    return {
        "status": "awaiting confirmation",
        "request_id": request.request_id,
        "claim_token": asked.claim_token,
        "confirm_url": f"{caller.site}{WEB_PREFIX}/agent-requests/{request.request_id}",
        "expires_at": f"{request.expires_at:%Y-%m-%dT%H:%M:%SZ}",
        "next": (
            "Show confirm_url to your user: they sign in, review the plan and its price, and confirm (you never"
            " pay). Then call fetch_key with request_id and claim_token, again every few seconds while it answers"
            " pending. Keep claim_token secret: it is what fetches the key." + card
        ),
    }


def fetch_key(caller: Caller, arguments: FetchKeyArguments) -> dict[str, Any]:
    try:
        request, issued = agent_requests.claim(caller.services, arguments.request_id, arguments.claim_token)
    except NotConfirmed:
        return {
            "status": "pending",
            "message": "not confirmed yet: your user has not confirmed at confirm_url; call fetch_key again shortly",
        }
    listed = listings.require_listing(caller.services.store, request.api_id)
    base_url = str(listed["base_url"])
    return {
        "status": "issued",
        "api": issued.api_id,
        "plan": issued.plan,
        "key_id": issued.key_id,
        "key_name": issued.name,
        "api_key": issued.api_key,
        "header": KEY_HEADER,
        "base_url": base_url,
        "mcp_url": _mcp_url(base_url) if listed.get("mcp") is not None else None,
        "message": (
            "This key is shown once: keep it now. Send it in the x-api-key header to base_url, or use the API's"
            " MCP server at mcp_url with it. Your user sees and manages it on their dashboard."
        ),
    }


TOOLS = {
    tool.name: tool
    for tool in (
        MarketplaceTool(
            "search_apis",
            "Search the marketplace's APIs by words (all must match); the most subscribed first.",
            SearchArguments,
            search_apis,
            read_only=True,
        ),
        MarketplaceTool(
            "get_api",
            "One API: its plans (price per month and per 1,000 calls, rate limit, quota), its page, and the tools"
            " its own MCP server (mcp_url) offers once you have a key.",
            ApiArguments,
            get_api,
            read_only=True,
        ),
        MarketplaceTool(
            "subscribe",
            "Ask to subscribe your user to a plan. Takes no payment and returns no key: it returns a confirm_url"
            " for your user to confirm the plan and price, and a request_id and claim_token for fetch_key.",
            SubscribeArguments,
            subscribe,
            read_only=False,
        ),
        MarketplaceTool(
            "fetch_key",
            "After your user confirmed: the new API key, returned once. Answers status pending until they confirm.",
            FetchKeyArguments,
            fetch_key,
            read_only=False,
        ),
    )
}


def marketplace_server(caller: Caller) -> Server[Any]:
    """The MCP server for one request, its tools bound to ``caller``."""

    async def list_tools(_: Any, __: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[tool.definition() for tool in TOOLS.values()])

    async def call_tool(_: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return await anyio.to_thread.run_sync(answer, caller, params.name, params.arguments or {})

    return Server(
        "api-direct-marketplace",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def answer(caller: Caller, name: str, arguments: Mapping[str, Any]) -> types.CallToolResult:
    """A tool call's result; every failure an ``isError`` result with one line (in a thread: boto3 blocks)."""
    tool = TOOLS.get(name)
    if tool is None:
        return _failed(f"no tool {name!r}; the tools are {', '.join(TOOLS)}")
    try:
        result = tool.run(caller, tool.arguments.model_validate(arguments))
    except ValidationError as error:
        return _failed(describe_validation(error.errors()))
    except Problem as problem:
        return _failed(problem.detail)
    except Exception:
        # The tool's name only: arguments may hold a claim token.
        logger.exception("the marketplace's MCP tool %s failed", name)
        return _failed("the marketplace hit an unexpected error; it has been logged; retry later")
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(result, default=str))], structured_content=result
    )


class MarketplaceEndpoint:
    """The ASGI app at ``POST /mcp``: a stateless session manager per request (see the module's docstring)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        caller = Caller(
            services=self.services,
            site=str(request.base_url).rstrip("/"),
            source=request.client.host if request.client else "unknown",
        )
        manager = StreamableHTTPSessionManager(
            marketplace_server(caller),
            json_response=True,
            stateless=True,
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        async with manager.run():
            await manager.handle_request(scope, receive, send)


def install_marketplace_mcp(app: FastAPI, services: Services) -> None:
    """``POST /mcp`` only: a GET (an event stream) is 405, as MCP answers for a server that offers none."""
    app.router.routes.append(Route(MCP_PATH, MarketplaceEndpoint(services), methods=["POST"], include_in_schema=False))


def _require_api(caller: Caller, api_id: str) -> None:
    """An unknown API in words an agent acts on (the marketplace's own 404 names its search route)."""
    if caller.services.store.get(api_pk(api_id), listings.LISTING_SK) is None:
        raise Problem(404, f"no API {api_id!r} is listed; find one with search_apis")


def _mcp_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}{API_MCP_PATH}"


def _plan_line(plan: PricingPlan, currency: str) -> str:
    """``pro: 9.90 USD a month + 0.0125 USD per 1,000 calls``; ``free: no charge, 1,000 calls a month``."""
    code = currency.upper()
    charges = [
        f"{price(amount)} {code} {unit}"
        for amount, unit in ((plan.monthly_fee, "a month"), (plan.price_per_1000, "per 1,000 calls"))
        if amount > Decimal(0)
    ]
    quota = f", {plan.monthly_quota:,} calls a month" if plan.monthly_quota else ""
    trial = f", {plan.trial_days}-day free trial (card required)" if plan.trial_days else ""
    return f"{plan.name}: {' + '.join(charges) or 'no charge'}{quota}{trial}"


def _failed(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)
