"""Which addresses a data download may reach: public ones over https, or mirrors the user allowed.

The URLs of declared data come from ``paperpack.yml`` and from DOI records, written by
whoever wrote the paper repository: untrusted. A URL (or a redirect) to ``localhost``,
a private network or a cloud metadata endpoint would otherwise let a repository read
services of the machine that builds it and put their answers into a notebook's output,
network isolation of the run notwithstanding. So a data download:

- uses ``https`` (plain ``http`` only when the user allows it: ``PAPERPACK_DATA_ALLOW_HTTP=1``);
- connects only to public addresses: every address the host name resolves to is
  checked (:func:`classify`), and the connection goes to one of those checked addresses,
  so a second DNS answer cannot switch it (DNS rebinding);
- is checked again at every redirect (:class:`paperpack.util.httpclient.HttpClient` follows them itself).

A mirror on a private or loopback address is reached only when the *user* names it in
``PAPERPACK_DATA_ALLOW=host[:port],…`` (or ``paperpack data fetch --allow-host``). Nothing
in the repository can widen this policy.
"""

from __future__ import annotations

import enum
import ipaddress
import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..errors import ConfigError, UnsafeUrlError

__all__ = ["AddressKind", "AllowedHost", "UrlPolicy", "classify", "parse_allowed"]

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``resolve(host, port)`` -> the addresses of ``host`` as ``socket.getaddrinfo`` gives them.
Resolver = Callable[[str, int], Sequence[tuple]]

ALLOW_VAR = "PAPERPACK_DATA_ALLOW"
ALLOW_HTTP_VAR = "PAPERPACK_DATA_ALLOW_HTTP"


class AddressKind(enum.Enum):
    """What kind of network an IP address belongs to; only ``PUBLIC`` is reachable by default."""

    PUBLIC = "public"
    LOOPBACK = "loopback (this machine)"
    PRIVATE = "private network"
    UNIQUE_LOCAL = "unique-local (private IPv6)"
    LINK_LOCAL = "link-local"
    METADATA = "cloud metadata endpoint"
    SHARED = "shared (carrier-grade NAT)"
    MULTICAST = "multicast"
    UNSPECIFIED = "unspecified"
    RESERVED = "reserved or special-purpose"


