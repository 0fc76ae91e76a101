//! A bounded load test of the HTTP API on loopback: `GET /healthz` and a run-status
//! endpoint (`GET /v1/runs/{id}`, authenticated, reading a real run from the store), each
//! beside the same load on a bare axum server answering `/healthz` with a fixed body (the
//! raw library), in the same run; and the run-status endpoint again with a business
//! client's token, whose every request goes through the client's orchestrator.
//!
//! The client keeps `CONNECTIONS` HTTP/1.1 keep-alive connections busy for a fixed time
//! and reports requests/s, p50, p99 and max latency, and the errors (any answer but 200,
//! any broken connection). Server and client run in two runtimes of two threads each, on
//! the same 2-core machine, so the figures are what one box does, client included.
//!
//! Run with: cargo bench -p reporunner-benches --bench http
//! Without `--bench` (as `cargo test --all-targets` runs it) it runs each load for a moment
//! and checks that no request failed.

use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use reporunner::api::client::ApiClient;
use reporunner::api::{Api, ApiConfig};
use reporunner::boot::{Node, NodeConfig};
use reporunner_actors::managers::user_manager::UsersClient;
use reporunner_actors::users::{Principal, UserBook};
use reporunner_protocols::access::Tier;
use reporunner_protocols::business::{ClientSettings, ClientSpec};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 32;

/// What one load produced.
struct Load {
    requests: usize,
    errors: usize,
    seconds: f64,
    latencies_us: Vec<u32>,
}

impl Load {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }

    fn line(&self, name: &str) -> String {
        format!(
            "{name:<34} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  {} requests, {} errors",
            self.requests as f64 / self.seconds,
            self.percentile(0.50),
            self.percentile(0.99),
            self.percentile(1.0),
            self.requests,
            self.errors
        )
    }
}

/// Keeps `CONNECTIONS` connections sending `GET path` to `addr` for `duration`.
async fn load(addr: SocketAddr, path: &str, token: Option<&str>, duration: Duration) -> Load {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let path = path.to_string();
        let auth = token.map(|t| format!("Bearer {t}"));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
                return (latencies, 1);
            };
            let _ = stream.set_nodelay(true);
            let Ok((mut sender, conn)) =
                hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                    .await
            else {
                return (latencies, 1);
            };
            tokio::spawn(conn);
            while Instant::now() < deadline {
                let mut request = Request::get(path.as_str()).header("host", "127.0.0.1");
                if let Some(auth) = &auth {
                    request = request.header("authorization", auth.as_str());
                }
                let request = request.body(Empty::new()).unwrap();
                let t = Instant::now();
                match sender.send_request(request).await {
                    Ok(response) => {
                        let ok = response.status() == StatusCode::OK;
                        let body = response.into_body().collect().await;
                        if ok && body.is_ok() {
                            latencies
                                .push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                        } else {
                            errors += 1;
                        }
                    }
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (latencies, e) = task.await.unwrap();
        all.extend(latencies);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort_unstable();
    Load {
        requests: all.len() + errors,
        errors,
        seconds,
        latencies_us: all,
    }
}

/// A runtime of two worker threads.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Starts a run of the static site as the user of `token`, follows it to its end, and
/// stops its service; returns its id.
async fn finished_run(api_addr: SocketAddr, token: &str) -> String {
    let api = ApiClient::new(&format!("http://{api_addr}"), Some(token.to_string())).unwrap();
    let started: serde_json::Value = api
        .post(
            "/v1/runs",
            &serde_json::json!({"path": "site", "index": false}),
        )
        .await
        .unwrap();
    let id = started["id"].as_str().unwrap().to_string();
    let mut events = api
        .events(&format!("/v1/runs/{id}/events"), None)
        .await
        .unwrap();
    while events.next().await.unwrap().is_some() {}
    let _: serde_json::Value = api
        .post(&format!("/v1/runs/{id}/stop"), &serde_json::json!(null))
        .await
        .unwrap_or_default();
    id
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let duration = if full {
        Duration::from_secs(10)
    } else {
        Duration::from_millis(300)
    };
    let dir = std::env::temp_dir().join(format!("reporunner-bench-http-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let root = dir.join("repos");
    let site = root.join("site");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/run/static");
    reporunner_runtime::workspace::copy_repository(&fixture, &site).unwrap();

    // The servers: the node's API, and bare axum.
    let server = runtime();
    let (node, api_addr, raw_addr, token) = server.block_on(async {
        let node = Node::start(NodeConfig {
            data_dir: Some(dir.join("data")),
            ..NodeConfig::default()
        })
        .await
        .unwrap();
        let book = UserBook::new(node.store().unwrap().clone());
        book.add(
            &Principal::local(),
            "bench",
            Tier::Developer,
            "a long password",
        )
        .unwrap();
        let token = book
            .issue_token(&Principal::local(), "bench")
            .unwrap()
            .token;
        let api = Api::new(&node, ApiConfig { repo_root: root }).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_addr = listener.local_addr().unwrap();
        tokio::spawn(async move { api.serve(listener, std::future::pending()).await });
        let raw = axum::Router::new().route(
            "/healthz",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let raw_addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, raw).await });
        (node, api_addr, raw_addr, token)
    });

    let client = runtime();
    let run = client.block_on(async {
        // A real run, finished, whose status the second load reads.
        finished_run(api_addr, &token).await
    });
    // The same run, started by a business client's user: its requests go through the
    // client's orchestrator (one more actor call each) and its own store scope.
    let (client_token, client_run) = client.block_on(async {
        let admin = node.admin();
        admin
            .create_client(ClientSpec {
                name: "shop".into(),
                settings: ClientSettings::new(dir.join("repos").display().to_string()),
            })
            .await
            .unwrap();
        let users = UsersClient::new(node.namespace().client("shop").user_manager());
        users
            .add(&Principal::local(), "buyer", Tier::Admin, "a long password")
            .await
            .unwrap();
        let token = users
            .issue_token(&Principal::local(), "buyer")
            .await
            .unwrap()
            .token;
        let id = finished_run(api_addr, &token).await;
        (token, id)
    });
    let client_status_path = format!("/v1/runs/{client_run}");
    let status_path = format!("/v1/runs/{run}");
    println!(
        "HTTP load on loopback: {CONNECTIONS} keep-alive connections, {:.1} s each",
        duration.as_secs_f64()
    );
    let loads = [
        ("raw axum GET /healthz", raw_addr, "/healthz", None),
        ("reporunner GET /healthz", api_addr, "/healthz", None),
        (
            "reporunner GET /v1/runs/{id}",
            api_addr,
            status_path.as_str(),
            Some(token.as_str()),
        ),
        (
            "reporunner GET /v1/runs/{id}, a client's token",
            api_addr,
            client_status_path.as_str(),
            Some(client_token.as_str()),
        ),
    ];
    for (name, addr, path, token) in loads {
        // Warm the connections and the allocator first.
        client.block_on(load(addr, path, token, duration / 5));
        let result = client.block_on(load(addr, path, token, duration));
        println!("{}", result.line(name));
        assert_eq!(result.errors, 0, "{name}: no request may fail");
        assert!(result.requests > 0, "{name}: some requests were served");
    }
    server.block_on(async { node.shutdown().await.unwrap() });
    drop(client);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
