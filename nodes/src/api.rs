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
//! itself (spawn, stop, restart, checkpoint). Requests that do work (every `POST`,
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
use reporunner_actors::managers::user_manager::UsersClient;
use reporunner_actors::ratelimit::{Limit, RateLimits};
use reporunner_actors::users::{Principal, UserError};
use reporunner_protocols::access::Tier;
use reporunner_protocols::admin::AdminClient;
use reporunner_protocols::ids::NodeId;
use reporunner_runtime::naming::Namespace;
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
    /// The Admin agent itself (spawn, stop, restart, checkpoint): Developer only.
    ControlAdmin,
}

impl Right {
    /// Whether `tier` has this right.
    pub fn allows(self, tier: Tier) -> bool {
        match self {
            Right::Use => true,
            Right::Manage => tier.manages_users(),
            Right::ControlAdmin => tier.controls_admin(),
        }
    }

    fn words(self) -> &'static str {
        match self {
            Right::Use => "use the API",
            Right::Manage => "manage users or use the admin functions (admin and developer only)",
            Right::ControlAdmin => "control the Admin agent (developer only)",
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
        if right.allows(caller.0.tier) {
            return Ok(());
        }
        let message = format!("the {} tier may not {}", caller.0.tier, right.words());
        self.users
            .audit(&caller.0, action, target, &format!("refused: {message}"))
            .await;
        Err(ApiError::forbidden(message))
    }

    /// Counts a request that does work against the caller's hourly allowance; a refusal
    /// is written to the audit log.
    pub(crate) async fn charge(&self, caller: &Caller, action: &str) -> Result<(), ApiError> {
        match self.limits.check(&caller.0.name, caller.0.tier) {
            Ok(()) => Ok(()),
            Err(over) => {
                self.users
                    .audit(&caller.0, action, "", &format!("refused: {over}"))
                    .await;
                self.metrics.rate_limited(caller.0.tier);
                Err(ApiError::from(over))
            }
        }
    }

    /// Resolves a repository path of a request: relative to the repository root (or
    /// absolute inside it), with symlinks and `..` resolved, and still inside the root.
    pub(crate) fn repo_path(&self, path: &str) -> Result<PathBuf, ApiError> {
        resolve_inside(&self.repo_root, path)
    }
}

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

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub(crate) Principal);

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
        match state.users.authenticate(token.trim()).await {
            Ok(principal) => Ok(Caller(principal)),
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
