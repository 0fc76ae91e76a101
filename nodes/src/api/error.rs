//! The API's errors: JSON bodies with a stable code, and the status that goes with it.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reporunner_actors::ratelimit::OverLimit;
use reporunner_actors::users::UserError;
use reporunner_protocols::admin::AdminError;
use reporunner_protocols::run::RunError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of every error answer: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error's stable code and its message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code: `unauthorized`, `forbidden`, `rate_limited`,
    /// `not_found`, `invalid_json`, `invalid_body`, `invalid_request`,
    /// `payload_too_large`, `unsupported_media_type`, `path_outside_root`, `conflict`,
    /// `method_not_allowed`, `unavailable` or `internal`.
    pub code: String,
    /// What went wrong, in words.
    pub message: String,
}

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable code (see [`ErrorDetail::code`]).
    pub code: &'static str,
    /// The message.
    pub message: String,
    /// Seconds until a refused request may be tried again (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error of `status` with `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 401: no token, or one that does not authenticate. Every failure gets this one
    /// answer, so it tells nothing about which part was wrong.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API token is needed: Authorization: Bearer rr_...",
        )
    }

    /// 403: the caller's tier may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 400 with `invalid_request`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 413: a body over [`super::BODY_LIMIT`], announced or read.
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the body is larger than the API takes ({} bytes at most)",
                super::BODY_LIMIT
            ),
        )
    }

    /// 503: a part of the node is not running.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 500.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<OverLimit> for ApiError {
    fn from(e: OverLimit) -> Self {
        Self {
            retry_after: Some(e.retry_after.as_secs().max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", e.to_string())
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        match e {
            JsonRejection::JsonSyntaxError(e) => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the body is not valid JSON: {}", e.body_text()),
            ),
            JsonRejection::JsonDataError(e) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                e.body_text(),
            ),
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON, with Content-Type: application/json",
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::payload_too_large()
            }
            other => Self::new(other.status(), "invalid_request", other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        Self::invalid(e.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        Self::invalid(e.body_text())
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        let message = e.to_string();
        match e {
            UserError::Unauthorized => Self::unauthorized(),
            UserError::Forbidden { .. } => Self::forbidden(message),
            UserError::Exists(_) => Self::new(StatusCode::CONFLICT, "conflict", message),
            UserError::NotFound(_) | UserError::NoToken(_) => Self::not_found(message),
            UserError::Invalid(_) => Self::invalid(message),
            _ => Self::internal(message),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        let message = e.to_string();
        match e {
            AdminError::UnknownKind { .. }
            | AdminError::InvalidName { .. }
            | AdminError::InvalidConfig { .. } => Self::invalid(message),
            AdminError::NameTaken { .. } | AdminError::ClientExists { .. } => {
                Self::new(StatusCode::CONFLICT, "conflict", message)
            }
            AdminError::NotFound { .. } | AdminError::NoClient { .. } => Self::not_found(message),
            AdminError::Forbidden { .. } => Self::forbidden(message),
            AdminError::NoNodeFits { .. } | AdminError::Unavailable { .. } => {
                Self::unavailable(message)
            }
            _ => Self::internal(message),
        }
    }
}

impl From<RunError> for ApiError {
    fn from(e: RunError) -> Self {
        let message = e.to_string();
        match e {
            RunError::NotFound { .. } => Self::not_found(message),
            RunError::InvalidInput { .. } | RunError::UnknownWorkflow { .. } => {
                Self::invalid(message)
            }
            RunError::AlreadyRunning { .. }
            | RunError::AlreadySucceeded { .. }
            | RunError::NotRunning { .. } => Self::new(StatusCode::CONFLICT, "conflict", message),
            RunError::NoStore => Self::unavailable(message),
            _ => Self::internal(message),
        }
    }
}
