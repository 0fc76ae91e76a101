"""A Python client of Repo Runner's HTTP API, for notebooks and scripts.

    from reporunner_client import Client
    rr = Client.with_password("http://127.0.0.1:8080", "ana", "a long password")
    run = rr.start_run("notes-app")
    view = rr.wait(run["id"], on_event=lambda e: print(e.event, e.data.get("message")))
    print(view["report"]["rung"])

Every endpoint of the OpenAPI document is a method of `Client` (generated into `_api.py`
by `generate.py`); errors are `ApiError` with the API's stable code.
"""

from ._api import API_VERSION, Operations
from ._transport import ApiError, Event, Transport, Unreachable
from .client import Client, phases

__all__ = [
    "API_VERSION",
    "ApiError",
    "Client",
    "Event",
    "Operations",
    "Transport",
    "Unreachable",
    "phases",
]
