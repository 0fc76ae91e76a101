//! The endpoints, by resource.

pub(super) mod admin;
pub(super) mod clients;
pub(super) mod runs;
pub(super) mod users;
pub(super) mod work;

pub(crate) use admin::members;

use super::{ApiState, error::ApiError};
use axum::Router;
use axum::extract::FromRequest;
use axum::routing::{delete, get, patch, post};
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// Every endpoint. The OpenAPI document ([`super::ApiDoc`]) lists the same ones.
pub(crate) fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/healthz", get(super::healthz))
        .route("/openapi.json", get(super::openapi::document))
        .route("/metrics", get(super::metrics::scrape))
        .route("/v1/runs", post(runs::start).get(runs::list))
        .route("/v1/runs/{id}", get(runs::show))
        .route("/v1/runs/{id}/stop", post(runs::stop))
        .route("/v1/runs/{id}/events", get(runs::events))
        .route("/v1/analyze", post(work::analyze))
        .route("/v1/search", post(work::search))
        .route("/v1/login", post(users::login))
        .route("/v1/me", get(users::me))
        .route("/v1/users", get(users::list).post(users::add))
        .route("/v1/users/{name}", patch(users::update))
        .route("/v1/users/{name}/tokens", post(users::token))
        .route("/v1/tokens/{id}", delete(users::revoke))
        .route("/v1/audit", get(users::audit))
        .route("/v1/admin/tree", get(admin::tree))
        .route("/v1/admin/kinds", get(admin::kinds))
        .route("/v1/admin/agents", post(admin::spawn))
        .route("/v1/admin/agents/{name}/stop", post(admin::stop))
        .route("/v1/admin/agents/{name}/restart", post(admin::restart))
        .route("/v1/admin/checkpoint", post(admin::checkpoint))
        .route("/v1/cluster/nodes", get(admin::nodes))
        .route("/v1/clients", post(clients::create).get(clients::list))
        .route(
            "/v1/clients/{name}",
            get(clients::show).delete(clients::remove),
        )
        .route("/v1/clients/{name}/users", post(clients::add_user))
        .with_state(state)
}

/// A JSON body, refused with the API's JSON errors: malformed JSON (400 `invalid_json`),
/// unknown or missing fields (422 `invalid_body`), a body over the limit (413), or one that
/// is not JSON (415).
pub(crate) struct Body<T>(pub(crate) T);

impl<T, S> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Body(value))
    }
}
