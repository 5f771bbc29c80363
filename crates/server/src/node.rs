//! [`Node`]: the SIP endpoint, the RTP port pool and the call tasks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use media::PortPool;
use sip::{Endpoint, EndpointStats, IncomingCalls};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::{CallReport, NodeConfig, ServerError};

/// Reports kept for slow subscribers before the oldest are dropped.
const REPORTS: usize = 4096;

/// What every call task of a node shares. Nothing here is touched per packet.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: NodeConfig,
    pub(crate) endpoint: Arc<Endpoint>,
    pub(crate) http: crate::http::FlowHttp,
    pub(crate) tls: Arc<rustls::ClientConfig>,
    pub(crate) status: crate::sink::status::StatusPoster,
    pub(crate) pool: PortPool,
    /// Taps running on the node, across its calls (`TapRules::per_node`).
    pub(crate) taps_running: Arc<AtomicUsize>,
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
    pub(crate) registry: Arc<crate::registry::Registry>,
    active: AtomicUsize,
    draining: AtomicBool,
    shutdown: watch::Sender<bool>,
    reports: broadcast::Sender<CallReport>,
}

/// Resolves once the node has begun to shut down, even if that was before this receiver
/// was made (a call still setting up then ends as soon as it looks).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Counts a call as active while it lives.
#[derive(Debug)]
pub(crate) struct CallSlot<'a>(&'a AtomicUsize);

