"""Locust load tests of pull-request bursts against the real webhook and controller.

Pure pieces (signing, payloads, the fleet of repositories and teams, the
per-worker ledger, load shapes, stop rules) are importable without a running
Locust; the locustfiles under `loadtests/locustfiles/` wire them into one
small scenario each; `runner` starts the control plane, controller and
webhook, runs Locust headless and checks the result against the API server.
Nothing here is imported by the controller or the webhook.
"""
