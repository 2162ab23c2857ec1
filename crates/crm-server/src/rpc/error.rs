//! `ApiError`: every failure a method or the transport can report, and the one table that
//! maps each to its Bitrix error code, HTTP status and description.

use crm_core::store::StoreError;

/// A failure reported to the client as `{"error": code, "error_description": text}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// No such method (checked before authentication).
    #[error("method not found")]
    MethodNotFound,
    /// No credentials were presented.
    #[error("no credentials")]
    NoAuthFound,
    /// Wrong webhook user or secret, or a revoked webhook.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// An OAuth access token that is not valid.
    #[error("invalid token")]
    InvalidToken,
    /// An OAuth access token past its lifetime.
    #[error("expired token")]
    ExpiredToken,
    /// The credential lacks the method's scope (`token`: an OAuth access token, else a
    /// webhook).
    #[error("insufficient scope")]
    InsufficientScope {
        /// Whether the credential is an access token.
        token: bool,
    },
    /// The method may not be called with this kind of credential.
    #[error("wrong authorization type")]
    WrongAuthType,
    /// Item-level denial (`ACCESS_DENIED`, 403).
    #[error("access denied")]
    AccessDenied,
    /// A CRM validation, not-found or permission message: empty code, HTTP 400.
    #[error("{0}")]
    Invalid(String),
    /// A message of the newer (camelCase) methods, which carry a code: HTTP 400.
    #[error("{1}")]
    Coded(&'static str, String),
    /// A core failure the portal reports as `ERROR_CORE` with HTTP 500 (e.g. a failed
    /// normalisation or a database error).
    #[error("{0}")]
    CoreFailure(String),
    /// A command past the 50th of a batch.
    #[error("batch too long")]
    BatchLengthExceeded,
    /// `batch` (or another forbidden method) inside a batch.
    #[error("method not allowed in batch")]
    BatchMethodNotAllowed,
    /// A request body over the configured limit.
    #[error("request body too large")]
    BodyTooLarge(usize),
    /// Concurrent work kept the store from serialising this call in time; nothing was
    /// changed. Answered like a portal's overload, which clients retry with back-off.
    #[error("overloaded")]
    Overloaded,
    /// The body did not arrive within the configured time (seconds).
    #[error("request body timed out")]
    BodyTimeout(u64),
    /// A request the transport refuses before any method sees it (parameters nested or
    /// numbered past the server's bounds, a wrong HTTP method on our own endpoints).
    #[error("{1}")]
    BadRequest(u16, String),
    /// An unexpected failure; details are logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
    /// The portal's operating-time budget of the method is spent (an injected fault).
    #[error("operation time limit")]
    OperationTimeLimit,
    /// A failure below the REST envelope (an injected fault): the HTTP layer answers a
    /// proxy's 502 page or drops the connection.
    #[error("transport fault")]
    Transport(crate::rpc::faults::Transport),
}

impl ApiError {
    /// The empty-code 400 error with a portal message.
    pub fn invalid(text: impl Into<String>) -> Self {
        Self::Invalid(text.into())
    }

    /// A 400 error with a code (`NOT_FOUND`, `ACCESS_DENIED`, …) and a message.
    pub fn coded(code: &'static str, text: impl Into<String>) -> Self {
        Self::Coded(code, text.into())
    }

    /// The table: error code, HTTP status, description.
    pub fn parts(&self) -> (&'static str, u16, String) {
        match self {
            Self::MethodNotFound => ("ERROR_METHOD_NOT_FOUND", 404, "Method not found!".into()),
            Self::NoAuthFound => ("NO_AUTH_FOUND", 401, "Wrong authorization data".into()),
            Self::InvalidCredentials => (
                "INVALID_CREDENTIALS",
                401,
                "Invalid request credentials".into(),
            ),
            Self::InvalidToken => (
                "invalid_token",
                401,
                "The access token provided is invalid".into(),
            ),
            Self::ExpiredToken => (
                "expired_token",
                401,
                "The access token provided has expired".into(),
            ),
            Self::InsufficientScope { token } => (
                "insufficient_scope",
                401,
                format!(
                    "The request requires higher privileges than provided by the {} token",
                    if *token { "access" } else { "webhook" }
                ),
            ),
            Self::WrongAuthType => (
                "WRONG_AUTH_TYPE",
                403,
                "Current authorization type is denied for this method".into(),
            ),
            Self::AccessDenied => ("ACCESS_DENIED", 403, "Access denied!".into()),
            Self::Invalid(text) => ("", 400, text.clone()),
            Self::Coded(code, text) => (code, 400, text.clone()),
            Self::CoreFailure(text) => ("ERROR_CORE", 500, text.clone()),
            Self::BatchLengthExceeded => (
                "ERROR_BATCH_LENGTH_EXCEEDED",
                400,
                "Max batch length exceeded".into(),
            ),
            Self::BatchMethodNotAllowed => (
                "ERROR_BATCH_METHOD_NOT_ALLOWED",
                405,
                "Method is not allowed for batch usage".into(),
            ),
            Self::BodyTooLarge(limit) => (
                "INVALID_REQUEST",
                413,
                format!("Request body is larger than the {limit}-byte limit"),
            ),
            Self::Overloaded => ("QUERY_LIMIT_EXCEEDED", 503, "Too many requests".into()),
            Self::OperationTimeLimit => (
                "OPERATION_TIME_LIMIT",
                429,
                "Method is blocked due to operation time limit.".into(),
            ),
            Self::Transport(crate::rpc::faults::Transport::BadGateway) => {
                ("BAD_GATEWAY", 502, "Bad Gateway".into())
            }
            Self::Transport(crate::rpc::faults::Transport::Reset) => {
                ("CONNECTION_RESET", 502, "Connection reset".into())
            }
            Self::BodyTimeout(secs) => (
                "INVALID_REQUEST",
                408,
                format!("The request body was not received within {secs} s"),
            ),
            Self::BadRequest(status, text) => ("INVALID_REQUEST", *status, text.clone()),
            Self::Internal(_) => ("INTERNAL_SERVER_ERROR", 500, "Internal server error".into()),
        }
    }

    /// The Bitrix error code.
    pub fn code(&self) -> &'static str {
        self.parts().0
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.parts().1
    }
}

impl From<StoreError> for ApiError {
    /// Store failures methods do not handle themselves: a missing owner is the portal's
    /// "Not found."; a missing bound entity is our stricter "… not found." (a portal would
    /// create a dangling binding); a conflict with concurrent work is the portal's
    /// overload answer (503 `QUERY_LIMIT_EXCEEDED`, which clients retry); anything else is
    /// a database error, logged here once.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::invalid("Not found."),
            StoreError::BoundNotFound { entity, id } => {
                Self::Invalid(format!("{} #{id} is not found.", entity.title()))
            }
            StoreError::Rejected(text) => Self::Invalid(text),
            StoreError::Conflict(cause) => {
                tracing::warn!(error = %cause, "storage conflict, answered as overload");
                Self::Overloaded
            }
            StoreError::Backend(cause) => {
                tracing::error!(error = %cause, "storage failure");
                Self::CoreFailure("SQL query error!".into())
            }
        }
    }
}
