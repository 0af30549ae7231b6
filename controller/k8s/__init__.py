"""The Kubernetes shell of the controller: CRDs, watches, work queue, server-side apply.

It turns what the API server shows into the core's values, calls
`controller.core.reconcile`, and applies the resulting plan. Decisions belong
to the core; this package only does I/O.
"""
