"""Work beside the synthesis: its answer where it is read, its error there too, and never holding the exit."""

import threading

import pytest

from api_direct.deploy.beside import beside
from api_direct.errors import AccessError


def test_the_answer_is_read_where_it_is_needed() -> None:
    release = threading.Event()

    def slow() -> str:
        release.wait(10)
        return "stack"

    result = beside(slow, name="test")
    release.set()
    assert result() == "stack"


def test_its_error_is_raised_where_the_answer_is_read() -> None:
    def refused() -> None:
        raise AccessError("could not assume the deploy role")

    result = beside(refused, name="test")
    with pytest.raises(AccessError, match="deploy role"):
        result()


def test_a_hung_call_never_holds_the_exit() -> None:
    stop = threading.Event()
    beside(lambda: stop.wait(30), name="apid test hung")
    [thread] = [t for t in threading.enumerate() if t.name == "apid test hung"]
    assert thread.daemon
    stop.set()
