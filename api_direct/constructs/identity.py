"""Who may sign in to the control plane, and in which role: a Cognito user pool for people."""

from collections.abc import Sequence

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from constructs import Construct

from api_direct.contracts import CONSUMERS, CREATORS
from api_direct.constructs.acknowledgments import skip_checkov
from api_direct.constructs.runtime_function import RuntimeFunction
from api_direct.runtime.post_confirmation import ROLE_ATTRIBUTE

#: Cognito's scope in access tokens from its own API (InitiateAuth), as the CLI signs in. API
#: Gateway's Cognito authorizer takes an access token (not an ID token) only on a method
#: that requires a scope, so signed-in methods require this one.
USER_POOL_API_SCOPE = "aws.cognito.signin.user.admin"
_SYNCHRONOUS_TRIGGER = (
    "Cognito invokes the PostConfirmation trigger synchronously, within the user's confirmation call, and returns"
    " its error to that call; a dead-letter queue only ever receives failed asynchronous invocations."
)


class Identity(Construct):
    """A user pool where creators and consumers sign up with their email, and the CLI's client.

    People sign up themselves, choosing a role at sign-up in the immutable
    ``custom:role`` attribute; once their email is verified, a PostConfirmation
    trigger adds them to that role's group (one of ``roles``; any other value gets
    no group). The control plane authorizes by the groups in the access token, so a
    role cannot be changed or widened by editing the attribute.

    Passwords of at least 12 characters of every class; MFA optional, by
    authenticator app (TOTP) only: SMS is phishable and costs per message. Recovery
    by email only. By default the pool is retained and deletion-protected: it holds
    every account of the marketplace.

    ``app_client`` is for the ``apid`` CLI: a public client (no secret, which a
    CLI could not keep), signing in with USER_PASSWORD_AUTH over TLS, 1-hour access
    tokens, 30-day refresh tokens, no hosted-UI OAuth flows, and the same answer
    for unknown and known users. ``feature_plan=PLUS`` adds Cognito's threat
    protection (compromised-credential and risky sign-in checks, enforced) at a
    per-user cost. Cognito's own email sender allows few emails a day: pass
    ``email=UserPoolEmail.with_ses(...)`` in production.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        roles: Sequence[str] = (CREATORS, CONSUMERS),
        feature_plan: cognito.FeaturePlan = cognito.FeaturePlan.ESSENTIALS,
        email: cognito.UserPoolEmail | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        if not roles or any("," in role for role in roles):
            raise ValueError("Identity needs at least one role, and role names without commas")
        plus = feature_plan == cognito.FeaturePlan.PLUS
        self.user_pool = cognito.UserPool(
            self,
            "Users",
            self_sign_up_enabled=True,
            sign_in_aliases=cognito.SignInAliases(email=True),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            keep_original=cognito.KeepOriginalAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            custom_attributes={
                ROLE_ATTRIBUTE.removeprefix("custom:"): cognito.StringAttribute(min_len=1, max_len=32, mutable=False)
            },
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=feature_plan,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION if plus else None,
            email=email,
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
            removal_policy=removal_policy,
        )
        self.groups: dict[str, cognito.UserPoolGroup] = {
            role: cognito.UserPoolGroup(
                self,
                f"Group{role.title()}",
                user_pool=self.user_pool,
                group_name=role,
                description=f"Users who signed up as {role}",
            )
            for role in roles
        }
        self.post_confirmation_function = trigger = RuntimeFunction(
            self,
            "PostConfirmation",
            handler="post_confirmation.handler",
            description="Adds a newly confirmed user to the group of the role they signed up with",
            environment={"ROLE_GROUPS": ",".join(roles)},
            timeout=Duration.seconds(5),
        )
        skip_checkov(trigger, {"CKV_AWS_116": _SYNCHRONOUS_TRIGGER})
        self.user_pool.add_trigger(cognito.UserPoolOperation.POST_CONFIRMATION, trigger)
        # A policy of its own, not the function role's default one: the pool refers to the
        # function and the function depends on its default policy, so a grant there naming
        # the pool would be a dependency cycle.
        iam.Policy(
            self,
            "AddToRoleGroups",
            roles=[trigger.execution_role],
            statements=[
                iam.PolicyStatement(
                    actions=["cognito-idp:AdminAddUserToGroup"], resources=[self.user_pool.user_pool_arn]
                )
            ],
        )
        role_attribute = cognito.ClientAttributes().with_custom_attributes(ROLE_ATTRIBUTE)
        self.app_client = self.user_pool.add_client(
            "Cli",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_password=True),
            disable_o_auth=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            read_attributes=role_attribute.with_standard_attributes(email=True, email_verified=True),
            write_attributes=role_attribute.with_standard_attributes(email=True),
        )
        Validations.of(self.user_pool).acknowledge(
            Acknowledgment(
                id="AwsSolutions-COG2",
                reason="MFA is optional so that anyone can sign up from the CLI and start; every user can turn on"
                " TOTP, and the control plane's rights (publishing, keys) are per user, not administrative.",
            )
        )
        if not plus:
            Validations.of(self.user_pool).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-COG8",
                    reason="The Plus feature plan (threat protection) is billed per monthly active user with no"
                    " free tier; it is the operator's choice (Identity feature_plan=PLUS), and passwords are"
                    " already long and of every class.",
                )
            )
