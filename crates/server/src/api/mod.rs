//! The control API (`../shared/spec/control-api.md`): `POST /api/calling/calls` with
//! `dial`, `calling.tap`, `calling.tap.stop` and `calling.end`; `GET /api/calling/calls` and
//! `GET /api/calling/calls/{id}`; and the operations endpoints `/health`, `/ready`,
//! `/metrics`.
//!
//! The API is HTTP/1 on axum, bound to loopback by default. Calls are reached through the
//! node's registry: a command goes into the call's queue and its task answers (see
//! `registry.rs`), so the API never touches a call's state itself. Basic auth
//! (`project_id`:`api_token`) is compared in constant time over SHA-256 digests, so neither the
//! content nor the length of the secret shows in the timing; a failure is 401 with nothing
//! else. Bad input gets 400 (not a command), 404 (no such call or tap), 409 (the `control_id`
//! is taken) or 422 (a value that cannot be used), always with the spec's error body; no bad
//! input reaches a 500.

mod commands;
mod error;
pub mod fuzz;
mod tap;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;
use tokio::task::JoinHandle;

use crate::node::Shared;
use crate::registry::{CallCommand, CallView, Entry};
use crate::{Config, Listen, Node, ServerError};

pub(crate) use error::ApiError;

/// How long a call's task may take to describe itself before the API shows what it knows.
const SHOW_TIMEOUT: Duration = Duration::from_secs(1);

/// Where the API listens and who may use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiOptions {
    /// The control API's listener.
    pub listen: Listen,
    /// The operations endpoints' listener (no credentials).
    pub ops_listen: Listen,
    /// The Basic-auth user.
    pub project_id: String,
    /// The Basic-auth password.
    pub token: String,
}

impl ApiOptions {
    /// The options of a configuration (`[api]`).
    pub fn from_config(config: &Config) -> Result<ApiOptions, ServerError> {
        Ok(ApiOptions {
            listen: config.api_listen()?,
            ops_listen: config.ops_listen()?,
            project_id: config.api.project_id.clone(),
            token: config.api.token.clone(),
        })
    }
}

/// A random API token: 32 hex digits (128 bits).
pub fn generate_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Clone)]
struct ApiState {
    shared: Arc<Shared>,
    user: [u8; 32],
    token: [u8; 32],
}

fn digest(s: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, s);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl ApiState {
    fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let credentials = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, value) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("basic").then_some(value.trim())
            })
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok());
        let Some(credentials) = credentials else {
            return Err(ApiError::unauthorized());
        };
        let (user, token) = match credentials.iter().position(|&b| b == b':') {
            Some(i) => (&credentials[..i], &credentials[i + 1..]),
            None => (&credentials[..], &[][..]),
        };
        let user_ok = digest(user).ct_eq(&self.user);
        let token_ok = digest(token).ct_eq(&self.token);
        if bool::from(user_ok & token_ok) {
            Ok(())
        } else {
            Err(ApiError::unauthorized())
        }
    }
}

/// The running API: its listeners' tasks.
#[derive(Debug)]
pub struct Api {
    addr: Option<SocketAddr>,
    ops_addr: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

impl Api {
    /// Binds the API for `node` as `config`'s `[api]` says.
    pub async fn start(node: &Node, config: &Config) -> Result<Api, ServerError> {
        Api::bind(node, ApiOptions::from_config(config)?).await
    }

    /// Binds the API for `node`.
    pub async fn bind(node: &Node, options: ApiOptions) -> Result<Api, ServerError> {
        if options.token.is_empty() && options.listen != Listen::Off {
            return Err(ServerError::Config {
                reason: "api.token: the control API needs a token".into(),
            });
        }
        let state = ApiState {
            shared: Arc::clone(node.shared()),
            user: digest(options.project_id.as_bytes()),
            token: digest(options.token.as_bytes()),
        };
        let ops = Router::new()
            .route("/health", get(health))
            .route("/ready", get(ready))
            .route("/metrics", get(metrics));
        let api = Router::new()
            .route("/api/calling/calls", post(commands::command).get(list))
            .route("/api/calling/calls/{id}", get(show));
        let mut tasks = Vec::new();
        let mut addr = None;
        let mut ops_addr = None;
        if let Listen::Addr(listen) = options.listen {
            let router = if options.ops_listen == Listen::OnApi {
                api.merge(ops.clone())
            } else {
                api
            };
            let router = router
                .fallback(not_found)
                .method_not_allowed_fallback(method_not_allowed);
            let (bound, task) = serve(listen, router, state.clone()).await?;
            addr = Some(bound);
            tasks.push(task);
            if options.ops_listen == Listen::OnApi {
                ops_addr = Some(bound);
            }
        }
        match options.ops_listen {
            Listen::Addr(listen) => {
                let router = ops
                    .fallback(not_found)
                    .method_not_allowed_fallback(method_not_allowed);
                let (bound, task) = serve(listen, router, state).await?;
                ops_addr = Some(bound);
                tasks.push(task);
            }
            // On the API's listener: off with it.
            Listen::OnApi | Listen::Off => {}
        }
        Ok(Api {
            addr,
            ops_addr,
            tasks,
        })
    }

    /// The control API's address, if it is on.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// Where `/health`, `/ready` and `/metrics` are served, if anywhere.
    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.ops_addr
    }

    /// Stops the listeners.
    pub fn stop(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(
    listen: SocketAddr,
    router: Router<ApiState>,
    state: ApiState,
) -> Result<(SocketAddr, JoinHandle<()>), ServerError> {
    let bind_error = |e: std::io::Error| ServerError::Config {
        reason: format!("cannot listen on {listen}: {e}"),
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    let app = router.with_state(state);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::warn!(%error, "the API listener stopped");
        }
    });
    tracing::info!(addr = %bound, "HTTP listening");
    Ok((bound, task))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such resource")
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

async fn health() -> &'static str {
    "ok\n"
}

async fn ready(State(state): State<ApiState>) -> Response {
    if state.shared.draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response()
    } else {
        (StatusCode::OK, "ready\n").into_response()
    }
}

async fn metrics(State(state): State<ApiState>) -> Response {
    let shared = &state.shared;
    let page = shared.metrics.render(&crate::metrics::Live {
        calls_active: shared.active_calls() as u64,
        draining: shared.draining(),
        sip: shared.endpoint.stats(),
        status: shared.status.counters(),
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        page,
    )
        .into_response()
}

/// What a call's task says about itself, or, if it is busy setting up, what the registry
/// knows.
async fn view(entry: &Entry) -> CallView {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let asked = entry.commands.try_send(CallCommand::Show { reply }).is_ok();
    if asked && let Ok(Ok(view)) = tokio::time::timeout(SHOW_TIMEOUT, answer).await {
        return view;
    }
    CallView {
        summary: (*entry.summary).clone(),
        state: "created",
        taps: Vec::new(),
        rtp: None,
    }
}

async fn list(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    if let Err(e) = state.authorize(&headers) {
        return e.into_response();
    }
    let mut calls = Vec::new();
    for entry in state.shared.registry.all() {
        calls.push(view(&entry).await);
    }
    axum::Json(serde_json::json!({ "data": calls })).into_response()
}

async fn show(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = state.authorize(&headers) {
        return e.into_response();
    }
    match state.shared.registry.get(&id) {
        Some(entry) => axum::Json(view(&entry).await).into_response(),
        None => ApiError::not_found(format!("no call {id:?}"))
            .at("id")
            .into_response(),
    }
}
