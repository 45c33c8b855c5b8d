"""The typed client: each operation is one verb on one path of the control plane's API, with the API's body."""

from typing import Any

import pytest

from api_direct.client.control_plane import ControlPlane


class Recording(ControlPlane):
    """Records each call instead of sending it; answers ``None``."""

    def __init__(self) -> None:
        super().__init__("https://cp.example.com/v1")
        self.calls: list[tuple[str, str, Any]] = []

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        self.calls.append((method, path, body))


@pytest.mark.parametrize(
    ("operation", "call"),
    [
        (lambda c: c.config(), ("GET", "/config", None)),
        (lambda c: c.search_listings("weather", limit=5), ("GET", "/listings?q=weather&limit=5", None)),
        (lambda c: c.listing("weather"), ("GET", "/listings/weather", None)),
        (lambda c: c.reviews("weather", limit=2), ("GET", "/listings/weather/reviews?limit=2", None)),
        (
            lambda c: c.register_account("111122223333", "eu-west-1"),
            ("POST", "/accounts", {"account_id": "111122223333", "region": "eu-west-1"}),
        ),
        (
            lambda c: c.confirm_account(
                "111122223333", "eu-west-1", deploy_role_arn="d", execution_role_arn="e", asset_bucket="b"
            ),
            (
                "PUT",
                "/accounts/111122223333/eu-west-1",
                {"deploy_role_arn": "d", "execution_role_arn": "e", "asset_bucket": "b"},
            ),
        ),
        (lambda c: c.accounts(), ("GET", "/accounts", None)),
        (lambda c: c.unlink_account("111122223333", "eu-west-1"), ("DELETE", "/accounts/111122223333/eu-west-1", None)),
        (
            lambda c: c.deploy_credentials("111122223333", "eu-west-1", "deploying"),
            ("POST", "/accounts/111122223333/eu-west-1/credentials", {"purpose": "deploying"}),
        ),
        (lambda c: c.record_deployment({"api_id": "weather"}), ("POST", "/deployments", {"api_id": "weather"})),
        (lambda c: c.deployments("weather"), ("GET", "/deployments?api_id=weather", None)),
        (lambda c: c.put_listing("weather", {"name": "W"}), ("PUT", "/listings/weather", {"name": "W"})),
        (lambda c: c.usage("weather", days=7), ("GET", "/usage?api_id=weather&days=7", None)),
        (lambda c: c.payout_account(), ("POST", "/payouts/account", {})),
        (
            lambda c: c.payout_account(return_url="https://x.example/done"),
            ("POST", "/payouts/account", {"return_url": "https://x.example/done"}),
        ),
        (lambda c: c.earnings(), ("GET", "/earnings", None)),
        (
            lambda c: c.subscribe("weather", "pro"),
            ("POST", "/subscriptions", {"api_id": "weather", "plan": "pro"}),
        ),
        (lambda c: c.subscriptions(), ("GET", "/subscriptions", None)),
        (lambda c: c.cancel_subscription("weather"), ("DELETE", "/subscriptions/weather", None)),
        (lambda c: c.rotate_key("weather"), ("POST", "/subscriptions/weather/rotate", {})),
        (lambda c: c.change_plan("weather", "pro"), ("PUT", "/subscriptions/weather/plan", {"plan": "pro"})),
        (lambda c: c.subscription_usage("weather"), ("GET", "/subscriptions/weather/usage", None)),
        (lambda c: c.keys(), ("GET", "/keys", None)),
        (lambda c: c.revoke_key("k_1"), ("DELETE", "/keys/k_1", None)),
        (lambda c: c.invoices(), ("GET", "/invoices", None)),
        (
            lambda c: c.review("weather", 5, "good"),
            ("POST", "/listings/weather/reviews", {"stars": 5, "text": "good"}),
        ),
    ],
)
def test_each_operation_is_one_call(operation: Any, call: tuple[str, str, Any]) -> None:
    client = Recording()
    operation(client)
    assert client.calls == [call]


def test_an_id_never_reaches_another_path() -> None:
    client = Recording()
    client.revoke_key("../accounts/1")
    assert client.calls == [("DELETE", "/keys/..%2Faccounts%2F1", None)]
