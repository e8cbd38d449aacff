"""Loading service definitions into the gateway and finding them again.

A keyword is unique across the gateway (one shortcode serves every department), so loading a
service whose keyword another department holds is refused with a clear error; so is a word in
an Indian script (``local_keywords``) another service gives, while one merely transliterated
for another service is taken over (``seva.flows.keywords``). Each load bumps the service's
revision; the previous revisions stay so conversations in progress finish on the definition
they started with.

``find_by_keyword`` is how every channel that takes typed words finds a service: a Latin
keyword, a word in any script exactly, or a word in a Brahmic script by its consonant skeleton
when that finds exactly one live service.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, undefer
from sqlalchemy.orm.attributes import set_committed_value

from seva.db import catalog
from seva.db.base import utcnow
from seva.flows import keywords as words
from seva.flows.loader import dump
from seva.flows.models import Keyword, LocalKeyword, Service, ServiceRevision
from seva.flows.schema import CallStep, ServiceDefinition
from seva.i18n import languages
from seva.i18n.languages import NAME_KEYWORDS
from seva.outbound import Refused, UrlPolicy
from seva.tenancy import service as tenancy
from seva.tenancy.models import Department

RESERVED_KEYWORDS = (
    frozenset({"HELP", "STOP", "START", "CANCEL", "EXIT", "LANG", "MENU"}) | NAME_KEYWORDS
)
GATEWAY_SERVICES = frozenset({"call", "my-calls"})
"""Services the gateway itself runs for every department whose officials take calls (booking
a call, and moving or cancelling a booked one: ``seva.flows.calls``). A department cannot
load a service under these names, and they are not the department's to list or manage: each
channel offers them where the department takes calls."""


class ServiceLoadError(ValueError):
    """A definition that is valid on its own but cannot be loaded here."""


class WordTaken(ServiceLoadError):
    """A keyword in an Indian script another service gives."""


class CallRefused(ServiceLoadError):
    """A backend URL Seva may not call (``seva.outbound``)."""


def load_service(
    session: Session,
    definition: ServiceDefinition,
    *,
    source: str = "",
    builtin: bool = False,
    department: Department | None = None,
    urls: UrlPolicy,
    gateway: bool = False,
) -> Service:
    """Create or update the service; the caller commits. ``urls`` is the gateway's outbound
    policy: a backend the service calls must be somewhere Seva may call. ``gateway``: one of
    the gateway's own services (``GATEWAY_SERVICES``), whose names nobody else may take."""
    if definition.service in GATEWAY_SERVICES and not gateway:
        raise ServiceLoadError(
            f"the service name {definition.service!r} is the gateway's own "
            "(calls with officials); choose another"
        )
    check_calls(definition, urls)
    if department is None:
        department = tenancy.department_by_code(session, definition.department)
    if department is None:
        raise ServiceLoadError(f"department {definition.department!r} does not exist; add it first")
    if department.code != definition.department:
        raise ServiceLoadError(
            f"the definition names department {definition.department!r}, "
            f"but it is being loaded for {department.code!r}"
        )
    for keyword in definition.keywords:
        if keyword in RESERVED_KEYWORDS:
            raise ServiceLoadError(f"keyword {keyword} is reserved by the gateway")
    service = session.scalar(
        select(Service).where(
            Service.department_id == department.id, Service.slug == definition.service
        )
    )
    for keyword in definition.keywords:
        holder = session.get(Keyword, keyword)
        if holder is not None and (service is None or holder.service_id != service.id):
            other = session.get(Service, holder.service_id)
            owner = tenancy.department_by_id(session, other.department_id) if other else None
            raise ServiceLoadError(
                f"keyword {keyword} is already used by {owner.code if owner else '?'}/"
                f"{other.slug if other else '?'}"
            )
    local, displaced = _local_words(session, definition, service)
    stored = dump(definition)
    if service is None:
        service = Service(
            department_id=department.id,
            slug=definition.service,
            revision=1,
            definition=stored,
            source=source,
            ussd_order=definition.ussd.order,
            builtin=builtin,
            active=True,
        )
        session.add(service)
        session.flush()
    else:
        service.revision += 1
        service.loaded_at = utcnow()
        service.definition = stored
        service.source = source
        service.ussd_order = definition.ussd.order
        service.active = True
        session.execute(delete(Keyword).where(Keyword.service_id == service.id))
        session.execute(delete(LocalKeyword).where(LocalKeyword.service_id == service.id))
    if displaced:
        session.execute(delete(LocalKeyword).where(LocalKeyword.word.in_(displaced)))
    session.add(
        ServiceRevision(service_id=service.id, revision=service.revision, definition=stored)
    )
    for keyword in definition.keywords:
        session.add(Keyword(keyword=keyword, service_id=service.id))
    for word in local:
        session.add(
            LocalKeyword(
                word=word.text,
                service_id=service.id,
                lang=word.lang,
                derived=word.derived,
                skeleton=word.skeleton,
            )
        )
    session.flush()
    return service


