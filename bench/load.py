"""Load held: concurrent clients against the kept sandbox, on loopback; every call counted once after delivery.

    .venv/bin/python -m bench.load [clients] [seconds]

``apid sandbox --keep``'s own machinery (:func:`run_sandbox` with a ``keep`` that
runs the load) deploys the example and leaves it live: the served API (API
Gateway's part played by :class:`~api_direct.local.rest_api.LocalRestApi`: the
deployed authorizer, then the app, then the access-log line), the control plane app
under uvicorn, and the delivery of access logs to the usage forwarder and the
aggregator. Then, for ``seconds`` each:

1. ``clients`` threads call the served API with the consumer's key (the app's first
   sample call), one request after another; once they stop, delivery runs until
   the consumer's calls in the control plane (``GET /usage/calls``: the hourly
   counters billing reads) have grown by the calls made, then once more, which must
   add nothing;
2. ``clients`` consumers, signed up for the run and signed in on the web pages,
   each go round search, the API's page, subscribing (the free plan: a key issued),
   their dashboard and cancelling (the key revoked), one request after another.

Every answer must be a success (2xx, or a page's 303): anything else, or no answer,
is an error, reported with its status. The kept gateway runs one request at a
time, as ``apid sandbox --keep`` does (its functions share the process's
environment), so the served API's throughput is one worker's; the control plane
app is uvicorn's. Latencies are the clients', on loopback.
"""

import contextlib
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from api_direct.cli.sandbox import EXAMPLE
from api_direct.client import sign_in
from api_direct.deploy.executor import Observer, SilentObserver
from api_direct.local.sandbox import Endpoints, run_sandbox
from bench.figures import Figure

CLIENTS = 8
SECONDS = 10.0
#: Calls the sandbox's story makes before it is kept: the fewest that check its money still adds up.
STORY_CALLS = 20
#: How long delivery may take to count the load's calls before the run says they were not all counted.
DELIVERY_SECONDS = 120.0
API = "weather-api"
#: Answers that are a success: a page's form answers with a redirect to the next page.
SUCCESS = frozenset({200, 201, 204, 303})


class QuietNarrator:
    """The sandbox's story, untold: the figures are the bench's output."""

    observer: Observer = SilentObserver()

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        yield

    def detail(self, text: str) -> None:
        pass


