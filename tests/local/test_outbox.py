"""The emulator's SES outbox: what SendEmail accepted, read back from the server (moto-api), and nothing it refused."""

import boto3
import pytest
from botocore.exceptions import ClientError

from api_direct.local.emulator import running_moto_server, sent_emails

CONTENT = {"Simple": {"Subject": {"Data": "80% used"}, "Body": {"Text": {"Data": "You made 800 calls"}}}}


def test_sent_emails_are_read_back_and_unverified_senders_refused() -> None:
    with running_moto_server() as endpoint:
        kwargs = {"endpoint_url": endpoint, "region_name": "us-east-1"}
        kwargs |= {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
        ses = boto3.client("sesv2", **kwargs)
        with pytest.raises(ClientError, match="not verified"):
            ses.send_email(
                FromEmailAddress="alerts@m.example", Destination={"ToAddresses": ["c@x.example"]}, Content=CONTENT
            )
        boto3.client("ses", **kwargs).verify_email_identity(EmailAddress="alerts@m.example")
        ses.send_email(
            FromEmailAddress="alerts@m.example", Destination={"ToAddresses": ["c@x.example"]}, Content=CONTENT
        )
        [sent] = sent_emails(endpoint)
    assert (sent.source, sent.to, sent.subject, sent.body) == (
        "alerts@m.example",
        ("c@x.example",),
        "80% used",
        "You made 800 calls",
    )
