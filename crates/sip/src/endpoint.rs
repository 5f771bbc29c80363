//! The SIP endpoint: listeners, the stack, and the routing of every incoming transaction.
//!
//! Out-of-dialog requests are routed here (RFC 3261 §8.2): INVITE becomes an
//! [`IncomingCall`](crate::IncomingCall); OPTIONS gets 200 (503 while draining, §11.2);
//! methods we understand but do not serve get 405 with `Allow` (§8.2.1); a request with a To
//! tag that matches no dialog gets 481 (§12.2.2). In-dialog requests go to their dialog.
//! Retransmissions never get here: the transaction layer absorbs them.

use crate::config::EndpointConfig;
use crate::error::SipError;
use crate::guarded_socket::GuardedSocket;
use crate::inbound::{IncomingCall, offer_call};
use crate::outbound::{DialRequest, OutboundCall, place_call};
use crate::rate_limit::RateLimiter;
use crate::stats::{Counters, EndpointStats};
use crate::tcp_listener::{StreamGuard, serve_tcp};
use rsipstack::EndpointBuilder;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::platform::CancellationToken;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Method, StatusCode, Transport};
use rsipstack::transaction::TransactionReceiver;
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{SipAddr, TransportLayer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;

/// Methods advertised in `Allow`.
pub(crate) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE";

/// Seconds a peer is asked to wait (`Retry-After`) when we are draining or full.
const RETRY_AFTER_SECS: u32 = 30;

/// A bound SIP endpoint. Dropping it shuts the stack down.
pub struct Endpoint {
    shared: Arc<Shared>,
}

/// The stream of calls offered to us.
#[derive(Debug)]
pub struct IncomingCalls {
    calls: mpsc::Receiver<IncomingCall>,
}

impl IncomingCalls {
    /// The next offered call; `None` once the endpoint has shut down.
    pub async fn next(&mut self) -> Option<IncomingCall> {
        self.calls.recv().await
    }
}

/// What the call handles share with the endpoint.
pub(crate) struct Shared {
    pub(crate) stack: EndpointInnerRef,
    pub(crate) dialogs: Arc<DialogLayer>,
    pub(crate) udp_addr: SocketAddr,
    pub(crate) tcp_addr: Option<SocketAddr>,
    pub(crate) headers_of_interest: Vec<String>,
    draining: AtomicBool,
    pub(crate) counters: Arc<Counters>,
    cancel: CancellationToken,
}

impl Shared {
    /// Our Contact for dialogs on `transport` (RFC 3261 §8.1.1.8).
    pub(crate) fn contact(&self, transport: Transport) -> String {
        match (transport, self.tcp_addr) {
            (Transport::Tcp, Some(tcp)) => format!("sip:{tcp};transport=tcp"),
            _ => format!("sip:{}", self.udp_addr),
        }
    }
}

impl Endpoint {
    /// Binds the listeners and starts the stack. Must run inside a tokio runtime.
    pub async fn bind(config: EndpointConfig) -> Result<(Endpoint, IncomingCalls), SipError> {
        let cancel = CancellationToken::new();
        let counters = Arc::new(Counters::default());
        let limiter = Arc::new(RateLimiter::new(config.rate_limit));

        let udp = tokio::net::UdpSocket::bind(config.udp_addr)
            .await
            .map_err(|source| SipError::Bind {
                transport: "udp",
                addr: config.udp_addr,
                source,
            })?;
        let udp_addr = udp.local_addr().map_err(|source| SipError::Bind {
            transport: "udp",
            addr: config.udp_addr,
            source,
        })?;
        let guarded = Arc::new(GuardedSocket {
            socket: udp,
            limiter: limiter.clone(),
            counters: counters.clone(),
        });
        let udp = UdpConnection::from_socket(guarded, None, Some(cancel.child_token()))
            .await
            .map_err(|err| SipError::stack("adopt the UDP socket", err))?;
        let transport_layer = TransportLayer::new(cancel.child_token());
        transport_layer.add_transport(udp.into());

        let tcp = match config.tcp_addr {
            Some(addr) => {
                let bind_err = |source| SipError::Bind {
                    transport: "tcp",
                    addr,
                    source,
                };
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(bind_err)?;
                let local = listener.local_addr().map_err(bind_err)?;
                Some((listener, local))
            }
            None => None,
        };

        let stack = EndpointBuilder::new()
            .with_user_agent(&config.user_agent)
            .with_transport_layer(transport_layer)
            .with_cancel_token(cancel.child_token())
            .with_transport_inspector(Box::new(StreamGuard {
                limiter: limiter.clone(),
                counters: counters.clone(),
            }))
            .build();
        let transactions = stack
            .incoming_transactions()
            .map_err(|err| SipError::stack("start", err))?;
        let stack_inner = stack.inner.clone();
        tokio::spawn(async move { stack.serve().await });

        let tcp_addr = match tcp {
            Some((listener, local)) => {
                let sip_addr = SipAddr {
                    r#type: Some(Transport::Tcp),
                    addr: local.into(),
                };
                tokio::spawn(serve_tcp(
                    listener,
                    sip_addr,
                    stack_inner.clone(),
                    limiter,
                    counters.clone(),
                    cancel.child_token(),
                ));
                Some(local)
            }
            None => None,
        };

        let shared = Arc::new(Shared {
            dialogs: Arc::new(DialogLayer::new(stack_inner.clone())),
            stack: stack_inner,
            udp_addr,
            tcp_addr,
            headers_of_interest: config.headers_of_interest,
            draining: AtomicBool::new(false),
            counters,
            cancel,
        });
        let (calls_tx, calls) = mpsc::channel(config.incoming_capacity.max(1));
        tokio::spawn(dispatch(transactions, shared.clone(), calls_tx));
        tracing::info!(%udp_addr, ?tcp_addr, "SIP endpoint listening");
        Ok((Endpoint { shared }, IncomingCalls { calls }))
    }

    /// The bound UDP address.
    pub fn udp_addr(&self) -> SocketAddr {
        self.shared.udp_addr
    }

    /// The bound TCP address, if TCP is on.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.shared.tcp_addr
    }

    /// While draining, OPTIONS and new INVITEs get `503` with `Retry-After`; calls already up
    /// are untouched.
    pub fn set_draining(&self, draining: bool) {
        self.shared.draining.store(draining, Ordering::Relaxed);
    }

    /// Whether the endpoint is draining.
    pub fn is_draining(&self) -> bool {
        self.shared.draining.load(Ordering::Relaxed)
    }

    /// The counters of refused messages.
    pub fn stats(&self) -> EndpointStats {
        self.shared.counters.snapshot()
    }

    /// Places a call. Events arrive on the returned handle.
    pub async fn dial(&self, request: DialRequest) -> Result<OutboundCall, SipError> {
        if self.shared.cancel.is_cancelled() {
            return Err(SipError::EndpointClosed);
        }
        place_call(&self.shared, request)
    }

    /// Stops the listeners and the stack; calls in progress end without signalling.
    pub fn shutdown(&self) {
        self.shared.cancel.cancel();
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("udp_addr", &self.shared.udp_addr)
            .field("tcp_addr", &self.shared.tcp_addr)
            .finish_non_exhaustive()
    }
}

