"""Names, labels and annotations shared by the controller, the webhook and the tests.

Pure constants and tiny functions: the PreviewEnvironment's API coordinates,
the label keys every rendered object carries, deterministic object names.
Nothing here talks to the API server.
"""

from __future__ import annotations

from controller.core.naming import namespace_for, short_hash, slug
from controller.core.types import EnvKey

GROUP = "mayfly.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
PE_KIND = "PreviewEnvironment"
PE_PLURAL = "previewenvironments"
BP_KIND = "Blueprint"
BP_PLURAL = "blueprints"

FIELD_MANAGER = "mayfly"
WEBHOOK_FIELD_MANAGER = "mayfly-webhook"
FINALIZER = "mayfly.dev/teardown"
DEFAULT_NAMESPACE = "mayfly-system"
POOL_NAMESPACE = "mayfly-pool"

# labels
MANAGED = "mayfly.dev/managed"
MANAGED_BY = "app.kubernetes.io/managed-by"
ENV = "mayfly.dev/env"
BLUEPRINT = "mayfly.dev/blueprint"
PR = "mayfly.dev/pr"
REPO = "mayfly.dev/repository"
TEAM = "mayfly.dev/team"
OWNER = "mayfly.dev/owner"
ADMITTED = "mayfly.dev/admitted"
STEP = "mayfly.dev/step"
SHA = "mayfly.dev/sha"
ATTEMPT = "mayfly.dev/attempt"
SLOT = "mayfly.dev/slot"
CLAIMED_BY = "mayfly.dev/claimed-by"
GENERATION = "mayfly.dev/generation"
GOLDEN = "mayfly.dev/golden"
COMPONENT = "mayfly.dev/component"

# annotations
REPOSITORY_FULL = "mayfly.dev/repository-full-name"
NUMBER = "mayfly.dev/number"
STARTED_AT = "mayfly.dev/started-at"
DETAIL = "mayfly.dev/detail"
HANDED_OVER = "mayfly.dev/handed-over"  # on a PR PVC: the volume now points to it
FRAMED = "mayfly.dev/framed"  # on a PR namespace: its quota, limits and egress policy are in
DB_ACCESS_SHA = "mayfly.dev/db-access-sha"
EVENT_AT = "mayfly.dev/event-updated-at"
DELIVERIES = "mayfly.dev/deliveries"

DB_SECRET = "db-credentials"
DB_VOLUME = "database"  # the PR namespace's database PVC (a warm slot or clone handed over)
SANDBOX_KEYS = ("mayfly.dev/managed",)


def env_name(key: EnvKey, *, prefix: str = "pr") -> str:
    """The PreviewEnvironment name of a pull request: the same as its namespace name."""
    return namespace_for(key, prefix=prefix)


def label_value(text: str) -> str:
    """A label value (<= 63 chars, [a-z0-9-]) derived from free text, hashed if too long."""
    value = slug(text)
    if len(value) > 63:
        value = f"{value[:54].strip('-')}-{short_hash(text)}"
    return value


def short_sha(sha: str) -> str:
    return sha[:12]


def job_name(step: str, sha: str, attempt: int) -> str:
    """Deterministic Job name: re-running the same action re-applies the same object."""
    return f"{step}-{short_sha(sha)}-{attempt}"


def clone_name(namespace: str, attempt: int) -> str:
    """Pool-namespace PVC name of an environment's cloned database volume."""
    return f"{namespace}-db-{attempt}"[:63]


def step_marker(step: str) -> str:
    """ConfigMap recording the latest run of a step that has no single owning object."""
    return f"mayfly-step-{step}"
