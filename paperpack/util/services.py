"""Where the DOI and data services are (:class:`ServiceConfig`) and the errors of talking to them.

Split from :mod:`paperpack.util.httpclient` so that code which only names the services or catches
their errors (``paperpack validate --offline``) does not import requests and urllib3
(measured with ``python -X importtime``); :mod:`paperpack.util.httpclient` re-exports every name.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ..errors import ConfigError, PaperpackError
from .urlpolicy import UrlPolicy

__all__ = ["ENV_VARS", "NetworkError", "ServiceConfig", "ServiceTimeout", "ServiceUnreachable"]

#: Environment variable → ServiceConfig field.
ENV_VARS = {
    "PAPERPACK_DOI_RESOLVER": "doi_resolver",
    "PAPERPACK_DATACITE_API": "datacite_api",
    "PAPERPACK_CROSSREF_API": "crossref_api",
    "PAPERPACK_ZENODO_API": "zenodo_api",
    "PAPERPACK_CONTACT": "contact",
    "PAPERPACK_HTTP_TIMEOUT": "timeout",
    "PAPERPACK_HTTP_RETRIES": "retries",
    "PAPERPACK_DOI_WORKERS": "workers",
}


class NetworkError(PaperpackError):
    """A service could not give an answer (unreachable, or too slow after retries)."""


class ServiceUnreachable(NetworkError):
    """DNS failure, connection refused or connect timeout: the host is not reachable."""


class ServiceTimeout(NetworkError):
    """The host answered too slowly, every time it was tried."""


@dataclass(frozen=True)
class ServiceConfig:
    """Where the DOI and data services are, and how patiently to talk to them."""

    doi_resolver: str = "https://doi.org"  # handle API at <base>/api/handles/<doi>; content negotiation at <base>/<doi>
    datacite_api: str = "https://api.datacite.org"  # <base>/dois/<doi>
    crossref_api: str = "https://api.crossref.org"  # <base>/works/<doi>
    zenodo_api: str = "https://zenodo.org/api"  # <base>/records/<id>
    contact: str = ""  # e-mail sent as mailto: in the User-Agent (Crossref's polite pool)
    timeout: float = 10.0  # seconds to wait for an answer (read); connecting gets min(timeout, connect_timeout)
    connect_timeout: float = 3.05
    retries: int = 3  # extra attempts after a 429/5xx answer or a read timeout
    backoff: float = 0.5  # first wait between attempts; doubles each time (unless Retry-After says)
    max_retry_after: float = 30.0  # never wait longer than this for one Retry-After
    workers: int = 32  # DOIs resolved at once
    data_policy: UrlPolicy = field(default_factory=UrlPolicy)  # where data URLs may lead (util/urlpolicy.py)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> ServiceConfig:
        """Defaults, then ``PAPERPACK_*`` environment variables, then ``overrides``."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for var, name in ENV_VARS.items():
            raw = env.get(var)
            if raw is None or raw == "":
                continue
            default = getattr(cls, name)
            try:
                if isinstance(default, (int, float)):
                    values[name] = _number(var, raw, type(default))
                elif name == "contact":
                    values[name] = raw
                elif not raw.startswith(("http://", "https://")):
                    raise ConfigError(
                        f"{var}={raw!r} is not an http(s) URL",
                        hint=f"set {var} to a base URL such as {getattr(cls, name)}, or unset it",
                    )
                else:
                    values[name] = raw.rstrip("/")
            except ValueError:
                raise ConfigError(
                    f"{var}={raw!r} is not a number", hint=f"set {var} to a number, or unset it"
                ) from None
        values["data_policy"] = UrlPolicy.from_env(env)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)  # type: ignore[arg-type]


#: The smallest value each numeric variable accepts (timeouts and workers must be positive).
_MINIMUM = {
    "PAPERPACK_HTTP_TIMEOUT": (0.0, False),
    "PAPERPACK_HTTP_RETRIES": (0, True),
    "PAPERPACK_DOI_WORKERS": (1, True),
}


def _number(var: str, raw: str, kind: type) -> float | int:
    """``raw`` as ``kind`` (int or float), or :class:`ConfigError` naming the variable and the value."""
    what = "a whole number" if kind is int else "a number"
    try:
        value = kind(raw.strip())
    except ValueError:
        raise ConfigError(f"{var}={raw!r} is not {what}", hint=f"set {var} to {what}, or unset it") from None
    if kind is float and not math.isfinite(value):
        raise ConfigError(f"{var}={raw!r} is not a finite number", hint=f"set {var} to a number, or unset it")
    low, inclusive = _MINIMUM.get(var, (None, True))
    if low is not None and (value < low or (value == low and not inclusive)):
        bound = f"at least {low}" if inclusive else f"greater than {low:g}"
        raise ConfigError(
            f"{var}={raw!r} is out of range: it must be {bound}",
            hint=f"set {var} to {what} {bound}, or unset it for the default",
        )
    return value
