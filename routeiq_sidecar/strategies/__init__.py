"""RouteIQ sidecar."""
