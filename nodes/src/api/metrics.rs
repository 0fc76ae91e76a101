//! `/metrics`, in the Prometheus text format, in the seed's three kinds:
//! - usage: requests (by route, method and status), runs (by status), agents, users;
//! - performance: request and phase latency histograms, and the messages runs sent (their
//!   events);
//! - health: actor restarts, failed phases and runs, fixes (by failure class), refused
//!   requests, and nodes up and down.
//!
//! Request counters live in the API; everything else is read at scrape time from the live
//! tree, the cluster's members and the runs at rest, so it survives a restart of the node.

use super::{ApiState, Caller, Right, error::ApiError};
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use reporunner_actors::runs::RunBook;
use reporunner_protocols::access::Tier;
use reporunner_protocols::cluster::{Member, NodeState};
use reporunner_protocols::run::{PhaseStatus, RunRecord, RunStatus};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TierLabels {
    tier: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PhaseLabels {
    phase: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ClassLabels {
    class: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ActorLabels {
    actor: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn request_histogram() -> Histogram {
    // 50 µs to ~13 s.
    Histogram::new(exponential_buckets(0.000_05, 4.0, 10))
}

fn phase_histogram() -> Histogram {
    // 10 ms to ~45 min.
    Histogram::new(exponential_buckets(0.01, 4.0, 10))
}

/// The API's own counters; the rest is read at scrape time.
#[derive(Debug, Clone)]
pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily<RouteLabels>,
    rate_limited: Family<TierLabels, Counter>,
    unauthorized: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty counters.
    pub fn new() -> Self {
        Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(request_histogram),
            rate_limited: Family::default(),
            unauthorized: Counter::default(),
        }
    }

    pub(crate) fn rate_limited(&self, tier: Tier) {
        self.rate_limited
            .get_or_create(&TierLabels {
                tier: tier.to_string(),
            })
            .inc();
    }

    pub(crate) fn unauthorized(&self) {
        self.unauthorized.inc();
    }

    fn observe(&self, route: String, method: String, status: u16, seconds: f64) {
        let route = RouteLabels { route };
        self.latency.get_or_create(&route).observe(seconds);
        self.requests
            .get_or_create(&RequestLabels {
                route: route.route,
                method,
                status,
            })
            .inc();
    }
}

/// Counts every request by its route (the matched pattern, never the raw path, so the
/// label set stays bounded), method and status, and times it.
pub(crate) async fn track(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = request.method().as_str().to_string();
    let response = next.run(request).await;
    state.metrics.observe(
        route,
        method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// What a scrape reads from the node.
struct Snapshot {
    runs: Vec<RunRecord>,
    events: u64,
    agents: i64,
    restarts: Vec<(String, u32)>,
    members: Vec<Member>,
    users: i64,
}

async fn snapshot(state: &ApiState) -> Snapshot {
    let book = RunBook::new(state.store.clone());
    let runs = book.list().unwrap_or_default();
    let events = runs
        .iter()
        .map(|r| book.events(&r.id).map_or(0, |e| e.len() as u64))
        .sum();
    let (agents, restarts) = match state.admin.tree().await {
        Ok(tree) => {
            let flat = tree.flatten();
            let restarts = flat
                .iter()
                .map(|(_, a)| (a.name.clone(), a.restarts))
                .collect();
            (flat.len() as i64, restarts)
        }
        Err(_) => (0, Vec::new()),
    };
    let members = super::routes::members(state).await.unwrap_or_default();
    let users = state
        .store
        .scan_prefix(reporunner_runtime::store::Tree::Users, b"")
        .map_or(0, |u| u.len() as i64);
    Snapshot {
        runs,
        events,
        agents,
        restarts,
        members,
        users,
    }
}

fn render(metrics: &Metrics, snap: Snapshot) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("reporunner");
    // Usage.
    registry.register(
        "http_requests",
        "API requests, by route, method and status",
        metrics.requests.clone(),
    );
    let runs: Family<StatusLabels, Gauge> = Family::default();
    for status in [
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Interrupted,
        RunStatus::Stopped,
    ] {
        let n = snap.runs.iter().filter(|r| r.status == status).count();
        runs.get_or_create(&StatusLabels {
            status: status.to_string(),
        })
        .set(n as i64);
    }
    registry.register("runs", "Runs in the store, by status", runs);
    let agents: Gauge = Gauge::default();
    agents.set(snap.agents);
    registry.register("actors", "Actors in the live supervision tree", agents);
    let users: Gauge = Gauge::default();
    users.set(snap.users);
    registry.register("users", "Users in the store", users);
    // Performance.
    registry.register(
        "http_request_duration_seconds",
        "API request latency, by route",
        metrics.latency.clone(),
    );
    let phases: HistogramFamily<PhaseLabels> = Family::new_with_constructor(phase_histogram);
    let mut failed_phases = 0u64;
    let mut fixes: std::collections::BTreeMap<String, u64> = Default::default();
    for run in &snap.runs {
        for phase in run.phases.iter().chain(&run.superseded) {
            if phase.status == PhaseStatus::Failed {
                failed_phases += 1;
            }
            if let Some(done) = phase.finished_ms {
                phases
                    .get_or_create(&PhaseLabels {
                        phase: phase.name.clone(),
                    })
                    .observe(done.saturating_sub(phase.started_ms) as f64 / 1000.0);
            }
        }
        for repair in &run.repairs {
            *fixes.entry(repair.class.code().to_string()).or_default() += 1;
        }
    }
    registry.register(
        "phase_duration_seconds",
        "How long run phases took, by phase",
        phases,
    );
    registry.register(
        "run_events",
        "Events the runs' orchestrators recorded (their messages to watchers)",
        ConstCounter::new(snap.events),
    );
    // Health.
    let restarts: Family<ActorLabels, Gauge> = Family::default();
    for (actor, n) in &snap.restarts {
        restarts
            .get_or_create(&ActorLabels {
                actor: actor.clone(),
            })
            .set(i64::from(*n));
    }
    registry.register(
        "actor_restarts",
        "Restarts of each live actor since its supervisor started",
        restarts,
    );
    registry.register(
        "phase_failures",
        "Phase attempts that failed",
        ConstCounter::new(failed_phases),
    );
    let failed_runs = snap
        .runs
        .iter()
        .filter(|r| r.status == RunStatus::Failed)
        .count() as u64;
    registry.register(
        "run_failures",
        "Runs that failed",
        ConstCounter::new(failed_runs),
    );
    let fixed: Family<ClassLabels, Gauge> = Family::default();
    for (class, n) in fixes {
        fixed.get_or_create(&ClassLabels { class }).set(n as i64);
    }
    registry.register("fixes", "Fixes applied to runs, by failure class", fixed);
    registry.register(
        "rate_limited_requests",
        "Requests refused over the tier's hourly allowance, by tier",
        metrics.rate_limited.clone(),
    );
    registry.register(
        "unauthorized_requests",
        "Requests refused for a missing or wrong token",
        metrics.unauthorized.clone(),
    );
    let nodes: Family<StatusLabels, Gauge> = Family::default();
    for state in [NodeState::Up, NodeState::Down] {
        let n = snap.members.iter().filter(|m| m.state == state).count();
        nodes
            .get_or_create(&StatusLabels {
                status: match state {
                    NodeState::Up => "up".into(),
                    NodeState::Down => "down".into(),
                },
            })
            .set(n as i64);
    }
    registry.register("nodes", "Cluster nodes, up and down", nodes);
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

/// `GET /metrics`: admin functions (Admin and Developer).
#[utoipa::path(get, path = "/metrics", tag = "metrics",
    responses(
        (status = 200, description = "Prometheus text exposition format", content_type = "text/plain"),
        (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody),
    ),
    security(("token" = [])))]
pub(crate) async fn scrape(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    state.require(&caller, Right::Node, "metrics", "").await?;
    let snap = snapshot(&state).await;
    let text = render(&state.metrics, snap).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
