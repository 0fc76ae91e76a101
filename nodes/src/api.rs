//! The HTTP API (axum): runs and their live events, analysis, search, users, the Admin's
//! tree and actions, the cluster's nodes, Prometheus metrics and an OpenAPI document. It
//! runs in `reporunner serve` and on a cluster's head node.
//!
//! # Access
//! Every request under `/v1` and `/metrics` needs an API token (`Authorization: Bearer
//! rr_...`); `/healthz` and `/openapi.json` do not. What a caller may do follows the seed's
//! matrix ([`Right`]): any tier uses runs, analysis and search (and sees only its own
//! runs); Admin and Developer manage users and use the admin functions (the tree, the
//! audit log, the cluster's nodes, the metrics); only Developer controls the Admin agent
//! itself (spawn, stop, restart, checkpoint) and creates business clients.
//!
//! # Business clients
//! A business client's users log in with `client` in `/v1/login`, and their tokens name
//! the client (`rr_<client>.<id>_<secret>`). Every request of theirs is served through
//! the client's orchestrator: its users, its store scope (runs, events, audit log), its
//! repository root, its indexer, its limits. They see nothing of the node's or another
//! client's, and never the node's admin functions, whatever their tier. Requests that do work (every `POST`,
//! `PATCH` and `DELETE`) count against the tier's hourly allowance; reads do not, so a
//! console or a script watching a run does not spend it. Over the allowance, the answer
//! is 429 with `Retry-After`. Refusals and admin actions go to the audit log.
//!
//! # Errors
//! Every error is JSON with a stable code ([`error::ErrorBody`]); bodies are JSON of at most
//! [`BODY_LIMIT`] bytes, and unknown fields are refused.

pub mod client;
pub mod error;
mod metrics;
mod openapi;
mod routes;

pub use metrics::Metrics;
pub use openapi::ApiDoc;

use crate::boot::Node;
use anyhow::Context as _;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::{StatusCode, header, request::Parts};
use axum::response::IntoResponse;
use error::ApiError;
use reporunner_actors::managers::business_orchestrator::{BusinessMessage, ClientContext};
use reporunner_actors::managers::user_manager::UsersClient;
use reporunner_actors::ratelimit::{Limit, RateLimits};
use reporunner_actors::users::{Principal, UserError, token_client};
use reporunner_protocols::access::Tier;
use reporunner_protocols::admin::AdminClient;
use reporunner_protocols::ids::NodeId;
use reporunner_runtime::naming::{Namespace, lookup};
use reporunner_runtime::store::Store;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;

/// How long requests in flight may take to finish once the API is asked to stop.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The largest request body the API reads: 64 KiB.
pub const BODY_LIMIT: usize = 64 * 1024;

/// What a request needs of its caller's tier: the seed's authorization matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    /// Any tier: runs, analysis, search.
    Use,
    /// User management and the admin functions: Admin and Developer.
    Manage,
    /// The Admin agent itself (spawn, stop, restart, checkpoint) and the business
    /// clients: Developer only.
    ControlAdmin,
    /// The node's own admin functions (the tree, the kinds, the cluster's nodes, the
    /// metrics): Admin and Developer of the node. A business client's users never have it,
    /// whatever their tier: they manage their client, not the node.
    Node,
}

impl Right {
    /// Whether `tier` has this right.
    pub fn allows(self, tier: Tier) -> bool {
        match self {
            Right::Use => true,
            Right::Manage | Right::Node => tier.manages_users(),
            Right::ControlAdmin => tier.controls_admin(),
        }
    }

    /// Whether a business client's user of `tier` has this right.
    pub fn allows_client(self, tier: Tier) -> bool {
        match self {
            Right::Use | Right::Manage => self.allows(tier),
            Right::ControlAdmin | Right::Node => false,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Right::Use => "use the API",
            Right::Manage => "manage users or use the admin functions (admin and developer only)",
            Right::ControlAdmin => {
                "control the Admin agent or the business clients (developer only)"
            }
            Right::Node => {
                "use the node's own admin functions (the node's admin and developer only)"
            }
        }
    }
}

/// How the API is set up.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The folder repository paths are taken in: a request's path is relative to it (or
    /// absolute inside it), and one that resolves outside it (`..`, a symlink) is refused.
    pub repo_root: PathBuf,
}

/// What every handler shares.
#[derive(Debug)]
pub(crate) struct ApiState {
    pub(crate) node: NodeId,
    pub(crate) admin: AdminClient,
    pub(crate) namespace: Namespace,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) users: UsersClient,
    pub(crate) limits: Arc<dyn Limit>,
    pub(crate) metrics: Metrics,
    pub(crate) repo_root: PathBuf,
}

