from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_support import RedisServer, running_redis


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path / "redis") as server:
        yield server
