"""Generated from Repo Runner's OpenAPI document by generate.py: do not edit."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional

from ._typing import NotRequired, TypedDict

from ._transport import Event, Transport

API_TITLE = 'Repo Runner'
API_VERSION = '0.1.0'


class AnalyzeBody(TypedDict):
    """`POST /v1/analyze`: which repository."""

    path: str
    """The repository's folder, relative to the server's repository root."""


class Checkpointed(TypedDict):
    """The checkpoint written."""

    agents: int
    """The agents it holds."""


class CreatedClient(TypedDict):
    """A created client, and its first user."""

    admin: NotRequired[Optional[Dict[str, Any]]]
    """Its first user, if one was asked for."""
    client: Dict[str, Any]
    """The client as its orchestrator holds it."""


class ErrorBody(TypedDict):
    """The body of every error answer: `{"error": {"code": "...", "message": "..."}}`."""

    error: ErrorDetail
    """The error."""


class ErrorDetail(TypedDict):
    """An error's stable code and its message for people."""

    code: str
    """A stable, machine-readable code: `unauthorized`, `forbidden`, `rate_limited`,
    `not_found`, `invalid_json`, `invalid_body`, `invalid_request`,
    `payload_too_large`, `unsupported_media_type`, `path_outside_root`, `conflict`,
    `method_not_allowed`, `unavailable` or `internal`."""
    message: str
    """What went wrong, in words."""


class FirstUser(TypedDict):
    """The client's first user: an Admin of the client, who manages its other users."""

    name: str
    """1 to 64 of a-z, 0-9, `.`, `_`, `-`."""
    password: str
    """At least 8 characters. It is kept only as an argon2id hash."""


class LoginBody(TypedDict):
    """`POST /v1/login`: a user's name and password."""

    client: NotRequired[Optional[str]]
    """The business client the user belongs to; none: a user of the node itself."""
    name: str
    """The user."""
    password: str
    """Its password."""


class Me(TypedDict):
    """The caller, and what its tier allows."""

    client: NotRequired[Optional[str]]
    """The business client the user belongs to; none: a user of the node itself."""
    controls_admin: bool
    """Whether the tier controls the Admin agent itself."""
    gpu: str
    """The GPUs the tier may use: none, small, medium or large."""
    manages_users: bool
    """Whether the tier manages users and uses the admin functions."""
    name: str
    """The user's name."""
    requests_per_hour: int
    """Requests that do work, an hour."""
    tier: str
    """The tier."""


class NewClient(TypedDict):
    """`POST /v1/clients`: a new business client and its workflow settings."""

    admin: NotRequired[Any]
    indexer: NotRequired[Optional[str]]
    """The context indexer its runs and searches use (`simple`, `vector`, `collection`);
    by default each user's tier chooses."""
    max_concurrent_runs: NotRequired[Optional[int]]
    """At most this many of its runs at once."""
    name: str
    """1 to 32 of a-z, 0-9 and `-`, starting with a letter."""
    phases: NotRequired[Optional[List[str]]]
    """The phases its runs execute, in the registered order (default all)."""
    repo_root: str
    """The client's repositories' folder, inside the node's repository root."""
    requests_per_hour: NotRequired[Optional[int]]
    """At most this many requests that do work, an hour, per user."""
    tiers: NotRequired[Optional[List[str]]]
    """The tiers its users may hold (default every tier but developer)."""


class NewUser(TypedDict):
    """`POST /v1/users`: a new user."""

    name: str
    """1 to 64 of a-z, 0-9, `.`, `_`, `-`."""
    password: str
    """At least 8 characters. It is kept only as an argon2id hash."""
    tier: str
    """free, advanced, premium, tester, admin or developer."""


class RunView(TypedDict):
    """A run and, for a repository run, its report so far."""

    report: Dict[str, Any]
    """The report of a repository run."""
    run: Dict[str, Any]
    """The run as stored."""


class SearchBody(TypedDict):
    """`POST /v1/search`: what to look for, where."""

    indexer: NotRequired[Optional[str]]
    """An indexer the tier allows (`simple`, `vector`, `collection`); by default the best
    the tier and the host allow."""
    k: NotRequired[Optional[int]]
    """How many hits (1 to 50, default 5)."""
    language: NotRequired[Optional[str]]
    """Only files of this language."""
    path: str
    """The repository's folder, relative to the server's repository root."""
    path_glob: NotRequired[Optional[str]]
    """Only files whose path matches this glob."""
    query: str
    """The question, in words or code."""


class SpawnBody(TypedDict):
    """`POST /v1/admin/agents`: the agent to spawn."""

    config: NotRequired[Optional[Dict[str, Any]]]
    """The kind's configuration, as JSON (default none)."""
    kind: str
    """A registered kind (`GET /v1/admin/kinds`)."""
    name: str
    """The agent's name: unique among the running agents."""


