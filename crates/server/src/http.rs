//! HTTP for call flows: SWML `request`, documents fetched for `execute`/`transfer` and for
//! routes, and WAV files to `play`.
//!
//! One client per node, with the node's TLS configuration (rustls on ring, webpki roots and
//! the optional CA file), no proxy, at most [`MAX_REDIRECTS`] redirects, a time limit on the
//! whole exchange (the body included), and a size limit on every answer so that a remote
//! server cannot make a call hold unbounded memory. Requests run in tasks of their own: the
//! call's media keeps its pace while one is under way.
//!
//! What a document asks for (`request`, `execute`/`transfer`, `play` of `http(s)://`) goes
//! through the node's destination policy exactly as taps do (`tap.md` §8): an IP-literal host
//! is judged before anything is sent, a name is judged on every address it resolves to, and
//! each redirect is judged again. A denied URL fails the step with an error that names it.
//! The documents of the node's own routes ([`FlowHttp::fetch_route_document`]) are
//! configuration, not customer input, and are fetched without the policy.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::Value;

use crate::sink::policy::DestinationPolicy;

/// The largest answer a `request` or a fetched document may have.
pub const MAX_BODY: usize = 1 << 20;
/// The largest WAV file `play` fetches (about 17 minutes of 8 kHz 16-bit audio).
pub const MAX_WAV: usize = 16 << 20;
/// How long a document fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The most redirects followed.
pub const MAX_REDIRECTS: usize = 5;
/// What the redirect policy says past [`MAX_REDIRECTS`].
const TOO_MANY_REDIRECTS: &str = "too many redirects";

/// The node's HTTP client for call flows.
#[derive(Debug, Clone)]
pub struct FlowHttp {
    /// For what documents ask: under the destination policy.
    client: reqwest::Client,
    /// For the node's own routes.
    operator: reqwest::Client,
    policy: DestinationPolicy,
}

/// Why `url`'s literal host may not be sent to; `None` for a name (judged when it resolves)
/// or an allowed address.
fn denied_literal(policy: &DestinationPolicy, url: &reqwest::Url) -> Option<String> {
    let ip = match url.host()? {
        url::Host::Ipv4(v4) => IpAddr::V4(v4),
        url::Host::Ipv6(v6) => IpAddr::V6(v6),
        url::Host::Domain(_) => return None,
    };
    policy.check(ip).err().map(|denied| {
        format!(
            "{} is not allowed by the node's destination policy: {denied}",
            crate::redact::uri(url.as_str())
        )
    })
}

/// An HTTP answer: its status and body (cut at the limit).
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl FlowHttp {
    /// A client using `tls`, whose document-driven requests follow `policy`.
    pub fn new(tls: &rustls::ClientConfig, policy: DestinationPolicy) -> Result<FlowHttp, String> {
        let builder = || {
            reqwest::Client::builder()
                .tls_backend_preconfigured(tls.clone())
                .no_proxy()
                .user_agent(crate::sink::ws::USER_AGENT)
        };
        let operator = builder()
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .build()
            .map_err(|e| e.to_string())?;
        let judge = policy.clone();
        let mut guarded = builder().redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error(TOO_MANY_REDIRECTS)
            } else if let Some(denied) = denied_literal(&judge, attempt.url()) {
                attempt.error(denied)
            } else {
                attempt.follow()
            }
        }));
        if policy.deny_private {
            guarded =
                guarded.dns_resolver(crate::sink::status::PolicyResolver::new(policy.clone()));
        }
        let client = guarded.build().map_err(|e| e.to_string())?;
        Ok(FlowHttp {
            client,
            operator,
            policy,
        })
    }

    /// Sends `method` to `url` with `headers` and an optional body; reads at most `limit` bytes.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&Value>,
        timeout: Duration,
        limit: usize,
    ) -> Result<Answer, String> {
        let parsed =
            reqwest::Url::parse(url).map_err(|e| format!("{}: {e}", crate::redact::uri(url)))?;
        if let Some(denied) = denied_literal(&self.policy, &parsed) {
            return Err(denied);
        }
        Self::send_with(&self.client, method, url, headers, body, timeout, limit).await
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the parts of one request, as `send` takes them"
    )]
    async fn send_with(
        client: &reqwest::Client,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&Value>,
        timeout: Duration,
        limit: usize,
    ) -> Result<Answer, String> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut request = client.request(method, url).timeout(timeout);
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        match body {
            Some(Value::String(text)) => request = request.body(text.clone()),
            Some(json) => {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(json.to_string());
            }
            None => {}
        }
        let failed = |e: reqwest::Error| {
            let shown = crate::redact::uri(url);
            let (redirect, timeout_hit) = (e.is_redirect(), e.is_timeout());
            let chain = error_chain(&e.without_url());
            // The operator's client (reqwest's limit) and the guarded one (ours) say the same.
            if redirect && chain.contains(TOO_MANY_REDIRECTS) {
                format!("{shown} redirected more than {MAX_REDIRECTS} times")
            } else if timeout_hit {
                format!("{shown} gave no complete answer within {timeout:?}")
            } else {
                format!("{shown}: {chain}")
            }
        };
        let mut response = request.send().await.map_err(failed)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut out = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if out.len() + chunk.len() > limit {
                return Err(format!(
                    "the answer from {} is larger than {limit} bytes",
                    crate::redact::uri(url)
                ));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            content_type,
            body: out,
        })
    }

    /// Fetches an SWML document for `execute`/`transfer`, under the destination policy: a POST
    /// of `body` (`{call, vars, params}`), answered 2xx with `application/json`,
    /// `application/yaml` or `text/x-yaml`.
    pub async fn fetch_document(&self, url: &str, body: &Value) -> Result<String, String> {
        let answer = self
            .send("POST", url, &[], Some(body), FETCH_TIMEOUT, MAX_BODY)
            .await?;
        document_text(url, answer)
    }

    /// Fetches the document of one of the node's routes, as [`FlowHttp::fetch_document`] but
    /// without the destination policy: the node's operator chose the URL.
    pub async fn fetch_route_document(&self, url: &str, body: &Value) -> Result<String, String> {
        let answer = Self::send_with(
            &self.operator,
            "POST",
            url,
            &[],
            Some(body),
            FETCH_TIMEOUT,
            MAX_BODY,
        )
        .await?;
        document_text(url, answer)
    }
}

