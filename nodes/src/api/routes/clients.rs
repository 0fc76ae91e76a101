//! `/v1/clients`: business clients, created, listed and removed at runtime by the node's
//! Developer tier. Each gets its own BusinessOrchestrator (its users, store scope and
//! workflow); every action is audited in the node's log.

use super::Body;
use super::admin::audited;
use super::users::NewUser;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::{ApiState, Caller, Right};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use reporunner_actors::users::{MIN_PASSWORD, UserView, valid_name};
use reporunner_protocols::access::Tier;
use reporunner_protocols::business::{
    ClientInfo, ClientSettings, ClientSpec, DEFAULT_CLIENT_TIERS,
};
use reporunner_protocols::host::IndexerKind;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// The client's first user: an Admin of the client, who manages its other users.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FirstUser {
    /// 1 to 64 of a-z, 0-9, `.`, `_`, `-`.
    name: String,
    /// At least 8 characters. It is kept only as an argon2id hash.
    password: String,
}

/// `POST /v1/clients`: a new business client and its workflow settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewClient {
    /// 1 to 32 of a-z, 0-9 and `-`, starting with a letter.
    name: String,
    /// The client's repositories' folder, inside the node's repository root.
    repo_root: String,
    /// The tiers its users may hold (default every tier but developer).
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    tiers: Option<Vec<Tier>>,
    /// The context indexer its runs and searches use (`simple`, `vector`, `collection`);
    /// by default each user's tier chooses.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    indexer: Option<IndexerKind>,
    /// The phases its runs execute, in the registered order (default all).
    #[serde(default)]
    phases: Option<Vec<String>>,
    /// At most this many requests that do work, an hour, per user.
    #[serde(default)]
    requests_per_hour: Option<u32>,
    /// At most this many of its runs at once.
    #[serde(default)]
    max_concurrent_runs: Option<u32>,
    /// Its first user, of the admin tier.
    #[serde(default)]
    admin: Option<FirstUser>,
}

/// A created client, and its first user.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct CreatedClient {
    /// The client as its orchestrator holds it.
    #[schema(value_type = Object)]
    pub(crate) client: ClientInfo,
    /// Its first user, if one was asked for.
    #[schema(value_type = Option<Object>)]
    pub(crate) admin: Option<UserView>,
}

/// Creates a business client: its orchestrator starts at once, under the Admin, and a
/// restarted head brings it back.
#[utoipa::path(post, path = "/v1/clients", tag = "clients", request_body = NewClient,
    responses((status = 201, body = CreatedClient), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn create(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Body(body): Body<NewClient>,
) -> Result<(StatusCode, Json<CreatedClient>), ApiError> {
    state
        .require(&caller, Right::ControlAdmin, "clients.create", &body.name)
        .await?;
    state.charge(&caller, "clients.create").await?;
    let name = body.name.clone();
    let result = async {
        if let Some(first) = &body.admin
            && (!valid_name(&first.name) || first.password.chars().count() < MIN_PASSWORD)
        {
            return Err(ApiError::invalid(format!(
                "the first user needs a name of 1 to 64 of a-z, 0-9, '.', '_', '-' and a password of at least {MIN_PASSWORD} characters"
            )));
        }
        let root = state.repo_path(&caller, &body.repo_root)?;
        let settings = ClientSettings {
            repo_root: root.display().to_string(),
            tiers: body.tiers.unwrap_or_else(|| DEFAULT_CLIENT_TIERS.to_vec()),
            indexer: body.indexer,
            phases: body.phases.unwrap_or_default(),
            requests_per_hour: body.requests_per_hour,
            max_concurrent_runs: body.max_concurrent_runs,
        };
        let client = state
            .admin
            .create_client(ClientSpec {
                name: body.name,
                settings,
            })
            .await?;
        let admin = match body.admin {
            Some(first) => {
                let context = state.client(&client.name).await.ok_or_else(|| {
                    ApiError::unavailable("the client's orchestrator did not answer")
                })?;
                Some(
                    context
                        .users
                        .add(&caller.0, &first.name, Tier::Admin, &first.password)
                        .await?,
                )
            }
            None => None,
        };
        Ok(CreatedClient { client, admin })
    }
    .await;
    let created = audited(&state, &caller, "clients.create", &name, result).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The business clients, in creation order.
#[utoipa::path(get, path = "/v1/clients", tag = "clients",
    responses((status = 200, description = "ClientInfo[]", body = Vec<Object>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
) -> Result<Json<Vec<ClientInfo>>, ApiError> {
    state
        .require(&caller, Right::ControlAdmin, "clients.list", "")
        .await?;
    Ok(Json(state.admin.clients().await?))
}

/// One business client.
#[utoipa::path(get, path = "/v1/clients/{name}", tag = "clients",
    params(("name" = String, Path, description = "The client")),
    responses((status = 200, description = "ClientInfo", body = Object),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn show(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<ClientInfo>, ApiError> {
    state
        .require(&caller, Right::ControlAdmin, "clients.show", &name)
        .await?;
    state
        .admin
        .clients()
        .await?
        .into_iter()
        .find(|c| c.name == name)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no client {name:?}")))
}

/// Stops a business client's orchestrator and forgets it. Its data stays in the store: a
/// client created again under the name finds its users and runs.
#[utoipa::path(delete, path = "/v1/clients/{name}", tag = "clients",
    params(("name" = String, Path, description = "The client")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn remove(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .require(&caller, Right::ControlAdmin, "clients.remove", &name)
        .await?;
    state.charge(&caller, "clients.remove").await?;
    let result = state
        .admin
        .remove_client(&name)
        .await
        .map_err(ApiError::from);
    audited(&state, &caller, "clients.remove", &name, result).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a user to a business client, as the node's developer (a client's own admins add
/// theirs with `POST /v1/users`).
#[utoipa::path(post, path = "/v1/clients/{name}/users", tag = "clients", request_body = NewUser,
    params(("name" = String, Path, description = "The client")),
    responses((status = 201, description = "UserView", body = Object),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn add_user(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(name): Path<String>,
    Body(body): Body<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let target = format!("{name}/{}", body.name);
    state
        .require(&caller, Right::ControlAdmin, "clients.add_user", &target)
        .await?;
    state.charge(&caller, "clients.add_user").await?;
    let result = async {
        let context = state
            .client(&name)
            .await
            .ok_or_else(|| ApiError::not_found(format!("no client {name:?}")))?;
        Ok(context
            .users
            .add(&caller.0, &body.name, body.tier, &body.password)
            .await?)
    }
    .await;
    let view = audited(&state, &caller, "clients.add_user", &target, result).await?;
    Ok((StatusCode::CREATED, Json(view)))
}
