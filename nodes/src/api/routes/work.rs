//! `/v1/analyze` and `/v1/search`: a repository's profile, and its context index searched
//! with the indexer the caller's tier allows.

use super::Body;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::{ApiState, Caller, Right};
use axum::Json;
use axum::extract::State;
use reporunner_actors::agents::context_indexer::{IndexRequest, SearchAnswer, SearchRequest};
use reporunner_protocols::profile::ProjectProfile;
use reporunner_runtime::index::{Filter, IndexError, IndexKind, Query};
use serde::Deserialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// `POST /v1/analyze`: which repository.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnalyzeBody {
    /// The repository's folder, relative to the server's repository root.
    path: String,
}

/// `POST /v1/search`: what to look for, where.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchBody {
    /// The repository's folder, relative to the server's repository root.
    path: String,
    /// The question, in words or code.
    query: String,
    /// How many hits (1 to 50, default 5).
    #[serde(default)]
    k: Option<usize>,
    /// An indexer the tier allows (`simple`, `vector`, `collection`); by default the best
    /// the tier and the host allow.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    indexer: Option<IndexKind>,
    /// Only files whose path matches this glob.
    #[serde(default)]
    path_glob: Option<String>,
    /// Only files of this language.
    #[serde(default)]
    language: Option<String>,
}

/// The repository's profile: languages, frameworks, package managers, start command,
/// port, databases, tests, each with its evidence.
#[utoipa::path(post, path = "/v1/analyze", tag = "work", request_body = AnalyzeBody,
    responses((status = 200, description = "ProjectProfile", body = Object),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn analyze(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Body(body): Body<AnalyzeBody>,
) -> Result<Json<ProjectProfile>, ApiError> {
    state
        .require(&caller, Right::Use, "analyze", &body.path)
        .await?;
    state.charge(&caller, "analyze").await?;
    let path = state.repo_path(&caller, &body.path)?;
    let profile =
        crate::cli::analyze::analyze(&state.admin, &state.namespace, &path, None, caller.0.tier)
            .await
            .map_err(|e| ApiError::internal(format!("{e:#}")))?;
    Ok(Json(profile))
}

/// Searches the repository's context index, built or brought up to date first.
#[utoipa::path(post, path = "/v1/search", tag = "work", request_body = SearchBody,
    responses((status = 200, description = "SearchAnswer", body = Object),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn search(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Body(body): Body<SearchBody>,
) -> Result<Json<SearchAnswer>, ApiError> {
    state
        .require(&caller, Right::Use, "search", &body.path)
        .await?;
    state.charge(&caller, "search").await?;
    let root = state.repo_path(&caller, &body.path)?;
    // A client's searches use its indexer.
    let client_indexer = caller
        .1
        .as_ref()
        .and_then(|c| c.settings.indexer)
        .map(IndexKind::from);
    if let (Some(theirs), Some(asked)) = (client_indexer, body.indexer)
        && theirs != asked
    {
        return Err(ApiError::forbidden(format!(
            "this client's workflow uses the {theirs} indexer, not {asked}"
        )));
    }
    let k = body.k.unwrap_or(5);
    if !(1..=50).contains(&k) {
        return Err(ApiError::invalid("k must be 1 to 50"));
    }
    if body.query.trim().is_empty() {
        return Err(ApiError::invalid("the query is empty"));
    }
    let request = SearchRequest {
        index: IndexRequest {
            root,
            tier: caller.0.tier,
            kind: client_indexer.or(body.indexer),
        },
        query: Query {
            text: body.query,
            k,
            filter: Filter {
                path_glob: body.path_glob,
                language: body.language,
            },
        },
    };
    let answer = crate::cli::search::search_with(&state.admin, &state.namespace, request)
        .await
        .map_err(|e| {
            let message = format!("{e:#}");
            match e.downcast_ref::<IndexError>() {
                Some(IndexError::Forbidden { .. }) => ApiError::forbidden(message),
                Some(IndexError::BadFilter(_) | IndexError::NotAFolder { .. }) => {
                    ApiError::invalid(message)
                }
                _ => ApiError::internal(message),
            }
        })?;
    Ok(Json(answer))
}
