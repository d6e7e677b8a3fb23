"""The one HTTP client every adapter uses: allowed hosts only, bounded retries, no secrets out.

Why each rule exists:
- Adapters send bearer tokens and API keys, so a request may only go over HTTPS to a host the
  integration type allows. The check runs on the real host name, and the address actually
  connected to is checked again at connect time (after DNS), so that neither a DNS answer
  pointing inside our network nor a change of answer between check and connect reaches a
  private, loopback, link-local, multicast or reserved address. Redirects are never followed.
- `settings.sandbox_url` (development only, refused by the web app in production) sends
  `https://{host}/{path}` to `{sandbox}/{host}/{path}`; then the sandbox's own loopback or
  private address is allowed, and only that.
- Retries happen only for transient failures, are bounded in attempts and in time, and
  honour the provider's requested wait. A request that may have reached the provider (a read
  timeout on a mutation) is never repeated: the export job reconciles with `find_exported`.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import ipaddress
import logging
import random
import secrets as _secrets
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from adapters.base import AdapterSettings
from adapters.errors import AdapterError, AddressError, TransientError
from adapters.types import IntegrationType, Text

log = logging.getLogger(__name__)

# host, port → IP address strings. Injectable so that tests can make any name resolve anywhere.
Resolver = Callable[[str, int], list[str]]
# response → the typed error it means, or None when it is a success.
Classifier = Callable[[requests.Response], AdapterError | None]

USER_AGENT = "Ledgerlink/0.1 (+expense export)"
_FINGERPRINT_KEY = _secrets.token_bytes(32)


def fingerprint(*parts: str) -> str:
    """A stable, process-local name for a credential: usable as a dict key, useless if leaked.

    Keyed with a per-process random key so that a fingerprint in a dump or a log cannot be
    checked against guessed secrets offline.
    """
    digest = hmac.new(_FINGERPRINT_KEY, digestmod=hashlib.sha256)
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


def redact(text: str, secrets: Iterable[str]) -> str:
    """Provider text with every secret replaced by ***, for messages and logs."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _address_error(host: str, en: str, nb: str, code: str = "address") -> AddressError:
    return AddressError(
        Text(
            f"Ledgerlink nekter å koble til {host}: {nb}",
            f"Ledgerlink refuses to connect to {host}: {en}",
        ),
        provider_code=code,
    )


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def refuse_address(host: str, ip: str, *, allow_local: bool = False) -> None:
    """Raise AddressError unless `ip` is a public unicast address (or local when allowed)."""
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address):
        # IPv4 carried inside IPv6 (mapped, 6to4, NAT64) is judged as the IPv4 it carries.
        carried = address.ipv4_mapped or address.sixtofour
        if carried is not None:
            address = carried
        elif address in _NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        elif address.teredo:
            raise _address_error(
                host,
                "tunnelled addresses are not allowed.",
                "tunnelerte adresser er ikke tillatt.",
            )
    local = address.is_loopback or address.is_private
    if allow_local and local and not address.is_link_local:
        return
    if (
        local
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    ):
        raise _address_error(
            host,
            "the name points to an internal or reserved network address.",
            "navnet peker til en intern eller reservert nettverksadresse.",
        )


class AddressGuard:
    """Resolves a host and refuses it unless every address it resolves to is allowed."""

    def __init__(self, resolver: Resolver, local_hosts: Iterable[str] = ()) -> None:
        self.resolver = resolver
        # The sandbox host in development: its loopback/private address is allowed.
        self.local_hosts = {h.lower() for h in local_hosts}

    def resolve(self, host: str, port: int) -> list[str]:
        host = host.lower().rstrip(".")
        addresses = self.resolver(host, port)
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "no address")
        for ip in addresses:
            refuse_address(host, ip, allow_local=host in self.local_hosts)
        return addresses


