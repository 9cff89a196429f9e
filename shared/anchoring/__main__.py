"""`python -m shared.anchoring keygen PRIVATE PUBLIC`: a new Ed25519 key pair for a service's checkpoints.

The private key (PEM, mode 0600) goes to the service only (a Kubernetes Secret from the secret store,
or `.data/anchor-keys/` locally); the public key goes to everyone who verifies. Refuses to overwrite.
"""

from __future__ import annotations

import sys
from pathlib import Path

from shared.anchoring.checkpoint import write_key_pair


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "keygen":
        raise SystemExit("usage: python -m shared.anchoring keygen PRIVATE.pem PUBLIC.pem")
    try:
        key_id = write_key_pair(Path(args[1]), Path(args[2]))
    except FileExistsError:
        raise SystemExit(f"{args[1]} exists: a signing key is never overwritten") from None
    print(f"key {key_id}: private {args[1]}, public {args[2]}")


if __name__ == "__main__":
    main()
