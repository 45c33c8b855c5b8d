"""Puts the project folder on sys.path so its tests import `weather` as the Lambda handler does."""
