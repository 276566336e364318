//! The one error envelope every HTTP error uses: `{"error": {"code", "message", "field"?}}`,
//! and the single place where domain errors become statuses.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::findings::{FieldError, FindingsError};
use crate::tenants::TenantError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Every field that failed validation, when a form was checked as a whole.
    pub fields: Vec<crate::admin::FieldProblem>,
    /// The request body was left unread: tell the client not to reuse the connection.
    pub close_connection: bool,
    /// Seconds after which trying again makes sense (`Retry-After`).
    pub retry_after: Option<u64>,
}

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable code (e.g. `invalid_field`, `not_found`).
    pub code: String,
    /// What went wrong, for a human.
    pub message: String,
    /// The offending field or parameter, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every field that failed, with its message (forms checked as a whole).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<crate::admin::FieldProblem>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            fields: Vec::new(),
            close_connection: false,
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn closing_connection(mut self) -> Self {
        self.close_connection = true;
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        let field = field.into();
        self.field = (!field.is_empty()).then_some(field);
        self
    }

    pub fn with_fields(mut self, fields: Vec<crate::admin::FieldProblem>) -> Self {
        if self.field.is_none() {
            self.field = fields.first().map(|f| f.field.clone());
        }
        self.fields = fields;
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// A value that parsed but makes no sense (out of range, missing justification, …).
    pub fn unprocessable(error: FieldError) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            error.to_string(),
        )
        .with_field(error.field)
    }

    /// A field of the wrong type or shape, or an unknown field.
    pub fn invalid_field(error: FieldError) -> Self {
        let message = if error.field.is_empty() {
            error.message.clone()
        } else {
            error.to_string()
        };
        Self::bad_request("invalid_field", message).with_field(error.field)
    }

    pub fn internal(context: &str, error: &dyn std::fmt::Display) -> Self {
        // The detail goes to the log only; clients get a generic message.
        tracing::error!(%error, context, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error; the server log has the details",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_client_error() {
            tracing::info!(status = self.status.as_u16(), code = self.code, message = %self.message, "request rejected");
        }
        let unauthorized = self.status == StatusCode::UNAUTHORIZED;
        let close = self.close_connection;
        let retry_after = self.retry_after;
        let mut response = (
            self.status,
            Json(ErrorEnvelope {
                error: ErrorBody {
                    code: self.code.to_owned(),
                    message: self.message,
                    field: self.field,
                    fields: self.fields,
                },
            }),
        )
            .into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if close {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if unauthorized {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"verdict\""),
            );
        }
        response
    }
}

impl From<crate::sync::notes::NotesError> for ApiError {
    fn from(e: crate::sync::notes::NotesError) -> Self {
        use crate::sync::notes::NotesError;
        match e {
            NotesError::Invalid(m) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_note", m)
                    .with_field("body")
            }
            NotesError::Findings(f) => f.into(),
            NotesError::Queue(_) | NotesError::Db(_) => ApiError::internal("notes", &e),
        }
    }
}

impl From<FindingsError> for ApiError {
    fn from(e: FindingsError) -> Self {
        match e {
            FindingsError::NotFound(_) => ApiError::not_found(e.to_string()),
            FindingsError::Invalid(field) => ApiError::unprocessable(field),
            FindingsError::AlreadyInStatus(_) => {
                ApiError::new(StatusCode::CONFLICT, "status_unchanged", e.to_string())
                    .with_field("status")
            }
            FindingsError::ConcurrentChange => {
                ApiError::new(StatusCode::CONFLICT, "concurrent_change", e.to_string())
            }
            FindingsError::BatchTooLarge { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "batch_too_large",
                e.to_string(),
            )
            .with_field("findings"),
            FindingsError::BadCursor => {
                ApiError::bad_request("invalid_query", "cursor is not one this API returned")
                    .with_field("cursor")
            }
            FindingsError::Corrupt(_) | FindingsError::Db(_) => ApiError::internal("findings", &e),
        }
    }
}

impl From<TenantError> for ApiError {
    fn from(e: TenantError) -> Self {
        match e {
            TenantError::MissingKey | TenantError::InvalidKey | TenantError::RevokedKey { .. } => {
                ApiError::unauthorized(e.to_string())
            }
            TenantError::TenantDisabled { .. } => {
                ApiError::new(StatusCode::FORBIDDEN, "tenant_disabled", e.to_string())
            }
            TenantError::TenantUninstalled { .. } => {
                ApiError::new(StatusCode::FORBIDDEN, "tenant_uninstalled", e.to_string())
            }
            TenantError::UnknownScope(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                e.to_string(),
            )
            .with_field("scope"),
            TenantError::NotFound(_) | TenantError::KeyNotFound(_) => {
                ApiError::not_found(e.to_string())
            }
            TenantError::NameTaken(_) | TenantError::KeyAlreadyRevoked(_) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            TenantError::InvalidName(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                e.to_string(),
            )
            .with_field("name"),
            TenantError::Corrupt(_) | TenantError::Db(_) => ApiError::internal("tenants", &e),
        }
    }
}

/// A storage failure is a server fault: 500, so a caller such as Jira retries later.
impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError::internal("database", &e)
    }
}
