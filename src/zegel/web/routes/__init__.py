"""The built-in route groups. Each module has ``routes(ctx) -> list[BaseRoute]``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from zegel.web.app import WebContext, web_context


async def home(request: Request) -> Response:
    ctx = web_context(request)
    return ctx.render(request, "home.html", {"nav": "home", "examples": ctx.demo_domains})


async def health(request: Request) -> Response:
    from starlette.responses import PlainTextResponse

    return PlainTextResponse("ok\n")


ROBOTS = (
    "# Results are people's own: shared links, tester reports and the API are not for indexes.\n"
    "User-agent: *\nDisallow: /check\nDisallow: /explain/r/\nDisallow: /tester/\nDisallow: /api/\n"
)


async def robots(request: Request) -> Response:
    from starlette.responses import PlainTextResponse

    return PlainTextResponse(ROBOTS)


def routes(ctx: WebContext) -> list[BaseRoute]:
    from zegel.web.routes import api, check, explain, tester, tools

    return [
        Route("/", home, methods=["GET"], name="home"),
        Route("/healthz", health, methods=["GET"], name="health"),
        Route("/robots.txt", robots, methods=["GET"], name="robots"),
        *check.routes(ctx),
        *explain.routes(ctx),
        *tester.routes(ctx),
        *tools.routes(ctx),
        *api.routes(ctx),
    ]


async def stop_background(ctx: WebContext) -> None:
    from zegel.web.routes import check

    await check.stop_bulk(ctx)
