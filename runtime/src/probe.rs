//! Probes for the health ladder: is the port open, and does HTTP answer. They only look:
//! nothing here fixes anything.

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    /// The path asked.
    pub path: String,
    /// The status code.
    pub status: u16,
    /// Where a redirect points, if it is one.
    pub location: Option<String>,
    /// How long the answer took.
    pub elapsed: Duration,
    /// The start of the body (up to [`BODY_PREFIX_BYTES`]), for reports and checks.
    pub body_prefix: String,
}

/// How much of a body a probe keeps: enough to reach the summary of a framework's debug
/// page past its inline styles.
pub const BODY_PREFIX_BYTES: usize = 32 * 1024;

/// Why a probe got no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// Nothing accepted a connection on the port.
    #[error("nothing listens on {host}:{port}: {reason}")]
    Closed {
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// What the connect reported.
        reason: String,
    },
    /// The port accepted, but what answered is not HTTP (or it hung up).
    #[error("{host}:{port} accepted a connection but did not answer HTTP: {reason}")]
    NotHttp {
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// What went wrong.
        reason: String,
    },
    /// No answer came before the deadline.
    #[error("no answer from {host}:{port} within {waited:?}; last: {last}")]
    Deadline {
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// How long it waited.
        waited: Duration,
        /// The last failure seen.
        last: String,
    },
}

/// Returns whether something accepts TCP connections on `host:port`.
pub async fn tcp_open(host: &str, port: u16, timeout: Duration) -> bool {
    matches!(
        tokio::time::timeout(timeout, TcpStream::connect((host, port))).await,
        Ok(Ok(_))
    )
}

/// Sends `GET path` over HTTP/1.1 and returns the status, without following redirects.
///
/// # Errors
/// [`ProbeError::Closed`] if nothing listens, [`ProbeError::NotHttp`] if what listens does
/// not speak HTTP, [`ProbeError::Deadline`] if it takes longer than `timeout`.
pub async fn http_get(
    host: &str,
    port: u16,
    path: &str,
    timeout: Duration,
) -> Result<HttpAnswer, ProbeError> {
    let started = Instant::now();
    let attempt = async {
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| ProbeError::Closed {
                host: host.to_string(),
                port,
                reason: e.to_string(),
            })?;
        let not_http = |reason: String| ProbeError::NotHttp {
            host: host.to_string(),
            port,
            reason,
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| not_http(e.to_string()))?;
        let driver = tokio::spawn(conn);
        let req = hyper::Request::get(path)
            .header(hyper::header::HOST, format!("{host}:{port}"))
            .header(hyper::header::USER_AGENT, "reporunner-health")
            .body(Empty::<Bytes>::new())
            .map_err(|e| not_http(e.to_string()))?;
        let res = sender
            .send_request(req)
            .await
            .map_err(|e| not_http(e.to_string()));
        let res = match res {
            Ok(r) => r,
            Err(e) => {
                driver.abort();
                return Err(e);
            }
        };
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get(hyper::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = res.into_body();
        let mut prefix = Vec::new();
        while prefix.len() < BODY_PREFIX_BYTES {
            match http_body_util::BodyExt::frame(&mut body).await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        let room = BODY_PREFIX_BYTES - prefix.len();
                        prefix.extend_from_slice(&data[..data.len().min(room)]);
                    }
                }
                _ => break,
            }
        }
        driver.abort();
        Ok(HttpAnswer {
            path: path.to_string(),
            status,
            location,
            elapsed: started.elapsed(),
            body_prefix: String::from_utf8_lossy(&prefix).into_owned(),
        })
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| ProbeError::Deadline {
            host: host.to_string(),
            port,
            waited: timeout,
            last: format!("GET {path} took longer"),
        })?
}

/// Polls until HTTP answers on one of `paths` (tried in order each round), or `deadline`
/// passes. Any status counts as an answer: a 302 or a 401 at `/` means the server is up,
/// and the caller reports which it was.
///
/// # Errors
/// [`ProbeError::Deadline`] with the last failure seen.
pub async fn wait_for_http(
    host: &str,
    port: u16,
    paths: &[&str],
    deadline: Duration,
) -> Result<HttpAnswer, ProbeError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(25);
    let mut last = String::from("no attempt");
    loop {
        for path in paths {
            let left = deadline.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            match http_get(host, port, path, left.min(Duration::from_secs(5))).await {
                Ok(answer) => return Ok(answer),
                Err(e) => last = e.to_string(),
            }
        }
        if started.elapsed() >= deadline {
            return Err(ProbeError::Deadline {
                host: host.to_string(),
                port,
                waited: deadline,
                last,
            });
        }
        tokio::time::sleep(pause.min(deadline.saturating_sub(started.elapsed()))).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A tiny real HTTP server on loopback that answers every request with `response`.
    async fn serve(response: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = s.read(&mut buf).await;
                    let _ = s.write_all(response.as_bytes()).await;
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn an_answer_is_any_http_status_with_its_redirect() {
        let ok = serve("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
        let a = http_get("127.0.0.1", ok, "/healthz", Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(
            (a.status, a.path.as_str(), a.body_prefix.as_str()),
            (200, "/healthz", "ok")
        );
        assert!(tcp_open("127.0.0.1", ok, Duration::from_secs(1)).await);

        let redirect =
            serve("HTTP/1.1 302 Found\r\nLocation: /docs\r\nContent-Length: 0\r\n\r\n").await;
        let a = wait_for_http("127.0.0.1", redirect, &["/"], Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!((a.status, a.location.as_deref()), (302, Some("/docs")));
    }

    #[tokio::test]
    async fn a_closed_port_and_a_non_http_server_are_told_apart() {
        let free = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        assert!(!tcp_open("127.0.0.1", port, Duration::from_millis(200)).await);
        let err = http_get("127.0.0.1", port, "/", Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(matches!(err, ProbeError::Closed { .. }), "{err}");

        let garbage = serve("SSH-2.0-OpenSSH_9.2\r\n").await;
        let err = http_get("127.0.0.1", garbage, "/", Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(matches!(err, ProbeError::NotHttp { .. }), "{err}");

        let err = wait_for_http(
            "127.0.0.1",
            port,
            &["/", "/health"],
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("no answer from 127.0.0.1:{port}")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn it_waits_for_a_server_that_comes_up_late() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let l = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await;
        });
        let a = wait_for_http("127.0.0.1", port, &["/"], Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(a.status, 204);
    }
}
