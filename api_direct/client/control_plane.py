"""The control plane's API as methods: one per operation, each returning what the API answers, typed.

Callers name an operation (``client.subscribe(api_id, plan)``), not a path and a
verb, so a path lives in one place and a type checker sees what each answer
holds. The answers are the API's JSON documents as ``TypedDict`` s: the CLI prints
them as they are with ``--json``, and this package needs no model of the service
(importing the service's pydantic models would load FastAPI into the CLI and tie
the client to the server's code; the wire format is the contract).
"""

from typing import Any, NotRequired, TypedDict, cast
from urllib.parse import quote

from api_direct.client.http import ControlPlaneClient
from api_direct.contracts import DeployPurpose


class ClientConfig(TypedDict):
    """``GET /config``: what a client needs to sign in."""

    region: str
    user_pool_id: str
    app_client_id: str
    account_id: str
    event_bus_arn: str


class Account(TypedDict):
    """A registered AWS account and region: ``POST /accounts`` answers it with the ExternalId to deploy with."""

    account_id: str
    region: str
    external_id: str
    trusted_account_id: str
    status: str
    created_at: str
    linked_at: NotRequired[str | None]
    unlinked_at: NotRequired[str | None]
    deploy_role_arn: NotRequired[str | None]
    execution_role_arn: NotRequired[str | None]
    asset_bucket: NotRequired[str | None]


class DeployCredentials(TypedDict):
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: str
    role_arn: str


class IssuedKey(TypedDict):
    """A new API key: the only time its value is shown."""

    api_id: str
    plan: str
    key_id: str
    name: str
    api_key: str
    created_at: str


class ApiKey(TypedDict):
    key_id: str
    name: str
    api_id: str
    plan: str
    status: str
    created_at: str
    expires_at: str | None
    last_used: str | None


class Subscription(TypedDict):
    api_id: str
    plan: str
    status: str
    billing_status: NotRequired[str]
    key_id: str
    created_at: str
    cancelled_at: NotRequired[str | None]
    #: When a free trial ends and charging starts.
    trial_end: NotRequired[str | None]


class CardCheckout(TypedDict):
    """A Stripe Checkout page where the consumer saves the card a plan with a free trial needs."""

    session_id: str
    url: str


class AlertSettings(TypedDict):
    """``PUT /subscriptions/{api_id}/alerts``: the settings, whole (a field left out takes its default)."""

    thresholds: list[int]
    webhook_url: str | None
    spend_cap: str | None
    cap_mode: str
    rotate_secret: NotRequired[bool]


class Alerts(TypedDict):
    """A subscription's usage alerts; ``webhook_secret`` only in the answer that registers the webhook."""

    api_id: str
    plan: str
    thresholds: list[int]
    webhook_url: str | None
    spend_cap: str | None
    cap_mode: str
    capped_until: str | None
    last_delivery: dict[str, Any] | None
    webhook_secret: str | None


class ListingPage(TypedDict):
    """``GET /listings``: one page of search results."""

    items: list[dict[str, Any]]
    next_cursor: NotRequired[str | None]


class PayoutAccount(TypedDict):
    account_id: str
    onboarding_url: str
    transfers_enabled: bool