#: Instance metadata services (AWS, GCP, Azure: 169.254.169.254; AWS ECS; AWS IPv6; Alibaba; Oracle).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
_PRIVATE_V4 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_SHARED_V4 = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo client, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def classify(address: str | IPAddress) -> AddressKind:
    """The kind of network ``address`` is on (IPv6 forms that carry an IPv4 address are judged by it)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_v4(ip)) is not None:
        kind = classify(inner)
        if kind is not AddressKind.PUBLIC:
            return kind
    if ip in METADATA_ADDRESSES:
        return AddressKind.METADATA
    if ip.is_unspecified:
        return AddressKind.UNSPECIFIED
    if ip.is_loopback:
        return AddressKind.LOOPBACK
    if ip.is_link_local:
        return AddressKind.LINK_LOCAL
    if ip.is_multicast:
        return AddressKind.MULTICAST
    if isinstance(ip, ipaddress.IPv4Address):
        if any(ip in net for net in _PRIVATE_V4):
            return AddressKind.PRIVATE
        if ip in _SHARED_V4:
            return AddressKind.SHARED
    else:
        if ip in _UNIQUE_LOCAL:
            return AddressKind.UNIQUE_LOCAL
        if ip.is_site_local:
            return AddressKind.PRIVATE
    if ip.is_private or ip.is_reserved or not ip.is_global:
        return AddressKind.RESERVED
    return AddressKind.PUBLIC


@dataclass(frozen=True)
class AllowedHost:
    """A host (name or IP, lower case, IPv6 without brackets) and optionally one port."""

    host: str
    port: int | None = None

    def matches(self, host: str, port: int) -> bool:
        return self.host == host.lower().rstrip(".") and self.port in (None, port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


def parse_allowed(text: str, *, source: str = ALLOW_VAR) -> tuple[AllowedHost, ...]:
    """``host[:port],…`` (IPv6 in brackets: ``[::1]:8080``) as :class:`AllowedHost` entries."""
    out = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        parts = urlsplit(f"//{item}")
        try:
            port = parts.port
        except ValueError:
            port = -1
        if not parts.hostname or port == -1 or parts.path or parts.query or parts.username:
            raise ConfigError(
                f"{source}: {item!r} is not host[:port]",
                hint=f"list hosts as {source}=mirror.example.org,127.0.0.1:8080,[::1]:8080",
            )
        out.append(AllowedHost(parts.hostname.lower().rstrip("."), port))
    return tuple(out)


def _flag(env: Mapping[str, str], var: str) -> bool:
    raw = env.get(var, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{var}={raw!r} is not a yes/no value", hint=f"set {var}=1 to allow it, or unset it")


def _getaddrinfo(host: str, port: int) -> Sequence[tuple]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


@dataclass(frozen=True)
class UrlPolicy:
    """Where untrusted (data) URLs may lead: https and public addresses, plus what the user allowed."""

    allowed: tuple[AllowedHost, ...] = ()
    allow_http: bool = False
    max_redirects: int = 10
    resolve: Resolver = field(default=_getaddrinfo, compare=False, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> UrlPolicy:
        """The user's policy: ``PAPERPACK_DATA_ALLOW`` and ``PAPERPACK_DATA_ALLOW_HTTP``."""
        env = os.environ if env is None else env
        return cls(allowed=parse_allowed(env.get(ALLOW_VAR, "")), allow_http=_flag(env, ALLOW_HTTP_VAR))

    def is_allowed(self, host: str, port: int) -> bool:
        return any(a.matches(host, port) for a in self.allowed)

    def check_url(self, url: str) -> None:
        """Refuse ``url`` before any connection: its scheme, or a host that is a non-public IP literal."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("https", "http"):
            raise UnsafeUrlError(
                f"{url}: only https URLs are downloaded, not {scheme or 'a relative URL'}",
                hint="give the file's https download URL in paperpack.yml",
            )
        host = parts.hostname
        if not host:
            raise UnsafeUrlError(f"{url}: the URL names no host", hint="give the file's full https URL")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise UnsafeUrlError(f"{url}: the port is not a number", hint="correct the URL") from None
        if scheme == "http" and not self.allow_http:
            raise UnsafeUrlError(
                f"{url}: plain http is not used for data downloads (anyone on the way could change the file)",
                hint=f"use the https URL; for a mirror you trust that has no https, set {ALLOW_HTTP_VAR}=1",
            )
        if self.is_allowed(host, port):
            return
        try:
            literal = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return  # a name: its addresses are checked when connecting (:meth:`addresses`)
        self._refuse_if_not_public(host, port, str(literal))

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for ``host``: every one it resolves to must be public (or allowed)."""
        infos = self.resolve(host, port)
        found = [str(info[4][0]) for info in infos]
        if not self.is_allowed(host, port):
            for address in found:
                self._refuse_if_not_public(host, port, address)
        return list(dict.fromkeys(found))

    def _refuse_if_not_public(self, host: str, port: int, address: str) -> None:
        kind = classify(address)
        if kind is AddressKind.PUBLIC:
            return
        shown = f"[{host}]" if ":" in host else host
        where = f"{shown}:{port}"
        via = "" if host == address else f" (it resolves to {address})"
        raise UnsafeUrlError(
            f"{where}{via} is a {kind.value} address: data downloads reach only public addresses, so a "
            "repository cannot read services of this machine or its network",
            hint=f"if {where} is a mirror you trust, allow it yourself: {ALLOW_VAR}={where} (an environment "
            "variable, or --allow-host; paperpack.yml cannot allow it)",
        )
