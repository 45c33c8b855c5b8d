"""Lifecycle tests publish weather-api themselves (plans of their own): its account's key bus is there first."""

from collections.abc import Callable
from typing import Any

import pytest

from tests.control_plane.marketplace import EventLog, creator_key_bus


@pytest.fixture(autouse=True)
def key_bus(aws: Callable[[str], Any]) -> EventLog:
    return creator_key_bus()