/// An error with its sources: reqwest's own message omits what a resolver or a redirect
/// policy said.
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The text of a fetched document, if the answer is one.
fn document_text(url: &str, answer: Answer) -> Result<String, String> {
    if !(200..300).contains(&answer.status) {
        return Err(format!(
            "{} answered {}",
            crate::redact::uri(url),
            answer.status
        ));
    }
    let kind = answer.content_type.as_deref().unwrap_or("");
    let kind = kind.split(';').next().unwrap_or("").trim();
    if !matches!(
        kind,
        "application/json" | "application/yaml" | "text/x-yaml"
    ) {
        return Err(format!(
            "{} answered with Content-Type {kind:?}: expected application/json, \
             application/yaml or text/x-yaml",
            crate::redact::uri(url)
        ));
    }
    String::from_utf8(answer.body).map_err(|_| {
        format!(
            "{} answered text that is not UTF-8",
            crate::redact::uri(url)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// An HTTP/1.1 server on loopback answering each connection with `answer(n, port)`, where
    /// `n` counts connections; with `hold` it keeps the connection open after writing, else
    /// closes it.
    async fn serve(hold: bool, answer: fn(usize, u16) -> Vec<u8>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let port = listener.local_addr().expect("bound address").port();
        tokio::spawn(async move {
            let mut n = 0;
            while let Ok((mut stream, _)) = listener.accept().await {
                n += 1;
                let reply = answer(n, port);
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = stream.read(&mut request).await;
                    let _ = stream.write_all(&reply).await;
                    if hold {
                        let _ = stream.read(&mut request).await;
                    }
                });
            }
        });
        port
    }

    fn client() -> FlowHttp {
        crate::sink::tls::install_crypto_provider();
        let tls = crate::sink::tls::client_config(None).expect("the node's TLS configuration");
        FlowHttp::new(&tls, DestinationPolicy::allow_all()).expect("a client")
    }

    #[tokio::test]
    async fn an_answer_over_the_size_limit_is_refused_naming_it() {
        let port = serve(false, |_, _| {
            let body = vec![b'x'; MAX_BODY + 1];
            let mut reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            reply.extend_from_slice(&body);
            reply
        })
        .await;
        let url = format!("http://127.0.0.1:{port}/big");
        let error = client()
            .fetch_document(&url, &Value::Null)
            .await
            .expect_err("a 1 MiB + 1 answer is refused");
        assert_eq!(
            error,
            format!("the answer from {url} is larger than 1048576 bytes")
        );
    }

    /// A `302` to `/rN` on the same server.
    fn redirect(n: usize, port: u16) -> Vec<u8> {
        format!(
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{port}/r{n}\r\n\
             Connection: close\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    #[tokio::test]
    async fn more_than_five_redirects_are_refused() {
        // Every answer redirects to the next path: the sixth redirect is not followed.
        let port = serve(false, redirect).await;
        let url = format!("http://127.0.0.1:{port}/r0");
        let error = client()
            .send("GET", &url, &[], None, Duration::from_secs(10), MAX_BODY)
            .await
            .expect_err("a redirect loop is refused");
        assert_eq!(error, format!("{url} redirected more than 5 times"));
    }

    #[tokio::test]
    async fn five_redirects_are_followed() {
        let port = serve(false, |n, port| {
            if n <= 5 {
                redirect(n, port)
            } else {
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec()
            }
        })
        .await;
        let url = format!("http://127.0.0.1:{port}/r0");
        let answer = client()
            .send("GET", &url, &[], None, Duration::from_secs(10), MAX_BODY)
            .await
            .expect("five redirects are followed");
        assert_eq!((answer.status, answer.body.as_slice()), (200, &b"ok"[..]));
    }

    #[tokio::test]
    async fn a_body_that_never_ends_is_cut_by_the_total_time() {
        // Headers at once, then half the body and silence: the timeout covers the body too.
        let port = serve(true, |_, _| {
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":"
                .to_vec()
        })
        .await;
        let url = format!("http://127.0.0.1:{port}/slow");
        let error = client()
            .send("GET", &url, &[], None, Duration::from_millis(300), MAX_BODY)
            .await
            .expect_err("a stalled body times out");
        assert_eq!(error, format!("{url} gave no complete answer within 300ms"));
    }
}
