"""DOI resolution: does a DOI exist, where does it land, and what is it?

A chain of small classes in pooch's style, each with a base URL taken from
:class:`~paperpack.util.httpclient.ServiceConfig` (so a mirror or a loopback test server
can stand in) and each returning ``None`` for a DOI that is not theirs:

1. :class:`HandleApi` — the DOI handle API says whether the DOI exists and its landing URL;
2. :class:`DataCite` (JSON:API), :class:`Crossref` (works) and :class:`ContentNegotiation`
   (CSL JSON from the resolver) — the first that knows the DOI gives title, type,
   year and registration agency;
3. :class:`RegistrationAgency` — the resolver's "Which RA?" service, asked only when step 2
   left the agency unknown (a DOI of mEDRA, JaLC, KISTI, …, or CSL JSON without ``source``).

:class:`DoiResolver` runs the chain for many DOIs at once, with a persistent cache
(:class:`~paperpack.util.cache.JsonCache`; not-found answers kept for a shorter time) and
an offline mode that reads the cache only.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..util.cache import JsonCache, cache_dir
from ..util.services import NetworkError, ServiceConfig, ServiceUnreachable

if TYPE_CHECKING:
    import requests

    from ..util.httpclient import HttpClient

__all__ = [
    "DoiRecord",
    "MalformedAnswer",
    "shape_of",
    "HandleApi",
    "DataCite",
    "Crossref",
    "ContentNegotiation",
    "RegistrationAgency",
    "DoiResolver",
    "METADATA_PROVIDERS",
    "FOUND",
    "NOT_FOUND",
    "UNREACHABLE",
    "FAILED",
    "UNCHECKED",
]

log = logging.getLogger(__name__)

FOUND, NOT_FOUND, UNREACHABLE, FAILED, UNCHECKED = "found", "not-found", "unreachable", "failed", "unchecked"

FOUND_TTL = 30 * 86400.0
NOT_FOUND_TTL = 86400.0

_WRONG_SERVICE = "the service's API may have changed, or PAPERPACK_* points at the wrong service"

_DATASET_TYPES = {"dataset", "database", "component", "datapaper"}
_ARTICLE_TYPES = {
    "journalarticle",
    "journal-article",
    "article-journal",
    "article",
    "proceedings-article",
    "paper-conference",
    "conferencepaper",
    "preprint",
    "posted-content",
    "book-chapter",
    "report",
    "text",
}
_SOFTWARE_TYPES = {"software", "computationalnotebook"}


def kind_of(resource_type: str | None) -> str | None:
    """``dataset``, ``article``, ``software``, ``other`` (or ``None``) for a DataCite, Crossref or CSL type."""
    if not resource_type:
        return None
    t = resource_type.strip().lower().replace("_", "-")
    if t in _DATASET_TYPES:
        return "dataset"
    if t in _SOFTWARE_TYPES:
        return "software"
    if t in _ARTICLE_TYPES:
        return "article"
    return "other"


@dataclass(frozen=True)
class DoiRecord:
    """What is known about one DOI. ``status`` is one of found, not-found, unreachable, failed, unchecked."""

    doi: str
    status: str
    url: str | None = None
    title: str | None = None
    type: str | None = None  # as the agency writes it (Dataset, journal-article, …)
    kind: str | None = None  # dataset, article, software, other
    year: int | None = None
    published: str | None = None  # the publication date (YYYY-MM-DD) when the metadata gives the day
    agency: str | None = None  # DataCite, Crossref, …
    source: str | None = None  # the service that gave the metadata
    reason: str | None = None  # why it is not found / not checked
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DoiRecord:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def summary(self) -> str:
        """``"Title" (Dataset, 2021, DataCite)`` for messages."""
        parts = [p for p in (self.type, str(self.year) if self.year else None, self.agency) if p]
        title = f'"{self.title}"' if self.title else "(no title in the metadata)"
        return f"{title} ({', '.join(parts)})" if parts else title


def _doi_path(doi: str) -> str:
    return quote(doi, safe="/:;()")


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class HandleApi:
    """The DOI handle API: ``<base>/api/handles/<doi>`` → exists or not, and the landing URL."""

    name = "handle"
    base_url = "https://doi.org"

    def __init__(self, config: ServiceConfig) -> None:
        self.base_url = config.doi_resolver

    def lookup(self, doi: str, client: HttpClient) -> DoiRecord:
        response = client.get(f"{self.base_url}/api/handles/{_doi_path(doi)}", headers={"Accept": "application/json"})
        body = _json(response) or {}
        code = body.get("responseCode") if isinstance(body, dict) else None
        if response.status_code == 404 or code == 100:
            return DoiRecord(doi, NOT_FOUND, reason="the DOI handle API does not know this DOI")
        if response.status_code != 200 or code not in (1, 200):
            return DoiRecord(doi, FAILED, reason=f"the DOI handle API answered HTTP {response.status_code}")
        values = body.get("values") if isinstance(body, dict) else None
        if not isinstance(values, list):
            return DoiRecord(
                doi, FAILED, reason=f"the DOI handle API answered {shape_of(values)} for `values`, not a list"
            )
        url = None
        for value in values:
            if isinstance(value, dict) and value.get("type") == "URL":
                data = value.get("data")
                found = data.get("value") if isinstance(data, dict) else None
                if not isinstance(found, str):
                    return DoiRecord(
                        doi,
                        FAILED,
                        reason=f"the DOI handle API answered {shape_of(found)} for the URL value, not a string",
                    )
                url = found
                break
        return DoiRecord(doi, FOUND, url=url)


class _MetadataProvider:
    """Base of the metadata chain: ``metadata(doi, client)`` returns fields or ``None``."""

    name = ""
    agency: str | None = None
    base_url = ""  # the public service; replaced by the ServiceConfig field named in ``config_field``
    config_field = ""
    path = "/{doi}"
    accept = "application/json"

    def __init__(self, config: ServiceConfig) -> None:
        self.base_url = getattr(config, self.config_field, self.base_url)

    def url(self, doi: str) -> str:
        return self.base_url + self.path.format(doi=_doi_path(doi))

    def parse(self, body: Any) -> dict[str, Any] | None:
        raise NotImplementedError

    def metadata(self, doi: str, client: HttpClient) -> dict[str, Any] | None:
        response = client.get(self.url(doi), headers={"Accept": self.accept})
        if response.status_code != 200:
            log.debug("%s: %s answered %s", doi, self.name, response.status_code)
            return None
        body = _json(response)
        fields = self.parse(body) if body is not None else None
        if fields is None:
            return None
        fields.setdefault("agency", self.agency)
        fields["source"] = self.name
        fields["kind"] = kind_of(fields.get("type"))
        return fields


class DataCite(_MetadataProvider):
    """DataCite REST API (JSON:API): ``<base>/dois/<doi>``."""

    name = "datacite"
    agency = "DataCite"
    base_url, config_field, path = "https://api.datacite.org", "datacite_api", "/dois/{doi}"
    accept = "application/vnd.api+json"

    def parse(self, body: Any) -> dict[str, Any] | None:
        data = _field(self.name, body, "data", dict)
        attrs = _field(self.name, data, "attributes", dict)
        if attrs is None:
            return None
        titles = _field(self.name, attrs, "titles", list) or [{}]
        types = _field(self.name, attrs, "types", dict) or {}
        first = titles[0] if isinstance(titles[0], dict) else {}
        issued = [
            d.get("date")
            for d in _field(self.name, attrs, "dates", list) or []
            if isinstance(d, dict) and d.get("dateType") == "Issued"
        ]
        return {
            "title": _str(first.get("title")),
            "type": _str(types.get("resourceTypeGeneral")),
            "year": _int(attrs.get("publicationYear")),
            "url": _str(attrs.get("url")),
            "published": next((day for day in map(_iso_day, issued) if day), None),
        }


class Crossref(_MetadataProvider):
    """Crossref REST API: ``<base>/works/<doi>``."""

    name = "crossref"
    agency = "Crossref"
    base_url, config_field, path = "https://api.crossref.org", "crossref_api", "/works/{doi}"

    def parse(self, body: Any) -> dict[str, Any] | None:
        msg = _field(self.name, body, "message", dict)
        if msg is None:
            return None
        year = None
        for key in ("issued", "published", "published-print", "published-online", "created"):
            year = _year(msg.get(key))
            if year is not None:
                break
        published = next(
            (
                day
                for key in ("published", "published-online", "published-print", "issued")
                if (day := _day(msg.get(key)))
            ),
            None,
        )
        return {
            "title": _title(msg.get("title")),
            "type": _str(msg.get("type")),
            "year": year,
            "url": _str(msg.get("URL")),
            "published": published,
        }


class ContentNegotiation(_MetadataProvider):
    """CSL JSON by content negotiation on the resolver: ``<base>/<doi>`` (any agency)."""

    name = "content-negotiation"
    agency = None
    base_url, config_field, path = "https://doi.org", "doi_resolver", "/{doi}"
    accept = "application/vnd.citationstyles.csl+json"

    def parse(self, body: Any) -> dict[str, Any] | None:
        if not isinstance(body, dict):
            raise MalformedAnswer(f"{self.name} answered {shape_of(body)}, not a JSON object")
        return {
            "title": _title(body.get("title")),
            "type": _str(body.get("type")),
            "year": _year(body.get("issued")),
            "url": _str(body.get("URL")),
            "agency": _str(body.get("source")),
            "published": _day(body.get("issued")),
        }


class RegistrationAgency:
    """The resolver's "Which RA?" service: ``<base>/ra/<doi>`` → the DOI's registration agency.

    It answers a list with one object per DOI asked: ``[{"DOI": "10.1000/x", "RA": "mEDRA"}]``,
    or ``[{"DOI": "10.1000/x", "status": "DOI does not exist"}]`` (also ``"Invalid DOI"``,
    ``"Unknown"``) when it cannot name one.
    """

    name = "ra"
    base_url = "https://doi.org"

    def __init__(self, config: ServiceConfig) -> None:
        self.base_url = config.doi_resolver

    def agency(self, doi: str, client: HttpClient) -> str | None:
        """The agency's name (DataCite, Crossref, mEDRA, JaLC, …), ``None`` if the service names none;
        :class:`MalformedAnswer` for an answer of the wrong shape."""
        response = client.get(f"{self.base_url}/ra/{_doi_path(doi)}", headers={"Accept": "application/json"})
        if response.status_code != 200:
            log.debug("%s: %s answered %s", doi, self.name, response.status_code)
            return None
        body = _json(response)
        if not isinstance(body, list) or not body:
            shown = "an empty list" if isinstance(body, list) else shape_of(body)
            raise MalformedAnswer(
                f"{self.name} answered {shown}, not a list with an object per DOI", hint=_WRONG_SERVICE
            )
        entry = body[0]
        if not isinstance(entry, dict):
            raise MalformedAnswer(
                f"{self.name} answered {shape_of(entry)} for the DOI, not an object", hint=_WRONG_SERVICE
            )
        agency = _field(self.name, entry, "RA", str)
        if agency is None or not agency.strip():
            log.debug("%s: %s names no agency (status %r)", doi, self.name, entry.get("status"))
            return None
        return agency.strip()


class MalformedAnswer(NetworkError):
    """A service answered JSON of the wrong shape (a number where an object belongs, …)."""


def shape_of(value: Any) -> str:
    """``a number (5)``, ``a list``, … for messages about wrong-shaped answers."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else type(value).__name__


