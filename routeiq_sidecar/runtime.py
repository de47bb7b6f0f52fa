"""What both transports share: the engine and the serving state (ready, draining)."""

from __future__ import annotations

from dataclasses import dataclass

from routeiq_sidecar.engine.engine import Engine
from routeiq_sidecar.errors import ErrorKind, RouteIQError


@dataclass
class Runtime:
    engine: Engine
    draining: bool = False

    @property
    def ready(self) -> bool:
        return not self.draining

    def check_serving(self) -> None:
        if self.draining:
            raise RouteIQError(
                ErrorKind.UNAVAILABLE, "server is draining: retry on another replica"
            )
