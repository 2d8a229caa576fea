"""Deployment: Kubernetes manifests (k8s/) and the one-machine launcher (local/)."""