def _field(service: str, parent: Any, key: str, kind: type) -> Any:
    """``parent[key]`` if it has type ``kind``; ``None`` if absent; :class:`MalformedAnswer` if another type."""
    if parent is None:
        return None
    value = parent.get(key) if isinstance(parent, dict) else parent  # a non-object parent is the wrong shape
    if isinstance(parent, dict) and (value is None or isinstance(value, kind)):
        return value
    what = "an object" if kind is dict else "a list" if kind is list else kind.__name__
    raise MalformedAnswer(f"{service} answered {shape_of(value)} for `{key}`, not {what}", hint=_WRONG_SERVICE)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _title(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return _str(value)


def _year(date: Any) -> int | None:
    """The year of a CSL/Crossref date: ``{"date-parts": [[2021, 1, 1]]}``."""
    parts = date.get("date-parts") if isinstance(date, dict) else None
    first = parts[0] if isinstance(parts, list) and parts else None
    return _int(first[0]) if isinstance(first, list) and first else None


def _day(date: Any) -> str | None:
    """``{"date-parts": [[2023, 6, 15]]}`` (CSL, Crossref) as "2023-06-15"; ``None`` without the day."""
    try:
        year, month, day = date["date-parts"][0][:3]
        return dt.date(int(year), int(month), int(day)).isoformat()
    except (TypeError, KeyError, IndexError, ValueError, OverflowError):
        return None


def _iso_day(value: Any) -> str | None:
    """ "2023-06-15" (or the start of a longer ISO date) as "2023-06-15"; ``None`` otherwise."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


#: The metadata chain, in the order it is tried.
METADATA_PROVIDERS: tuple[type[_MetadataProvider], ...] = (DataCite, Crossref, ContentNegotiation)


class DoiResolver:
    """Resolve DOIs through the chain, many at once, with a persistent cache.

    ``offline=True`` reads the cache only: DOIs not in it come back ``unchecked``.
    """

    def __init__(
        self,
        config: ServiceConfig | None = None,
        *,
        cache: JsonCache | None = None,
        cache_folder: Path | None = None,
        offline: bool = False,
        client: HttpClient | None = None,
    ) -> None:
        self.config = config or ServiceConfig.from_env()
        self._own_client = client is None
        self._client = client
        self.cache = cache or JsonCache((cache_folder or cache_dir()) / "doi", ttl=FOUND_TTL)
        self.offline = offline
        self.handle = HandleApi(self.config)
        self.providers = [cls(self.config) for cls in METADATA_PROVIDERS]
        self.registration_agency = RegistrationAgency(self.config)

    @property
    def client(self) -> HttpClient:
        """The HTTP client, made on first use: offline, nothing imports requests (``python -X importtime``)."""
        if self._client is None:
            from ..util.httpclient import HttpClient

            self._client = HttpClient(self.config)
        return self._client

    def _key(self, doi: str) -> str:
        return f"{self.config.doi_resolver}|{doi}"

    def resolve(self, doi: str) -> DoiRecord:
        """The record for one normalised DOI (lower case, no prefix)."""
        cached = self.cache.get(self._key(doi))
        if isinstance(cached, dict):
            return replace(DoiRecord.from_dict(cached), cached=True)
        if self.offline:
            return DoiRecord(doi, UNCHECKED, reason="offline, and not in the cache")
        try:
            record = self._resolve_online(doi)
        except ServiceUnreachable as exc:
            return DoiRecord(doi, UNREACHABLE, reason=exc.message)
        except NetworkError as exc:
            return DoiRecord(doi, FAILED, reason=exc.message)
        if record.status == FOUND:
            # Incomplete (a service failed, or none knew the agency): asked again after a day, not a month.
            complete = record.agency is not None and record.title is not None
            self.cache.set(self._key(doi), record.to_dict(), ttl=FOUND_TTL if complete else NOT_FOUND_TTL)
        elif record.status == NOT_FOUND:
            self.cache.set(self._key(doi), record.to_dict(), ttl=NOT_FOUND_TTL)
        return record

    def _resolve_online(self, doi: str) -> DoiRecord:
        record = self.handle.lookup(doi, self.client)
        if record.status != FOUND:
            return record
        record = self._with_metadata(record)
        if record.status == FOUND and record.agency is None:
            record = replace(record, agency=self._agency(doi))
        return record

    def _agency(self, doi: str) -> str | None:
        """The agency from the "Which RA?" service; ``None`` (not a failure) when it cannot say."""
        try:
            return self.registration_agency.agency(doi, self.client)
        except NetworkError as exc:  # the DOI exists and has its metadata; only the agency stays unknown
            log.debug("%s: %s", doi, exc.message)
            return None

    def _with_metadata(self, record: DoiRecord) -> DoiRecord:
        """``record`` with the fields of the first metadata provider that knows its DOI."""
        doi = record.doi
        malformed: list[str] = []
        for provider in self.providers:
            try:
                fields = provider.metadata(doi, self.client)
            except MalformedAnswer as exc:  # try the next provider; fail only if none answers properly
                log.debug("%s: %s", doi, exc.message)
                malformed.append(exc.message)
                continue
            except NetworkError as exc:  # the DOI exists; another provider (or none) gives its metadata
                log.debug("%s: %s failed: %s", doi, provider.name, exc)
                continue
            if fields:
                fields = {k: v for k, v in fields.items() if v is not None}
                if record.url:
                    fields.pop("url", None)  # the handle's landing URL is authoritative
                return replace(record, **fields)
        if malformed:
            return replace(record, status=FAILED, reason="; ".join(malformed))
        return replace(record, reason="exists, but no service gave its metadata")

    def resolve_many(self, dois: Iterable[str]) -> dict[str, DoiRecord]:
        """Records for every distinct DOI, resolved concurrently (``config.workers`` at once)."""
        unique = list(dict.fromkeys(dois))
        if not unique:
            return {}
        workers = max(1, min(self.config.workers, len(unique)))
        if not self.offline:
            _ = self.client  # made here, once, not by several threads at the same time
        try:
            if workers == 1:
                return {doi: self.resolve(doi) for doi in unique}
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="paperpack-doi") as pool:
                return dict(zip(unique, pool.map(self.resolve, unique)))
        finally:
            if self._own_client and self._client is not None:
                self._client.close()  # the threads are gone; their connections go with them