@dataclass
class Load:
    """What the clients of one load saw: each request's latency, the answers by status, failures by kind."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    by_step: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, step: str, started: float, answer: int | str) -> None:
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latencies.append(elapsed)
            self.by_step.setdefault(step, []).append(elapsed)
            self.statuses[f"{step} {answer}" if answer not in SUCCESS else "ok"] += 1

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def errors(self) -> int:
        return self.requests - self.statuses["ok"]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile_ms(self, percent: int, latencies: list[float] | None = None) -> float:
        """The latency under which ``percent`` % of the requests answered, in ms (a single request's own)."""
        data = latencies or self.latencies
        if len(data) < 2:
            return sum(data) * 1000
        return statistics.quantiles(data, n=100, method="inclusive")[percent - 1] * 1000

    def error_text(self) -> str:
        failed = sorted((name, n) for name, n in self.statuses.items() if name != "ok")
        return ", ".join(f"{name}: {n}" for name, n in failed) or "none"


def run_clients(clients: int, seconds: float, client: Callable[[int, float, Load], None]) -> Load:
    """``client(number, deadline, load)`` on ``clients`` threads at once until the deadline; what they saw."""
    load = Load()
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def run(number: int) -> None:
        start.wait()
        client(number, deadline[0], load)

    threads = [threading.Thread(target=run, args=(n,), name=f"load-{n}", daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    started = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    load.seconds = time.perf_counter() - started
    return load


def timed(load: Load, step: str, request: Callable[[], httpx.Response]) -> httpx.Response | None:
    """The answer to ``request``, recorded under ``step``; ``None`` when there was none (recorded as an error)."""
    started = time.perf_counter()
    try:
        response = request()
    except httpx.HTTPError as error:
        load.record(step, started, type(error).__name__)
        return None
    load.record(step, started, response.status_code)
    return response


def served_api_client(endpoints: Endpoints) -> Callable[[int, float, Load], None]:
    """A client calling the served API's first sample call with the consumer's key until the deadline."""
    sample = endpoints.sample
    url = f"{endpoints.gateway}{sample.path}"
    headers = {"x-api-key": endpoints.consumer_key, **dict(sample.headers)}

    def call(_: int, deadline: float, load: Load) -> None:
        with httpx.Client(timeout=30) as http:
            while time.perf_counter() < deadline:
                timed(
                    load,
                    sample.operation,
                    lambda: http.request(
                        sample.method, url, params=sample.query or None, content=sample.body, headers=headers
                    ),
                )

    return call


def consumer_calls(endpoints: Endpoints) -> Callable[[], int]:
    """The consumer's calls of the API as the control plane counts them (``GET /usage/calls``, today and tomorrow:
    the kept sandbox's calls count in the first hour its story left open)."""
    session = sign_in.login(
        endpoints.control_plane, endpoints.users[1], endpoints.password, endpoint_url=endpoints.aws, mfa_code=lambda: ""
    )
    client = sign_in.client_for(session, endpoint_url=endpoints.aws)

    def calls() -> int:
        today = datetime.now(UTC).date()
        return int(
            client.calls(api_id=API, first=today.isoformat(), last=(today + timedelta(days=1)).isoformat())["calls"]
        )

    return calls


@dataclass(frozen=True)
class Counted:
    made: int
    counted: int
    #: What one more delivery added after the calls were all counted: must be 0.
    counted_again: int
    delivery_seconds: float


def count_after_delivery(endpoints: Endpoints, calls: Callable[[], int], before: int, made: int) -> Counted:
    """Deliver until the control plane counts ``made`` more calls than ``before`` (or time is up), then once more."""
    started = time.monotonic()
    counted = calls() - before
    while counted < made and time.monotonic() - started < DELIVERY_SECONDS:
        endpoints.deliver()
        counted = calls() - before
    seconds = time.monotonic() - started
    endpoints.deliver()
    return Counted(made, counted, calls() - before - counted, seconds)


def marketplace_client(endpoints: Endpoints, emails: list[str]) -> Callable[[int, float, Load], None]:
    """A consumer going round search, the API's page, subscribing, the dashboard and cancelling until the deadline."""
    web = endpoints.marketplace.rstrip("/")
    origin = {"origin": endpoints.control_plane}

    def browse(number: int, deadline: float, load: Load) -> None:
        with httpx.Client(timeout=30, headers=origin) as http:
            started = time.perf_counter()
            signed = http.post(f"{web}/sign-in", data={"username": emails[number], "password": endpoints.password})
            load.record("sign-in", started, signed.status_code if http.cookies else f"{signed.status_code} no session")
            if not http.cookies:
                return
            while time.perf_counter() < deadline:
                timed(load, "search", lambda: http.get(f"{web}/", params={"q": "weather"}))
                timed(load, "API page", lambda: http.get(f"{web}/apis/{API}"))
                timed(load, "subscribe", lambda: http.post(f"{web}/apis/{API}/subscribe", data={"plan": "free"}))
                timed(load, "dashboard", lambda: http.get(f"{web}/dashboard"))
                timed(load, "cancel", lambda: http.post(f"{web}/dashboard/{API}/cancel", data={}))

    return browse


@dataclass
class Results:
    api: Load | None = None
    counted: Counted | None = None
    marketplace: Load | None = None
    setup_seconds: float = 0.0


def load_kept(endpoints: Endpoints, clients: int, seconds: float, results: Results) -> None:
    """The two loads against the kept sandbox, one after the other (cancelling would revoke the story's key)."""
    calls = consumer_calls(endpoints)
    endpoints.deliver()
    before = calls()
    results.api = run_clients(clients, seconds, served_api_client(endpoints))
    results.counted = count_after_delivery(endpoints, calls, before, results.api.requests)
    assert endpoints.sign_up is not None
    emails = [f"load-{n}@sandbox.example" for n in range(clients)]
    for email in emails:
        endpoints.sign_up(email, "consumers")
    results.marketplace = run_clients(clients, seconds, marketplace_client(endpoints, emails))


def measure(clients: int = CLIENTS, seconds: float = SECONDS) -> list[Figure]:
    results = Results()
    started = time.monotonic()

    def keep(endpoints: Endpoints) -> None:
        results.setup_seconds = time.monotonic() - started
        load_kept(endpoints, clients, seconds, results)

    summary = run_sandbox(EXAMPLE, QuietNarrator(), calls=STORY_CALLS, keep=keep)
    api, counted, marketplace = results.api, results.counted, results.marketplace
    assert api is not None and counted is not None and marketplace is not None
    shape = f"{clients} clients x {seconds:g} s"
    exact = counted.counted == counted.made and counted.counted_again == 0
    steps = ", ".join(
        f"{step} {marketplace.percentile_ms(50, times):.0f}/{marketplace.percentile_ms(99, times):.0f}"
        for step, times in marketplace.by_step.items()
    )
    return [
        Figure(
            f"load: served API (authorizer + app through the local gateway), {shape}",
            "requests/s",
            api.throughput,
            None,
            "no peer",
            "errors 0",
            api.errors == 0,
            f"{api.requests:,} requests, errors {api.errors} "
            f"({api.error_text()}); p50 {api.percentile_ms(50):.1f} ms, p99 {api.percentile_ms(99):.1f} ms; the kept "
            "gateway runs one request at a time (its functions share the process), so this is one worker's rate; "
            f"the sandbox was up in {results.setup_seconds:.0f} s, its story's numbers "
            + ("matched" if summary.ok else "did NOT match"),
        ),
        Figure(
            f"load: served API p99, {shape}",
            "ms",
            api.percentile_ms(99),
            None,
            "no peer",
            "measured (no target)",
            True,
            f"p50 {api.percentile_ms(50):.1f} ms; latency as the clients saw it, queueing behind the other clients "
            "included",
        ),
        Figure(
            "load: served API calls counted by the control plane after delivery",
            "calls",
            float(counted.counted),
            float(counted.made),
            "calls made",
            "= 1x, nothing more on another delivery",
            exact,
            f"the consumer's calls (GET /usage/calls: the hourly counters billing reads) grew by {counted.counted:,} "
            f"for {counted.made:,} made, within {counted.delivery_seconds:.1f} s of delivery (access log -> usage "
            f"forwarder -> EventBridge -> SQS -> aggregator); one more delivery added {counted.counted_again}",
        ),
        Figure(
            f"load: control plane pages (search, API page, subscribe, dashboard, cancel), {shape}",
            "requests/s",
            marketplace.throughput,
            None,
            "no peer",
            "errors 0",
            marketplace.errors == 0,
            f"{marketplace.requests:,} requests by {clients} consumers signed in on the web pages, errors "
            f"{marketplace.errors} ({marketplace.error_text()}); p50 {marketplace.percentile_ms(50):.0f} ms, p99 "
            f"{marketplace.percentile_ms(99):.0f} ms; per page p50/p99 ms: {steps}; uvicorn, one process",
        ),
    ]


if __name__ == "__main__":
    from bench.figures import table

    arguments: list[Any] = sys.argv[1:]
    print(
        table(
            measure(int(arguments[0]) if arguments else CLIENTS, float(arguments[1]) if len(arguments) > 1 else SECONDS)
        )
    )
