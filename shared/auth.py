"""Bearer tokens and roles at the HTTP edge.

Tokens are configured as SHA-256 hashes (never in clear); the token's actor is recorded on every
event a command produces. Roles: `operator` runs commands, `auditor` reads and verifies, `admin`
changes configuration. Every route declares the roles it admits, so a route without a declaration
cannot exist (the security tests enumerate the route table).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.settings import TokenGrant


class Role(StrEnum):
    OPERATOR = "operator"
    AUDITOR = "auditor"
    ADMIN = "admin"


READERS = frozenset({Role.OPERATOR, Role.AUDITOR, Role.ADMIN})
OPERATORS = frozenset({Role.OPERATOR})
ADMINS = frozenset({Role.ADMIN})


@dataclass(frozen=True)
class Actor:
    name: str
    roles: frozenset[str]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def find_grant(tokens: dict[str, TokenGrant], token: str) -> TokenGrant | None:
    digest = token_hash(token)
    for known, grant in tokens.items():
        # constant-time compare: the hash of a guessed token must not leak by timing
        if hmac.compare_digest(known, digest):
            return grant
    return None


_bearer = HTTPBearer(auto_error=False)


def authorize(tokens: dict[str, TokenGrant], scheme: str | None, token: str | None,
              roles: frozenset[Role]) -> Actor:
    """The actor of a bearer token that has one of `roles`, or the HTTP error saying why not (401
    without a known token, 403 with a role not admitted): the FastAPI dependency's decision and the fast
    routes' (`shared/fast_routes.py`) alike."""
    if not token or scheme is None or scheme.lower() != "bearer":
        raise HTTPException(401, {"reason": "missing_token", "message": "a bearer token is required"},
                            headers={"WWW-Authenticate": "Bearer"})
    grant = find_grant(tokens, token)
    if grant is None:
        raise HTTPException(401, {"reason": "unknown_token", "message": "the token is not known"},
                            headers={"WWW-Authenticate": "Bearer"})
    if not roles.intersection(grant.roles):
        raise HTTPException(403, {"reason": "role_not_allowed",
                                  "message": f"this action needs one of the roles {sorted(roles)}"})
    return Actor(name=grant.actor, roles=frozenset(grant.roles))


def require(roles: frozenset[Role]):
    """FastAPI dependency admitting a bearer token that has one of `roles`."""

    async def dependency(request: Request,
                         credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Actor:
        return authorize(request.app.state.settings.tokens, credentials and credentials.scheme,
                         credentials and credentials.credentials, roles)

    dependency.allowed_roles = roles  # read by the route-table security test
    return dependency
