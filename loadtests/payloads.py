"""`pull_request` webhook payloads shaped and sized as GitHub sends them.

GitHub's deliveries carry the full pull request, both head and base
repositories (each ~100 fields, most of them URL templates), the
organisation and the sender: typically 20-35 KB of JSON. This module builds
the same structure, so the webhook parses realistic bodies, plus the Mayfly
`changed_paths` extension that spares a GitHub API call. `event_body` is
`orjson.dumps(event_payload(...))` byte for byte, cheaper for the load
generator: the repository is serialized once per repository and second.
Pure: no I/O, the only randomness is the generator passed in.
"""

from __future__ import annotations

import functools
import random
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

API = "https://api.github.com"
WEB = "https://github.com"
_COLORS = ("d73a4a", "0075ca", "cfd3d7", "a2eeef", "7057ff", "008672", "e4e669", "d876e3")
_WORDS = [
    "fix",
    "refactor",
    "add",
    "remove",
    "update",
    "migrate",
    "cache",
    "retry",
    "index",
    "query",
    "handler",
    "endpoint",
    "service",
    "schema",
    "orders",
    "checkout",
    "search",
    "payments",
    "cart",
    "billing",
    "invoice",
    "customer",
    "timeout",
    "flaky",
    "test",
    "logging",
    "metrics",
    "feature",
    "flag",
    "rollout",
    "cleanup",
    "docs",
]


@dataclass(frozen=True, slots=True)
class PrFacts:
    """What a delivery says about one pull request at one moment."""

    repository: str
    number: int
    author: str
    head_sha: str
    base_sha: str
    branch: str
    title: str
    created_at: datetime
    updated_at: datetime
    labels: tuple[str, ...] = ()
    draft: bool = False
    state: str = "open"
    merged: bool = False
    changed_paths: tuple[str, ...] = ()


def stamp(when: datetime) -> str:
    return _stamp(when.astimezone(UTC).replace(microsecond=0))


@functools.lru_cache(maxsize=4096)  # a delivery stamps the same few seconds several times
def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _id(text: str) -> int:
    """A stable numeric id for a name (GitHub's ids are integers)."""
    return zlib.crc32(text.encode()) % 900_000_000 + 100_000_000


def user(login: str) -> dict[str, Any]:
    return dict(_user(login))


@functools.lru_cache(maxsize=8192)  # pure in `login`; callers get a copy
def _user(login: str) -> dict[str, Any]:
    base = f"{API}/users/{login}"
    return {
        "login": login,
        "id": _id(login),
        "node_id": f"MDQ6VXNlcj{_id(login)}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{_id(login)}?v=4",
        "gravatar_id": "",
        "url": base,
        "html_url": f"{WEB}/{login}",
        "followers_url": f"{base}/followers",
        "following_url": f"{base}/following{{/other_user}}",
        "gists_url": f"{base}/gists{{/gist_id}}",
        "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/subscriptions",
        "organizations_url": f"{base}/orgs",
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events",
        "type": "User",
        "user_view_type": "public",
        "site_admin": False,
    }


_REPO_TEMPLATES = (
    "forks", "keys{/key_id}", "collaborators{/collaborator}", "teams", "hooks",
    "issues/events{/number}", "events", "assignees{/user}", "branches{/branch}", "tags",
    "git/blobs{/sha}", "git/tags{/sha}", "git/refs{/sha}", "git/trees{/sha}",
    "statuses/{sha}", "languages", "stargazers", "contributors", "subscribers",
    "subscription", "commits{/sha}", "git/commits{/sha}", "comments{/number}",
    "issues/comments{/number}", "contents/{+path}", "compare/{base}...{head}", "merges",
    "{archive_format}{/ref}", "downloads", "issues{/number}", "pulls{/number}",
    "milestones{/number}", "notifications{?since,all,participating}", "labels{/name}",
    "releases{/id}", "deployments",
)  # fmt: skip


def repository(full_name: str, *, pushed_at: datetime) -> dict[str, Any]:
    return _repository_at(full_name, stamp(pushed_at))


def _repository_at(full_name: str, pushed: str) -> dict[str, Any]:
    repo = dict(_repository(full_name))  # the same keys in the same order, two of them set
    repo["updated_at"] = repo["pushed_at"] = pushed
    return repo