def _local_words(
    session: Session, definition: ServiceDefinition, service: Service | None
) -> tuple[list[words.Word], list[str]]:
    """The service's words in Indian scripts to store, and the words other services hold only
    as transliterations that a word given here takes over. A given word another service gives
    too is refused; a derived word another service holds is left to it."""
    keep: list[words.Word] = []
    displaced: list[str] = []
    for word in definition.local_words:
        holder = session.get(LocalKeyword, word.text)
        if holder is None or (service is not None and holder.service_id == service.id):
            keep.append(word)
        elif word.derived:
            continue
        elif holder.derived:
            displaced.append(word.text)
            keep.append(word)
        else:
            raise WordTaken(
                f"the {languages.BY_CODE[word.lang].english} keyword {word.text} is already "
                f"used by {_owner(session, holder.service_id)}"
            )
    return keep, displaced


def _owner(session: Session, service_id: int) -> str:
    other = session.get(Service, service_id)
    owner = tenancy.department_by_id(session, other.department_id) if other else None
    return f"{owner.code if owner else '?'}/{other.slug if other else '?'}"


GATEWAY_URL = "{seva.base_url}/"


def check_calls(definition: ServiceDefinition, urls: UrlPolicy) -> None:
    """Every backend URL is fixed up to its path: an answer can fill in a path or a query but
    never choose the host, and a fixed host must be one Seva may call (``seva.outbound``;
    checked again, after DNS, on every call). ``{seva.base_url}/…`` is the gateway itself."""
    for step in definition.steps:
        if not isinstance(step, CallStep) or step.call.url.startswith(GATEWAY_URL):
            continue
        url = step.call.url
        authority = url.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        where = f"step {step.id or definition.steps.index(step) + 1}: call url"
        if "{" in authority or "}" in authority:
            raise CallRefused(f"{where}: the host cannot be filled in from answers")
        try:
            urls.check_url(url)
        except Refused as exc:
            raise CallRefused(f"{where}: {exc.reason}") from exc


_parsed: dict[tuple[int, int, str], ServiceDefinition] = {}


def definition_of(service: Service) -> ServiceDefinition:
    """The parsed definition, cached per service revision (parsing dominates a hop's cost).

    ``loaded_at`` is part of the key so two databases (tests, or a re-created demo) whose
    services share an id and revision never share a cache entry.
    """
    key = (service.id, service.revision, service.loaded_at.isoformat())
    found = _parsed.get(key)
    if found is None:
        if len(_parsed) > 1024:
            _parsed.clear()
        found = _parsed[key] = ServiceDefinition.model_validate(service.definition)
    return found


def definition_at(session: Session, service: Service, revision: int) -> ServiceDefinition:
    if revision == service.revision:
        return definition_of(service)
    row = session.scalar(
        select(ServiceRevision).where(
            ServiceRevision.service_id == service.id, ServiceRevision.revision == revision
        )
    )
    data: dict[str, Any] = row.definition if row is not None else service.definition
    return ServiceDefinition.model_validate(data)


