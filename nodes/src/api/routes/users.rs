//! `/v1/me`, `/v1/users`, `/v1/tokens` and `/v1/audit`: who the caller is, user
//! management (Admin and Developer), and the audit log.

use super::Body;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::{ApiState, Caller, Right};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use reporunner_actors::users::{
    AuditEntry, IssuedToken, Principal, UserError, UserStatus, UserView,
};
use reporunner_protocols::access::Tier;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// The caller, and what its tier allows.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Me {
    /// The user's name.
    pub(crate) name: String,
    /// The tier.
    #[schema(value_type = String)]
    pub(crate) tier: Tier,
    /// Requests that do work, an hour.
    pub(crate) requests_per_hour: u32,
    /// The GPUs the tier may use: none, small, medium or large.
    pub(crate) gpu: String,
    /// Whether the tier manages users and uses the admin functions.
    pub(crate) manages_users: bool,
    /// Whether the tier controls the Admin agent itself.
    pub(crate) controls_admin: bool,
    /// The business client the user belongs to; none: a user of the node itself.
    pub(crate) client: Option<String>,
}

/// `POST /v1/users`: a new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    /// 1 to 64 of a-z, 0-9, `.`, `_`, `-`.
    pub(crate) name: String,
    /// free, advanced, premium, tester, admin or developer.
    #[schema(value_type = String)]
    pub(crate) tier: Tier,
    /// At least 8 characters. It is kept only as an argon2id hash.
    pub(crate) password: String,
}

/// `PATCH /v1/users/{name}`: a new tier, a new status, or both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserUpdate {
    /// The new tier.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    tier: Option<Tier>,
    /// `active` or `disabled`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    status: Option<UserStatus>,
}

/// `GET /v1/audit`: how many entries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// The last `n` entries (default 100, at most 10000).
    n: Option<usize>,
}

/// `POST /v1/login`: a user's name and password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    /// The user.
    name: String,
    /// Its password.
    password: String,
    /// The business client the user belongs to; none: a user of the node itself.
    #[serde(default)]
    client: Option<String>,
}

/// A new API token for a user's own name and password: how a user of any tier gets a
/// token without an admin. Wrong names, wrong passwords and disabled users get one
/// answer; each name has 10 attempts an hour (the free tier's allowance).
#[utoipa::path(post, path = "/v1/login", tag = "users", request_body = LoginBody,
    responses((status = 201, description = "IssuedToken {id, token}", body = Object),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn login(
    State(state): State<Arc<ApiState>>,
    Body(body): Body<LoginBody>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    if !reporunner_actors::users::valid_name(&body.name) {
        state.metrics.unauthorized();
        return Err(ApiError::unauthorized());
    }
    let who = Principal {
        name: body.name.clone(),
        tier: Tier::Free,
    };
    // An unknown client gets the answer a wrong password gets.
    let client = match &body.client {
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
    let key = match &client {
        Some(c) => format!("login:{}/{}", c.name, body.name),
        None => format!("login:{}", body.name),
    };
    if let Err(over) = state.limits.check(&key, Tier::Free) {
        users
            .audit(&who, "users.login", &body.name, &format!("refused: {over}"))
            .await;
        return Err(over.into());
    }
    match users.login(&body.name, &body.password).await {
        Ok(token) => Ok((StatusCode::CREATED, Json(token))),
        Err(UserError::Unauthorized) => {
            state.metrics.unauthorized();
            Err(ApiError::unauthorized())
        }
        Err(e) => Err(e.into()),
    }
}

/// The caller and the rights of its tier.
#[utoipa::path(get, path = "/v1/me", tag = "users",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn me(caller: Caller) -> Json<Me> {
    let tier = caller.0.tier;
    let cap = caller.1.as_ref().and_then(|c| c.settings.requests_per_hour);
    let client = caller.1.is_some();
    Json(Me {
        name: caller.0.name,
        tier,
        requests_per_hour: reporunner_actors::ratelimit::allowance(tier, cap),
        gpu: tier.gpu().to_string(),
        manages_users: tier.manages_users(),
        controls_admin: tier.controls_admin() && !client,
        client: caller.1.map(|c| c.name),
    })
}

/// Every user.
#[utoipa::path(get, path = "/v1/users", tag = "users",
    responses((status = 200, description = "UserView[]", body = Vec<Object>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
) -> Result<Json<Vec<UserView>>, ApiError> {
    state
        .require(&caller, Right::Manage, "users.list", "*")
        .await?;
    Ok(Json(state.users_for(&caller).list(&caller.0).await?))
}

/// Adds a user.
#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = NewUser,
    responses((status = 201, description = "UserView", body = Object),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn add(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Body(body): Body<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    state
        .require(&caller, Right::Manage, "users.add", &body.name)
        .await?;
    state.charge(&caller, "users.add").await?;
    let view = state
        .users_for(&caller)
        .add(&caller.0, &body.name, body.tier, &body.password)
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Changes a user's tier or status; a disabled user's tokens stop working at once.
#[utoipa::path(patch, path = "/v1/users/{name}", tag = "users", request_body = UserUpdate,
    params(("name" = String, Path, description = "The user")),
    responses((status = 200, description = "UserView", body = Object),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn update(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(name): Path<String>,
    Body(body): Body<UserUpdate>,
) -> Result<Json<UserView>, ApiError> {
    state
        .require(&caller, Right::Manage, "users.update", &name)
        .await?;
    state.charge(&caller, "users.update").await?;
    let mut view = None;
    if let Some(tier) = body.tier {
        view = Some(
            state
                .users_for(&caller)
                .set_tier(&caller.0, &name, tier)
                .await?,
        );
    }
    if let Some(status) = body.status {
        view = Some(
            state
                .users_for(&caller)
                .set_status(&caller.0, &name, status)
                .await?,
        );
    }
    view.map(Json)
        .ok_or_else(|| ApiError::invalid("nothing to change: give tier, status or both"))
}

/// Issues a new API token for the user. The token is in this answer only: the store keeps
/// its hash.
#[utoipa::path(post, path = "/v1/users/{name}/tokens", tag = "users",
    params(("name" = String, Path, description = "The user")),
    responses((status = 201, description = "IssuedToken {id, token}", body = Object),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn token(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    state
        .require(&caller, Right::Manage, "users.token", &name)
        .await?;
    state.charge(&caller, "users.token").await?;
    Ok((
        StatusCode::CREATED,
        Json(
            state
                .users_for(&caller)
                .issue_token(&caller.0, &name)
                .await?,
        ),
    ))
}

/// Revokes a token, by its id (the 12 characters after `rr_`).
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "users",
    params(("id" = String, Path, description = "The token's id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn revoke(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .require(&caller, Right::Manage, "users.revoke", &id)
        .await?;
    state.charge(&caller, "users.revoke").await?;
    state
        .users_for(&caller)
        .revoke_token(&caller.0, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The last entries of the audit log, oldest first: admin actions and refusals.
#[utoipa::path(get, path = "/v1/audit", tag = "users", params(AuditQuery),
    responses((status = 200, description = "AuditEntry[]", body = Vec<Object>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn audit(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    state
        .require(&caller, Right::Manage, "audit.read", "")
        .await?;
    let Query(query) = query?;
    let n = query.n.unwrap_or(100).min(10_000);
    Ok(Json(state.users_for(&caller).audit_log(n).await?))
}