@functools.lru_cache(maxsize=1024)  # everything but the push time; callers get a copy
def _repository(full_name: str) -> dict[str, Any]:
    owner, name = full_name.split("/", 1)
    base = f"{API}/repos/{full_name}"
    repo: dict[str, Any] = {
        "id": _id(full_name),
        "node_id": f"R_kgDO{_id(full_name)}",
        "name": name,
        "full_name": full_name,
        "private": True,
        "owner": user(owner) | {"type": "Organization"},
        "html_url": f"{WEB}/{full_name}",
        "description": f"{name}: part of the {owner} platform",
        "fork": False,
        "url": base,
    }
    for template in _REPO_TEMPLATES:
        key = template.split("{")[0].split("/")[0] or "archive"
        repo[f"{key.replace('-', '_')}_url"] = f"{base}/{template}"
    repo |= {
        "created_at": "2019-03-11T09:12:44Z",
        "updated_at": "",
        "pushed_at": "",
        "git_url": f"git://github.com/{full_name}.git",
        "ssh_url": f"git@github.com:{full_name}.git",
        "clone_url": f"{WEB}/{full_name}.git",
        "svn_url": f"{WEB}/{full_name}",
        "homepage": None,
        "size": 184_233,
        "stargazers_count": 41,
        "watchers_count": 41,
        "language": "Python",
        "has_issues": True,
        "has_projects": False,
        "has_downloads": True,
        "has_wiki": False,
        "has_pages": False,
        "has_discussions": False,
        "forks_count": 0,
        "mirror_url": None,
        "archived": False,
        "disabled": False,
        "open_issues_count": 87,
        "license": None,
        "allow_forking": False,
        "is_template": False,
        "web_commit_signoff_required": False,
        "topics": ["platform", "preview-environments"],
        "visibility": "private",
        "forks": 0,
        "open_issues": 87,
        "watchers": 41,
        "default_branch": "main",
        "allow_squash_merge": True,
        "allow_merge_commit": False,
        "allow_rebase_merge": True,
        "allow_auto_merge": True,
        "delete_branch_on_merge": True,
        "allow_update_branch": True,
        "use_squash_pr_title_as_default": True,
        "squash_merge_commit_message": "PR_BODY",
        "squash_merge_commit_title": "PR_TITLE",
        "merge_commit_message": "PR_TITLE",
        "merge_commit_title": "MERGE_MESSAGE",
    }
    return repo


def label(name: str) -> dict[str, Any]:
    return {
        "id": _id(name),
        "node_id": f"LA_kwDO{_id(name)}",
        "url": f"{API}/labels/{name}",
        "name": name,
        "color": _COLORS[_id(name) % len(_COLORS)],
        "default": False,
        "description": f"{name} pull requests",
    }


def title_and_body(rng: random.Random) -> tuple[str, str]:
    title = " ".join(rng.choices(_WORDS, k=rng.randint(3, 9))).capitalize()
    lines = [
        "## What",
        " ".join(rng.choices(_WORDS, k=rng.randint(10, 60))),
        "## Why",
        " ".join(rng.choices(_WORDS, k=rng.randint(10, 120))),
        "## Checklist",
        "- [x] tests\n- [x] migration reviewed\n- [ ] docs",
    ]
    return title, "\n\n".join(lines)


