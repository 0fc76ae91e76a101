//! A client of the HTTP API, over pooled HTTP/1.1 connections: the console and the CLI's
//! remote commands use it, and so do the tests.

use super::error::ErrorBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL is not an `http://host:port` base.
    #[error("{0:?} is not an http:// URL")]
    BadUrl(String),
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The server.
        url: String,
        /// What the connection reported.
        reason: String,
    },
    /// The server answered with an error.
    #[error("{status}: {message} ({code})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The API's stable code.
        code: String,
        /// Its message.
        message: String,
    },
    /// The answer was not what the endpoint promises.
    #[error("unexpected answer: {0}")]
    Decode(String),
    /// No answer within the client's timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// A raw answer: status, headers and body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON.
    ///
    /// # Errors
    /// [`ClientError::Decode`] if it is not.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// The error code of an error answer (`None` for a body that is not the API's error).
    pub fn code(&self) -> Option<String> {
        serde_json::from_slice::<ErrorBody>(&self.body)
            .ok()
            .map(|b| b.error.code)
    }
}

/// One event of a Server-Sent Events stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// Its name (`event:`), `message` when none was given.
    pub event: String,
    /// Its id (`id:`).
    pub id: Option<String>,
    /// Its data (`data:` lines, joined by newlines).
    pub data: String,
}

/// A stream of Server-Sent Events being read.
#[derive(Debug)]
pub struct EventStream {
    body: Incoming,
    buffer: String,
}

impl EventStream {
    /// The next event; `None` when the server closed the stream.
    ///
    /// # Errors
    /// [`ClientError::Unreachable`] if the connection broke.
    pub async fn next(&mut self) -> Result<Option<SseEvent>, ClientError> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse_event(&block) {
                    return Ok(Some(event));
                }
                continue;
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(ClientError::Unreachable {
                        url: "event stream".into(),
                        reason: e.to_string(),
                    });
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer
                            .push_str(&String::from_utf8_lossy(&data).replace("\r\n", "\n"));
                    }
                }
            }
        }
    }
}

/// One SSE block; comments alone (keep-alives) are no event.
fn parse_event(block: &str) -> Option<SseEvent> {
    let mut event = None;
    let mut id = None;
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event = Some(value.to_string()),
            "id" => id = Some(value.to_string()),
            "data" => data.push(value),
            _ => {}
        }
    }
    if event.is_none() && data.is_empty() {
        return None;
    }
    Some(SseEvent {
        event: event.unwrap_or_else(|| "message".into()),
        id,
        data: data.join("\n"),
    })
}

/// A client of one server, with one token.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    token: Option<String>,
    timeout: Duration,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl ApiClient {
    /// A client of the server at `url` (`http://host:port`), sending `token`.
    ///
    /// # Errors
    /// [`ClientError::BadUrl`].
    pub fn new(url: &str, token: Option<String>) -> Result<Self, ClientError> {
        let base = url.trim_end_matches('/').to_string();
        let uri: Uri = base
            .parse()
            .map_err(|_| ClientError::BadUrl(url.to_string()))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(ClientError::BadUrl(url.to_string()));
        }
        Ok(Self {
            base,
            token,
            timeout: Duration::from_secs(60),
            http: Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    /// Sets how long a call waits for its answer (not an event stream's events).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Result<Request<Full<Bytes>>, ClientError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| ClientError::BadUrl(format!("{}{path}: {e}", self.base)))
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, ClientError> {
        self.http
            .request(request)
            .await
            .map_err(|e| ClientError::Unreachable {
                url: self.base.clone(),
                reason: format!("{e:?}"),
            })
    }

    /// Sends `method path` with a raw `body` (sent as JSON), and returns the answer
    /// whatever its status.
    ///
    /// # Errors
    /// [`ClientError::Unreachable`] or [`ClientError::Timeout`].
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, ClientError> {
        let request = self.request(method, path, body, &[])?;
        let call = async {
            let response = self.send(request).await?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| ClientError::Unreachable {
                    url: self.base.clone(),
                    reason: e.to_string(),
                })?
                .to_bytes();
            Ok(Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| ClientError::Timeout(self.timeout))?
    }

    /// Sends `method path` with `body` as JSON, and decodes a success's JSON answer (an
    /// empty one as `null`).
    ///
    /// # Errors
    /// [`ClientError::Api`] for an error answer, or the transport's.
    pub async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        let answer = self.raw(method, path, body).await?;
        if !answer.status.is_success() {
            let (code, message) = match serde_json::from_slice::<ErrorBody>(&answer.body) {
                Ok(b) => (b.error.code, b.error.message),
                Err(_) => (
                    "unknown".into(),
                    String::from_utf8_lossy(&answer.body).into_owned(),
                ),
            };
            return Err(ClientError::Api {
                status: answer.status.as_u16(),
                code,
                message,
            });
        }
        if answer.body.is_empty() {
            return serde_json::from_str("null").map_err(|e| ClientError::Decode(e.to_string()));
        }
        answer.json()
    }

    /// `GET path`, decoded.
    ///
    /// # Errors
    /// As [`ApiClient::call`].
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call::<(), T>(Method::GET, path, None).await
    }

    /// `POST path` with `body`, decoded.
    ///
    /// # Errors
    /// As [`ApiClient::call`].
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Opens the event stream at `path` (after the event `last_id`, when given).
    ///
    /// # Errors
    /// [`ClientError::Api`] if the server refused it, or the transport's.
    pub async fn events(
        &self,
        path: &str,
        last_id: Option<&str>,
    ) -> Result<EventStream, ClientError> {
        let mut headers = vec![("accept", "text/event-stream")];
        if let Some(id) = last_id {
            headers.push(("last-event-id", id));
        }
        let request = self.request(Method::GET, path, None, &headers)?;
        let response = tokio::time::timeout(self.timeout, self.send(request))
            .await
            .map_err(|_| ClientError::Timeout(self.timeout))??;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let (code, message) = serde_json::from_slice::<ErrorBody>(&body)
                .map(|b| (b.error.code, b.error.message))
                .unwrap_or_else(|_| ("unknown".into(), String::new()));
            return Err(ClientError::Api {
                status,
                code,
                message,
            });
        }
        Ok(EventStream {
            body: response.into_body(),
            buffer: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_blocks_parse_and_keep_alives_are_skipped() {
        let e = parse_event("event: phase_started\nid: 3\ndata: {\"a\":1}\n\n").unwrap();
        assert_eq!(e.event, "phase_started");
        assert_eq!(e.id.as_deref(), Some("3"));
        assert_eq!(e.data, "{\"a\":1}");
        assert_eq!(parse_event(":\n\n"), None);
        let e = parse_event("data: a\ndata: b\n\n").unwrap();
        assert_eq!((e.event.as_str(), e.data.as_str()), ("message", "a\nb"));
    }

    #[test]
    fn only_http_urls() {
        assert!(ApiClient::new("http://127.0.0.1:8080/", None).is_ok());
        assert!(matches!(
            ApiClient::new("ftp://x", None),
            Err(ClientError::BadUrl(_))
        ));
        assert!(ApiClient::new("not a url", None).is_err());
    }
}
