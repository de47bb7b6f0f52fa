"""The Redis client ``redis_url`` names: one primary, or the primary a Sentinel group elects.

- ``redis://[[user]:password@]host:6379/0`` (``rediss://`` TLS, ``unix:///path?db=0``): that
  server, through a blocking pool of ``redis_max_connections``.
- ``redis+sentinel://[[user]:password@]host1:26379[,host2:26379,...]/SERVICE[/DB]``
  (``rediss+sentinel://`` for TLS to the data nodes; ``?sentinel_password=...`` when the
  sentinels have a password of their own): the primary of ``SERVICE`` as the sentinels report
  it, found again after a failover (redis-py's Sentinel client).

Redis Cluster (``redis+cluster://``) is refused when the settings are read (config/urls.py): the
state's atomic scripts read and write keys that would live in different hash slots.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
DEFAULT_SENTINEL_PORT = 26379
_ADDRESS = re.compile(r"(?:\[([^\]]+)\]|([^:\[\],/]+))(?::(\d+))?")


@dataclass(frozen=True)
class SentinelTarget:
    hosts: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None
    tls: bool = False


def parse_sentinel_url(url: str) -> SentinelTarget:
    """``redis+sentinel://...`` as a SentinelTarget; ValueError naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in SENTINEL_SCHEMES:
        raise ValueError(f"not a Sentinel URL (scheme {parts.scheme!r})")
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":") if userinfo else ("", "", "")
    hosts = []
    for item in (h.strip() for h in hostlist.split(",")):
        m = _ADDRESS.fullmatch(item)
        if not m:
            raise ValueError(f"sentinel address {item!r}: expected host[:port] ([v6]:port)")
        host = m.group(1) or m.group(2)
        hosts.append((host, int(m.group(3) or DEFAULT_SENTINEL_PORT)))
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise ValueError(
            "a Sentinel URL names the monitored service, then optionally the db: "
            "redis+sentinel://host:26379/SERVICE[/DB]"
        )
    if len(path) == 2 and not path[1].isdigit():
        raise ValueError(f"db {path[1]!r} is not a number")
    query = parse_qs(parts.query)
    return SentinelTarget(
        hosts=tuple(hosts),
        service=unquote(path[0]),
        db=int(path[1]) if len(path) == 2 else 0,
        username=unquote(user) or None,
        password=unquote(password) or None,
        sentinel_password=query.get("sentinel_password", [None])[0],
        tls=parts.scheme.startswith("rediss"),
    )


def redis_client(url: str, *, timeout_s: float, max_connections: int) -> Redis:
    """The client for ``url``: every call bounded by ``timeout_s``, no retries (the store's
    breaker decides when to try again)."""
    common: dict[str, Any] = {
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "retry": Retry(NoBackoff(), 0),
        "decode_responses": True,
        "health_check_interval": 30,
    }
    if urlsplit(url).scheme not in SENTINEL_SCHEMES:
        pool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=timeout_s, **common
        )
        return Redis.from_pool(pool)  # closing the client closes its pool (its sockets)
    from redis.asyncio.sentinel import Sentinel

    t = parse_sentinel_url(url)
    sentinel = Sentinel(
        list(t.hosts),
        sentinel_kwargs={
            "socket_timeout": timeout_s,
            "socket_connect_timeout": timeout_s,
            **({"password": t.sentinel_password} if t.sentinel_password else {}),
        },
        **common,
    )
    opts: dict[str, Any] = {"db": t.db, "ssl": t.tls, "max_connections": max_connections}
    opts.update({k: v for k, v in (("username", t.username), ("password", t.password)) if v})
    primary: Redis = sentinel.master_for(t.service, redis_class=Redis, **opts)
    return primary


async def close_client(client: Redis) -> None:
    """Close ``client``'s connections and, for a Sentinel group, those to the sentinels (the
    Sentinel object that found the primary holds them; closing the client leaves them open)."""
    await client.aclose()
    manager = getattr(client.connection_pool, "sentinel_manager", None)
    if manager is not None:
        await asyncio.gather(*(s.aclose() for s in manager.sentinels))
