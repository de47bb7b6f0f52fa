"""redis_url forms: one primary, a Sentinel group (parsed), Cluster and unknown schemes refused."""

from __future__ import annotations

import re

import pytest

from routeiq_sidecar.config import ConfigError, load_settings
from routeiq_sidecar.state.redis_url import SentinelTarget, parse_sentinel_url


def test_a_sentinel_url_names_hosts_service_db_and_credentials() -> None:
    t = parse_sentinel_url(
        "rediss+sentinel://app:pa%40ss@s1:26380,s2,[::1]:26381/my-primary/3"
        "?sentinel_password=sp"
    )
    assert t == SentinelTarget(
        hosts=(("s1", 26380), ("s2", 26379), ("::1", 26381)),
        service="my-primary",
        db=3,
        username="app",
        password="pa@ss",
        sentinel_password="sp",
        tls=True,
    )
    plain = parse_sentinel_url("redis+sentinel://10.0.0.5/svc")
    assert (plain.hosts, plain.service, plain.db, plain.password, plain.tls) == (
        (("10.0.0.5", 26379),), "svc", 0, None, False
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+sentinel://s1:26379", "names the monitored service"),
        ("redis+sentinel://s1:26379/svc/x", "db 'x' is not a number"),
        ("redis+sentinel://s1:port/svc", "expected host[:port]"),
        ("redis+sentinel:///svc", "expected host[:port]"),
    ],
)
def test_a_malformed_sentinel_url_says_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_sentinel_url(url)


def test_cluster_and_unknown_schemes_are_refused_by_name_without_the_password() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(redis_url="redis+cluster://:hunter2@node1:7000")
    text = str(err.value)
    assert "--redis-url=" in text and "Redis Cluster is not supported" in text
    assert "hunter2" not in text and "***@node1:7000" in text
    with pytest.raises(ConfigError, match="unsupported scheme 'http'"):
        load_settings(redis_url="http://node1:6379")
    for ok in ("redis://h:6379/0", "rediss://h/0", "unix:///tmp/r.sock", "redis+sentinel://s/p"):
        assert load_settings(redis_url=ok).redis_url == ok