class StartRun(TypedDict):
    """`POST /v1/runs`: what to run."""

    http_timeout_secs: NotRequired[Optional[int]]
    """How long the service may take to answer HTTP, in seconds (default 60, at most 600)."""
    index: NotRequired[Optional[bool]]
    """Whether the run builds the repository's context index (default true)."""
    model: NotRequired[Optional[str]]
    """A model the run may consult, by name (`smollm2`); files are not taken over HTTP."""
    path: str
    """The repository's folder, relative to the server's repository root."""
    run_tests: NotRequired[Optional[bool]]
    """Whether the project's own tests run (default true)."""


class Started(TypedDict):
    """A started run."""

    events: str
    """Where its live events are."""
    id: str
    """The run's id."""


class UserUpdate(TypedDict):
    """`PATCH /v1/users/{name}`: a new tier, a new status, or both."""

    status: NotRequired[Optional[str]]
    """`active` or `disabled`."""
    tier: NotRequired[Optional[str]]
    """The new tier."""


class Operations:
    """Every operation of the API, one method each."""

    _transport: Transport

    def admin_checkpoint(self) -> Checkpointed:
        """POST /v1/admin/checkpoint: Writes the Admin's tree checkpoint now."""
        return self._transport.call('POST', '/v1/admin/checkpoint', body=None, query=None, mode='json')  # type: ignore[return-value]

    def admin_kinds(self) -> List[Dict[str, Any]]:
        """GET /v1/admin/kinds: The agent kinds the Admin can spawn."""
        return self._transport.call('GET', '/v1/admin/kinds', body=None, query=None, mode='json')  # type: ignore[return-value]

    def admin_restart(self, name: str) -> Dict[str, Any]:
        """POST /v1/admin/agents/{name}/restart: Restarts an agent from its spec."""
        return self._transport.call('POST', f'/v1/admin/agents/{name}/restart', body=None, query=None, mode='json')  # type: ignore[return-value]

    def admin_spawn(self, body: SpawnBody) -> Dict[str, Any]:
        """POST /v1/admin/agents: Spawns an agent under the AgentSupervisor; the Admin checkpoints its tree after it."""
        return self._transport.call('POST', '/v1/admin/agents', body=body, query=None, mode='json')  # type: ignore[return-value]

    def admin_stop(self, name: str) -> None:
        """POST /v1/admin/agents/{name}/stop: Stops an agent and removes it from supervision."""
        return self._transport.call('POST', f'/v1/admin/agents/{name}/stop', body=None, query=None, mode='none')  # type: ignore[return-value]

    def admin_tree(self) -> Dict[str, Any]:
        """GET /v1/admin/tree: The live supervision tree of this node, with restart counts."""
        return self._transport.call('GET', '/v1/admin/tree', body=None, query=None, mode='json')  # type: ignore[return-value]

    def analyze(self, body: AnalyzeBody) -> Dict[str, Any]:
        """POST /v1/analyze: The repository's profile: languages, frameworks, package managers, start command,
        port, databases, tests, each with its evidence."""
        return self._transport.call('POST', '/v1/analyze', body=body, query=None, mode='json')  # type: ignore[return-value]

    def audit(self, *, n: Optional[int] = None) -> List[Dict[str, Any]]:
        """GET /v1/audit: The last entries of the audit log, oldest first: admin actions and refusals."""
        return self._transport.call('GET', '/v1/audit', body=None, query={'n': n}, mode='json')  # type: ignore[return-value]

    def clients_add_user(self, name: str, body: NewUser) -> Dict[str, Any]:
        """POST /v1/clients/{name}/users: Adds a user to a business client, as the node's developer (a client's own admins add
        theirs with `POST /v1/users`)."""
        return self._transport.call('POST', f'/v1/clients/{name}/users', body=body, query=None, mode='json')  # type: ignore[return-value]

    def clients_create(self, body: NewClient) -> CreatedClient:
        """POST /v1/clients: Creates a business client: its orchestrator starts at once, under the Admin, and a
        restarted head brings it back."""
        return self._transport.call('POST', '/v1/clients', body=body, query=None, mode='json')  # type: ignore[return-value]

    def clients_list(self) -> List[Dict[str, Any]]:
        """GET /v1/clients: The business clients, in creation order."""
        return self._transport.call('GET', '/v1/clients', body=None, query=None, mode='json')  # type: ignore[return-value]

    def clients_remove(self, name: str) -> None:
        """DELETE /v1/clients/{name}: Stops a business client's orchestrator and forgets it. Its data stays in the store: a
        client created again under the name finds its users and runs."""
        return self._transport.call('DELETE', f'/v1/clients/{name}', body=None, query=None, mode='none')  # type: ignore[return-value]

    def clients_show(self, name: str) -> Dict[str, Any]:
        """GET /v1/clients/{name}: One business client."""
        return self._transport.call('GET', f'/v1/clients/{name}', body=None, query=None, mode='json')  # type: ignore[return-value]

    def cluster_nodes(self) -> List[Dict[str, Any]]:
        """GET /v1/cluster/nodes: The cluster's nodes: what each offers, whether it is up, and when it was last seen."""
        return self._transport.call('GET', '/v1/cluster/nodes', body=None, query=None, mode='json')  # type: ignore[return-value]

    def healthz(self) -> None:
        """GET /healthz: The node and whether its Admin runs: 200, or 503 when the Admin is down."""
        return self._transport.call('GET', '/healthz', body=None, query=None, mode='none')  # type: ignore[return-value]

    def login(self, body: LoginBody) -> Dict[str, Any]:
        """POST /v1/login: A new API token for a user's own name and password: how a user of any tier gets a
        token without an admin. Wrong names, wrong passwords and disabled users get one
        answer; each name has 10 attempts an hour (the free tier's allowance)."""
        return self._transport.call('POST', '/v1/login', body=body, query=None, mode='json')  # type: ignore[return-value]

    def me(self) -> Me:
        """GET /v1/me: The caller and the rights of its tier."""
        return self._transport.call('GET', '/v1/me', body=None, query=None, mode='json')  # type: ignore[return-value]

    def metrics_scrape(self) -> str:
        """GET /metrics: `GET /metrics`: admin functions (Admin and Developer)."""
        return self._transport.call('GET', '/metrics', body=None, query=None, mode='text')  # type: ignore[return-value]

    def openapi_json_document(self) -> None:
        """GET /openapi.json: This document."""
        return self._transport.call('GET', '/openapi.json', body=None, query=None, mode='none')  # type: ignore[return-value]

    def runs_events(self, id: str) -> Iterator[Event]:
        """GET /v1/runs/{id}/events: The run's events as Server-Sent Events: the ones so far, then each as it happens, until
        the run ends. Each event's SSE name is its kind (`phase_started`, `phase_finished`,
        `repaired`, `finished`, ...), its id the sequence number, its data the event as JSON.
        A client that reconnects with `Last-Event-ID` gets only the events after that one."""
        return self._transport.call('GET', f'/v1/runs/{id}/events', body=None, query=None, mode='stream')  # type: ignore[return-value]

    def runs_list(self) -> List[Dict[str, Any]]:
        """GET /v1/runs: The caller's runs (every run, for those who manage users), newest first."""
        return self._transport.call('GET', '/v1/runs', body=None, query=None, mode='json')  # type: ignore[return-value]

    def runs_show(self, id: str) -> RunView:
        """GET /v1/runs/{id}: One run, with its report so far."""
        return self._transport.call('GET', f'/v1/runs/{id}', body=None, query=None, mode='json')  # type: ignore[return-value]

    def runs_start(self, body: StartRun) -> Started:
        """POST /v1/runs: Starts a repository run for the caller, with the caller's tier."""
        return self._transport.call('POST', '/v1/runs', body=body, query=None, mode='json')  # type: ignore[return-value]

    def runs_stop(self, id: str) -> None:
        """POST /v1/runs/{id}/stop: Stops a run: its phases if it is still going, and the service and databases it started
        (a finished run keeps its service running until then)."""
        return self._transport.call('POST', f'/v1/runs/{id}/stop', body=None, query=None, mode='none')  # type: ignore[return-value]

    def search(self, body: SearchBody) -> Dict[str, Any]:
        """POST /v1/search: Searches the repository's context index, built or brought up to date first."""
        return self._transport.call('POST', '/v1/search', body=body, query=None, mode='json')  # type: ignore[return-value]

    def tokens_revoke(self, id: str) -> None:
        """DELETE /v1/tokens/{id}: Revokes a token, by its id (the 12 characters after `rr_`)."""
        return self._transport.call('DELETE', f'/v1/tokens/{id}', body=None, query=None, mode='none')  # type: ignore[return-value]

    def users_add(self, body: NewUser) -> Dict[str, Any]:
        """POST /v1/users: Adds a user."""
        return self._transport.call('POST', '/v1/users', body=body, query=None, mode='json')  # type: ignore[return-value]

    def users_list(self) -> List[Dict[str, Any]]:
        """GET /v1/users: Every user."""
        return self._transport.call('GET', '/v1/users', body=None, query=None, mode='json')  # type: ignore[return-value]

    def users_token(self, name: str) -> Dict[str, Any]:
        """POST /v1/users/{name}/tokens: Issues a new API token for the user. The token is in this answer only: the store keeps
        its hash."""
        return self._transport.call('POST', f'/v1/users/{name}/tokens', body=None, query=None, mode='json')  # type: ignore[return-value]

    def users_update(self, name: str, body: UserUpdate) -> Dict[str, Any]:
        """PATCH /v1/users/{name}: Changes a user's tier or status; a disabled user's tokens stop working at once."""
        return self._transport.call('PATCH', f'/v1/users/{name}', body=body, query=None, mode='json')  # type: ignore[return-value]
