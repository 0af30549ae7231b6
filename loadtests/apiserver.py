"""The API server's own count of the requests it served (`apiserver_request_total`).

Benchmarks read it before and after a run to say which verbs on which
resources the run cost, whoever sent them. Read-only; no decisions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

Labels = dict[str, str]


def request_counts(api: Any, key: Callable[[Labels], str | None]) -> dict[str, float]:
    """Requests served so far, summed by `key(labels)`; samples it maps to None are left out.

    `api` is a `kubernetes.client.ApiClient` allowed to read `/metrics`.
    """
    resp = api.rest_client.pool_manager.request("GET", f"{api.configuration.host}/metrics")
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(resp.data.decode()):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            name = key(sample.labels) if sample.name == "apiserver_request_total" else None
            if name is not None:
                counts[name] = counts.get(name, 0.0) + sample.value
    return counts
