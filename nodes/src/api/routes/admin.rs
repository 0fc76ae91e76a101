//! `/v1/admin` and `/v1/cluster/nodes`: the live tree and the registered kinds (admin
//! functions: Admin and Developer), the Admin agent's own actions (spawn, stop, restart,
//! checkpoint: Developer only), and the cluster's nodes. Every action is audited.

use super::Body;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::{ApiState, Caller, Right};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use reporunner_actors::agents::node_host;
use reporunner_protocols::admin::{ActorTree, AgentInfo};
use reporunner_protocols::cluster::{Member, NodeHostMessage};
use reporunner_protocols::ids::AgentId;
use reporunner_protocols::kinds::AgentKindDescriptor;
use reporunner_runtime::naming::lookup;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// `POST /v1/admin/agents`: the agent to spawn.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SpawnBody {
    /// A registered kind (`GET /v1/admin/kinds`).
    kind: String,
    /// The agent's name: unique among the running agents.
    name: String,
    /// The kind's configuration, as JSON (default none).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    config: Option<serde_json::Value>,
}

/// The checkpoint written.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Checkpointed {
    /// The agents it holds.
    pub(crate) agents: usize,
}

/// Writes an admin action's outcome to the caller's audit log, and passes the result on.
pub(super) async fn audited<T>(
    state: &ApiState,
    caller: &Caller,
    action: &str,
    target: &str,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    let outcome = match &result {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("failed: {}", e.message),
    };
    state
        .users_for(caller)
        .audit(&caller.0, action, target, &outcome)
        .await;
    result
}

fn agent_id(name: &str) -> Result<AgentId, ApiError> {
    AgentId::parse(name).map_err(|e| ApiError::invalid(format!("{name:?}: {e}")))
}

/// The live supervision tree of this node, with restart counts.
#[utoipa::path(get, path = "/v1/admin/tree", tag = "admin",
    responses((status = 200, description = "ActorTree", body = Object),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn tree(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
) -> Result<Json<ActorTree>, ApiError> {
    state
        .require(&caller, Right::Node, "admin.tree", "")
        .await?;
    Ok(Json(state.admin.tree().await?))
}

/// The agent kinds the Admin can spawn.
#[utoipa::path(get, path = "/v1/admin/kinds", tag = "admin",
    responses((status = 200, description = "AgentKindDescriptor[]", body = Vec<Object>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn kinds(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
) -> Result<Json<Vec<AgentKindDescriptor>>, ApiError> {
    state
        .require(&caller, Right::Node, "admin.kinds", "")
        .await?;
    Ok(Json(state.admin.kinds().await?))
}

/// Spawns an agent under the AgentSupervisor; the Admin checkpoints its tree after it.
#[utoipa::path(post, path = "/v1/admin/agents", tag = "admin", request_body = SpawnBody,
    responses((status = 201, description = "AgentInfo", body = Object),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn spawn(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Body(body): Body<SpawnBody>,
) -> Result<(StatusCode, Json<AgentInfo>), ApiError> {
    let target = format!("{} ({})", body.name, body.kind);
    state
        .require(&caller, Right::ControlAdmin, "admin.spawn", &target)
        .await?;
    state.charge(&caller, "admin.spawn").await?;
    let result = async {
        let name = agent_id(&body.name)?;
        let config = body.config.map(|c| c.to_string()).unwrap_or_default();
        Ok(state.admin.spawn_agent(&body.kind, name, &config).await?)
    }
    .await;
    let info = audited(&state, &caller, "admin.spawn", &target, result).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// Stops an agent and removes it from supervision.
#[utoipa::path(post, path = "/v1/admin/agents/{name}/stop", tag = "admin",
    params(("name" = String, Path, description = "The agent")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn stop(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .require(&caller, Right::ControlAdmin, "admin.stop", &name)
        .await?;
    state.charge(&caller, "admin.stop").await?;
    let result = async { Ok(state.admin.stop_agent(agent_id(&name)?).await?) }.await;
    audited(&state, &caller, "admin.stop", &name, result).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restarts an agent from its spec.
#[utoipa::path(post, path = "/v1/admin/agents/{name}/restart", tag = "admin",
    params(("name" = String, Path, description = "The agent")),
    responses((status = 200, description = "AgentInfo", body = Object),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn restart(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<AgentInfo>, ApiError> {
    state
        .require(&caller, Right::ControlAdmin, "admin.restart", &name)
        .await?;
    state.charge(&caller, "admin.restart").await?;
    let result = async { Ok(state.admin.restart_agent(agent_id(&name)?).await?) }.await;
    Ok(Json(
        audited(&state, &caller, "admin.restart", &name, result).await?,
    ))
}

/// Writes the Admin's tree checkpoint now.
#[utoipa::path(post, path = "/v1/admin/checkpoint", tag = "admin",
    responses((status = 200, body = Checkpointed), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn checkpoint(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
) -> Result<Json<Checkpointed>, ApiError> {
    state
        .require(&caller, Right::ControlAdmin, "admin.checkpoint", "")
        .await?;
    state.charge(&caller, "admin.checkpoint").await?;
    let result = state.admin.checkpoint().await.map_err(ApiError::from);
    let agents = audited(&state, &caller, "admin.checkpoint", "", result).await?;
    Ok(Json(Checkpointed { agents }))
}

/// The members of the cluster this node's NodeHost sees (itself alone outside a cluster).
pub(crate) async fn members(state: &ApiState) -> Result<Vec<Member>, ApiError> {
    let host = lookup::<NodeHostMessage>(&state.namespace.agent(&AgentId::new(node_host::KIND)))
        .ok_or_else(|| ApiError::unavailable("this node's host agent is not running"))?;
    let members = ractor::call_t!(host, NodeHostMessage::GetMembers, 10_000)
        .map_err(|e| ApiError::unavailable(format!("the node host did not answer: {e}")))?;
    members
        .open()
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// The cluster's nodes: what each offers, whether it is up, and when it was last seen.
#[utoipa::path(get, path = "/v1/cluster/nodes", tag = "cluster",
    responses((status = 200, description = "Member[]", body = Vec<Object>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn nodes(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
) -> Result<Json<Vec<Member>>, ApiError> {
    state
        .require(&caller, Right::Node, "cluster.nodes", "")
        .await?;
    Ok(Json(members(&state).await?))
}
