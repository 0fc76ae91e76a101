"""The Repo Runner client: every operation of the API (generated into `Operations`), and
the flows a notebook wants on top: log in, start a run and follow its phases as they
happen, wait for its report."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, Optional

from ._api import LoginBody, Operations, RunView, Started, StartRun
from ._transport import Event, Transport


class Client(Operations):
    """A client of one node's API, acting as the user whose token it holds.

    >>> rr = Client.with_password("http://127.0.0.1:8080", "ana", "a long password")  # doctest: +SKIP
    >>> run = rr.start_run("notes-app")                                        # doctest: +SKIP
    >>> report = rr.wait(run["id"], on_event=print)["report"]                  # doctest: +SKIP
    """

    def __init__(self, url: str, token: Optional[str] = None, timeout: float = 30.0) -> None:
        self._transport = Transport(url, token, timeout)

    @classmethod
    def with_password(
        cls,
        url: str,
        name: str,
        password: str,
        timeout: float = 30.0,
        client: Optional[str] = None,
    ) -> "Client":
        """A client with a new token of the user `name`, from its password
        (`POST /v1/login`); `client` names the business client the user belongs to
        (none: a user of the node itself)."""
        body: LoginBody = {"name": name, "password": password}
        if client is not None:
            body["client"] = client
        issued = cls(url, None, timeout).login(body)
        return cls(url, issued["token"], timeout)

    @property
    def token(self) -> Optional[str]:
        """The token this client sends."""
        return self._transport.token

    def start_run(self, path: str, **options: Any) -> Started:
        """Starts a run of the repository at `path` (under the node's --repo-root), with
        `http_timeout_secs`, `run_tests`, `index` or `model` as options."""
        body: StartRun = {"path": path, **options}  # type: ignore[typeddict-item]
        return self.runs_start(body)

    def follow(self, run_id: str) -> Iterator[Event]:
        """The run's events as they happen, from its first, until it finishes."""
        return self.runs_events(run_id)

    def wait(
        self, run_id: str, on_event: Optional[Callable[[Event], None]] = None
    ) -> RunView:
        """Follows the run until it finishes (calling `on_event` for each event), then
        returns the run with its report."""
        for event in self.follow(run_id):
            if on_event is not None:
                on_event(event)
            if event.event == "finished":
                break
        return self.runs_show(run_id)


def phases(view: RunView) -> Dict[str, str]:
    """Each phase of a finished run and its status, in order."""
    run = view.get("run") or {}
    return {p["name"]: p["status"] for p in run.get("phases", []) if "name" in p}