class _GuardedConnectionMixin:
    """Connects only to addresses the guard approved, resolved at the moment of connecting."""

    guard: AddressGuard

    def _new_conn(self) -> socket.socket:
        conn: Any = self
        try:
            addresses = self.guard.resolve(conn._dns_host, conn.port)
        except socket.gaierror as e:
            raise NameResolutionError(conn.host, conn, e) from e
        try:
            return connect_any(
                addresses,
                conn.port,
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
        except TimeoutError as e:
            raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out.") from e
        except OSError as e:
            raise NewConnectionError(conn, f"Failed to establish a new connection: {e}") from e


def connect_any(addresses: list[str], port: int, timeout: Any, **options: Any) -> socket.socket:
    """Connect to the first of the checked addresses that answers (IPv6 may be unrouted)."""
    last: OSError | None = None
    for ip in addresses:
        try:
            return urllib3_connection.create_connection((ip, port), timeout, **options)
        except OSError as e:  # TimeoutError included: the next address may answer
            last = e
    raise last if last is not None else OSError("no address to connect to")


class _GuardedAdapter(HTTPAdapter):
    def __init__(self, guard: AddressGuard) -> None:
        self._guard = guard
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        guard = self._guard
        http_conn = type("GuardedHTTPConnection", (_GuardedConnectionMixin, HTTPConnection), {})
        https_conn = type("GuardedHTTPSConnection", (_GuardedConnectionMixin, HTTPSConnection), {})
        http_conn.guard = guard  # type: ignore[attr-defined]
        https_conn.guard = guard  # type: ignore[attr-defined]
        http_pool = type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn})
        https_pool = type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})
        self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}


class BurstLimiter:
    """At most `limit` requests in any `window` seconds, shared by every thread that uses it.

    A sliding log rather than a token bucket: Xledger's burst limit is "about 20 requests per
    5 s", and a bucket that can never exceed that in any window must either burst less or
    refill more slowly than this does, so a sequence of 30 calls would take twice as long.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait until one more request fits; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                while self._stamps and self._stamps[0] <= now - self.window:
                    self._stamps.popleft()
                if len(self._stamps) < self.limit:
                    self._stamps.append(now)
                    return waited
                wait = self._stamps[0] + self.window - now
            self.sleep(wait)
            waited += wait


_limiters: dict[str, BurstLimiter] = {}
_limiters_lock = threading.Lock()


def shared_limiter(key: str, limit: int, window: float) -> BurstLimiter:
    """The process-wide limiter for one credential (pass a `fingerprint`, never a secret)."""
    with _limiters_lock:
        limiter = _limiters.get(key)
        if limiter is None:
            limiter = _limiters[key] = BurstLimiter(limit, window)
        return limiter


def backoff_delay(attempt: int, base: float, jitter: float) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based): exponential, half jittered.

    `jitter` is a number in [0, 1); the delay lies between half and all of base·2^(n−1), so
    that clients failing together do not retry together.
    """
    full = base * (2 ** (attempt - 1))
    return full / 2 + full / 2 * jitter


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# Provider codes of answers that refuse a request before doing anything with it.
THROTTLE_CODES = frozenset(
    {
        "429",
        "BAD_REQUEST.BURST_RATE_LIMIT_REACHED",
        "BAD_REQUEST.CONCURRENCY_LIMIT_REACHED",
        "BAD_REQUEST.INSUFFICIENT_CREDITS",
    }
)

TIMEOUT = Text(
    "{system} svarte ikke i tide. Ledgerlink prøver igjen senere.",
    "{system} did not answer in time. Ledgerlink will try again later.",
)
UNREACHABLE = Text(
    "Fikk ikke kontakt med {system}. Sjekk at tjenesten er oppe; Ledgerlink prøver igjen senere.",
    "Could not reach {system}. Check that the service is up; Ledgerlink will try again later.",
)
NOT_FOUND_HOST = Text(
    "Fant ikke adressen {host}. Sjekk at adressen er skrevet riktig.",
    "The address {host} does not exist. Check that it is spelled correctly.",
)
TLS_FAILED = Text(
    "Den sikre forbindelsen til {system} kunne ikke bekreftes (TLS). Ingenting ble sendt.",
    "The secure connection to {system} could not be verified (TLS). Nothing was sent.",
)
SERVER_ERROR = Text(
    "{system} hadde en feil hos seg (HTTP {status}). Ledgerlink prøver igjen senere.",
    "{system} had an error on its side (HTTP {status}). Ledgerlink will try again later.",
)
THROTTLED = Text(
    "{system} ber Ledgerlink vente litt (for mange forespørsler). Ledgerlink prøver igjen senere.",
    "{system} asks Ledgerlink to slow down (too many requests). Ledgerlink will try again later.",
)


def transient_for_status(response: requests.Response, system: str) -> TransientError | None:
    """429 and 5xx, the HTTP statuses that are worth retrying whatever the provider."""
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 429:
        return TransientError(
            THROTTLED.format(system=system), provider_code="429", retry_after=retry_after
        )
    if status >= 500:
        return TransientError(
            SERVER_ERROR.format(system=system, status=status),
            provider_code=str(status),
            retry_after=retry_after,
        )
    return None


