//! `/v1/runs`: start, list, show and stop runs, and follow a run's events live over SSE.

use super::Body;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::{ApiState, Caller, Right};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use reporunner_actors::managers::business_orchestrator::{
    BusinessError, BusinessMessage, ClientContext,
};
use reporunner_actors::repo_run;
use reporunner_actors::runs::RunBook;
use reporunner_protocols::ids::RunId;
use reporunner_protocols::run::{
    RunError, RunEvent, RunEventKind, RunRecord, RunStatus, RunsClient,
};
use reporunner_protocols::stage::{REPO_WORKFLOW, RepoRunInput, RunReport};
use reporunner_runtime::naming::lookup;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;

/// How often a live event stream looks for new events.
const EVENT_POLL: Duration = Duration::from_millis(100);

/// `POST /v1/runs`: what to run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartRun {
    /// The repository's folder, relative to the server's repository root.
    path: String,
    /// Whether the project's own tests run (default true).
    #[serde(default)]
    run_tests: Option<bool>,
    /// How long the service may take to answer HTTP, in seconds (default 60, at most 600).
    #[serde(default)]
    http_timeout_secs: Option<u64>,
    /// A model the run may consult, by name (`smollm2`); files are not taken over HTTP.
    #[serde(default)]
    model: Option<String>,
    /// Whether the run builds the repository's context index (default true).
    #[serde(default)]
    index: Option<bool>,
}

/// A started run.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Started {
    /// The run's id.
    pub(crate) id: String,
    /// Where its live events are.
    pub(crate) events: String,
}

/// A run and, for a repository run, its report so far.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunView {
    /// The run as stored.
    #[schema(value_type = Object)]
    run: RunRecord,
    /// The report of a repository run.
    #[schema(value_type = Object)]
    report: Option<RunReport>,
}

fn runs_client(state: &ApiState, caller: &Caller) -> Result<RunsClient, ApiError> {
    lookup(&state.managers_for(caller).orchestrator_manager())
        .map(RunsClient::new)
        .ok_or_else(|| ApiError::unavailable("the orchestrator manager is restarting"))
}

fn parse_id(id: &str) -> Result<RunId, ApiError> {
    RunId::parse(id).map_err(|e| ApiError::invalid(format!("{id:?} is not a run id: {e}")))
}

/// The user a run was started for (none for the local CLI's runs).
fn owner(run: &RunRecord) -> Option<String> {
    serde_json::from_str::<RepoRunInput>(&run.input_json)
        .ok()
        .and_then(|i| i.user)
}

/// Whether `caller` may see `run`: its owner, and those who manage users.
fn visible(caller: &Caller, run: &RunRecord) -> bool {
    Right::Manage.allows(caller.0.tier) || owner(run).as_deref() == Some(caller.0.name.as_str())
}

/// The run `id`, if the caller may see it; one that the caller may not see is not found,
/// so ids of other users' runs tell nothing.
fn load(state: &ApiState, caller: &Caller, id: &str) -> Result<RunRecord, ApiError> {
    let id = parse_id(id)?;
    RunBook::new(state.store_for(caller))
        .load(&id)?
        .filter(|r| visible(caller, r))
        .ok_or_else(|| ApiError::not_found(format!("no run {id}")))
}

