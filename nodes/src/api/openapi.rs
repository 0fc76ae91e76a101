//! The OpenAPI document of the API, served at `/openapi.json`.

use super::error::{ErrorBody, ErrorDetail};
use super::routes::{self as r};
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The API's OpenAPI 3.1 document.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Repo Runner", description = "Gets source repositories running by themselves: runs and their live events, analysis, search, users, the Admin agent, the cluster, business clients."),
    paths(
        super::healthz,
        document,
        super::metrics::scrape,
        r::runs::start, r::runs::list, r::runs::show, r::runs::stop, r::runs::events,
        r::work::analyze, r::work::search,
        r::users::login, r::users::me, r::users::list, r::users::add, r::users::update, r::users::token,
        r::users::revoke, r::users::audit,
        r::admin::tree, r::admin::kinds, r::admin::spawn, r::admin::stop, r::admin::restart,
        r::admin::checkpoint, r::admin::nodes,
        r::clients::create, r::clients::list, r::clients::show, r::clients::remove,
        r::clients::add_user,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&Token),
    tags(
        (name = "runs", description = "Repository runs and their live events"),
        (name = "work", description = "Analysis and search"),
        (name = "users", description = "Users, tokens and the audit log"),
        (name = "admin", description = "The Admin agent: tree, spawn, stop, restart, checkpoint"),
        (name = "cluster", description = "The cluster's nodes"),
        (name = "clients", description = "Business clients: their own users, store and workflow"),
        (name = "metrics", description = "Prometheus metrics"),
        (name = "health", description = "Liveness"),
    )
)]
pub struct ApiDoc;

/// The bearer token every `/v1` endpoint takes.
struct Token;

impl Modify for Token {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("rr_<id>_<secret>, or rr_<client>.<id>_<secret>")
                    .build(),
            ),
        );
    }
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "health",
    responses((status = 200, description = "The OpenAPI document")))]
pub(crate) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