class ControlPlane(ControlPlaneClient):
    """A control plane's API, signed in or not (``api_direct.client.sign_in.client_for`` gives a signed-in one).

    Errors are the transport's: a refusal is one line, typed by its status
    (:mod:`api_direct.client.http`).
    """

    # Anyone.

    def config(self) -> ClientConfig:
        return cast(ClientConfig, self.get("/config"))

    def search_listings(self, q: str = "", **filters: Any) -> ListingPage:
        """``filters``: ``category``, ``max_price``, ``sort``, ``limit``, ``cursor`` (as the API names them)."""
        return cast(ListingPage, self.get("/listings", q=q, **filters))

    def listing(self, api_id: str) -> dict[str, Any]:
        """One listing with its plans and OpenAPI document."""
        return cast("dict[str, Any]", self.get(f"/listings/{_segment(api_id)}"))

    def reviews(self, api_id: str, *, limit: int | None = None, cursor: str | None = None) -> dict[str, Any]:
        return cast("dict[str, Any]", self.get(f"/listings/{_segment(api_id)}/reviews", limit=limit, cursor=cursor))

    # Creators.

    def register_account(self, account_id: str, region: str) -> Account:
        return cast(Account, self.post("/accounts", {"account_id": account_id, "region": region}))

    def confirm_account(
        self, account_id: str, region: str, *, deploy_role_arn: str, execution_role_arn: str, asset_bucket: str
    ) -> Account:
        body = {
            "deploy_role_arn": deploy_role_arn,
            "execution_role_arn": execution_role_arn,
            "asset_bucket": asset_bucket,
        }
        return cast(Account, self.put(_account(account_id, region), body))

    def accounts(self) -> list[Account]:
        return cast("list[Account]", self.get("/accounts"))

    def unlink_account(self, account_id: str, region: str) -> None:
        self.delete(_account(account_id, region))

    def deploy_credentials(self, account_id: str, region: str, purpose: DeployPurpose) -> DeployCredentials:
        return cast(DeployCredentials, self.post(f"{_account(account_id, region)}/credentials", {"purpose": purpose}))

    def record_deployment(self, record: dict[str, Any]) -> dict[str, Any]:
        """What a plan, deploy or destroy did: ``api_id``, ``account_id``, ``region``, ``action``, ``status``, ..."""
        return cast("dict[str, Any]", self.post("/deployments", record))

    def deployments(self, api_id: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        return cast("list[dict[str, Any]]", self.get("/deployments", api_id=api_id, limit=limit))

    def put_listing(self, api_id: str, listing: dict[str, Any]) -> dict[str, Any]:
        """Publish or update a listing (``api_direct.client.publishing.listing`` builds the body)."""
        return cast("dict[str, Any]", self.put(f"/listings/{_segment(api_id)}", listing))

    def create_invite(
        self, api_id: str, plan: str, *, max_uses: int | None = None, expires_days: int | None = None
    ) -> dict[str, Any]:
        """An invite link to a private plan; its ``token`` and ``url`` are in this answer only."""
        body = {"plan": plan, "max_uses": max_uses, "expires_days": expires_days}
        return cast("dict[str, Any]", self.post(f"/listings/{_segment(api_id)}/invites", body))

    def invites(self, api_id: str) -> list[dict[str, Any]]:
        return cast("list[dict[str, Any]]", self.get(f"/listings/{_segment(api_id)}/invites"))

    def revoke_invite(self, api_id: str, invite_id: str) -> None:
        self.delete(f"/listings/{_segment(api_id)}/invites/{_segment(invite_id)}")

    def unpublish(self, api_id: str, *, until: str | None = None, now: bool = False) -> dict[str, Any]:
        """Off the marketplace; subscriptions end on ``until`` (``YYYY-MM-DD``, the control plane checks it)."""
        return cast(
            "dict[str, Any]", self.post(f"/listings/{_segment(api_id)}/unpublish", {"until": until, "now": now})
        )

    def changelog(self, api_id: str) -> list[dict[str, Any]]:
        """The listing's versions, newest first."""
        return cast("list[dict[str, Any]]", self.get(f"/listings/{_segment(api_id)}/changelog")["items"])

    def usage(self, api_id: str, *, days: int | None = None) -> dict[str, Any]:
        """An API's calls, billable calls and errors per UTC day."""
        return cast("dict[str, Any]", self.get("/usage", api_id=api_id, days=days))

    def payout_account(self, *, return_url: str | None = None, refresh_url: str | None = None) -> PayoutAccount:
        """Create (once) the Stripe Connect account and get a fresh onboarding link."""
        body = {name: url for name, url in (("return_url", return_url), ("refresh_url", refresh_url)) if url}
        return cast(PayoutAccount, self.post("/payouts/account", body))

    def earnings(self) -> dict[str, Any]:
        """Revenue, platform fee and payouts per month, and every paid invoice."""
        return cast("dict[str, Any]", self.get("/earnings"))

    def costs(self, month: str | None = None) -> dict[str, Any]:
        """The creator's APIs' month (``YYYY-MM``, default the current one): revenue, fees, AWS cost and margin
        per plan and day."""
        return cast("dict[str, Any]", self.get("/earnings/costs", month=month))

    def plan_receipts(self, api_id: str) -> dict[str, Any]:
        """What each plan of the creator's API pays them after Stripe's fees and the platform's."""
        return cast("dict[str, Any]", self.get(f"/listings/{_segment(api_id)}/receipts"))

    def refund(self, invoice_id: str, amount: int | None = None) -> dict[str, Any]:
        """Refund ``amount`` cents (all that is left when ``None``) of a paid invoice or pack of the creator's."""
        body: dict[str, Any] = {"invoice_id": invoice_id} | ({} if amount is None else {"amount": amount})
        return cast("dict[str, Any]", self.post("/earnings/refunds", body))

    # Consumers.

    def subscribe(
        self, api_id: str, plan: str, checkout_session: str | None = None, *, invite: str | None = None
    ) -> IssuedKey:
        """``checkout_session``: a completed :meth:`card_checkout`, which a plan with a free trial needs;
        ``invite``: an invite link's token, which a private plan needs."""
        card = {"checkout_session": checkout_session} if checkout_session else {}
        invited = {"invite": invite} if invite else {}
        return cast(IssuedKey, self.post("/subscriptions", {"api_id": api_id, "plan": plan, **card, **invited}))

    def card_checkout(self, api_id: str, plan: str) -> CardCheckout:
        return cast(CardCheckout, self.post("/subscriptions/checkout", {"api_id": api_id, "plan": plan}))

    def credits_checkout(self, api_id: str, packs: int = 1) -> CardCheckout:
        """A Stripe Checkout page selling ``packs`` packs of a prepaid plan's credit (the card is saved for reloads)."""
        return cast(CardCheckout, self.post(f"/subscriptions/{_segment(api_id)}/credits/checkout", {"packs": packs}))

    def credits(self, api_id: str) -> dict[str, Any]:
        """A prepaid subscription's credit: balance, grants, auto-reload."""
        return cast("dict[str, Any]", self.get(f"/subscriptions/{_segment(api_id)}/credits"))

    def set_auto_reload(self, api_id: str, *, enabled: bool, below_units: int | None = None) -> dict[str, Any]:
        """Turn auto-reload on (buy a pack with the saved card below ``below_units``, or the plan's mark) or off."""
        settings = {"enabled": enabled, **({"below_units": below_units} if below_units is not None else {})}
        path = f"/subscriptions/{_segment(api_id)}/credits/auto-reload"
        return cast("dict[str, Any]", self.put(path, settings))

    def subscriptions(self) -> list[Subscription]:
        return cast("list[Subscription]", self.get("/subscriptions"))

    def cancel_subscription(self, api_id: str) -> None:
        self.delete(f"/subscriptions/{_segment(api_id)}")

    def rotate_key(self, api_id: str) -> IssuedKey:
        return cast(IssuedKey, self.post(f"/subscriptions/{_segment(api_id)}/rotate", {}))

    def change_plan(self, api_id: str, plan: str) -> Subscription:
        return cast(Subscription, self.put(f"/subscriptions/{_segment(api_id)}/plan", {"plan": plan}))

    def subscription_usage(self, api_id: str) -> dict[str, Any]:
        return cast("dict[str, Any]", self.get(f"/subscriptions/{_segment(api_id)}/usage"))

    def alerts(self, api_id: str) -> Alerts:
        return cast(Alerts, self.get(f"/subscriptions/{_segment(api_id)}/alerts"))

    def set_alerts(self, api_id: str, alerts: AlertSettings) -> Alerts:
        """Replace the subscription's alert settings whole; the webhook's secret is in the answer when issued."""
        return cast(Alerts, self.put(f"/subscriptions/{_segment(api_id)}/alerts", dict(alerts)))

    def keys(self) -> list[ApiKey]:
        return cast("list[ApiKey]", self.get("/keys"))

    def add_key(self, api_id: str, name: str) -> IssuedKey:
        return cast(IssuedKey, self.post(f"/subscriptions/{_segment(api_id)}/keys", {"name": name}))

    def rotate_named_key(self, key_id: str, grace_seconds: int) -> IssuedKey:
        return cast(IssuedKey, self.post(f"/keys/{_segment(key_id)}/rotate", {"grace_seconds": grace_seconds}))

    def revoke_key(self, key_id: str) -> None:
        self.delete(f"/keys/{_segment(key_id)}")

    def invoices(self) -> list[dict[str, Any]]:
        """Your paid invoices, newest first, each with its Stripe link."""
        return cast("list[dict[str, Any]]", self.get("/invoices"))

    def calls(self, *, api_id: str | None = None, first: str | None = None, last: str | None = None) -> dict[str, Any]:
        """Your calls per UTC day, API and key (dates as ``YYYY-MM-DD``; the control plane checks them)."""
        return cast("dict[str, Any]", self.get("/usage/calls", api_id=api_id, **{"from": first, "to": last}))

    def calls_csv(self, *, api_id: str | None = None, first: str | None = None, last: str | None = None) -> str:
        """The same rows as :meth:`calls`, as the control plane's CSV."""
        return self.get_text("/usage/calls.csv", "text/csv", api_id=api_id, **{"from": first, "to": last})

    def review(self, api_id: str, stars: int, text: str = "") -> dict[str, Any]:
        return cast(
            "dict[str, Any]", self.post(f"/listings/{_segment(api_id)}/reviews", {"stars": stars, "text": text})
        )


def _segment(value: str) -> str:
    """A path segment: ids are validated by the API, but never let one reach another path."""
    return quote(value, safe="")


def _account(account_id: str, region: str) -> str:
    return f"/accounts/{_segment(account_id)}/{_segment(region)}"
