"""The organisation the load test impersonates: repositories, 40 teams, 500 authors.

`Fleet` is deterministic (no randomness), so the runner that writes the
webhook's repository mapping and the blueprint file, and every Locust
worker that sends deliveries, agree on it without sharing a file. The
blueprint is `examples/blueprint.yaml` (the realistic 25-service shop) with
the fleet's repositories and quotas large enough that admission never hides
a lost delivery. Pure data builders: no I/O besides reading the example.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXAMPLE_BLUEPRINT = Path(__file__).resolve().parents[1] / "examples" / "blueprint.yaml"
BLUEPRINT_NAME = "loadtest-shop"
REPOSITORIES = (
    "acme/shop",
    "acme/shop-frontend",
    "acme/checkout-service",
    "acme/catalog-service",
    "acme/mobile-bff",
    "acme/platform-infra",
)
_TEAM_WORDS = [
    "storefront",
    "checkout",
    "catalog",
    "discovery",
    "fulfilment",
    "payments",
    "identity",
    "platform",
    "backoffice",
    "mobile",
    "growth",
    "search",
    "pricing",
    "promotions",
    "inventory",
    "shipping",
    "tax",
    "fraud",
    "refunds",
    "notifications",
    "media",
    "sessions",
    "accounts",
    "orders",
    "cart",
    "warehouses",
    "analytics",
    "data-eng",
    "sre",
    "security",
    "billing",
    "invoicing",
    "support",
    "onboarding",
    "partner-api",
    "ads",
    "loyalty",
    "reviews",
    "localisation",
    "accessibility",
]


@dataclass(frozen=True, slots=True)
class Fleet:
    """Repositories, teams and authors (each author in exactly one team)."""

    repositories: tuple[str, ...] = REPOSITORIES
    teams: tuple[str, ...] = tuple(_TEAM_WORDS[:40])
    engineers: int = 500
    services: tuple[str, ...] = field(default_factory=tuple)

    def author(self, index: int) -> str:
        return f"eng-{index % self.engineers:04d}"

    def team_of(self, author_index: int) -> str:
        return self.teams[(author_index % self.engineers) % len(self.teams)]

    def repository_of(self, author_index: int) -> str:
        """An author's home repository (teams cluster around repositories)."""
        team = (author_index % self.engineers) % len(self.teams)
        return self.repositories[team % len(self.repositories)]

    def mapping_doc(self, *, blueprint: str = BLUEPRINT_NAME) -> dict[str, Any]:
        """The webhook's `--repos` file: every repository, every author's team."""
        return {
            "repositories": {
                repo: {"blueprint": blueprint, "team": self.teams[i % len(self.teams)]}
                for i, repo in enumerate(self.repositories)
            },
            "authors": {self.author(i): self.team_of(i) for i in range(self.engineers)},
        }


def load_fleet() -> Fleet:
    """The fleet with the example blueprint's service names (for changed paths)."""
    doc = yaml.safe_load(EXAMPLE_BLUEPRINT.read_text(encoding="utf-8"))
    shared = set(doc.get("sharedServices") or ())
    names = tuple(s["name"] for s in doc["services"] if s["name"] not in shared)
    return Fleet(services=names)


def blueprint_doc(
    fleet: Fleet,
    *,
    name: str = BLUEPRINT_NAME,
    max_concurrent: int = 200,
    per_team: int = 1000,
) -> dict[str, Any]:
    """The example blueprint serving the fleet's repositories, without a warm pool."""
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE_BLUEPRINT.read_text(encoding="utf-8"))
    doc.update(
        name=name,
        repositories=list(fleet.repositories),
        maxConcurrentProvisions=max_concurrent,
        provisionDrafts=True,
        quotas={"defaultPerTeam": per_team},
        pool={"defaultSize": 0},
    )
    return doc
