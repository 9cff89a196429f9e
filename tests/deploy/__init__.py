"""Offline checks of the deployment: the container image recipe and the Kubernetes manifests."""
