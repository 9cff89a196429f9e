"""Reference data every service and tool may read: the seed contract's terms (see README.md here)."""

from pathlib import Path

SEED_CONTRACT = Path(__file__).parent / "seed_contract.json"
