"""HTTP for the client: JSON requests, typed errors, and server-sent events, with the
standard library only."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, Optional


class ApiError(Exception):
    """An answer that is not a success: the status, the API's stable error code and
    message, and for a refused request the seconds to wait (`Retry-After`)."""

    def __init__(
        self, status: int, code: str, message: str, retry_after: Optional[int] = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


class Unreachable(ApiError):
    """The node could not be reached at all (refused, DNS, timeout)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(0, "unreachable", f"cannot reach {url}: {reason}")


@dataclass
class Event:
    """One server-sent event of a run: its sequence number, its kind, and its data."""

    id: Optional[str]
    event: str
    data: Dict[str, Any] = field(default_factory=dict)


class Transport:
    """Requests to one node's API with one token."""

    def __init__(self, url: str, token: Optional[str] = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def call(
        self,
        verb: str,
        path: str,
        *,
        body: Any = None,
        query: Optional[Dict[str, Any]] = None,
        mode: str = "json",
    ) -> Any:
        """Sends one request and reads its answer as `mode` says: json, text, stream or
        none. A non-2xx answer raises ApiError."""
        url = self.url + urllib.parse.quote(path, safe="/{}")
        if query:
            present = {k: v for k, v in query.items() if v is not None}
            if present:
                url += "?" + urllib.parse.urlencode(present)
        data = None
        headers = {"accept": "text/event-stream" if mode == "stream" else "application/json"}
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=data, headers=headers, method=verb)
        try:
            response = urllib.request.urlopen(
                request, timeout=None if mode == "stream" else self.timeout
            )
        except urllib.error.HTTPError as e:
            raise _error(e) from None
        except (urllib.error.URLError, OSError) as e:
            raise Unreachable(self.url, str(getattr(e, "reason", e))) from None
        if mode == "stream":
            return _events(response)
        with response:
            raw = response.read()
        if mode == "none" or not raw:
            return None
        if mode == "text":
            return raw.decode()
        return json.loads(raw)


def _error(e: urllib.error.HTTPError) -> ApiError:
    code, message = "http_error", e.reason
    try:
        detail = json.loads(e.read() or b"{}").get("error", {})
        code = detail.get("code", code)
        message = detail.get("message", message)
    except (ValueError, AttributeError):
        pass
    retry = e.headers.get("retry-after")
    return ApiError(e.code, code, str(message), int(retry) if retry and retry.isdigit() else None)


def _events(response: Any) -> Iterator[Event]:
    """Parses `text/event-stream` into Events until the server closes the stream."""
    with response:
        event_id: Optional[str] = None
        kind = "message"
        data: list = []
        for raw in response:
            line = raw.decode().rstrip("\r\n")
            if not line:
                if data:
                    text = "\n".join(data)
                    try:
                        parsed = json.loads(text)
                    except ValueError:
                        parsed = {"text": text}
                    yield Event(event_id, kind, parsed)
                event_id, kind, data = None, "message", []
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "id":
                event_id = value
            elif name == "event":
                kind = value
            elif name == "data":
                data.append(value)
