"""The shared HTTP client without a server: address rules, backoff maths, the burst limiter."""

from __future__ import annotations

import threading
import time

import pytest

from adapters.base import AdapterSettings
from adapters.errors import AddressError, TransientError
from adapters.http import (
    BurstLimiter,
    HttpClient,
    HttpOptions,
    backoff_delay,
    fingerprint,
    parse_retry_after,
    redact,
    refuse_address,
    shared_limiter,
    transient_for_status,
)
from adapters.types import Text
from adapters.xledger import TYPE as XLEDGER
from adapters.xledger import XledgerAdapter

PRODUCTION = AdapterSettings(connect_timeout=0.5, read_timeout=0.5, max_attempts=2)


def resolving_to(*ips: str):
    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return list(ips)

    resolver.calls = calls  # type: ignore[attr-defined]
    return resolver


def client(resolver=None, settings: AdapterSettings = PRODUCTION) -> HttpClient:
    options = HttpOptions(resolver=resolver or resolving_to("8.8.8.8"), sleep=lambda s: None)
    return HttpClient(XLEDGER, settings, options=options)


def ok(_response):
    return None


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/graphql",
        "https://[::1]/graphql",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.8/graphql",
        "https://localhost/graphql",
        "https://metadata.google.internal/",
        "http://www.xledger.net/graphql",
        "ftp://www.xledger.net/graphql",
        "https://www.xledger.net.evil.example/graphql",
        "https://evil.example/www.xledger.net/graphql",
        "https://user:pw@www.xledger.net/graphql",
        "https://www.xledger.net:8443/graphql",
    ],
)
def test_refuses_addresses_outside_the_allow_list(url: str) -> None:
    resolver = resolving_to("8.8.8.8")
    with pytest.raises(AddressError) as caught:
        client(resolver).request("POST", url, classify=ok)
    assert caught.value.message.nb and caught.value.message.en
    # Refused before any name lookup or connection.
    assert resolver.calls == []


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "2002:7f00:1::1",
        "64:ff9b::a9fe:a9fe",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    ],
)
def test_an_allowed_name_resolving_inside_is_refused_before_connecting(ip: str) -> None:
    resolver = resolving_to(ip)
    with pytest.raises(AddressError) as caught:
        client(resolver).request("POST", "https://www.xledger.net/graphql", classify=ok)
    assert caught.value.provider_code == "address"
    assert resolver.calls == ["www.xledger.net"]


def test_one_inside_address_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(AddressError):
        client(resolving_to("8.8.8.8", "127.0.0.1")).request(
            "POST", "https://www.xledger.net/graphql", classify=ok
        )


def test_the_probe_checks_addresses_too() -> None:
    with pytest.raises(AddressError):
        client(resolving_to("169.254.169.254")).probe("https://demo.xledger.net/graphql")


def test_test_connection_reports_a_refused_address_as_a_failed_check() -> None:
    adapter = XledgerAdapter(
        {"api_token": "secret-token-123", "environment": "production"},
        PRODUCTION,
        options=HttpOptions(resolver=resolving_to("127.0.0.1")),
    )
    results = adapter.test_connection()
    assert [r.status for r in results] == ["passed", "failed", "skipped", "skipped", "skipped"]
    assert results[1].provider_code == "address"


@pytest.mark.parametrize("ip", ["8.8.8.8", "2001:4860:4860::8888", "20.190.160.1"])
def test_public_addresses_pass(ip: str) -> None:
    refuse_address("www.xledger.net", ip)


def test_sandbox_host_may_be_loopback_but_not_link_local() -> None:
    refuse_address("127.0.0.1", "127.0.0.1", allow_local=True)
    refuse_address("sandbox", "10.0.0.5", allow_local=True)
    with pytest.raises(AddressError):
        refuse_address("sandbox", "169.254.169.254", allow_local=True)


def test_sandbox_rewrites_after_checking_the_real_host() -> None:
    http = client(settings=AdapterSettings(sandbox_url="http://127.0.0.1:9999/"))
    assert (
        http.check_url("https://www.xledger.net/graphql?x=1")
        == "http://127.0.0.1:9999/www.xledger.net/graphql?x=1"
    )
    with pytest.raises(AddressError):
        http.check_url("https://evil.example/graphql")
    with pytest.raises(AddressError):
        http.check_url("http://www.xledger.net/graphql")


def test_backoff_doubles_with_half_jitter() -> None:
    assert backoff_delay(1, 0.5, 0.0) == 0.25
    assert backoff_delay(1, 0.5, 1.0) == 0.5
    assert backoff_delay(2, 0.5, 0.0) == 0.5
    assert backoff_delay(3, 0.5, 0.5) == pytest.approx(1.5)
    assert backoff_delay(4, 1.0, 0.0) == 4.0


def test_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_burst_limiter_never_exceeds_its_limit_in_any_window() -> None:
    clock = FakeClock()
    limiter = BurstLimiter(19, 5.5, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(60):
        limiter.acquire()
        stamps.append(clock.now)
    for i, start in enumerate(stamps):
        assert sum(1 for s in stamps[i:] if s < start + 5.5) <= 19
    # The first 19 go at once; the rest wait for the window to move.
    assert stamps[18] == 0.0 and stamps[19] == pytest.approx(5.5)


def test_burst_limiter_is_thread_safe() -> None:
    # Real threads and the real clock: 4 threads × 5 calls through a limit of 5 per 0.2 s.
    limiter = BurstLimiter(5, 0.2)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    stamps.sort()
    assert len(stamps) == 20
    # Allow a little scheduling slack between acquiring and recording the time.
    for i, start in enumerate(stamps):
        assert sum(1 for s in stamps[i:] if s < start + 0.19) <= 5


def test_shared_limiter_is_one_per_fingerprint() -> None:
    a = shared_limiter(fingerprint("xledger", "token-a"), 19, 5.5)
    assert shared_limiter(fingerprint("xledger", "token-a"), 19, 5.5) is a
    assert shared_limiter(fingerprint("xledger", "token-b"), 19, 5.5) is not a


def test_fingerprint_hides_the_secret() -> None:
    secret = "demo-secret-Value~2026"
    value = fingerprint("tenant", "client", secret)
    assert secret not in value and len(value) == 32
    assert value == fingerprint("tenant", "client", secret)
    assert value != fingerprint("tenant", "client", secret + "x")


def test_redact_removes_every_secret() -> None:
    assert redact("token abc123xyz refused", ["abc123xyz"]) == "token *** refused"
    assert redact("nothing here", ["", "abc"]) == "nothing here"


def test_transient_statuses(sandbox_response) -> None:
    throttled = transient_for_status(sandbox_response(429, {"Retry-After": "3"}), "X")
    assert isinstance(throttled, TransientError) and throttled.retry_after == 3.0
    assert transient_for_status(sandbox_response(503, {}), "X").provider_code == "503"
    assert transient_for_status(sandbox_response(400, {}), "X") is None


@pytest.fixture
def sandbox_response():
    import requests

    def make(status: int, headers: dict[str, str]) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers)
        return response

    return make


def test_error_texts_are_bilingual() -> None:
    error = TransientError(Text("nb", "en"), provider_code="x")
    assert str(error) == "en" and "nb" not in repr(error)
