"""Mayfly's control plane: the pure core, the Kubernetes shell, the webhook and the CLI."""
