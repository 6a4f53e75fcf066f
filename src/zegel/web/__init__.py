"""zegel web: the domain check, header analyzer, mail tester and record tools as a self-hosted
web app (Starlette + Jinja2, served by uvicorn), in English and Dutch.

``create_app(Settings(...), extensions=[Extension(...)])`` builds the ASGI app; docs/web.md
describes the pages, the JSON API and how to add route groups.
"""

from zegel.web.app import Extension, NavItem, WebContext, create_app, web_context
from zegel.web.settings import Limits, Settings

__all__ = ["Extension", "Limits", "NavItem", "Settings", "WebContext", "create_app", "web_context"]
