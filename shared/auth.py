"""Bearer tokens and roles at the HTTP edge: people act, not tokens (architecture MUST 11).

A token names one person (`TokenGrant.actor`), who is the actor of every event the commands they send
record, and the desks that person works at (`Role`). Tokens are configured as SHA-256 hashes (never in
clear) and expire; with `environment=production` the settings refuse a token without an expiry and
any development token (`shared/settings.py`), so the tokens `make run` prints cannot reach production.
The back office calls with a person token instead (`shared/person_tokens.py`): a short JWT it signs for
the person signed in to it, naming that person and their desks, which the service verifies against the
public keys it trusts (`person_token_public_keys`).

The roles follow the desks of a seller's operations staff, so one identity cannot do everything:
a treasury clerk posts money, a billing clerk charges it, collections closes days and sends notices;
corrections that move money or end rights need a second person (`shared/approvals.py`). Every route
declares the roles it admits, so a route without a declaration cannot exist (the security tests
enumerate the route table).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.errors import DomainError
from shared.person_tokens import PersonTokenRefused, looks_like_person_token, verify_person_token

if TYPE_CHECKING:
    from shared.settings import TokenGrant


class Role(StrEnum):
    CONTRACTS = "contracts"        # contract administrators: contracts, parties, amendments, termination
    DISPATCH = "dispatch"          # daily applications, free volume, the schedule
    METERING = "metering"          # delivery points, meters, readings, actual balance, volume acts
    TREASURY = "treasury"          # payments, bank statement imports, receipt assignment, payment reversals
    BILLING = "billing"            # prepayment demands, penalties and their waivers, refunds, period close
    COLLECTIONS = "collections"    # day close, restriction and termination notices
    CLAIMS = "claims"              # the claims desk: claims, force majeure, surveys, consent
    PRIVACY = "privacy"            # the privacy officer: personal-data requests, exports and deletion
    ADMIN = "admin"                # configuration: the base-rate table, the calendar, reopening a period
    AUDITOR = "auditor"            # reads and verifies; changes nothing, no personal-data archives


def roles(*granted: Role) -> frozenset[Role]:
    return frozenset(granted)


READERS = frozenset(Role)          # every desk reads what it works on; reads of personal data are logged


@dataclass(frozen=True)
class Actor:
    name: str
    roles: frozenset[str]


class Unauthenticated(DomainError):
    http_status = 401
    default_reason = "missing_token"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(DomainError):
    http_status = 403
    default_reason = "role_not_allowed"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def find_grant(tokens: Mapping[str, TokenGrant], token: str) -> TokenGrant | None:
    digest = token_hash(token)
    for known, grant in tokens.items():
        # constant-time compare: the hash of a guessed token must not leak by timing
        if hmac.compare_digest(known, digest):
            return grant
    return None


_bearer = HTTPBearer(auto_error=False)


class Trust(Protocol):
    """Whom a service's edge believes (its settings): the configured tokens, and the public keys of the
    back office's person tokens (none: person tokens are refused)."""

    @property
    def tokens(self) -> Mapping[str, TokenGrant]: ...

    @property
    def person_token_public_keys(self) -> Sequence[str]: ...


def identify(trust: Trust, audience: str, scheme: str | None, token: str | None, now: datetime) -> Actor:
    """The person of a bearer token at `now` (the service's clock), for the service `audience`, or 401
    saying why not: a configured token (by its hash), else a person token of the back office."""
    if not token or scheme is None or scheme.lower() != "bearer":
        raise Unauthenticated("a bearer token is required", reason="missing_token")
    grant = find_grant(trust.tokens, token)
    if grant is not None:
        if grant.expires_at is not None and now >= grant.expires_at:
            raise Unauthenticated(f"the token expired at {grant.expires_at.isoformat()}", reason="token_expired")
        return Actor(name=grant.actor, roles=frozenset(grant.roles))
    if trust.person_token_public_keys and looks_like_person_token(token):
        try:
            claims = verify_person_token(token, trust.person_token_public_keys, audience=audience, now=now)
        except PersonTokenRefused as refused:
            raise Unauthenticated(str(refused), reason=refused.reason) from None
        # a role this service does not know grants nothing
        return Actor(name=claims.person, roles=frozenset(claims.roles) & _ROLE_NAMES)
    raise Unauthenticated("the token is not known", reason="unknown_token")


_ROLE_NAMES = frozenset(role.value for role in Role)


def authorize(trust: Trust, audience: str, scheme: str | None, token: str | None, allowed: frozenset[Role],
              now: datetime) -> Actor:
    """The person of a bearer token that has one of the `allowed` roles at `now`, or the refusal saying
    why not (401 without a known, valid token; 403 with no admitted role): the FastAPI dependency's
    decision and the fast routes' (`shared/fast_routes.py`) alike."""
    actor = identify(trust, audience, scheme, token, now)
    if not allowed.intersection(actor.roles):
        raise Forbidden(f"this action needs one of the roles {', '.join(sorted(allowed))}", reason="role_not_allowed",
                        details={"allowed": sorted(allowed), "granted": sorted(actor.roles)})
    return actor


class RoleDependency(Protocol):
    """What `require` gives a route: FastAPI calls it; the route-table security test reads `allowed_roles`."""

    allowed_roles: frozenset[Role]

    async def __call__(self, request: Request, credentials: HTTPAuthorizationCredentials | None = ...) -> Actor: ...


def require(allowed: frozenset[Role]) -> RoleDependency:
    """FastAPI dependency admitting a bearer token that has one of the `allowed` roles."""
    assert allowed, "a route admits at least one role"

    async def dependency(request: Request,
                         credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Actor:
        service = request.app.state.service
        return authorize(service.settings, service.name, credentials.scheme if credentials else None,
                         credentials.credentials if credentials else None, allowed, service.clock.now())

    admitted = cast(RoleDependency, dependency)   # a function takes attributes; its type does not declare them
    admitted.allowed_roles = allowed  # read by the route-table security test
    return admitted
