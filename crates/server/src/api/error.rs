//! [`ApiError`]: every refusal of the control API, as the spec's error body
//! `{"errors": [{"code", "message", "attribute"}]}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One refusal: its HTTP status, a stable code, a message for people, and the attribute of
/// the request it is about (a dotted path, `params.device.params.port`), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) attribute: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            attribute: None,
        }
    }

    /// The body is not JSON, or not the shape of a command (400).
    pub(crate) fn malformed(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed_request", message)
    }

    /// No such call, or no such tap on it (404).
    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// The path exists, not with this method (405).
    pub(crate) fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this path does not take this method",
        )
    }

    /// The `control_id` is taken (409).
    pub(crate) fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// A value that cannot be used, or one that is missing (422).
    pub(crate) fn invalid(attribute: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_parameter",
            message,
        )
        .at(attribute)
    }

    /// The credentials are missing or wrong (401); says nothing else.
    pub(crate) fn unauthorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized")
    }

    /// The node is draining and takes no new calls (503).
    pub(crate) fn draining() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "the node is shutting down and takes no new calls",
        )
    }

    /// The call did not take the command in time (503).
    pub(crate) fn busy(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message)
    }

    /// The far end or a destination did not do what was asked (502).
    pub(crate) fn upstream(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_GATEWAY, "upstream_failed", message)
    }

    /// Names the attribute the refusal is about.
    pub(crate) fn at(mut self, attribute: impl Into<String>) -> ApiError {
        self.attribute = Some(attribute.into());
        self
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> serde_json::Value {
        let mut error = serde_json::json!({ "code": self.code, "message": self.message });
        if let (Some(attribute), Some(map)) = (&self.attribute, error.as_object_mut()) {
            map.insert("attribute".into(), attribute.clone().into());
        }
        serde_json::json!({ "errors": [error] })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"earshot\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_the_spec_shape() {
        let e = ApiError::invalid("params.device.params.port", "expected a port");
        assert_eq!(
            e.body(),
            serde_json::json!({"errors": [{
                "code": "invalid_parameter",
                "message": "expected a port",
                "attribute": "params.device.params.port",
            }]})
        );
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        let e = ApiError::malformed("not JSON");
        assert_eq!(
            e.body(),
            serde_json::json!({"errors": [{"code": "malformed_request", "message": "not JSON"}]})
        );
    }
}