def pull_request(
    facts: PrFacts, *, body: str, repo: Any, owner: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The `pull_request` object; `repo` is the repository (a dict, or its JSON as a fragment,
    then with its `owner` given apart)."""
    full, n = facts.repository, facts.number
    base = f"{API}/repos/{full}"
    author = user(facts.author)
    closed = facts.state == "closed"
    return {
        "url": f"{base}/pulls/{n}",
        "id": _id(f"{full}#{n}"),
        "node_id": f"PR_kwDO{_id(f'{full}#{n}')}",
        "html_url": f"{WEB}/{full}/pull/{n}",
        "diff_url": f"{WEB}/{full}/pull/{n}.diff",
        "patch_url": f"{WEB}/{full}/pull/{n}.patch",
        "issue_url": f"{base}/issues/{n}",
        "number": n,
        "state": facts.state,
        "locked": False,
        "title": facts.title,
        "user": author,
        "body": body,
        "created_at": stamp(facts.created_at),
        "updated_at": stamp(facts.updated_at),
        "closed_at": stamp(facts.updated_at) if closed else None,
        "merged_at": stamp(facts.updated_at) if facts.merged else None,
        "merge_commit_sha": facts.head_sha if facts.merged else None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [user("reviewer-bot")],
        "requested_teams": [],
        "labels": [label(x) for x in facts.labels],
        "milestone": None,
        "draft": facts.draft,
        "commits_url": f"{base}/pulls/{n}/commits",
        "review_comments_url": f"{base}/pulls/{n}/comments",
        "review_comment_url": f"{base}/pulls/comments{{/number}}",
        "comments_url": f"{base}/issues/{n}/comments",
        "statuses_url": f"{base}/statuses/{facts.head_sha}",
        "head": {
            "label": f"{full.split('/')[0]}:{facts.branch}",
            "ref": facts.branch,
            "sha": facts.head_sha,
            "user": author,
            "repo": repo,
        },
        "base": {
            "label": f"{full.split('/')[0]}:main",
            "ref": "main",
            "sha": facts.base_sha,
            "user": repo["owner"] if owner is None else owner,
            "repo": repo,
        },
        "_links": {
            "self": {"href": f"{base}/pulls/{n}"},
            "html": {"href": f"{WEB}/{full}/pull/{n}"},
            "issue": {"href": f"{base}/issues/{n}"},
            "comments": {"href": f"{base}/issues/{n}/comments"},
            "review_comments": {"href": f"{base}/pulls/{n}/comments"},
            "review_comment": {"href": f"{base}/pulls/comments{{/number}}"},
            "commits": {"href": f"{base}/pulls/{n}/commits"},
            "statuses": {"href": f"{base}/statuses/{facts.head_sha}"},
        },
        "author_association": "MEMBER",
        "auto_merge": None,
        "active_lock_reason": None,
        "merged": facts.merged,
        "mergeable": None,
        "rebaseable": None,
        "mergeable_state": "unknown",
        "merged_by": author if facts.merged else None,
        "comments": 0,
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": 1,
        "additions": 12 * len(facts.changed_paths) + 3,
        "deletions": 4 * len(facts.changed_paths),
        "changed_files": len(facts.changed_paths),
    }


def event_payload(
    action: str,
    facts: PrFacts,
    *,
    body: str,
    before: str | None = None,
    added_label: str | None = None,
) -> dict[str, Any]:
    """A full `pull_request` delivery body for `action` on the pull request `facts`."""
    repo = repository(facts.repository, pushed_at=facts.updated_at)
    return _event(action, facts, body=body, before=before, added_label=added_label, repo=repo)


def event_body(
    action: str,
    facts: PrFacts,
    *,
    body: str,
    before: str | None = None,
    added_label: str | None = None,
) -> bytes:
    """`orjson.dumps(event_payload(...))`, byte for byte, at a fraction of the cost: the
    repository (three times in a delivery, two thirds of its bytes) is serialized once
    per repository and second and reused as a fragment."""
    repo = _repository_json(facts.repository, stamp(facts.updated_at))
    owner = _repository(facts.repository)["owner"]
    payload = _event(action, facts, body=body, before=before, added_label=added_label,
                     repo=repo, owner=owner)  # fmt: skip
    return orjson.dumps(payload)


@functools.lru_cache(maxsize=256)
def _repository_json(full_name: str, pushed: str) -> orjson.Fragment:
    return orjson.Fragment(orjson.dumps(_repository_at(full_name, pushed)))


def _event(
    action: str,
    facts: PrFacts,
    *,
    body: str,
    before: str | None,
    added_label: str | None,
    repo: Any,
    owner: dict[str, Any] | None = None,
) -> dict[str, Any]:
    org = facts.repository.split("/")[0]
    payload: dict[str, Any] = {
        "action": action,
        "number": facts.number,
        "pull_request": pull_request(facts, body=body, repo=repo, owner=owner),
    }
    if action == "synchronize":
        payload["before"] = before or facts.base_sha
        payload["after"] = facts.head_sha
    if added_label is not None:
        payload["label"] = label(added_label)
    payload |= {
        "repository": repo,
        "organization": {
            "login": org,
            "id": _id(org),
            "node_id": f"O_kgDO{_id(org)}",
            "url": f"{API}/orgs/{org}",
            "repos_url": f"{API}/orgs/{org}/repos",
            "events_url": f"{API}/orgs/{org}/events",
            "hooks_url": f"{API}/orgs/{org}/hooks",
            "issues_url": f"{API}/orgs/{org}/issues",
            "members_url": f"{API}/orgs/{org}/members{{/member}}",
            "public_members_url": f"{API}/orgs/{org}/public_members{{/member}}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{_id(org)}?v=4",
            "description": "",
        },
        "sender": user(facts.author),
        "changed_paths": list(facts.changed_paths),
    }
    return payload
