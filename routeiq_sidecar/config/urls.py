"""The Redis URL rules the settings check at start, and a URL fit to print (no password)."""

from __future__ import annotations

REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel")


def redis_url_problem(url: str) -> str | None:
    """Why ``redis_url`` cannot work, or None (the Sentinel form is parsed in
    state/redis_url.py when the store starts)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("redis+cluster", "rediss+cluster"):
        return (
            "Redis Cluster is not supported (the state's atomic scripts use keys in different "
            "hash slots): use one primary (redis://host:6379/0) or a Sentinel group "
            "(redis+sentinel://sentinel1:26379,sentinel2:26379/SERVICE)"
        )
    if scheme not in REDIS_SCHEMES:
        return f"unsupported scheme {scheme!r}: expected one of {', '.join(REDIS_SCHEMES)}"
    return None


def redact_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
