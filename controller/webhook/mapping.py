"""Which team and Blueprint a repository's pull requests belong to (a YAML file).

    repositories:
      acme/shop: {blueprint: shop, team: storefront}
    authors:            # optional: an author's team overrides the repository's
      some-login: checkout

Loaded once at startup; an unknown repository is ignored by the webhook (202).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from controller.core.naming import DNS1123_LABEL


class MappingError(ValueError):
    """The mapping file is malformed; the message names the entry."""


@dataclass(frozen=True, slots=True)
class Target:
    blueprint: str
    team: str


@dataclass(frozen=True, slots=True)
class RepoMap:
    repositories: dict[str, Target] = field(default_factory=dict)
    authors: dict[str, str] = field(default_factory=dict)

    def lookup(self, repository: str, author: str) -> Target | None:
        target = self.repositories.get(repository.lower())
        if target is None:
            return None
        team = self.authors.get(author.lower(), target.team)
        return Target(target.blueprint, team)


def parse(data: Any) -> RepoMap:
    if not isinstance(data, dict) or not isinstance(data.get("repositories"), dict):
        raise MappingError("expected a mapping with a 'repositories' mapping")
    repos: dict[str, Target] = {}
    for repo, entry in data["repositories"].items():
        if not isinstance(entry, dict) or "/" not in str(repo):
            raise MappingError(f"repositories.{repo}: expected owner/name: {{blueprint, team}}")
        bp, team = str(entry.get("blueprint", "")), str(entry.get("team", ""))
        for what, value in (("blueprint", bp), ("team", team)):
            if not DNS1123_LABEL.match(value):
                raise MappingError(f"repositories.{repo}.{what}: expected a DNS label")
        repos[str(repo).lower()] = Target(bp, team)
    authors = {str(k).lower(): str(v) for k, v in (data.get("authors") or {}).items()}
    for login, team in authors.items():
        if not DNS1123_LABEL.match(team):
            raise MappingError(f"authors.{login}: expected a team name (DNS label)")
    return RepoMap(repos, authors)


def load(path: Path) -> RepoMap:
    return parse(yaml.safe_load(path.read_text(encoding="utf-8")))
