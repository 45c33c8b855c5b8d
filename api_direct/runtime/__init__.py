"""Lambda handler code the constructs deploy.

Imports nothing from aws_cdk: it runs in Lambda with only boto3 and aws-lambda-powertools.
"""