impl ApiState {
    /// Checks that `caller` has `right`; a refusal is written to the audit log.
    pub(crate) async fn require(
        &self,
        caller: &Caller,
        right: Right,
        action: &str,
        target: &str,
    ) -> Result<(), ApiError> {
        let message = match &caller.1 {
            None if right.allows(caller.0.tier) => return Ok(()),
            Some(_) if right.allows_client(caller.0.tier) => return Ok(()),
            Some(client) if right.allows(caller.0.tier) => format!(
                "a user of the business client {} may not {}",
                client.name,
                right.words()
            ),
            _ => format!("the {} tier may not {}", caller.0.tier, right.words()),
        };
        self.users_for(caller)
            .audit(&caller.0, action, target, &format!("refused: {message}"))
            .await;
        Err(ApiError::forbidden(message))
    }

    /// Counts a request that does work against the caller's hourly allowance (below its
    /// client's own limit, for a client's user); a refusal is written to the audit log.
    pub(crate) async fn charge(&self, caller: &Caller, action: &str) -> Result<(), ApiError> {
        let (key, cap) = match &caller.1 {
            Some(client) => (
                format!("{}/{}", client.name, caller.0.name),
                client.settings.requests_per_hour,
            ),
            None => (caller.0.name.clone(), None),
        };
        match self.limits.check_within(&key, caller.0.tier, cap) {
            Ok(()) => Ok(()),
            Err(over) => {
                self.users_for(caller)
                    .audit(&caller.0, action, "", &format!("refused: {over}"))
                    .await;
                self.metrics.rate_limited(caller.0.tier);
                Err(ApiError::from(over))
            }
        }
    }

    /// Resolves a repository path of a request: relative to the caller's repository root
    /// (the node's, or its client's), or absolute inside it, with symlinks and `..`
    /// resolved, and still inside the root.
    pub(crate) fn repo_path(&self, caller: &Caller, path: &str) -> Result<PathBuf, ApiError> {
        match &caller.1 {
            Some(client) => resolve_inside(&client.repo_root, path),
            None => resolve_inside(&self.repo_root, path),
        }
    }

    /// The users the caller is one of: the node's, or its client's.
    pub(crate) fn users_for<'a>(&'a self, caller: &'a Caller) -> &'a UsersClient {
        caller.1.as_ref().map_or(&self.users, |c| &c.users)
    }

    /// The store the caller's runs live in: the node's, or its client's scope.
    pub(crate) fn store_for(&self, caller: &Caller) -> Arc<dyn Store> {
        caller
            .1
            .as_ref()
            .map_or_else(|| self.store.clone(), |c| c.store.clone())
    }

    /// The namespace of the managers that serve the caller: the node's, or its client's.
    pub(crate) fn managers_for<'a>(&'a self, caller: &'a Caller) -> &'a Namespace {
        caller.1.as_ref().map_or(&self.namespace, |c| &c.namespace)
    }

    /// The business client `name`'s context, from its orchestrator; none if there is no
    /// such client (or its orchestrator does not answer now).
    pub(crate) async fn client(&self, name: &str) -> Option<ClientContext> {
        if !reporunner_protocols::business::valid_client_name(name) {
            return None;
        }
        let orchestrator = lookup::<BusinessMessage>(&self.namespace.business(name))?;
        match orchestrator
            .call(BusinessMessage::Contact, Some(CONTACT_TIMEOUT))
            .await
        {
            Ok(ractor::rpc::CallResult::Success(context)) => Some(context),
            _ => None,
        }
    }
}

/// How long a request waits for its client's orchestrator to answer.
const CONTACT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Resolves `path` (relative to `root`, or absolute) to a folder inside `root`.
fn resolve_inside(root: &Path, path: &str) -> Result<PathBuf, ApiError> {
    if path.is_empty() || path.contains('\0') {
        return Err(ApiError::invalid("the path is empty"));
    }
    let joined = root.join(path);
    let outside = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "path_outside_root",
            format!("{path:?} is not inside the repository root"),
        )
    };
    let Ok(resolved) = joined.canonicalize() else {
        // Do not tell a path outside the root that does not exist from one that does.
        let lexical_escape = Path::new(path).is_absolute()
            || Path::new(path)
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
        return Err(if lexical_escape {
            outside()
        } else {
            ApiError::not_found(format!("no folder {path:?} in the repository root"))
        });
    };
    if !resolved.starts_with(root) {
        return Err(outside());
    }
    if !resolved.is_dir() {
        return Err(ApiError::invalid(format!("{path:?} is not a folder")));
    }
    Ok(resolved)
}

/// Refuses a body whose `Content-Length` is over [`BODY_LIMIT`] before reading any of it:
/// a client that sent `Expect: 100-continue` never sends it, and one that did not is
/// answered at once. (Bodies without a length are cut at the limit as they are read.)
async fn refuse_announced_bodies(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > BODY_LIMIT as u64) {
        return ApiError::payload_too_large().into_response();
    }
    next.run(request).await
}

