"""Redis behind Sentinel (``redis+sentinel://``): a real primary, a real replica and a real
sentinel (``redis-server --sentinel``). The store finds the primary through the sentinel, and
after a failover it writes to the new primary without a restart. Redis Cluster URLs are refused
at start with an error naming the setting (and never its password)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from routeiq_sidecar.state.redis_store import RedisStore
from tests.redis_support import REDIS_SERVER, RedisServer, free_port, running_redis, wait_for
from tests.unit.state.helpers import limits

SERVICE = "routeiq-primary"


def spawn(*args: str) -> subprocess.Popen[bytes]:
    assert REDIS_SERVER is not None
    return subprocess.Popen(
        [REDIS_SERVER, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def client(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, decode_responses=True)


def answers(port: int) -> bool:
    try:
        return bool(client(port).ping())
    except redis.RedisError:
        return False


class Group:
    def __init__(self, primary: RedisServer, replica: int, sentinel: int) -> None:
        self.primary, self.replica_port, self.sentinel_port = primary, replica, sentinel

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{SERVICE}/0"

    def primary_port(self) -> int:
        _, port = client(self.sentinel_port).execute_command(
            "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE
        )
        return int(port)


def start_failover(sentinel_port: int) -> bool:
    """SENTINEL FAILOVER; False while the sentinel has no replica it may promote yet
    (NOGOODSLAVE: its view of the new replica's link is refreshed every few seconds)."""
    try:
        client(sentinel_port).execute_command("SENTINEL", "FAILOVER", SERVICE)
    except redis.ResponseError as exc:
        if "NOGOODSLAVE" in str(exc):
            return False
        raise
    return True


@pytest.fixture
def sentinel_group(tmp_path: Path) -> Iterator[Group]:
    with running_redis(tmp_path / "primary") as primary:
        replica_port, sentinel_port = free_port(), free_port()
        (tmp_path / "replica").mkdir()
        conf = tmp_path / "sentinel.conf"  # sentinel rewrites its config: a file of its own
        conf.write_text(
            f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {primary.port} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 5000\n"
        )
        procs = [
            spawn("--port", str(replica_port), "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--dir", str(tmp_path / "replica"),
                  "--replicaof", "127.0.0.1", str(primary.port)),
            spawn(str(conf), "--sentinel"),
        ]  # fmt: skip
        try:
            wait_for(lambda: answers(replica_port) and answers(sentinel_port))
            group = Group(primary, replica_port, sentinel_port)

            def replica_known() -> bool:
                info = client(sentinel_port).execute_command("SENTINEL", "REPLICAS", SERVICE)
                return bool(info)

            wait_for(replica_known, timeout=30)
            wait_for(lambda: client(replica_port).info("replication")["master_link_status"] == "up")
            yield group
        finally:
            for p in procs:
                p.terminate()
                p.wait(10)


async def test_the_store_follows_the_primary_through_a_failover(sentinel_group: Group) -> None:
    g = sentinel_group
    store = RedisStore(g.url, limits(), timeout_ms=500)
    try:
        assert await store.record_decision("d1", {"category": "code"})
        assert client(g.primary.port).exists("routeiq:dec:d1") == 1
        wait_for(lambda: start_failover(g.sentinel_port), timeout=60, every=0.5)
        wait_for(lambda: g.primary_port() == g.replica_port, timeout=30)
        wait_for(lambda: client(g.replica_port).info("replication")["role"] == "master")
        # the old primary is demoted (writes it took in between are lost: async replication)
        wait_for(lambda: client(g.primary.port).info("replication")["role"] == "slave", 30)

        deadline = time.monotonic() + 30  # the breaker may hold a few backoffs first
        ok = False
        while not ok and time.monotonic() < deadline:
            ok = await store.record_decision("d2", {"category": "math"})
            if not ok:
                time.sleep(0.2)
        assert ok, "no write reached the new primary"
        assert client(g.replica_port).exists("routeiq:dec:d2") == 1  # on the new primary
        res = await store.record_feedback("d1", {"score": 1.0})  # replicated before failover
        assert res.found and res.record == {"category": "code"}
    finally:
        await store.close()


@pytest.mark.parametrize("scheme", ["redis+cluster", "rediss+cluster"])
def test_a_cluster_url_stops_the_start_naming_the_setting(scheme: str) -> None:
    url = f"{scheme}://:s3cret@10.0.0.1:7000"
    r = subprocess.run(
        [sys.executable, "-m", "routeiq_sidecar", "serve", "--http-port", "0", "--grpc-port", "0"],
        capture_output=True, text=True, timeout=120, env={"ROUTEIQ_REDIS_URL": url, "PATH": ""},
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "ROUTEIQ_REDIS_URL=" in r.stderr and "Redis Cluster is not supported" in r.stderr
    assert "redis+sentinel://" in r.stderr  # says what to use instead
    assert "s3cret" not in r.stderr
