"""The fake as a test holds it: every resource in one object, served on a loopback port."""

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer

from api_direct.local.stripe_server.checkout import Checkout
from api_direct.local.stripe_server.clock import Clock
from api_direct.local.stripe_server.connect import Connect
from api_direct.local.stripe_server.disputes import Disputes
from api_direct.local.stripe_server.server import Server, _Handler

HOST = "127.0.0.1"


class StripeFake(Server, Checkout, Connect, Clock, Disputes):
    """A running fake: where it listens, the key it accepts, and hooks for tests.

    Each resource's endpoints and test hooks live in its own module (:mod:`.customers`,
    :mod:`.prices`, :mod:`.subscriptions`, :mod:`.payment_methods`, :mod:`.checkout`,
    :mod:`.payment_intents`, :mod:`.connect`, :mod:`.webhooks`, :mod:`.clock`, :mod:`.disputes`); this
    class puts them in one object. Every state read returns
    copies, so a test cannot change the fake by accident.
    """


@contextmanager
def running_stripe_fake() -> Iterator[StripeFake]:
    """Serve a fresh fake on a free loopback port for the length of the block."""
    server = ThreadingHTTPServer((HOST, 0), _Handler)
    server.daemon_threads = True
    fake = StripeFake(base_url=f"http://{HOST}:{server.server_address[1]}", api_key=f"sk_test_{secrets.token_hex(12)}")
    server.fake = fake  # type: ignore[attr-defined]
    # A short poll keeps shutdown, paid once per test, well under serve_forever's default half second.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="stripe-fake", daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        fake._stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()
