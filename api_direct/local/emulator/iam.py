"""The patch to moto's IAM: a stack's managed policy goes with the stack.

Without it the link's permissions boundary outlives ``delete_stack`` and linking
again fails.
"""


def managed_policy_deleted_with_its_stack() -> None:
    """Deleting the stack deletes its ``AWS::IAM::ManagedPolicy``.

    moto's ``ManagedPolicy`` has no delete handler, so the link's permissions
    boundary outlives ``delete_stack`` and linking the account again fails with
    ``EntityAlreadyExists``; real CloudFormation deletes the policy. The patch
    removes it from moto's IAM backend, as ``DeletePolicy`` would.
    """
    from moto.iam.models import ManagedPolicy

    def delete(self: ManagedPolicy, account_id: str, region_name: str) -> None:
        self.backend.managed_policies.pop(self.arn, None)

    ManagedPolicy.delete = delete  # type: ignore[attr-defined]