def service_by_id(session: Session, service_id: int | None) -> Service | None:
    """The service a conversation runs, active or not (it may finish after a deactivation),
    from the catalog memo: read only."""
    return services_memo(session).by_id.get(service_id) if service_id is not None else None


def find_by_keyword(session: Session, word: str, *, lenient: bool = True) -> Service | None:
    """The live service a typed word names: a Latin keyword (any case), a word of the service
    in an Indian script (``seva.flows.keywords``), or, with ``lenient``, a word in a Brahmic
    script whose consonant skeleton is that of exactly one live service's words."""
    folded = words.fold(word)
    if not folded:
        return None
    if folded.isascii():
        return _live(session, services_memo(session).keywords.get(folded.upper()))
    if len(folded) > words.MAX_STORED:
        return None
    local = session.get(LocalKeyword, folded)
    if local is not None:
        return _live(session, local.service_id)
    skeleton = words.lenient(folded) if lenient else None
    if skeleton is None:
        return None
    found = session.scalars(
        select(LocalKeyword.service_id)
        .join(Service, Service.id == LocalKeyword.service_id)
        .where(LocalKeyword.skeleton == skeleton, Service.active.is_(True))
        .distinct()
        .limit(2)
    ).all()
    return _live(session, found[0]) if len(found) == 1 else None


def _live(session: Session, service_id: int | None) -> Service | None:
    service = service_by_id(session, service_id)
    return service if service is not None and service.active else None


_DEPARTMENTS_OWN = Service.slug.not_in(sorted(GATEWAY_SERVICES))
"""The department's own services: not the gateway's, which every channel offers apart."""


def find_service(session: Session, department_code: str, slug: str) -> Service | None:
    """A live service of the department's own (the gateway's: ``seva.flows.calls``)."""
    return session.scalar(
        select(Service)
        .join(Department, Department.id == Service.department_id)
        .where(
            Department.code == department_code,
            Service.slug == slug,
            Service.active.is_(True),
            _DEPARTMENTS_OWN,
        )
    )


def live_services(session: Session, department_id: int | None = None) -> list[Service]:
    query = (
        select(Service)
        .join(Department, Department.id == Service.department_id)
        .where(Service.active.is_(True), Department.active.is_(True), _DEPARTMENTS_OWN)
        .order_by(Department.ussd_order, Department.code, Service.ussd_order, Service.slug)
    )
    if department_id is not None:
        query = query.where(Service.department_id == department_id)
    return list(session.scalars(query))


@dataclass(frozen=True, slots=True)
class Services:
    """Every service, as the catalog memo holds them (``seva.db.catalog``), with what each hop
    asks of them: by id, each department's live menu, the Latin keywords. Read only: the
    rows are shared by the process's threads (their definitions are loaded)."""

    by_id: dict[int, Service]
    live: tuple[Service, ...]
    """The departments' own live services, in ``live_services``' order."""
    menus: dict[int, tuple[tuple[Service, ...], tuple[Service, ...]]]
    """Per department: its own live services and its live gateway services, in menu order."""
    keywords: dict[str, int]

    def live_menu(self, department_id: int) -> tuple[list[Service], list[Service]]:
        own, gateway = self.menus.get(department_id, ((), ()))
        return list(own), list(gateway)


def services_memo(session: Session) -> Services:
    return catalog.remember(session, "services", _services)


_raw: dict[tuple[int, int, str], dict[str, Any]] = {}
"""Stored definitions by (id, revision, loaded_at), so a memo read again fetches only the
definitions that changed since (a definition holds every language: the largest column)."""


