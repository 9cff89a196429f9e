"""Person tokens: how a service learns which person acted through the back office (architecture MUST 11).

The back office (`services/backoffice`) signs people in and calls the services' APIs on their behalf.
For each call it issues a short JWT naming the signed-in person and their desks, signed with its
Ed25519 key (EdDSA); each service verifies it against the public keys it trusts
(`person_token_public_keys`) in `shared/auth.authorize`, so the person, not the back office, is the
actor of every event their commands record, and each service's own role check decides what they may
do (a button the back office hides is not the protection).

A token is accepted only if it is signed by a trusted key, issued by `backoffice` for this service
(`aud`), not expired, not issued in the future (beyond `CLOCK_SKEW_S`) and lives `MAX_LIFETIME_S` at
most: a stolen token is worth a few minutes at one service. Time is the service's clock, never the
machine's. Keys travel as base64 of their raw 32 bytes, so they fit an environment variable.
"""

from __future__ import annotations

import base64
import binascii
import functools
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

ISSUER = "backoffice"
ALGORITHM = "EdDSA"
CLOCK_SKEW_S = 30        # a token issued this far in the service's future is still taken (clocks drift)
MAX_LIFETIME_S = 300     # exp - iat at most: a token is minted per call, so minutes are plenty
MAX_PERSON_CHARS = 200   # as a configured token's actor (`shared/settings.TokenGrant`)
MAX_ROLES = 32           # more than the desks there are; a longer list is not a token we issued
_REQUIRED = ["iss", "sub", "aud", "iat", "exp", "jti", "roles"]


class PersonTokenRefused(Exception):
    """Why a person token is not taken: `reason` is the machine-readable code of the 401 answer."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class PersonClaims:
    person: str
    roles: tuple[str, ...]


def new_key_pair() -> tuple[str, str]:
    """(private, public): base64 of a fresh Ed25519 key pair's raw 32-byte keys."""
    private = Ed25519PrivateKey.generate()
    return (_b64(private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())),
            _b64(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)))


def public_key_of(private_key_b64: str) -> str:
    """The base64 public key of a base64 private key."""
    private = Ed25519PrivateKey.from_private_bytes(_raw(private_key_b64))
    return _b64(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def issue_person_token(private_key_b64: str, *, person: str, roles: Iterable[str], audience: str, now: datetime,
                       lifetime_s: int = 120) -> str:
    """A token saying that `person`, working at the desks `roles`, calls the service `audience` from `now`
    on for `lifetime_s` seconds."""
    if not 0 < lifetime_s <= MAX_LIFETIME_S:
        raise ValueError(f"a person token lives 1 to {MAX_LIFETIME_S} s, not {lifetime_s}")
    if not person or len(person) > MAX_PERSON_CHARS:
        raise ValueError(f"a person is named by 1 to {MAX_PERSON_CHARS} characters")
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    issued = int(now.timestamp())
    claims = {"iss": ISSUER, "sub": person, "roles": list(roles), "aud": audience, "iat": issued,
              "exp": issued + lifetime_s, "jti": str(uuid.uuid4())}
    return jwt.encode(claims, Ed25519PrivateKey.from_private_bytes(_raw(private_key_b64)), algorithm=ALGORITHM)


def looks_like_person_token(token: str) -> bool:
    """A JWT's compact form: three dot-separated parts (a configured token is an opaque string)."""
    return token.count(".") == 2


def verify_person_token(token: str, public_keys: Sequence[str], *, audience: str, now: datetime) -> PersonClaims:
    """The person and roles of `token` if it is one `audience` may take at `now` (the service's clock),
    else `PersonTokenRefused`: `unknown_token` (no trusted key signed it, or not issued by the back office
    for this service, or malformed), `token_expired`, `token_not_yet_valid`, `token_lifetime_too_long`."""
    claims = _signed_claims(token, public_keys)
    if claims.get("iss") != ISSUER or claims.get("aud") != audience:
        raise PersonTokenRefused(f"the token is not the back office's for {audience}", "unknown_token")
    issued, expires, person, roles = claims["iat"], claims["exp"], claims["sub"], claims["roles"]
    if not (isinstance(issued, int) and isinstance(expires, int) and isinstance(person, str)
            and 0 < len(person) <= MAX_PERSON_CHARS and isinstance(roles, list) and len(roles) <= MAX_ROLES
            and all(isinstance(r, str) for r in roles)):
        raise PersonTokenRefused("the token's claims are malformed", "unknown_token")
    at = now.timestamp()
    if at >= expires:
        raise PersonTokenRefused(f"the token expired at {datetime.fromtimestamp(expires, now.tzinfo).isoformat()}",
                                 "token_expired")
    if issued > at + CLOCK_SKEW_S:
        raise PersonTokenRefused("the token was issued in the future", "token_not_yet_valid")
    if expires - issued > MAX_LIFETIME_S:
        raise PersonTokenRefused(f"a person token lives {MAX_LIFETIME_S} s at most", "token_lifetime_too_long")
    return PersonClaims(person=person, roles=tuple(roles))


def _signed_claims(token: str, public_keys: Sequence[str]) -> dict[str, object]:
    """The claims of `token` if one of `public_keys` signed it. Only the signature, algorithm and presence
    of the claims are PyJWT's to check here: time is judged against the service's clock, by the caller."""
    options = {"verify_signature": True, "verify_exp": False, "verify_iat": False, "verify_nbf": False,
               "verify_aud": False, "verify_iss": False, "require": _REQUIRED}
    for key in public_keys:  # bounded by the configured keys: the current one and those being rotated out
        try:
            claims: dict[str, object] = jwt.decode(token, trusted_public_key(key), algorithms=[ALGORITHM],
                                                   options=options)  # type: ignore[arg-type]
            return claims
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as error:
            raise PersonTokenRefused(f"the token is malformed: {error}", "unknown_token") from None
    raise PersonTokenRefused("no trusted key signed the token", "unknown_token")


@functools.lru_cache(maxsize=16)   # the few keys a service trusts, parsed once
def trusted_public_key(public_key_b64: str) -> Ed25519PublicKey:
    """The public key of its base64 raw bytes (ValueError if it is not one)."""
    return Ed25519PublicKey.from_public_bytes(_raw(public_key_b64))


def _raw(key_b64: str) -> bytes:
    try:
        raw = base64.b64decode(key_b64, validate=True)
    except binascii.Error:
        raise ValueError("a key is the base64 of its raw 32 bytes") from None
    if len(raw) != 32:
        raise ValueError("a key is the base64 of its raw 32 bytes")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
