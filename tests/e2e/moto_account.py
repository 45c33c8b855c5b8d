"""The account and region the end-to-end tests' moto server answers as."""

MOTO_ACCOUNT = "123456789012"
REGION = "us-east-1"
