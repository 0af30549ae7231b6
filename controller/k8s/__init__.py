"""The Kubernetes shell of Mayfly: observe the cluster, call `reconcile`, apply the plan.

Layers, each in its own module: `names` (labels, object names), `errors`
(API statuses mapped to retryable or terminal errors), `kube` (the one place
that talks HTTP to the API server), `render_*` (pure manifests), `observe`
(cluster -> core values), `application` (plan -> API writes), `loop` (work
queue, watches, leader election). It never imports `sim` and makes no
decisions: every decision is `controller.core.reconcile`'s.
"""