def _services(session: Session) -> Services:
    global _raw
    rows = session.execute(
        select(Service, Department.active)
        .join(Department, Department.id == Service.department_id)
        .order_by(Department.ussd_order, Department.code, Service.ussd_order, Service.slug)
    ).all()
    keys = {row.id: (row.id, row.revision, row.loaded_at.isoformat()) for row, _ in rows}
    known = {key: _raw[key] for key in keys.values() if key in _raw}
    missing = [service_id for service_id, key in keys.items() if key not in known]
    for chunk in range(0, len(missing), 500):
        found = session.execute(
            select(Service.id, Service.definition).where(
                Service.id.in_(missing[chunk : chunk + 500])
            )
        )
        for service_id, definition in found:
            known[keys[service_id]] = definition
    _raw = known
    menus: dict[int, tuple[list[Service], list[Service]]] = {}
    live: list[Service] = []
    for service, department_active in rows:
        set_committed_value(service, "definition", known[keys[service.id]])
        if not (service.active and department_active):
            continue
        own, gateway = menus.setdefault(service.department_id, ([], []))
        if service.slug in GATEWAY_SERVICES:
            gateway.append(service)
        else:
            own.append(service)
            live.append(service)
    return Services(
        by_id={service.id: service for service, _ in rows},
        live=tuple(live),
        menus={d: (tuple(own), tuple(gateway)) for d, (own, gateway) in menus.items()},
        keywords={
            word.upper(): int(service_id)
            for word, service_id in session.execute(select(Keyword.keyword, Keyword.service_id))
        },
    )


def department_service(session: Session, department_id: int, slug: str) -> Service | None:
    """The department's service ``slug``, active or not: what its own admins manage."""
    return session.scalar(
        select(Service).where(
            Service.department_id == department_id, Service.slug == slug, _DEPARTMENTS_OWN
        )
    )


def department_services(session: Session, department_id: int) -> list[Service]:
    """Every service of the department, active or not, in its USSD menu order (with their
    definitions: the admin's list shows each one's title)."""
    return list(
        session.scalars(
            select(Service)
            .options(undefer(Service.definition))
            .where(Service.department_id == department_id, _DEPARTMENTS_OWN)
            .order_by(Service.ussd_order, Service.slug)
        )
    )


def deactivate_service(session: Session, service: Service) -> None:
    """Take the service off every channel; its keywords become free for another service."""
    service.active = False
    session.execute(delete(Keyword).where(Keyword.service_id == service.id))
    session.execute(delete(LocalKeyword).where(LocalKeyword.service_id == service.id))
    session.flush()


def active_service_counts(session: Session) -> dict[int, int]:
    """Department id → how many of its services are active (whether or not it is)."""
    rows = session.execute(
        select(Service.department_id, func.count(Service.id))
        .where(Service.active.is_(True), _DEPARTMENTS_OWN)
        .group_by(Service.department_id)
    )
    return {int(department_id): int(count) for department_id, count in rows}


def stored_title(definition: object) -> dict[str, str] | None:
    """The title of a stored definition, read without validating the whole definition (lists
    show many services, and an old stored revision may not parse under today's schema)."""
    title = definition.get("title") if isinstance(definition, dict) else None
    if not isinstance(title, dict):
        return None
    return {str(k): str(v) for k, v in title.items()}


def service_titles(
    session: Session, wanted: Collection[tuple[int, str]]
) -> dict[tuple[int, str], dict[str, str]]:
    """Titles of the services named by (department id, slug), active or not (an application
    keeps the name of the service it was filed with)."""
    if not wanted:
        return {}
    rows = session.execute(
        select(Service.department_id, Service.slug, Service.definition).where(
            Service.department_id.in_({d for d, _ in wanted}),
            Service.slug.in_({s for _, s in wanted}),
        )
    )
    titles: dict[tuple[int, str], dict[str, str]] = {}
    for department_id, slug, definition in rows:
        title = stored_title(definition)
        if title is not None:
            titles[(department_id, slug)] = title
    return titles


def keywords_by_service(
    session: Session, service_ids: Collection[int] | None = None
) -> dict[int, list[str]]:
    """Service id → its SMS keywords, sorted; of ``service_ids`` only when given."""
    query = select(Keyword).order_by(Keyword.keyword)
    if service_ids is not None:
        if not service_ids:
            return {}
        query = query.where(Keyword.service_id.in_(service_ids))
    found: dict[int, list[str]] = {}
    for row in session.scalars(query):
        found.setdefault(row.service_id, []).append(row.keyword)
    return found