/// Routes every new server transaction until the endpoint shuts down.
async fn dispatch(
    mut transactions: TransactionReceiver,
    shared: Arc<Shared>,
    calls: mpsc::Sender<IncomingCall>,
) {
    loop {
        let tx = tokio::select! {
            () = shared.cancel.cancelled() => return,
            tx = transactions.recv() => match tx {
                Some(tx) => tx,
                None => return,
            },
        };
        route(&shared, &calls, tx);
    }
}

fn route(shared: &Arc<Shared>, calls: &mpsc::Sender<IncomingCall>, mut tx: Transaction) {
    shared
        .counters
        .request(tx.original.method.to_string().as_str());
    let in_dialog = tx
        .original
        .to_header()
        .ok()
        .and_then(|to| to.tag().ok().flatten())
        .is_some();
    if in_dialog {
        match shared.dialogs.match_dialog(&tx) {
            Some(mut dialog) => {
                tokio::spawn(async move {
                    if let Err(err) = dialog.handle(&mut tx).await {
                        tracing::debug!(%err, "in-dialog request failed");
                    }
                });
            }
            None if tx.original.method == Method::Ack => {}
            None => reply(shared, tx, StatusCode::CallTransactionDoesNotExist, vec![]),
        }
        return;
    }
    let draining = shared.draining.load(Ordering::Relaxed);
    match tx.original.method {
        Method::Invite if draining => {
            reply(shared, tx, StatusCode::ServiceUnavailable, retry_after())
        }
        Method::Invite => offer_call(shared, calls, tx),
        Method::Options if draining => {
            reply(shared, tx, StatusCode::ServiceUnavailable, retry_after())
        }
        Method::Options => reply(
            shared,
            tx,
            StatusCode::OK,
            vec![
                Header::Allow(ALLOW.into()),
                Header::Accept("application/sdp".into()),
            ],
        ),
        Method::Ack => {}
        Method::Bye | Method::Cancel | Method::PRack | Method::Update | Method::Info => {
            reply(shared, tx, StatusCode::CallTransactionDoesNotExist, vec![]);
        }
        Method::Register
        | Method::Subscribe
        | Method::Publish
        | Method::Message
        | Method::Notify
        | Method::Refer => reply(
            shared,
            tx,
            StatusCode::MethodNotAllowed,
            vec![Header::Allow(ALLOW.into())],
        ),
    }
}

fn retry_after() -> Vec<Header> {
    vec![Header::RetryAfter(RETRY_AFTER_SECS.to_string().into())]
}

/// Answers an out-of-dialog transaction from its own task: a TCP send can wait on the peer.
pub(crate) fn reply(
    shared: &Shared,
    mut tx: Transaction,
    status: StatusCode,
    headers: Vec<Header>,
) {
    shared.counters.answer(
        tx.original.method.to_string().as_str(),
        u16::from(status.clone()),
    );
    tokio::spawn(async move {
        if let Err(err) = tx.reply_with(status, headers, None).await {
            tracing::debug!(%err, "could not answer a request");
        }
    });
}
