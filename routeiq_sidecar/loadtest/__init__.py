"""Load generation against a running sidecar (``routeiq-sidecar bench``, bench/ scripts)."""
