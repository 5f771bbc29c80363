//! HTTP for call flows: SWML `request`, documents fetched for `execute`/`transfer` and for
//! routes, and WAV files to `play`.
//!
//! One client per node, with the node's TLS configuration (rustls on ring, webpki roots),
//! no proxy, at most 5 redirects, and a size limit on every answer so that a remote server
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
            .redirect(reqwest::redirect::Policy::limited(5))
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
        let mut response = request
            .send()
            .await
            .map_err(|e| format!("{}: {}", crate::redact::uri(url), e.without_url()))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut out = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| e.without_url().to_string())?
        {
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

    /// Fetches an SWML document: a POST of `body` (`{call, vars, params}`), answered 2xx with
    /// `application/json`, `application/yaml` or `text/x-yaml`.
    pub async fn fetch_document(&self, url: &str, body: &Value) -> Result<String, String> {
        let answer = self
            .send("POST", url, &[], Some(body), FETCH_TIMEOUT, MAX_BODY)
            .await?;
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
}
