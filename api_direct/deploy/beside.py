"""Work started in a thread beside the synthesis, for the answer to be ready when the synthesis is.

A synthesis mostly waits on jsii's Node.js process; a deploy's first calls to AWS
(assuming the deploy role, loading the clients' service models, reading the stack)
mostly wait on the network. Side by side, the deploy starts on the account as soon
as its template is ready instead of after both.

Only work that changes nothing may go here: when the synthesis fails, its error is
the one reported, and the thread is left to end on its own (a daemon, so a hung
network never holds the command's exit).
"""

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")


def beside(work: Callable[[], T], *, name: str) -> Callable[[], T]:
    """Start ``work`` now; the call returned waits for its result, or raises its error, where it is read."""
    future: Future[T] = Future()
    future.set_running_or_notify_cancel()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as error:  # raised again in the thread that reads the result
            future.set_exception(error)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future.result