/// The authenticated caller of a request, and the business client it belongs to (none: a
/// user of the node itself).
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub(crate) Principal, pub(crate) Option<ClientContext>);

impl FromRequestParts<Arc<ApiState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ApiState>,
    ) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(ApiError::unauthorized)?;
        let token = token.trim();
        // A client's token names its client: its orchestrator's users say whose it is.
        let client = match token_client(token) {
            Some(name) => match state.client(name).await {
                Some(context) => Some(context),
                None => {
                    state.metrics.unauthorized();
                    return Err(ApiError::unauthorized());
                }
            },
            None => None,
        };
        let users = client.as_ref().map_or(&state.users, |c| &c.users);
        match users.authenticate(token).await {
            Ok(principal) => Ok(Caller(principal, client)),
            Err(UserError::Unauthorized) => {
                state.metrics.unauthorized();
                Err(ApiError::unauthorized())
            }
            // The user manager restarting, or the store failing: not the caller's fault.
            Err(e) => Err(ApiError::unavailable(format!(
                "users cannot be checked now: {e}"
            ))),
        }
    }
}

/// The HTTP API of one node.
#[derive(Debug, Clone)]
pub struct Api {
    state: Arc<ApiState>,
}

impl Api {
    /// The API of `node`, which must have a data directory (users, tokens, runs and the
    /// audit log live in its store, kept by its UserManager and OrchestratorManager), with
    /// limits on the monotonic clock.
    ///
    /// # Errors
    /// If the node has no store, or the repository root is not a folder.
    pub fn new(node: &Node, config: ApiConfig) -> anyhow::Result<Api> {
        Self::with_limits(node, config, Arc::new(RateLimits::default()))
    }

    /// The API of `node` with the rate limits `limits` (tests pass limits on a clock they
    /// drive).
    ///
    /// # Errors
    /// As [`Api::new`].
    pub fn with_limits(
        node: &Node,
        config: ApiConfig,
        limits: Arc<dyn Limit>,
    ) -> anyhow::Result<Api> {
        let store = node
            .store()
            .cloned()
            .context("the API needs a data directory: users and runs live in the store")?;
        let repo_root = config
            .repo_root
            .canonicalize()
            .ok()
            .filter(|p| p.is_dir())
            .with_context(|| {
                format!(
                    "the repository root {} is not a folder",
                    config.repo_root.display()
                )
            })?;
        Ok(Api {
            state: Arc::new(ApiState {
                node: node.id().clone(),
                admin: node.admin(),
                namespace: node.namespace().clone(),
                users: UsersClient::new(node.namespace().user_manager()),
                store,
                limits,
                metrics: Metrics::new(),
                repo_root,
            }),
        })
    }

    /// The router: every endpoint, the body limit, the metrics of each request, and JSON
    /// answers for unknown paths and methods.
    pub fn router(&self) -> Router {
        routes::router(self.state.clone())
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .layer(axum::middleware::from_fn(refuse_announced_bodies))
            .layer(axum::middleware::from_fn_with_state(
                self.state.clone(),
                metrics::track,
            ))
            .fallback(|| async { ApiError::not_found("no such endpoint").into_response() })
            .method_not_allowed_fallback(|| async {
                ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "this endpoint does not take that method",
                )
                .into_response()
            })
    }

    /// Serves the API on `listener` until `shutdown` completes. Then it takes no new
    /// connection, and requests in flight have [`SHUTDOWN_GRACE`] to finish; event streams
    /// of runs still going are closed after it.
    ///
    /// # Errors
    /// If the listener fails.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (signalled, grace) = tokio::sync::oneshot::channel::<()>();
        let server = axum::serve(listener, self.router()).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = signalled.send(());
        });
        let server = std::future::IntoFuture::into_future(server);
        tokio::pin!(server);
        tokio::select! {
            served = &mut server => served,
            _ = async {
                if grace.await.is_ok() {
                    tokio::time::sleep(SHUTDOWN_GRACE).await;
                } else {
                    std::future::pending::<()>().await;
                }
            } => Ok(()),
        }
    }
}

/// The node and whether its Admin runs: 200, or 503 when the Admin is down.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "{status: ok, node}"), (status = 503)))]
pub(crate) async fn healthz(State(state): State<Arc<ApiState>>) -> impl IntoResponse {
    let up = matches!(
        state.admin.actor().get_status(),
        ractor::ActorStatus::Running | ractor::ActorStatus::Upgrading
    );
    let status = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(serde_json::json!({
            "status": if up { "ok" } else { "admin_down" },
            "node": state.node.as_str(),
        })),
    )
}