impl Drop for CallSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Shared {
    /// Counts a call as active (and in the totals) while the slot lives.
    pub(crate) fn admit(&self, outbound: bool) -> CallSlot<'_> {
        self.metrics.call_started(outbound);
        self.active.fetch_add(1, Ordering::Relaxed);
        CallSlot(&self.active)
    }

    /// Whether more calls are running than `max_calls` allows, this one (already admitted)
    /// included: two calls admitted at once may both be refused, never both run.
    pub(crate) fn over_capacity(&self) -> bool {
        self.config
            .max_calls
            .is_some_and(|max| self.active.load(Ordering::Relaxed) > max)
    }

    /// Calls whose task is running.
    pub(crate) fn active_calls(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    pub(crate) fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    pub(crate) fn shutdown(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub(crate) fn publish(&self, report: CallReport) {
        // No subscriber is fine: reports are for observers, not for the call.
        let _ = self.reports.send(report);
    }
}

/// A running node.
#[derive(Debug)]
pub struct Node {
    endpoint: Arc<Endpoint>,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl Node {
    /// Binds the SIP endpoint and the RTP port pool and starts taking calls. Must be called
    /// inside a tokio runtime.
    pub async fn start(config: NodeConfig) -> Result<Node, ServerError> {
        crate::sink::tls::install_crypto_provider();
        let pool = PortPool::new(config.rtp)?;
        let tls = crate::sink::tls::client_config(config.taps.ca_file.as_deref())?;
        let http = crate::http::FlowHttp::new(&tls, config.destinations.clone())
            .map_err(|reason| ServerError::Http { reason })?;
        let status_config = crate::sink::status::StatusConfig {
            project_id: config.taps.project_id.clone(),
            space_id: config.taps.space_id.clone(),
            node_id: config.taps.node_id.clone(),
            signing_key: config.taps.signing_key.clone(),
            timeout: config.taps.status_timeout,
            ..crate::sink::status::StatusConfig::default()
        };
        let status = crate::sink::status::StatusPoster::new(
            status_config,
            config.destinations.clone(),
            &tls,
        )
        .map_err(|e| ServerError::Http {
            reason: e.to_string(),
        })?;
        let (endpoint, incoming) = Endpoint::bind(config.sip.clone()).await?;
        let endpoint = Arc::new(endpoint);
        let (shutdown, _) = watch::channel(false);
        let (reports, _) = broadcast::channel(REPORTS);
        let shared = Arc::new(Shared {
            config,
            endpoint: Arc::clone(&endpoint),
            http,
            tls,
            status,
            pool,
            taps_running: Arc::new(AtomicUsize::new(0)),
            metrics: Arc::default(),
            registry: Arc::default(),
            active: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            shutdown,
            reports,
        });
        let accept = tokio::spawn(accept_calls(incoming, Arc::clone(&shared)));
        tracing::info!(
            udp = %endpoint.udp_addr(),
            tcp = ?endpoint.tcp_addr(),
            rtp_ip = %shared.pool.config().ip,
            rtp_ports = %format!("{}-{}", shared.pool.config().first, shared.pool.config().last),
            "earshot node listening"
        );
        Ok(Node {
            endpoint,
            shared,
            accept,
        })
    }

    /// What the node's call tasks share (for the control API).
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The SIP UDP address.
    pub fn sip_udp_addr(&self) -> SocketAddr {
        self.endpoint.udp_addr()
    }

    /// The SIP TCP address, if TCP is on.
    pub fn sip_tcp_addr(&self) -> Option<SocketAddr> {
        self.endpoint.tcp_addr()
    }

    /// The SIP endpoint, for outbound calls.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The RTP port pool.
    pub fn port_pool(&self) -> &PortPool {
        &self.shared.pool
    }

    /// How the node's legs treat their peer's media.
    pub fn leg_config(&self) -> media::LegConfig {
        self.shared.config.leg
    }

    /// Calls whose task is running.
    pub fn active_calls(&self) -> usize {
        self.shared.active.load(Ordering::Relaxed)
    }

    /// The SIP endpoint's counters.
    pub fn sip_stats(&self) -> EndpointStats {
        self.endpoint.stats()
    }

    /// The delivery counters of status events: delivered, retried, given up.
    pub fn status_counters(&self) -> crate::sink::status::StatusCounters {
        self.shared.status.counters()
    }

    /// A stream of reports, one per call as it ends, from now on.
    pub fn reports(&self) -> broadcast::Receiver<CallReport> {
        self.shared.reports.subscribe()
    }

    /// Stops taking calls (new INVITEs and OPTIONS get 503) without ending the ones up.
    pub fn drain(&self) {
        self.shared.draining.store(true, Ordering::Relaxed);
        self.endpoint.set_draining(true);
    }

    /// Whether the node is draining (`/ready` answers 503).
    pub fn is_draining(&self) -> bool {
        self.shared.draining()
    }

    /// Ends every call (BYE), then stops the endpoint.
    pub fn shutdown(&self) {
        self.drain();
        let _ = self.shared.shutdown.send(true);
        self.accept.abort();
    }

    /// The graceful shutdown: drain, end every call (BYE, its taps stopped with
    /// `call_ended`), then wait until every call task has ended and every tap's status
    /// events, `finished` last, have been delivered or given up by their retry rule; at most
    /// `deadline`. Says what was still open if the deadline came first.
    pub async fn shutdown_gracefully(&self, deadline: Duration) -> ShutdownReport {
        let until = tokio::time::Instant::now() + deadline;
        self.shutdown();
        let mut reports = self.shared.reports.subscribe();
        while self.active_calls() > 0 {
            // Every call task publishes a report as it ends; a lagged receiver still wakes.
            if tokio::time::timeout_at(until, reports.recv())
                .await
                .is_err()
            {
                break;
            }
        }
        let _ = tokio::time::timeout_at(until, self.shared.status.idle()).await;
        let report = ShutdownReport {
            calls: self.active_calls(),
            status_channels: self.shared.status.open_channels(),
        };
        tracing::info!(
            calls_left = report.calls,
            status_channels_left = report.status_channels,
            "node stopped"
        );
        report
    }
}

/// What a graceful shutdown left undone when its deadline came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Calls whose task had not ended.
    pub calls: usize,
    /// Taps' status channels with events not yet delivered or given up.
    pub status_channels: usize,
}

impl ShutdownReport {
    /// Whether everything ended in time.
    pub fn is_clean(&self) -> bool {
        self.calls == 0 && self.status_channels == 0
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.shared.shutdown.send(true);
        self.accept.abort();
        self.endpoint.shutdown();
    }
}

async fn accept_calls(mut incoming: IncomingCalls, shared: Arc<Shared>) {
    while let Some(call) = incoming.next().await {
        tokio::spawn(crate::call::run_inbound(call, Arc::clone(&shared)));
    }
}
