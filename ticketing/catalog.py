"""The network, tariff and policy the service sells: read once at start-up (the service does the I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path

from fare_rules.network import Network, load_network
from fare_rules.policy import Policy, load_policy
from fare_rules.tariff import Tariff, load_tariff

__all__ = ["MAX_START_AHEAD_DAYS", "Catalog", "load_catalog", "packaged_catalog"]

NETWORK_FILE = "hcmc-line1.json"
TARIFF_FILE = "hcmc-line1-tariff.json"
POLICY_FILE = "policy.json"
MAX_START_AHEAD_DAYS = 30  # a monthly pass may start at most this many days after purchase (our rule)


@dataclass(frozen=True, slots=True)
class Catalog:
    network: Network
    tariff: Tariff
    policy: Policy

    @property
    def longest_validity(self) -> timedelta:
        """How long after signing a ticket can still be valid: how long a retired key stays published."""
        p = self.policy
        days = max(
            p.single_validity_days,
            p.pass_activation_days + 3,  # a 3-day pass activated on its last activation day
            p.monthly_days + MAX_START_AHEAD_DAYS,
        )
        return timedelta(days=days + 1)


def _bundled(name: str) -> str:
    return (resources.files("fare_rules") / "data" / name).read_text(encoding="utf-8")


def load_catalog(policy_file: Path | None = None, tariff_file: Path | None = None) -> Catalog:
    """Read the bundled network, and the tariff and policy (a given file each, else the bundled one)."""
    network = load_network(_bundled(NETWORK_FILE))
    tariff_text = tariff_file.read_text(encoding="utf-8") if tariff_file else _bundled(TARIFF_FILE)
    policy_text = policy_file.read_text(encoding="utf-8") if policy_file else _bundled(POLICY_FILE)
    return Catalog(network, load_tariff(tariff_text, network), load_policy(policy_text))


@lru_cache(maxsize=1)
def packaged_catalog() -> Catalog:
    """The network, tariff and policy shipped in fare_rules/data (what a gate holding no version uses)."""
    return load_catalog()
