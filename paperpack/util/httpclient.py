"""HTTP for DOI services and data downloads: one configuration, one polite client.

:class:`ServiceConfig` holds the base URLs of the services paperpack talks to (the
DOI handle API, DataCite, Crossref, a Zenodo-style records API), timeouts, retries
and the contact address sent in the User-Agent. Every value can come from the
environment (:meth:`ServiceConfig.from_env`), so a mirror or a test server on
loopback can stand in for the real services.

:class:`HttpClient` retries 429 and 5xx answers with exponential backoff, honouring
``Retry-After``; a host that cannot be reached at all (DNS failure, connection
refused) is remembered and not tried again in the same run, so an offline machine
fails fast instead of waiting on every DOI.
"""

from __future__ import annotations

import email.utils
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from .._version import __version__
from ..errors import UnsafeUrlError
from .services import NetworkError, ServiceConfig, ServiceTimeout, ServiceUnreachable
from .urlpolicy import UrlPolicy

__all__ = [
    "ServiceConfig",
    "HttpClient",
    "NetworkError",
    "ServiceUnreachable",
    "ServiceTimeout",
    "user_agent",
    "RETRY_STATUSES",
]

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def user_agent(contact: str = "") -> str:
    """``paperpack/<version> (+https://github.com/paperpack/paperpack; mailto:<contact>)``."""
    mail = f"; mailto:{contact}" if contact else ""
    return f"paperpack/{__version__} (+https://github.com/paperpack/paperpack{mail})"


def _retry_after(value: str | None, fallback: float, cap: float) -> float:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return min(fallback, cap)
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):  # neither seconds nor a date: use our own backoff
            seconds = fallback
    return max(0.0, min(seconds, cap))


REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def _connect_checked(conn: HTTPConnection, policy: UrlPolicy) -> socket.socket:
    """Resolve ``conn``'s host once, check every address with ``policy``, connect to a checked one.

    Connecting to the very addresses that were checked (not to the name again) means a
    second DNS answer cannot send the connection elsewhere. :class:`UnsafeUrlError` is not
    an ``OSError``, so urllib3 and requests let it through unchanged.
    """
    port = conn.port or conn.default_port
    try:
        addresses = policy.addresses(conn.host, port)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    error: Exception = NewConnectionError(conn, f"Failed to establish a new connection: {conn.host} has no address")
    for address in addresses:
        try:
            return create_connection(
                (address, port), conn.timeout, source_address=conn.source_address, socket_options=conn.socket_options
            )
        except TimeoutError as exc:
            error = ConnectTimeoutError(conn, f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})")
            error.__cause__ = exc
        except OSError as exc:
            error = NewConnectionError(conn, f"Failed to establish a new connection: {exc}")
            error.__cause__ = exc
    raise error


class _CheckedHTTPConnection(HTTPConnection):
    policy = UrlPolicy()

    def _new_conn(self) -> socket.socket:
        return _connect_checked(self, self.policy)


class _CheckedHTTPSConnection(HTTPSConnection):
    policy = UrlPolicy()

    def _new_conn(self) -> socket.socket:
        return _connect_checked(self, self.policy)


class _CheckedAdapter(HTTPAdapter):
    """An adapter whose direct connections go only where ``policy`` allows (see :func:`_connect_checked`)."""

    def __init__(self, policy: UrlPolicy, **kwargs: Any) -> None:
        self._policy = policy  # before HTTPAdapter.__init__, which calls init_poolmanager
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        bound = {"policy": self._policy}
        http = type("CheckedHTTPConnection", (_CheckedHTTPConnection,), bound)
        https = type("CheckedHTTPSConnection", (_CheckedHTTPSConnection,), bound)
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("CheckedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("CheckedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }


