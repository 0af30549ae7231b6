"""Writing PreviewEnvironments for events: read, decide, write with a precondition.

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
from controller.k8s import kube, names, pe
from controller.k8s.errors import ConflictError
from controller.webhook.events import Event, Stored, Verdict, decide, merged_spec, remember

Obj = dict[str, Any]
PathSource = Callable[[PullRequest], tuple[str, ...]]


def stored_of(obj: Obj) -> Stored | None:
    """The event record of an existing object (None if unreadable: it will be overwritten)."""
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    try:
        pr = pe.pull_request(obj)
        at = datetime.fromisoformat(ann.get(names.EVENT_AT, "").replace("Z", "+00:00"))
    except (SchemaError, ValueError):
        return None
    deliveries = tuple(d for d in ann.get(names.DELIVERIES, "").split(",") if d)
    return Stored(pr, at, deliveries)


def render(pr: PullRequest, *, namespace: str, blueprint: str, deliveries: tuple[str, ...]) -> Obj:
    return {
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
                names.DELIVERIES: ",".join(deliveries),
            },
        },
        "spec": pe.spec_of(pr),
    }


class Store:
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
            moved = stored is None or stored.pr.head_sha != pr.head_sha
            if not event.paths_given and moved and self.paths is not None:
                pr = dataclasses.replace(pr, changed_paths=self.paths(pr))
            body = render(
                pr,
                namespace=self.namespace,
                blueprint=blueprint,
                deliveries=remember(stored, event.delivery),
            )
            try:
                if obj is None:
                    self.api.create(body, manager=names.WEBHOOK_FIELD_MANAGER)
                else:
                    body["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
                    self.api.apply(body, manager=names.WEBHOOK_FIELD_MANAGER)
            except ConflictError:
                continue  # someone wrote first: decide again on what they wrote
            return Verdict.APPLY
        raise ConflictError(409, "Conflict", f"{attempts} write conflicts in a row")
