//! [`StatusReceiver`]: a small HTTP/1.1 server that takes status-event POSTs (`tap.md` §5).
//!
//! Every request gets `200 OK` with an empty body once its body has arrived; the request is
//! then handed on as a [`StatusEvent`]. Bodies must carry a `Content-Length` (earshot's do);
//! a chunked request gets `411 Length Required`. Heads are limited to 16 KiB and bodies to
//! 1 MiB; a connection idle for 30 s is closed. Persistent connections are kept, as HTTP/1.1
//! clients expect.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use crate::ReceiverError;

const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 1024 * 1024;
const IDLE: Duration = Duration::from_secs(30);

/// One request received.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusEvent {
    /// When it arrived.
    pub received_at: SystemTime,
    /// Who sent it.
    pub from: SocketAddr,
    /// The method (`POST`).
    pub method: String,
    /// The request target.
    pub path: String,
    /// The headers, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy UTF-8).
    pub body: String,
    /// The body as JSON, if it is.
    pub json: Option<serde_json::Value>,
}

impl StatusEvent {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `params.state` of a tap event (`tapping`, `finished`).
    pub fn state(&self) -> Option<&str> {
        self.json.as_ref()?.get("params")?.get("state")?.as_str()
    }
}

/// A running status-event server.
#[derive(Debug)]
pub struct StatusReceiver {
    local_addr: SocketAddr,
    events: mpsc::UnboundedReceiver<StatusEvent>,
    task: JoinHandle<()>,
}

impl StatusReceiver {
    /// Binds `addr` and starts answering. Must run inside a tokio runtime.
    pub async fn bind(addr: SocketAddr) -> Result<StatusReceiver, ReceiverError> {
        let bind = |source| ReceiverError::Bind { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind)?;
        let local_addr = listener.local_addr().map_err(bind)?;
        let (tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((tcp, from)) => { connections.spawn(serve(tcp, from, tx.clone())); }
                        Err(error) => tracing::debug!(%error, "status accept failed"),
                    },
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Ok(StatusReceiver {
            local_addr,
            events,
            task,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The next request received.
    pub async fn next_event(&mut self) -> Option<StatusEvent> {
        self.events.recv().await
    }

    /// A request already received, without waiting.
    pub fn try_next_event(&mut self) -> Option<StatusEvent> {
        self.events.try_recv().ok()
    }
}

impl Drop for StatusReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one connection's requests in turn.
async fn serve(mut tcp: TcpStream, from: SocketAddr, events: mpsc::UnboundedSender<StatusEvent>) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if buf.len() > MAX_HEAD {
                let _ = respond(&mut tcp, "431 Request Header Fields Too Large").await;
                return;
            }
            if !read_more(&mut tcp, &mut buf).await {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut request = lines.next().unwrap_or_default().split(' ');
        let (method, path) = (
            request.next().unwrap_or_default().to_string(),
            request.next().unwrap_or_default().to_string(),
        );
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let value = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        if value("transfer-encoding").is_some() {
            let _ = respond(&mut tcp, "411 Length Required").await;
            return;
        }
        let Ok(len) = value("content-length").unwrap_or("0").parse::<usize>() else {
            let _ = respond(&mut tcp, "400 Bad Request").await;
            return;
        };
        if len > MAX_BODY {
            let _ = respond(&mut tcp, "413 Content Too Large").await;
            return;
        }
        let close = value("connection").is_some_and(|c| c.eq_ignore_ascii_case("close"));
        while buf.len() < head_end + len {
            if !read_more(&mut tcp, &mut buf).await {
                return;
            }
        }
        let body_bytes: Vec<u8> = buf.drain(..head_end + len).skip(head_end).collect();
        let body = String::from_utf8_lossy(&body_bytes).into_owned();
        let json = serde_json::from_slice(&body_bytes).ok();
        if respond(&mut tcp, "200 OK").await.is_err() {
            return;
        }
        let _ = events.send(StatusEvent {
            received_at: SystemTime::now(),
            from,
            method,
            path,
            headers,
            body,
            json,
        });
        if close {
            return;
        }
    }
}

async fn read_more(tcp: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 8192];
    match timeout(IDLE, tcp.read(&mut chunk)).await {
        Ok(Ok(n)) if n > 0 => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
        _ => false,
    }
}

async fn respond(tcp: &mut TcpStream, status: &str) -> std::io::Result<()> {
    tcp.write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").as_bytes())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn posts_are_answered_and_handed_on_in_order() {
        let mut rx = StatusReceiver::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bound");
        let mut tcp = TcpStream::connect(rx.local_addr())
            .await
            .expect("connected");
        let one = r#"{"params":{"state":"tapping"}}"#;
        let two = r#"{"params":{"state":"finished"}}"#;
        let request = |body: &str| {
            format!(
                "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        };
        // Both requests in one write: the server must split them by Content-Length.
        tcp.write_all((request(one) + &request(two)).as_bytes())
            .await
            .expect("sent");
        let mut answers = String::new();
        while answers.matches("200 OK").count() < 2 {
            let mut chunk = [0u8; 256];
            let n = tcp.read(&mut chunk).await.expect("an answer");
            assert!(n > 0, "the server closed early: {answers:?}");
            answers += &String::from_utf8_lossy(&chunk[..n]);
        }
        let a = rx.next_event().await.expect("an event");
        let b = rx.next_event().await.expect("an event");
        assert_eq!((a.method.as_str(), a.path.as_str()), ("POST", "/events"));
        assert_eq!(a.header("content-type"), Some("application/json"));
        assert_eq!((a.state(), b.state()), (Some("tapping"), Some("finished")));
        assert_eq!(b.body, two);
    }

    #[tokio::test]
    async fn chunked_bodies_are_refused() {
        let mut rx = StatusReceiver::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bound");
        let mut tcp = TcpStream::connect(rx.local_addr())
            .await
            .expect("connected");
        tcp.write_all(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            .await
            .expect("sent");
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.expect("an answer");
        assert!(answer.starts_with("HTTP/1.1 411"), "{answer}");
        assert!(rx.try_next_event().is_none());
    }
}
