//! HTTP for call flows: SWML `request`, documents fetched for `execute`/`transfer` and for
//! routes, and WAV files to `play`.
//!
//! One client per node, with the node's TLS configuration (rustls on ring, webpki roots),
//! no proxy, at most [`MAX_REDIRECTS`] redirects, a time limit on the whole exchange (the body
//! included), and a size limit on every answer so that a remote server
//! cannot make a call hold unbounded memory. Requests run in tasks of their own: the call's
//! media keeps its pace while one is under way.

use std::time::Duration;

use serde_json::Value;

/// The largest answer a `request` or a fetched document may have.
pub const MAX_BODY: usize = 1 << 20;
/// The largest WAV file `play` fetches (about 17 minutes of 8 kHz 16-bit audio).
pub const MAX_WAV: usize = 16 << 20;
/// How long a document fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The most redirects followed.
pub const MAX_REDIRECTS: usize = 5;

/// The node's HTTP client for call flows.
#[derive(Debug, Clone)]
pub struct FlowHttp {
    client: reqwest::Client,
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
    /// A client using `tls`.
    pub fn new(tls: &rustls::ClientConfig) -> Result<FlowHttp, String> {
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls.clone())
            .no_proxy()
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .user_agent(crate::sink::ws::USER_AGENT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(FlowHttp { client })
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
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut request = self.client.request(method, url).timeout(timeout);
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
            if e.is_redirect() {
                format!("{url} redirected more than {MAX_REDIRECTS} times")
            } else if e.is_timeout() {
                format!("{url} gave no complete answer within {timeout:?}")
            } else {
                e.to_string()
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
                    "the answer from {url} is larger than {limit} bytes"
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

    /// Fetches an SWML document: a POST of `body` (`{call, vars, params}`), answered 2xx with
    /// `application/json`, `application/yaml` or `text/x-yaml`.
    pub async fn fetch_document(&self, url: &str, body: &Value) -> Result<String, String> {
        let answer = self
            .send("POST", url, &[], Some(body), FETCH_TIMEOUT, MAX_BODY)
            .await?;
        if !(200..300).contains(&answer.status) {
            return Err(format!("{url} answered {}", answer.status));
        }
        let kind = answer.content_type.as_deref().unwrap_or("");
        let kind = kind.split(';').next().unwrap_or("").trim();
        if !matches!(
            kind,
            "application/json" | "application/yaml" | "text/x-yaml"
        ) {
            return Err(format!(
                "{url} answered with Content-Type {kind:?}: expected application/json, \
                 application/yaml or text/x-yaml"
            ));
        }
        String::from_utf8(answer.body).map_err(|_| format!("{url} answered text that is not UTF-8"))
    }
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
        FlowHttp::new(&tls).expect("a client")
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

    #[tokio::test]
    async fn more_than_five_redirects_are_refused() {
        // Every answer redirects to the next path: the sixth redirect is not followed.
        let port = serve(false, |n, port| {
            format!(
                "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{port}/r{n}\r\n\
                 Connection: close\r\nContent-Length: 0\r\n\r\n"
            )
            .into_bytes()
        })
        .await;
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
                format!(
                    "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{port}/r{n}\r\n\
                     Connection: close\r\nContent-Length: 0\r\n\r\n"
                )
                .into_bytes()
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