/// Starts a repository run for the caller, with the caller's tier.
#[utoipa::path(post, path = "/v1/runs", tag = "runs", request_body = StartRun,
    responses((status = 201, body = Started), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn start(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Body(body): Body<StartRun>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    state
        .require(&caller, Right::Use, "runs.start", &body.path)
        .await?;
    state.charge(&caller, "runs.start").await?;
    let path = state.repo_path(&caller, &body.path)?;
    if let Some(model) = &body.model
        && (model.is_empty() || model.contains(['/', '\\']) || model.starts_with('.'))
    {
        return Err(ApiError::invalid(format!(
            "{model:?} is not a model name: over HTTP a model is named (smollm2), not a file"
        )));
    }
    let timeout = body.http_timeout_secs.unwrap_or(60);
    if !(1..=600).contains(&timeout) {
        return Err(ApiError::invalid("http_timeout_secs must be 1 to 600"));
    }
    let input = RepoRunInput {
        run_tests: body.run_tests.unwrap_or(true),
        http_timeout_secs: timeout,
        model: body.model,
        index: body.index.unwrap_or(true),
        tier: caller.0.tier,
        user: Some(caller.0.name.clone()),
        ..RepoRunInput::new(path.display().to_string())
    };
    let id = match &caller.1 {
        // A client's run starts through its orchestrator: its phases, indexer and limits.
        Some(client) => start_for_client(&state, client, input).await?,
        None => {
            let json =
                serde_json::to_string(&input).map_err(|e| ApiError::internal(e.to_string()))?;
            runs_client(&state, &caller)?
                .start(REPO_WORKFLOW, &json)
                .await?
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(Started {
            events: format!("/v1/runs/{id}/events"),
            id: id.to_string(),
        }),
    ))
}

async fn start_for_client(
    state: &ApiState,
    client: &ClientContext,
    input: RepoRunInput,
) -> Result<RunId, ApiError> {
    let orchestrator = lookup::<BusinessMessage>(&state.namespace.business(&client.name))
        .ok_or_else(|| ApiError::unavailable("the client's orchestrator is restarting"))?;
    let answer = orchestrator
        .call(
            |reply| BusinessMessage::StartRun(Box::new(input), reply),
            Some(Duration::from_secs(30)),
        )
        .await;
    match answer {
        Ok(ractor::rpc::CallResult::Success(Ok(id))) => Ok(id),
        Ok(ractor::rpc::CallResult::Success(Err(BusinessError::Run(e)))) => Err(e.into()),
        Ok(ractor::rpc::CallResult::Success(Err(e))) => {
            Err(ApiError::new(StatusCode::CONFLICT, "busy", e.to_string()))
        }
        _ => Err(ApiError::unavailable(
            "the client's orchestrator did not answer",
        )),
    }
}

/// The caller's runs (every run, for those who manage users), newest first.
#[utoipa::path(get, path = "/v1/runs", tag = "runs",
    responses((status = 200, description = "RunRecord[]", body = Vec<Object>),
        (status = 401, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
) -> Result<Json<Vec<RunRecord>>, ApiError> {
    let runs = RunBook::new(state.store_for(&caller)).list()?;
    Ok(Json(
        runs.into_iter().filter(|r| visible(&caller, r)).collect(),
    ))
}

/// One run, with its report so far.
#[utoipa::path(get, path = "/v1/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "The run's id")),
    responses((status = 200, body = RunView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn show(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let run = load(&state, &caller, &id)?;
    let report = (run.workflow == REPO_WORKFLOW).then(|| repo_run::report(&run));
    Ok(Json(RunView { run, report }))
}

/// Stops a run: its phases if it is still going, and the service and databases it started
/// (a finished run keeps its service running until then).
#[utoipa::path(post, path = "/v1/runs/{id}/stop", tag = "runs",
    params(("id" = String, Path, description = "The run's id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn stop(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let run = load(&state, &caller, &id)?;
    state.charge(&caller, "runs.stop").await?;
    // A run that reached its end keeps its service running until it is stopped.
    let was_running = match runs_client(&state, &caller)?.stop(&run.id).await {
        Ok(()) => true,
        Err(RunError::NotRunning { .. }) => false,
        Err(e) => return Err(e.into()),
    };
    let (service, databases) = repo_run::stop_run(&state.namespace, &run.id).await;
    if !was_running && !service && databases == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("run {} is not running, and no service of it is", run.id),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The run's events as Server-Sent Events: the ones so far, then each as it happens, until
/// the run ends. Each event's SSE name is its kind (`phase_started`, `phase_finished`,
/// `repaired`, `finished`, ...), its id the sequence number, its data the event as JSON.
/// A client that reconnects with `Last-Event-ID` gets only the events after that one.
#[utoipa::path(get, path = "/v1/runs/{id}/events", tag = "runs",
    params(("id" = String, Path, description = "The run's id")),
    responses((status = 200, description = "text/event-stream of RunEvent", content_type = "text/event-stream"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn events(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let run = load(&state, &caller, &id)?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let follow = Follow {
        book: RunBook::new(state.store_for(&caller)),
        run: run.id,
        after,
        queue: VecDeque::new(),
        done: false,
    };
    let stream = stream::unfold(follow, |mut f| async move {
        let event = f.next().await?;
        Some((Ok(event), f))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// A live reading of one run's events.
struct Follow {
    book: RunBook,
    run: RunId,
    /// The sequence number of the last event sent.
    after: Option<u64>,
    queue: VecDeque<RunEvent>,
    done: bool,
}

impl Follow {
    /// The next event, waiting for it while the run goes on; `None` after the run's end.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                self.after = Some(e.seq);
                if matches!(e.kind, RunEventKind::Finished { .. }) {
                    self.done = true;
                }
                return Some(sse(&e));
            }
            if self.done {
                return None;
            }
            let fresh: Vec<RunEvent> = match self.book.events(&self.run) {
                Ok(all) => all
                    .into_iter()
                    .filter(|e| self.after.is_none_or(|a| e.seq > a))
                    .collect(),
                Err(e) => {
                    self.done = true;
                    return Some(Event::default().event("error").data(e.to_string()));
                }
            };
            if fresh.is_empty() {
                // A run that ended without a `finished` event (a dead process) ends the
                // stream too.
                let over = self
                    .book
                    .load(&self.run)
                    .ok()
                    .flatten()
                    .is_none_or(|r| r.status != RunStatus::Running);
                if over {
                    let again: Vec<RunEvent> = self
                        .book
                        .events(&self.run)
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|e| self.after.is_none_or(|a| e.seq > a))
                        .collect();
                    if again.is_empty() {
                        return None;
                    }
                    self.queue.extend(again);
                    continue;
                }
                tokio::time::sleep(EVENT_POLL).await;
            }
            self.queue.extend(fresh);
        }
    }
}

fn sse(e: &RunEvent) -> Event {
    let name = match &e.kind {
        RunEventKind::Created => "created",
        RunEventKind::PhaseStarted { .. } => "phase_started",
        RunEventKind::PhaseFinished { .. } => "phase_finished",
        RunEventKind::Resumed => "resumed",
        RunEventKind::Interrupted => "interrupted",
        RunEventKind::Repaired { .. } => "repaired",
        RunEventKind::Finished { .. } => "finished",
    };
    Event::default()
        .event(name)
        .id(e.seq.to_string())
        .json_data(e)
        .unwrap_or_else(|err| Event::default().event("error").data(err.to_string()))
}