class HttpClient:
    """A thread-safe GET with retries; one :class:`requests.Session` per thread (and per trust level)."""

    def __init__(self, config: ServiceConfig | None = None) -> None:
        self.config = config or ServiceConfig.from_env()
        self._local = threading.local()
        self._down: dict[str, str] = {}
        self._lock = threading.Lock()
        self._proxy_cache: dict[str, dict[str, str]] = {}
        self._sessions: list[requests.Session] = []
        self.sleep = time.sleep

    def _new_session(self, adapter: HTTPAdapter) -> requests.Session:
        s = requests.Session()
        s.mount("http://", adapter)
        s.mount("https://", adapter)
        s.headers["User-Agent"] = user_agent(self.config.contact)
        # Read proxy and CA settings from the environment once, not on every request
        # (requests scans os.environ per request; with hundreds of DOIs that is most of the CPU).
        s.trust_env = False
        s.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        with self._lock:
            self._sessions.append(s)
        return s

    def _thread_session(self, slot: str, adapter: Callable[[], HTTPAdapter]) -> requests.Session:
        s = getattr(self._local, slot, None)
        if s is None:
            s = self._new_session(adapter())
            setattr(self._local, slot, s)
        return s

    @property
    def session(self) -> requests.Session:
        """This thread's session for the configured services (trusted: the user chose them)."""
        return self._thread_session(
            "session", lambda: HTTPAdapter(pool_connections=8, pool_maxsize=max(8, self.config.workers), max_retries=0)
        )

    @property
    def checked_session(self) -> requests.Session:
        """This thread's session for untrusted URLs: connections only where ``config.data_policy`` allows."""
        return self._thread_session(
            "checked",
            lambda: _CheckedAdapter(self.config.data_policy, pool_connections=8, pool_maxsize=8, max_retries=0),
        )

    def close(self) -> None:
        """Close the connections of every thread's session."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for s in sessions:
            s.close()
        self._local = threading.local()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _proxies(self, url: str) -> dict[str, str]:
        """The environment's proxies for ``url``'s host (honouring NO_PROXY), computed once per host."""
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            cached = self._proxy_cache.get(key)
        if cached is None:
            cached = dict(requests.utils.get_environ_proxies(key))
            with self._lock:
                self._proxy_cache[key] = cached
        return cached

    def unreachable_hosts(self) -> dict[str, str]:
        """Hosts found unreachable in this run, with the reason."""
        with self._lock:
            return dict(self._down)

    def get(
        self, url: str, *, headers: Mapping[str, str] | None = None, stream: bool = False, allow_redirects: bool = True
    ) -> requests.Response:
        """GET ``url`` of a configured service; retry 429/5xx and read timeouts; raise :class:`NetworkError`
        when no answer comes.

        The last 429/5xx response is returned when the retries are used up, for the
        caller to report.
        """
        return self._get(self.session, url, headers, stream, allow_redirects)

    def get_untrusted(
        self, url: str, *, headers: Mapping[str, str] | None = None, stream: bool = False
    ) -> requests.Response:
        """GET a URL from an untrusted source (a data URL) under ``config.data_policy``, hop by hop.

        Every URL of the redirect chain is checked (scheme, IP literal) before it is asked,
        and every connection goes only to checked addresses; :class:`UnsafeUrlError` names
        the hop that was refused. Through a proxy (which resolves names itself), the host's
        addresses are checked here before the request: a best effort, as the proxy may see
        other DNS answers.
        """
        policy = self.config.data_policy
        current = url
        for _ in range(policy.max_redirects + 1):
            policy.check_url(current)
            if self._proxies(current):
                parts = urlsplit(current)
                policy.addresses(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
            response = self._get(self.checked_session, current, headers, stream, False)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                return response
            response.close()
            following = urljoin(current, location)
            log.debug("%s redirects to %s", current, following)
            current = following
        raise UnsafeUrlError(
            f"{url}: more than {policy.max_redirects} redirects (the last to {current})",
            hint="give the file's final download URL in paperpack.yml",
        )

    def _get(
        self,
        session: requests.Session,
        url: str,
        headers: Mapping[str, str] | None,
        stream: bool,
        allow_redirects: bool,
    ) -> requests.Response:
        host = urlsplit(url).netloc
        with self._lock:
            reason = self._down.get(host)
        if reason is not None:
            raise ServiceUnreachable(f"{host} is unreachable: {reason}", hint="check the network, or use --offline")
        cfg = self.config
        timeout = (min(cfg.connect_timeout, cfg.timeout), cfg.timeout)
        attempt = 0
        while True:
            try:
                response = session.get(
                    url,
                    headers=dict(headers or {}),
                    timeout=timeout,
                    stream=stream,
                    allow_redirects=allow_redirects,
                    proxies=self._proxies(url),
                )
            except requests.ConnectionError as exc:  # includes ConnectTimeout, not ReadTimeout
                with self._lock:
                    self._down[host] = _short_reason(exc)
                log.debug("%s unreachable: %s", host, exc)
                raise ServiceUnreachable(
                    f"{host} is unreachable: {_short_reason(exc)}",
                    hint="check the network or the service URL, or use --offline",
                ) from None
            except requests.Timeout:
                if attempt >= cfg.retries:
                    raise ServiceTimeout(
                        f"{url} did not answer within {cfg.timeout:g} s ({attempt + 1} attempts)",
                        hint="try again later, raise PAPERPACK_HTTP_TIMEOUT, or use --offline",
                    ) from None
                wait = cfg.backoff * (2**attempt)
                log.debug("timeout on %s; retrying in %.2f s", url, wait)
            else:
                if response.status_code not in RETRY_STATUSES or attempt >= cfg.retries:
                    return response
                wait = _retry_after(
                    response.headers.get("Retry-After"), cfg.backoff * (2**attempt), cfg.max_retry_after
                )
                log.debug("%s answered %s; retrying in %.2f s", url, response.status_code, wait)
                response.close()
            attempt += 1
            self.sleep(wait)


def _short_reason(exc: Exception) -> str:
    text = str(exc)
    for marker in (
        "Name or service not known",
        "Temporary failure in name resolution",
        "Connection refused",
        "No route to host",
        "Network is unreachable",
        "timed out",
    ):
        if marker in text:
            return marker.lower() if marker != "timed out" else "connection timed out"
    return text.splitlines()[0][:160] if text else type(exc).__name__
