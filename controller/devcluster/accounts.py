"""Service-account identities on a test control plane: a bound token in a kubeconfig.

In a cluster Mayfly's components authenticate with their ServiceAccount's
token, not with the admin client certificate the test plane hands out.
`token_kubeconfig` asks the TokenRequest API for a bound token of an
existing ServiceAccount and writes a copy of the plane's kubeconfig whose
user carries only that bearer token, so tests and benchmarks exercise the
RBAC in deploy/ and the API server's token path (validated tokens are
cached) as production does. It presents no client certificate: the API
server tries x509 first, and a certificate would make the request the
admin's. It creates no ServiceAccount or binding itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

DEFAULT_SECONDS = 24 * 3600  # longer than any test or benchmark run


def request_token(
    api: client.ApiClient, *, namespace: str, name: str, seconds: int = DEFAULT_SECONDS
) -> str:
    """A bound token of ServiceAccount `namespace/name`, valid for `seconds`."""
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=seconds)
    )
    answer = client.CoreV1Api(api).create_namespaced_service_account_token(name, namespace, request)
    if answer.status is None or not answer.status.token:
        raise RuntimeError(f"the API server issued no token for {namespace}/{name}")
    return answer.status.token


def token_kubeconfig(
    api: client.ApiClient,
    admin_kubeconfig: Path,
    path: Path,
    *,
    namespace: str,
    name: str,
    seconds: int = DEFAULT_SECONDS,
) -> Path:
    """Write `path`: `admin_kubeconfig`'s cluster, as ServiceAccount `namespace/name`."""
    token = request_token(api, namespace=namespace, name=name, seconds=seconds)
    config: dict[str, Any] = yaml.safe_load(admin_kubeconfig.read_text())
    user = f"system:serviceaccount:{namespace}:{name}"
    config["users"] = [{"name": user, "user": {"token": token}}]
    for context in config["contexts"]:
        context["context"]["user"] = user
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path
