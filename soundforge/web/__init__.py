"""The web endpoint: a Quart app on Hypercorn inside the node's loop (Phoenix's endpoint).

``Endpoint`` is the supervised actor; ``create_app`` builds the app (pages, ``/api/v1``,
``/ws``, ``/health``, ``/metrics``). See ``docs/api.md`` and ``docs/architecture.md``.
"""

from soundforge.web.app import create_app
from soundforge.web.endpoint import DEFAULT_NAME, Endpoint, EndpointOptions, PortInUse, url

__all__ = ["DEFAULT_NAME", "Endpoint", "EndpointOptions", "PortInUse", "create_app", "url"]
