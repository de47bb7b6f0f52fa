"""``RouteFirst`` sends ``POST /route`` and ``POST /v1/route`` to the route endpoint and every
other request to the app behind it (real ASGI calls through httpx's ASGI transport)."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from routeiq_sidecar.api.rest import RouteFirst


def _app() -> tuple[RouteFirst, list[str]]:
    seen: list[str] = []

    async def endpoint(request: Request) -> Response:
        seen.append(f"endpoint {request.method} {request.url.path} {(await request.body())!r}")
        return PlainTextResponse("routed")

    async def behind(request: Request) -> Response:
        seen.append(f"app {request.method} {request.url.path}")
        return PlainTextResponse("app")

    app = Starlette(routes=[Route("/route", behind, methods=["POST"]),
                            Route("/v1/route", behind, methods=["POST"]),
                            Route("/healthz", behind, methods=["GET"])])
    return RouteFirst(app, endpoint), seen


async def test_the_route_paths_go_to_the_endpoint_and_the_rest_to_the_app() -> None:
    app, seen = _app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as c:
        assert (await c.post("/route", content=b"{}")).text == "routed"
        assert (await c.post("/v1/route", content=b"x")).text == "routed"
        assert (await c.get("/healthz")).text == "app"
        get = await c.get("/route")  # another method: the app's 405, with its allow header
        assert get.status_code == 405 and get.headers["allow"] == "POST"
        assert (await c.post("/route/x")).status_code == 404
    assert seen == ["endpoint POST /route b'{}'", "endpoint POST /v1/route b'x'",
                    "app GET /healthz"]


async def test_a_mounted_app_is_routed_by_the_app() -> None:
    app, seen = _app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, root_path="/api"),
                                 base_url="http://t") as c:
        await c.post("/api/route")
    assert seen and seen[0].startswith("app ")
