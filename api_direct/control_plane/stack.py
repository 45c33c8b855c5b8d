"""The operator's stack: who signs in, and the service creators and consumers call."""

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from api_direct.constructs.control_plane_api import ControlPlaneApi
from api_direct.constructs.identity import Identity

STACK_NAME = "apid-control-plane"


class ControlPlaneStack(Stack):
    """Composes :class:`Identity` and :class:`ControlPlaneApi`; deployed once, in the operator's account.

    Its outputs are what a client needs to find and sign in to the control plane
    (all public: the app serves the same at ``GET /config``), and what the operator
    needs to connect Stripe: the ARN of the secret to put the keys in (never a key)
    and the webhook URL to register. The user pool, the table and the Stripe secret
    are retained if the stack is deleted: they hold every account, listing, key and
    payment setting of the marketplace.

    ``alert_sender`` (context ``apid:alert_sender`` in ``app.py``, see the operator docs) is the SES-verified address
    usage alerts are emailed from.
    """

    def __init__(self, scope: Construct, construct_id: str, *, alert_sender: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("stack_name", STACK_NAME)
        kwargs.setdefault(
            "description", "API-Direct control plane: identity, marketplace API, key and usage bus, billing"
        )
        super().__init__(scope, construct_id, **kwargs)
        self.identity = Identity(self, "Identity")
        self.api = ControlPlaneApi(
            self,
            "Service",
            user_pool=self.identity.user_pool,
            app_client=self.identity.app_client,
            alert_sender=alert_sender,
        )
        CfnOutput(self, "ApiUrl", value=self.api.url, description="Base URL of the control plane API")
        CfnOutput(self, "UserPoolId", value=self.identity.user_pool.user_pool_id)
        CfnOutput(
            self,
            "AppClientId",
            value=self.identity.app_client.user_pool_client_id,
            description="Public client the apid CLI signs in with",
        )
        CfnOutput(
            self, "EventBusArn", value=self.api.event_bus.event_bus_arn, description="Bus linked accounts send usage to"
        )
        CfnOutput(
            self,
            "StripeSecretArn",
            value=self.api.stripe_secret.secret_arn,
            description='Secret to put the Stripe keys in as {"api_key": "sk_live_...", "webhook_secret": "whsec_..."}',
        )
        CfnOutput(
            self,
            "StripeWebhookUrl",
            value=self.api.stripe_webhook_url,
            description="Endpoint to register in Stripe's dashboard; its signing secret goes in StripeSecretArn",
        )