@dataclass(frozen=True)
class HttpOptions:
    """What tests replace: name resolution, sleeping, the clock and the retry jitter."""

    resolver: Resolver = system_resolver
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    jitter: Callable[[], float] = random.random


class HttpClient:
    """HTTP for one adapter instance: one session, the type's hosts, retries, limits."""

    def __init__(
        self,
        integration_type: IntegrationType,
        settings: AdapterSettings,
        *,
        secrets: Iterable[str] = (),
        options: HttpOptions | None = None,
    ) -> None:
        options = options or HttpOptions()
        self.options = options
        self.type = integration_type
        self.settings = settings
        self.system = integration_type.name.en
        self.secrets = tuple(s for s in secrets if s)
        self.sleep = options.sleep
        self.clock = options.clock
        self.jitter = options.jitter
        self.sandbox = settings.sandbox_url.rstrip("/") if settings.sandbox_url else None
        local = [urlsplit(self.sandbox).hostname or ""] if self.sandbox else []
        self.guard = AddressGuard(options.resolver, local)
        self.session = requests.Session()
        # No proxies, .netrc or CA bundles from the environment: they could add credentials or
        # send our tokens somewhere else.
        self.session.trust_env = False
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.mount("https://", _GuardedAdapter(self.guard))
        self.session.mount("http://", _GuardedAdapter(self.guard))

    def __repr__(self) -> str:
        return f"<HttpClient {self.type.key}{' sandbox' if self.sandbox else ''}>"

    def close(self) -> None:
        self.session.close()

    # -- addresses -------------------------------------------------------------------------

    def check_url(self, url: str) -> str:
        """Validate a provider URL and return the URL to connect to (sandbox-rewritten)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        if parts.scheme != "https":
            raise _address_error(
                host or url,
                "only encrypted https:// addresses are allowed.",
                "bare krypterte https://-adresser er tillatt.",
            )
        if parts.username or parts.password or parts.port not in (None, 443):
            raise _address_error(
                host,
                "the address may not carry a user name or a port.",
                "adressen kan ikke ha brukernavn eller port.",
            )
        if _is_ip_literal(host):
            raise _address_error(
                host,
                "IP addresses are not allowed, only the system's own host name.",
                "IP-adresser er ikke tillatt, bare systemets eget vertsnavn.",
            )
        if not self.type.host_allowed(host):
            raise _address_error(
                host,
                f"it is not one of {self.system}'s addresses.",
                f"det er ikke en av adressene til {self.system}.",
                code="host_not_allowed",
            )
        if not self.sandbox:
            return url
        rewritten = f"{self.sandbox}/{host}{parts.path or '/'}"
        return f"{rewritten}?{parts.query}" if parts.query else rewritten

    def probe(self, url: str) -> None:
        """Open and close a TCP (and TLS) connection to the host `url` would use."""
        target = urlsplit(self.check_url(url))
        host = target.hostname or ""
        port = target.port or (443 if target.scheme == "https" else 80)
        timeout = self.settings.connect_timeout
        try:
            addresses = self.guard.resolve(host, port)
        except socket.gaierror as e:
            raise TransientError(
                NOT_FOUND_HOST.format(host=urlsplit(url).hostname), provider_code="dns"
            ) from e
        try:
            sock = connect_any(addresses, port, timeout)
        except TimeoutError as e:
            raise TransientError(TIMEOUT.format(system=self.system), provider_code="timeout") from e
        except OSError as e:
            raise TransientError(
                UNREACHABLE.format(system=self.system), provider_code="connect"
            ) from e
        with sock:
            if target.scheme == "https":
                self._handshake(sock, host)

    def _handshake(self, sock: socket.socket, host: str) -> None:
        context = ssl.create_default_context()
        try:
            with context.wrap_socket(sock, server_hostname=host):
                pass
        except (ssl.SSLError, ssl.CertificateError) as e:
            raise TransientError(TLS_FAILED.format(system=self.system), provider_code="tls") from e
        except OSError as e:
            raise TransientError(
                UNREACHABLE.format(system=self.system), provider_code="connect"
            ) from e

    # -- requests --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        classify: Classifier,
        idempotent: bool = True,
        limiter: BurstLimiter | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        data: Mapping[str, str] | bytes | None = None,
    ) -> requests.Response:
        """Send one request with bounded retries; return the response `classify` accepts.

        `data` is form fields, or a body already encoded (bytes, sent as it is).

        Raises the typed error `classify` (or the transport) produced once retrying is over.
        """
        target = self.check_url(url)
        start = self.clock()
        attempt = 0
        while True:
            attempt += 1
            if limiter is not None:
                limiter.acquire()
            response, failure, may_have_arrived = self._attempt(
                method, url, target, classify, headers=headers, json=json, data=data
            )
            if failure is None:
                assert response is not None
                return response
            if not self._worth_retrying(failure, idempotent, may_have_arrived, attempt):
                raise failure
            wait = max(
                backoff_delay(attempt, self.settings.backoff_base, self.jitter()),
                failure.retry_after or 0.0,
            )
            if self.clock() - start + wait > self.settings.max_retry_seconds:
                failure.retry_after = wait
                raise failure
            log.info(
                "%s %s: %s, retry %d in %.2fs",
                method,
                _loggable(url),
                failure.provider_code,
                attempt,
                wait,
            )
            self.sleep(wait)

    def _worth_retrying(
        self, failure: AdapterError, idempotent: bool, may_have_arrived: bool, attempt: int
    ) -> bool:
        if not isinstance(failure, TransientError) or attempt >= self.settings.max_attempts:
            return False
        if failure.provider_code == "tls":
            return False
        # A throttled request was turned away before any work was done, whatever its method.
        refused_unprocessed = failure.provider_code in THROTTLE_CODES
        return idempotent or not may_have_arrived or refused_unprocessed

    def _attempt(
        self,
        method: str,
        url: str,
        target: str,
        classify: Classifier,
        **kwargs: Any,
    ) -> tuple[requests.Response | None, AdapterError | None, bool]:
        """One try: (response, its failure or None, whether the request may have arrived)."""
        try:
            response = self.session.request(
                method,
                target,
                timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                allow_redirects=False,
                **kwargs,
            )
        except requests.RequestException as e:
            failure, arrived = self._transport_failure(url, e)
            return None, failure, arrived
        log.debug("%s %s → %s", method, _loggable(url), response.status_code)
        if 300 <= response.status_code < 400:
            raise self._redirect_error(url, response)
        return response, classify(response), True

    def _transport_failure(
        self, url: str, error: requests.RequestException
    ) -> tuple[TransientError, bool]:
        system = self.system
        if isinstance(error, requests.ConnectTimeout):
            return TransientError(TIMEOUT.format(system=system), provider_code="timeout"), False
        if isinstance(error, requests.Timeout):
            return TransientError(TIMEOUT.format(system=system), provider_code="timeout"), True
        if isinstance(error, requests.exceptions.SSLError):
            return TransientError(TLS_FAILED.format(system=system), provider_code="tls"), False
        reason = getattr(error.args[0], "reason", None) if error.args else None
        if isinstance(reason, NameResolutionError):
            host = urlsplit(url).hostname or ""
            return TransientError(NOT_FOUND_HOST.format(host=host), provider_code="dns"), False
        # A refused or unreachable connection never carried the request; anything else
        # (a reset mid-answer) may have.
        arrived = not isinstance(reason, NewConnectionError)
        unreachable = TransientError(UNREACHABLE.format(system=system), provider_code="connect")
        return unreachable, arrived

    def _redirect_error(self, url: str, response: requests.Response) -> AddressError:
        location = response.headers.get("Location", "")
        if self.sandbox and location.startswith(self.sandbox + "/"):
            location = "https://" + location[len(self.sandbox) + 1 :]
        target = urlsplit(urljoin(url, location))
        host = (target.hostname or "").lower()
        here = (urlsplit(url).hostname or "").lower()
        if host and host != here:
            return _address_error(
                here,
                f"it tried to send Ledgerlink on to another address ({host}).",
                f"den prøvde å sende Ledgerlink videre til en annen adresse ({host}).",
                code="redirect",
            )
        return _address_error(
            here,
            "it answered with a redirect, which Ledgerlink does not follow.",
            "den svarte med en omdirigering, som Ledgerlink ikke følger.",
            code="redirect",
        )


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _loggable(url: str) -> str:
    # Host and path only: query strings carry filter values we have no reason to log.
    parts = urlsplit(url)
    return f"{parts.hostname}{parts.path}"
