//! The built-in static file server: how a static site (an `index.html` and no build step,
//! or a front end's build output) runs on its leased port.

use axum::Router;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_http::services::{ServeDir, ServeFile};

/// A running static server.
#[derive(Debug)]
pub struct StaticServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StaticError {
    /// The folder is not a folder.
    #[error("{0} is not a folder")]
    NotAFolder(PathBuf),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl StaticServer {
    /// Serves `root` on `addr`: files by path, `index.html` for folders, and `index.html`
    /// for unknown paths too, so single-page apps route on the client.
    ///
    /// # Errors
    /// [`StaticError`] if `root` is not a folder or `addr` cannot be bound.
    pub async fn start(root: PathBuf, addr: SocketAddr) -> Result<Self, StaticError> {
        if !root.is_dir() {
            return Err(StaticError::NotAFolder(root));
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StaticError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StaticError::Bind { addr, source })?;
        let service = ServeDir::new(&root)
            .append_index_html_on_directories(true)
            .fallback(ServeFile::new(root.join("index.html")));
        let app = Router::new().fallback_service(service);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        Ok(Self {
            addr,
            stop: Some(tx),
            task,
        })
    }

    /// Returns the address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops it and waits until it has.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::http_get;
    use std::time::Duration;

    #[tokio::test]
    async fn serves_files_index_and_spa_routes() {
        let root = std::env::temp_dir().join(format!("reporunner-static-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::write(root.join("index.html"), "<h1>home</h1>").unwrap();
        std::fs::write(root.join("style.css"), "h1{}").unwrap();
        std::fs::write(root.join("docs/index.html"), "<h1>docs</h1>").unwrap();
        let server = StaticServer::start(root.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let port = server.addr().port();
        let get = |p: &'static str| http_get("127.0.0.1", port, p, Duration::from_secs(5));
        let home = get("/").await.unwrap();
        assert_eq!(
            (home.status, home.body_prefix.as_str()),
            (200, "<h1>home</h1>")
        );
        assert_eq!(get("/style.css").await.unwrap().status, 200);
        assert_eq!(get("/docs/").await.unwrap().status, 200);
        // An unknown route gets the app's index, as a single-page app expects.
        assert_eq!(get("/some/client/route").await.unwrap().status, 200);
        // Paths never leave the root.
        let escape = get("/../../etc/passwd").await.unwrap();
        assert!(!escape.body_prefix.contains("root:"), "{escape:?}");
        assert_eq!(get("/docs/").await.unwrap().body_prefix, "<h1>docs</h1>");
        // A file beside the root is not served either.
        let beside = root.with_extension("secret");
        std::fs::write(&beside, "top secret").unwrap();
        let name = format!("/../{}", beside.file_name().unwrap().to_str().unwrap());
        let escape = http_get("127.0.0.1", port, &name, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(!escape.body_prefix.contains("top secret"), "{escape:?}");
        let _ = std::fs::remove_file(&beside);
        server.stop().await;
        assert!(!crate::probe::tcp_open("127.0.0.1", port, Duration::from_millis(200)).await);
        let _ = std::fs::remove_dir_all(root);

        let err = StaticServer::start("/no/such/site".into(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("is not a folder"));
    }
}
