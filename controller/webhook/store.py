"""Writing PreviewEnvironments for events: read, decide, write with a precondition.

`stored_of`, `render` and `needs_paths` are shared with `cached_store`, the
production path, which reads from a watch cache instead of a GET.

The API server is the durable queue: a handler answers 2xx only after the
server accepted the write. A new object is created with POST (409 if a
concurrent delivery created it first); an existing one is updated with
server-side apply carrying the `resourceVersion` it was decided on, so a
concurrent write makes this one fail with 409 and the decision is made
again on fresh data. Ordering rules are `events.decide`'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from controller.core.schema import SchemaError, encode
from controller.core.types import PullRequest
from controller.k8s import kube, names
from controller.k8s.errors import ConflictError
from controller.webhook import prcodec
from controller.webhook.events import Event, Stored, Verdict, decide, merged_spec, remember

Obj = dict[str, Any]
PathSource = Callable[[PullRequest], tuple[str, ...]]


def stored_of(obj: Obj) -> Stored | None:
    """The event record of an existing object (None if unreadable: it will be overwritten)."""
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    try:
        pr = prcodec.load(obj.get("spec") or {}, what=f"{names.PE_KIND} spec")
        at = datetime.fromisoformat(ann.get(names.EVENT_AT, "").replace("Z", "+00:00"))
    except (SchemaError, ValueError):
        return None
    deliveries = tuple(d for d in ann.get(names.DELIVERIES, "").split(",") if d)
    return Stored(pr, at, deliveries)


def render(
    stored: Stored | None,
    event: Event,
    pr: PullRequest,
    *,
    namespace: str,
    blueprint: str,
    resource_version: str | None,
) -> Obj:
    """The object to write for `event` over `stored`: `pr` is its merged spec, paths filled.

    A `resource_version` (that of the object decided on) makes the write conditional.
    """
    obj: Obj = {
        "apiVersion": names.API_VERSION,
        "kind": names.PE_KIND,
        "metadata": {
            "name": names.env_name(pr.key),
            "namespace": namespace,
            "labels": {
                names.BLUEPRINT: blueprint,
                names.PR: str(pr.number),
                names.REPO: names.label_value(pr.repository.replace("/", "-")),
                names.TEAM: pr.team,
            },
            "annotations": {
                names.EVENT_AT: encode(pr.updated_at),
                names.DELIVERIES: ",".join(remember(stored, event.delivery)),
            },
        },
        "spec": prcodec.dump(pr),
    }
    if resource_version is not None:
        obj["metadata"]["resourceVersion"] = resource_version
    return obj


def needs_paths(stored: Stored | None, event: Event, pr: PullRequest) -> bool:
    """Whether `pr`'s changed paths must come from GitHub: the head moved, the payload has none."""
    return not event.paths_given and (stored is None or stored.pr.head_sha != pr.head_sha)


class Store:
    """The plain path (official client, a GET per decision): tests and tools use it."""

    def __init__(self, api: kube.Kube, *, namespace: str, paths: PathSource | None = None) -> None:
        self.api, self.namespace, self.paths = api, namespace, paths

    def write(self, event: Event, *, blueprint: str, attempts: int = 5) -> Verdict:
        """Apply `event` if the ordering rules allow; retry on write conflicts."""
        name = names.env_name(event.pr.key)
        for attempt in range(attempts):
            # an `opened` event usually creates: try that first, read only on 409
            guess_new = attempt == 0 and event.action == "opened"
            obj = None if guess_new else self.api.get(kube.PE, name, self.namespace)
            stored = stored_of(obj) if obj is not None else None
            verdict = decide(stored, event)
            if verdict is not Verdict.APPLY:
                return verdict
            pr = merged_spec(stored, event)
            if self.paths is not None and needs_paths(stored, event, pr):
                pr = dataclasses.replace(pr, changed_paths=self.paths(pr))
            rv = obj["metadata"]["resourceVersion"] if obj is not None else None
            body = render(stored, event, pr, namespace=self.namespace, blueprint=blueprint,
                          resource_version=rv)  # fmt: skip
            try:
                if obj is None:
                    self.api.create(body, manager=names.WEBHOOK_FIELD_MANAGER)
                else:
                    self.api.apply(body, manager=names.WEBHOOK_FIELD_MANAGER)
            except ConflictError:
                continue  # someone wrote first: decide again on what they wrote
            return Verdict.APPLY
        raise ConflictError(409, "Conflict", f"{attempts} write conflicts in a row")
