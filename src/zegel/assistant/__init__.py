"""zegel.assistant — the console's questions for an AI assistant, over MCP.

:mod:`zegel.assistant.tools` holds the tools as plain async functions under the caller's
access rules (the JSON API uses them too); :mod:`zegel.assistant.server` exposes them with the
``mcp`` SDK's Streamable HTTP transport, for the bearer of a console API token.
"""

from zegel.assistant.tools import Services, ToolError

__all__ = ["Services", "ToolError"]
