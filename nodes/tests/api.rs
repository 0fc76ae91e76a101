//! The HTTP API over real HTTP on loopback, against a real node with a real store: the
//! seed's authorization matrix in full, rate limits on a clock the test drives, tokens,
//! disabled users, bad input, and a real run's live events.

use governor::clock::FakeRelativeClock;
use hyper::{Method, StatusCode};
use reporunner::api::client::{Answer, ApiClient};
use reporunner::api::{Api, ApiConfig};
use reporunner::boot::{Node, NodeConfig};
use reporunner_actors::ratelimit::RateLimits;
use reporunner_actors::users::{Principal, UserBook, UserStatus};
use reporunner_protocols::access::Tier;
use reporunner_protocols::ids::{NodeId, RunId};
use reporunner_protocols::run::RunEvent;
use reporunner_runtime::naming::Namespace;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A node with the API on a free loopback port, a user and a token of every tier, and a
/// repository root holding a small Flask app.
struct Server {
    node: Option<Node>,
    url: String,
    clock: FakeRelativeClock,
    tokens: BTreeMap<Tier, String>,
    book: UserBook,
    root: PathBuf,
    dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    /// `host`: whether the node's host agent runs, as in `reporunner serve` (tests that run
    /// side by side in this process would otherwise see each other's hosts).
    async fn start(tag: &str, host: bool) -> Server {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("reporunner-api-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = dir.join("repos");
        let app = root.join("app");
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(app.join("requirements.txt"), "flask\n").unwrap();
        std::fs::write(
            app.join("app.py"),
            "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.route('/')\ndef hello():\n    return 'hello from the shop'\n",
        )
        .unwrap();
        std::os::unix::fs::symlink("/etc", root.join("escape")).unwrap();
        let node = Node::start(NodeConfig {
            node: NodeId::new(format!("api-{tag}-{n}")),
            namespace: Namespace::new(format!("api-{tag}-{n}")),
            data_dir: Some(dir.join("data")),
            ..NodeConfig::default()
        })
        .await
        .unwrap();
        let book = UserBook::new(node.store().unwrap().clone());
        let mut tokens = BTreeMap::new();
        for tier in Tier::ALL {
            let name = format!("user-{tier}");
            book.add(&Principal::local(), &name, tier, "a long password")
                .unwrap();
            tokens.insert(
                tier,
                book.issue_token(&Principal::local(), &name).unwrap().token,
            );
        }
        let clock = FakeRelativeClock::default();
        let api = Api::with_limits(
            &node,
            ApiConfig {
                repo_root: root.clone(),
            },
            Arc::new(RateLimits::with_clock(clock.clone())),
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        if host {
            reporunner::cluster::host_alone(&node, &url).await.unwrap();
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            api.serve(listener, async move {
                let _ = stopped.await;
            })
            .await
        });
        Server {
            node: Some(node),
            url,
            clock,
            tokens,
            book,
            root,
            dir,
            stop: Some(stop),
        }
    }

    fn client(&self, tier: Tier) -> ApiClient {
        ApiClient::new(&self.url, Some(self.tokens[&tier].clone())).unwrap()
    }

    fn anonymous(&self) -> ApiClient {
        ApiClient::new(&self.url, None).unwrap()
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(node) = self.node.take() {
            node.shutdown().await.unwrap();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn send(client: &ApiClient, method: &Method, path: &str, body: Option<&str>) -> Answer {
    client
        .raw(method.clone(), path, body.map(|b| b.as_bytes().to_vec()))
        .await
        .unwrap()
}

fn expect(answer: &Answer, status: StatusCode, code: &str, what: &str) {
    assert_eq!(
        answer.status,
        status,
        "{what}: {}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.code().as_deref(), Some(code), "{what}");
}

/// The right an endpoint needs, as the seed's matrix gives it.
#[derive(Debug, Clone, Copy)]
enum Needs {
    /// No token at all.
    Nothing,
    /// Any tier.
    AnyTier,
    /// User management and admin functions: Admin and Developer.
    AdminOrDeveloper,
    /// The Admin agent itself: Developer only.
    DeveloperOnly,
}

fn allowed(needs: Needs, tier: Tier) -> bool {
    match needs {
        Needs::Nothing | Needs::AnyTier => true,
        Needs::AdminOrDeveloper => matches!(tier, Tier::Admin | Tier::Developer),
        Needs::DeveloperOnly => tier == Tier::Developer,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_tier_on_every_endpoint_gets_what_the_seed_matrix_says() {
    let server = Server::start("matrix", true).await;
    // Someone to manage, with a live token for each tier's revocation.
    server
        .book
        .add(&Principal::local(), "target", Tier::Free, "a long password")
        .unwrap();
    let mut target_tokens = BTreeMap::new();
    for tier in Tier::ALL {
        let issued = server
            .book
            .issue_token(&Principal::local(), "target")
            .unwrap();
        target_tokens.insert(tier, issued.id);
    }
    let missing_run = RunId::from_parts(1, 1).to_string();
    let audit_before = server.book.audit_log(100_000).unwrap().len();
    let mut refusals = 0;
    for tier in Tier::ALL {
        let client = server.client(tier);
        let t = tier.as_str();
        // (method, path, body, needs, the answer when allowed)
        let table: Vec<(Method, String, Option<String>, Needs, StatusCode)> = vec![
            (
                Method::GET,
                "/healthz".into(),
                None,
                Needs::Nothing,
                StatusCode::OK,
            ),
            (
                Method::GET,
                "/openapi.json".into(),
                None,
                Needs::Nothing,
                StatusCode::OK,
            ),
            (
                Method::GET,
                "/metrics".into(),
                None,
                Needs::AdminOrDeveloper,
                StatusCode::OK,
            ),
            (
                Method::GET,
                "/v1/me".into(),
                None,
                Needs::AnyTier,
                StatusCode::OK,
            ),
            (
                Method::POST,
                "/v1/runs".into(),
                Some(r#"{"path":"no-such-repo"}"#.into()),
                Needs::AnyTier,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::GET,
                "/v1/runs".into(),
                None,
                Needs::AnyTier,
                StatusCode::OK,
            ),
            (
                Method::GET,
                format!("/v1/runs/{missing_run}"),
                None,
                Needs::AnyTier,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                format!("/v1/runs/{missing_run}/stop"),
                None,
                Needs::AnyTier,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::GET,
                format!("/v1/runs/{missing_run}/events"),
                None,
                Needs::AnyTier,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                "/v1/analyze".into(),
                Some(r#"{"path":"app"}"#.into()),
                Needs::AnyTier,
                StatusCode::OK,
            ),
            (
                Method::POST,
                "/v1/search".into(),
                Some(r#"{"path":"app","query":"hello route","indexer":"simple"}"#.into()),
                Needs::AnyTier,
                StatusCode::OK,
            ),
            (
                Method::GET,
                "/v1/users".into(),
                None,
                Needs::AdminOrDeveloper,
                StatusCode::OK,
            ),
            (
                Method::POST,
                "/v1/users".into(),
                Some(format!(
                    r#"{{"name":"new-{t}","tier":"free","password":"another long one"}}"#
                )),
                Needs::AdminOrDeveloper,
                StatusCode::CREATED,
            ),
            (
                Method::PATCH,
                "/v1/users/target".into(),
                Some(r#"{"tier":"advanced"}"#.into()),
                Needs::AdminOrDeveloper,
                StatusCode::OK,
            ),
            (
                Method::POST,
                "/v1/users/target/tokens".into(),
                None,
                Needs::AdminOrDeveloper,
                StatusCode::CREATED,
            ),
            (
                Method::DELETE,
                format!("/v1/tokens/{}", target_tokens[&tier]),
                None,
                Needs::AdminOrDeveloper,
                StatusCode::NO_CONTENT,
            ),
            (
                Method::GET,
                "/v1/audit".into(),
                None,
                Needs::AdminOrDeveloper,
                StatusCode::OK,
            ),
            (
                Method::GET,
                "/v1/admin/tree".into(),
                None,
                Needs::AdminOrDeveloper,
                StatusCode::OK,
            ),
            (
                Method::GET,
                "/v1/admin/kinds".into(),
                None,
                Needs::AdminOrDeveloper,
                StatusCode::OK,
            ),
            (
                Method::GET,
                "/v1/cluster/nodes".into(),
                None,
                Needs::AdminOrDeveloper,
                StatusCode::OK,
            ),
            (
                Method::POST,
                "/v1/admin/agents".into(),
                Some(format!(r#"{{"kind":"env-detector","name":"probe-{t}"}}"#)),
                Needs::DeveloperOnly,
                StatusCode::CREATED,
            ),
            (
                Method::POST,
                format!("/v1/admin/agents/probe-{t}/restart"),
                None,
                Needs::DeveloperOnly,
                StatusCode::OK,
            ),
            (
                Method::POST,
                format!("/v1/admin/agents/probe-{t}/stop"),
                None,
                Needs::DeveloperOnly,
                StatusCode::NO_CONTENT,
            ),
            (
                Method::POST,
                "/v1/admin/checkpoint".into(),
                None,
                Needs::DeveloperOnly,
                StatusCode::OK,
            ),
            (
                Method::POST,
                "/v1/clients".into(),
                Some(format!(r#"{{"name":"c-{t}","repo_root":"app"}}"#)),
                Needs::DeveloperOnly,
                StatusCode::CREATED,
            ),
            (
                Method::GET,
                "/v1/clients".into(),
                None,
                Needs::DeveloperOnly,
                StatusCode::OK,
            ),
            (
                Method::GET,
                format!("/v1/clients/c-{t}"),
                None,
                Needs::DeveloperOnly,
                StatusCode::OK,
            ),
            (
                Method::POST,
                format!("/v1/clients/c-{t}/users"),
                Some(r#"{"name":"first","tier":"free","password":"a long password"}"#.into()),
                Needs::DeveloperOnly,
                StatusCode::CREATED,
            ),
            (
                Method::DELETE,
                format!("/v1/clients/c-{t}"),
                None,
                Needs::DeveloperOnly,
                StatusCode::NO_CONTENT,
            ),
        ];
        for (method, path, body, needs, ok) in &table {
            let what = format!("{tier} {method} {path}");
            let answer = send(&client, method, path, body.as_deref()).await;
            if allowed(*needs, tier) {
                assert_eq!(
                    answer.status,
                    *ok,
                    "{what}: {}",
                    String::from_utf8_lossy(&answer.body)
                );
            } else {
                expect(&answer, StatusCode::FORBIDDEN, "forbidden", &what);
                refusals += 1;
            }
            // Without a token, only the open endpoints answer.
            if tier == Tier::Free {
                let answer = send(&server.anonymous(), method, path, body.as_deref()).await;
                if matches!(needs, Needs::Nothing) {
                    assert_eq!(answer.status, StatusCode::OK, "anonymous {what}");
                } else {
                    expect(&answer, StatusCode::UNAUTHORIZED, "unauthorized", &what);
                }
            }
        }
    }
    // Free, Advanced, Premium and Tester are refused the 10 admin functions, the 4
    // actions on the Admin agent and the 5 on business clients; Admin the 9.
    assert_eq!(refusals, 4 * 19 + 9);
    let audit = server.book.audit_log(100_000).unwrap();
    let refused = audit[audit_before..]
        .iter()
        .filter(|e| e.outcome.starts_with("refused"))
        .count();
    assert_eq!(refused, refusals, "every refusal is in the audit log");
    for action in [
        "admin.spawn",
        "admin.restart",
        "admin.stop",
        "admin.checkpoint",
    ] {
        assert!(
            audit
                .iter()
                .any(|e| e.actor == "user-developer" && e.action == action && e.outcome == "ok"),
            "{action} is audited"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_tier_gets_429_after_its_hourly_allowance_and_refills_with_time() {
    let server = Server::start("limits", false).await;
    // A request that does work and is cheap: it is counted, then refused for its path.
    let body = r#"{"path":"../outside"}"#;
    for tier in Tier::ALL {
        let client = server.client(tier);
        let n = tier.requests_per_hour();
        for i in 0..n {
            let answer = send(&client, &Method::POST, "/v1/analyze", Some(body)).await;
            assert_eq!(
                answer.status,
                StatusCode::BAD_REQUEST,
                "{tier}: request {i} of {n}"
            );
        }
        let over = send(&client, &Method::POST, "/v1/analyze", Some(body)).await;
        expect(
            &over,
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            &format!("{tier} request {}", n + 1),
        );
        let interval = 3600_u64.div_ceil(u64::from(n));
        let retry: u64 = over.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            retry >= 1 && retry <= interval,
            "{tier}: Retry-After {retry}, one request refills every {interval} s"
        );
        // Reads are not counted.
        let me = send(&client, &Method::GET, "/v1/me", None).await;
        assert_eq!(me.status, StatusCode::OK, "{tier}: a read over the limit");
        // Another tier's user is not held back.
        if tier != Tier::Developer {
            let other = server.client(Tier::Developer);
            let a = send(&other, &Method::POST, "/v1/analyze", Some(body)).await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST);
        }
        server.clock.advance(Duration::from_secs(retry));
        // Whole seconds refill one request or more (Developer's refills every 0.36 s).
        let refilled = (retry * u64::from(n) / 3600).max(1);
        for i in 0..refilled {
            let again = send(&client, &Method::POST, "/v1/analyze", Some(body)).await;
            assert_eq!(
                again.status,
                StatusCode::BAD_REQUEST,
                "{tier} after {retry} s: {i} of {refilled}"
            );
        }
        let over = send(&client, &Method::POST, "/v1/analyze", Some(body)).await;
        assert_eq!(
            over.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{tier}: {refilled} refilled"
        );
        // A full hour refills the whole allowance.
        server.clock.advance(Duration::from_secs(3600));
    }
    let audit = server.book.audit_log(100_000).unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.actor == "user-free" && e.outcome.contains("rate limit reached")),
        "refusals over the limit are audited"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_revoke_users_disable_and_passwords_stay_hashed() {
    let server = Server::start("auth", false).await;
    let admin = server.client(Tier::Admin);
    let password = "correct horse battery staple";
    let created = send(
        &admin,
        &Method::POST,
        "/v1/users",
        Some(&format!(
            r#"{{"name":"carol","tier":"premium","password":"{password}"}}"#
        )),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let issued: serde_json::Value = admin
        .post("/v1/users/carol/tokens", &serde_json::json!(null))
        .await
        .unwrap();
    let token = issued["token"].as_str().unwrap().to_string();
    let id = issued["id"].as_str().unwrap().to_string();
    assert!(token.starts_with(&format!("rr_{id}_")) && token.len() == 3 + 12 + 1 + 64);
    let carol = ApiClient::new(&server.url, Some(token.clone())).unwrap();
    let me: serde_json::Value = carol.get("/v1/me").await.unwrap();
    assert_eq!(me["name"], "carol");
    assert_eq!(me["tier"], "premium");
    assert_eq!(me["gpu"], "large");

    // A wrong token, a malformed one, and a right id with a wrong secret: one answer.
    let wrong_secret = format!("rr_{id}_{}", "0".repeat(64));
    let mut bodies = Vec::new();
    for bad in [wrong_secret.as_str(), "rr_nonsense", "Basic abc"] {
        let c = ApiClient::new(&server.url, Some(bad.to_string())).unwrap();
        let a = send(&c, &Method::GET, "/v1/me", None).await;
        expect(&a, StatusCode::UNAUTHORIZED, "unauthorized", bad);
        bodies.push(a.body.clone());
    }
    bodies.dedup();
    assert_eq!(bodies.len(), 1, "every failure gets the same answer");

    // Disabled: refused at once; enabled: back.
    let patched = send(
        &admin,
        &Method::PATCH,
        "/v1/users/carol",
        Some(r#"{"status":"disabled"}"#),
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK);
    let a = send(&carol, &Method::GET, "/v1/me", None).await;
    expect(&a, StatusCode::UNAUTHORIZED, "unauthorized", "disabled");
    server
        .book
        .set_status(&Principal::local(), "carol", UserStatus::Active)
        .unwrap();
    assert_eq!(
        send(&carol, &Method::GET, "/v1/me", None).await.status,
        StatusCode::OK
    );

    // Revoked: refused from then on.
    let revoked = send(&admin, &Method::DELETE, &format!("/v1/tokens/{id}"), None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let a = send(&carol, &Method::GET, "/v1/me", None).await;
    expect(&a, StatusCode::UNAUTHORIZED, "unauthorized", "revoked");
    let again = send(&admin, &Method::DELETE, &format!("/v1/tokens/{id}"), None).await;
    expect(&again, StatusCode::NOT_FOUND, "not_found", "revoked twice");

    // Neither the password nor the token is anywhere in the store in clear.
    let store = server.node.as_ref().unwrap().store().unwrap().clone();
    store.flush().await.unwrap();
    let mut files = Vec::new();
    walk(store.data_dir(), &mut files);
    assert!(!files.is_empty());
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for secret in [password, &token[16..]] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret:?} in clear in {}",
                file.display()
            );
        }
    }
    // A password buys a token of one's own; a wrong one gets the one answer, and a name
    // has 10 attempts an hour.
    let anonymous = server.anonymous();
    let login = |password: &str| format!(r#"{{"name":"carol","password":"{password}"}}"#);
    let own = send(
        &anonymous,
        &Method::POST,
        "/v1/login",
        Some(&login(password)),
    )
    .await;
    assert_eq!(own.status, StatusCode::CREATED);
    let own: serde_json::Value = own.json().unwrap();
    let carol = ApiClient::new(&server.url, Some(own["token"].as_str().unwrap().into())).unwrap();
    let me: serde_json::Value = carol.get("/v1/me").await.unwrap();
    assert_eq!(me["name"], "carol");
    let wrong = send(
        &anonymous,
        &Method::POST,
        "/v1/login",
        Some(&login("wrong one")),
    )
    .await;
    expect(
        &wrong,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "a wrong password",
    );
    assert_eq!(wrong.body, bodies[0], "the same answer as a wrong token");
    let nobody = send(
        &anonymous,
        &Method::POST,
        "/v1/login",
        Some(r#"{"name":"nobody","password":"whatever it is"}"#),
    )
    .await;
    assert_eq!(nobody.body, bodies[0]);
    for _ in 2..10 {
        let a = send(
            &anonymous,
            &Method::POST,
            "/v1/login",
            Some(&login("wrong")),
        )
        .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let over = send(
        &anonymous,
        &Method::POST,
        "/v1/login",
        Some(&login(password)),
    )
    .await;
    expect(
        &over,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "the 11th attempt",
    );
    assert!(over.headers.contains_key("retry-after"));
    server.stop().await;
}

/// Announces a 1 GiB body with `Expect: 100-continue` and returns the server's answer.
async fn huge_body(url: &str, token: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(url.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /v1/analyze HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nexpect: 100-continue\r\n\r\n",
        1u64 << 30
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("the server answers without the body")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer);
        if text.contains("\r\n\r\n") && text.contains('}') {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_gets_a_json_4xx_and_the_server_keeps_serving() {
    let server = Server::start("bad", false).await;
    let dev = server.client(Tier::Developer);
    let post = |path: &'static str, body: Vec<u8>| {
        let dev = dev.clone();
        async move { dev.raw(Method::POST, path, Some(body)).await.unwrap() }
    };
    let cases: Vec<(&str, &'static str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "malformed JSON",
            "/v1/analyze",
            b"{\"path\": \"app\"".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "not JSON at all",
            "/v1/runs",
            b"\xff\xfe\x00garbage".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "an unknown field",
            "/v1/runs",
            br#"{"path":"app","sudo":true}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "a missing field",
            "/v1/search",
            br#"{"path":"app"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "a wrong type",
            "/v1/users",
            br#"{"name":"x","tier":"root","password":"long enough"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "path traversal",
            "/v1/analyze",
            br#"{"path":"../../../etc"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "path_outside_root",
        ),
        (
            "path traversal inside a path",
            "/v1/runs",
            br#"{"path":"app/../../.."}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "path_outside_root",
        ),
        (
            "an absolute path outside",
            "/v1/search",
            br#"{"path":"/etc","query":"root"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "path_outside_root",
        ),
        (
            "a symlink out of the root",
            "/v1/analyze",
            br#"{"path":"escape"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "path_outside_root",
        ),
        (
            "a model given as a file",
            "/v1/runs",
            br#"{"path":"app","model":"/tmp/evil.gguf"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "a bad agent name",
            "/v1/admin/agents",
            br#"{"kind":"env-detector","name":"../../x"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "an unknown agent kind",
            "/v1/admin/agents",
            br#"{"kind":"rootkit","name":"x"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (what, path, body, status, code) in cases {
        let answer = post(path, body).await;
        expect(&answer, status, code, what);
    }
    // A huge body, announced as a careful client does (Expect: 100-continue): refused
    // from its Content-Length, before a byte of it is sent.
    let answer = huge_body(&server.url, &server.tokens[&Tier::Developer]).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":"payload_too_large""#), "{answer}");
    let answer = send(&dev, &Method::GET, "/v1/runs/..%2F..%2Fetc", None).await;
    expect(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "a bad run id",
    );
    let answer = send(&dev, &Method::GET, "/v1/nothing-here", None).await;
    expect(
        &answer,
        StatusCode::NOT_FOUND,
        "not_found",
        "an unknown endpoint",
    );
    let answer = send(&dev, &Method::DELETE, "/v1/runs", None).await;
    expect(
        &answer,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "a wrong method",
    );
    let answer = send(&dev, &Method::GET, "/v1/audit?n=lots", None).await;
    expect(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "a bad query",
    );
    // Still serving, and the store still reads.
    let health = send(&server.anonymous(), &Method::GET, "/healthz", None).await;
    assert_eq!(health.status, StatusCode::OK);
    let users: Vec<serde_json::Value> = dev.get("/v1/users").await.unwrap();
    assert_eq!(users.len(), Tier::ALL.len());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_real_runs_events_arrive_live_in_phase_order() {
    let server = Server::start("events", false).await;
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/run/static");
    let site = server.root.join("site");
    reporunner_runtime::workspace::copy_repository(&fixture, &site).unwrap();
    let advanced = server.client(Tier::Advanced);
    let started: serde_json::Value = advanced
        .post(
            "/v1/runs",
            &serde_json::json!({"path": "site", "index": false}),
        )
        .await
        .unwrap();
    let id = started["id"].as_str().unwrap().to_string();
    let mut stream = advanced
        .events(started["events"].as_str().unwrap(), None)
        .await
        .unwrap();
    let mut events: Vec<RunEvent> = Vec::new();
    let mut names = Vec::new();
    while let Some(e) = tokio::time::timeout(Duration::from_secs(300), stream.next())
        .await
        .expect("the stream goes on until the run ends")
        .unwrap()
    {
        let event: RunEvent = serde_json::from_str(&e.data).unwrap();
        assert_eq!(e.id, Some(event.seq.to_string()));
        names.push(e.event.clone());
        events.push(event);
    }
    assert_eq!(names.first().map(String::as_str), Some("created"));
    assert_eq!(
        names.last().map(String::as_str),
        Some("finished"),
        "{names:?}"
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    // Phases start in the workflow's order and each finishes before the next starts.
    let order = reporunner_actors::repo_run::PHASES;
    let mut last = 0;
    let mut open: Option<String> = None;
    for e in &events {
        match &e.kind {
            reporunner_protocols::run::RunEventKind::PhaseStarted { phase, .. } => {
                assert!(open.is_none(), "{phase} started while {open:?} ran");
                let at = order.iter().position(|p| p == phase).unwrap();
                assert!(at >= last, "{phase} out of order in {names:?}");
                last = at;
                open = Some(phase.clone());
            }
            reporunner_protocols::run::RunEventKind::PhaseFinished { phase, .. } => {
                assert_eq!(open.as_deref(), Some(phase.as_str()));
                open = None;
            }
            reporunner_protocols::run::RunEventKind::Repaired { redo_from, .. } => {
                last = order.iter().position(|p| p == redo_from).unwrap();
            }
            _ => {}
        }
    }
    assert!(last >= order.iter().position(|p| *p == "health").unwrap());
    // The run as the API shows it, to its owner only.
    let view: serde_json::Value = advanced.get(&format!("/v1/runs/{id}")).await.unwrap();
    assert_eq!(view["run"]["status"], "succeeded");
    assert_eq!(view["report"]["rung"], "http_answers", "{}", view["report"]);
    let other = send(
        &server.client(Tier::Premium),
        &Method::GET,
        &format!("/v1/runs/{id}"),
        None,
    )
    .await;
    expect(
        &other,
        StatusCode::NOT_FOUND,
        "not_found",
        "another user's run",
    );
    let theirs: Vec<serde_json::Value> =
        server.client(Tier::Premium).get("/v1/runs").await.unwrap();
    assert!(theirs.is_empty());
    let all: Vec<serde_json::Value> = server.client(Tier::Admin).get("/v1/runs").await.unwrap();
    assert_eq!(all.len(), 1);
    // Reconnecting after an event gets only the later ones.
    let cut = &events[events.len() - 3];
    let mut rest = advanced
        .events(&format!("/v1/runs/{id}/events"), Some(&cut.seq.to_string()))
        .await
        .unwrap();
    let mut later = Vec::new();
    while let Some(e) = rest.next().await.unwrap() {
        later.push(e.id.unwrap());
    }
    assert_eq!(later.len(), 2, "{later:?}");
    // The service it left running stops on request, once.
    let stop = send(
        &advanced,
        &Method::POST,
        &format!("/v1/runs/{id}/stop"),
        None,
    )
    .await;
    assert_eq!(stop.status, StatusCode::NO_CONTENT);
    let stop = send(
        &advanced,
        &Method::POST,
        &format!("/v1/runs/{id}/stop"),
        None,
    )
    .await;
    expect(&stop, StatusCode::CONFLICT, "conflict", "stopped twice");
    // The metrics count the run and its phases.
    let metrics = send(&server.client(Tier::Admin), &Method::GET, "/metrics", None).await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains(r#"reporunner_runs{status="succeeded"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"reporunner_phase_duration_seconds_count{phase="health"} 1"#));
    assert!(text.contains(r#"route="/v1/runs/{id}/events""#));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_openapi_document_describes_every_endpoint_the_server_routes() {
    let server = Server::start("openapi", false).await;
    let doc: serde_json::Value = server.anonymous().get("/openapi.json").await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["token"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let served: std::collections::BTreeSet<String> = [
        "GET /healthz",
        "GET /openapi.json",
        "GET /metrics",
        "POST /v1/runs",
        "GET /v1/runs",
        "GET /v1/runs/{id}",
        "POST /v1/runs/{id}/stop",
        "GET /v1/runs/{id}/events",
        "POST /v1/analyze",
        "POST /v1/search",
        "POST /v1/login",
        "GET /v1/me",
        "GET /v1/users",
        "POST /v1/users",
        "PATCH /v1/users/{name}",
        "POST /v1/users/{name}/tokens",
        "DELETE /v1/tokens/{id}",
        "GET /v1/audit",
        "GET /v1/admin/tree",
        "GET /v1/admin/kinds",
        "POST /v1/admin/agents",
        "POST /v1/admin/agents/{name}/stop",
        "POST /v1/admin/agents/{name}/restart",
        "POST /v1/admin/checkpoint",
        "GET /v1/cluster/nodes",
        "POST /v1/clients",
        "GET /v1/clients",
        "GET /v1/clients/{name}",
        "DELETE /v1/clients/{name}",
        "POST /v1/clients/{name}/users",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(documented, served);
    // Every documented endpoint is routed: none falls through to "no such endpoint".
    let dev = server.client(Tier::Developer);
    let run = RunId::from_parts(1, 1).to_string();
    for endpoint in &documented {
        let (method, path) = endpoint.split_once(' ').unwrap();
        if path.ends_with("/events") {
            continue; // A missing run's stream is a plain 404, checked in the matrix.
        }
        let path = path.replace("{id}", &run).replace("{name}", "nobody");
        let method: Method = method.parse().unwrap();
        let body = matches!(method, Method::POST | Method::PATCH).then_some("{}");
        let answer = send(&dev, &method, &path, body).await;
        assert_ne!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{endpoint}");
        assert!(
            !String::from_utf8_lossy(&answer.body).contains("no such endpoint"),
            "{endpoint} is documented but not routed"
        );
    }
    server.stop().await;
}

/// A node with the API on a free loopback port, on `data` with the repositories in
/// `root`: what `reporunner serve` runs. Returns the node, its URL and the API's stop.
async fn serve_on(
    tag: &str,
    data: &Path,
    root: &Path,
) -> (Node, String, tokio::sync::oneshot::Sender<()>) {
    let node = Node::start(NodeConfig {
        node: NodeId::new(tag),
        namespace: Namespace::new(tag),
        data_dir: Some(data.to_path_buf()),
        ..NodeConfig::default()
    })
    .await
    .unwrap();
    let api = Api::new(
        &node,
        ApiConfig {
            repo_root: root.to_path_buf(),
        },
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        api.serve(listener, async move {
            let _ = stopped.await;
        })
        .await
    });
    (node, url, stop)
}

/// Logs `name` in, of `client`, and returns an API client with the token.
async fn login_as(url: &str, client: Option<&str>, name: &str) -> ApiClient {
    ApiClient::new(url, Some(token_of(url, client, name).await)).unwrap()
}

async fn run_ends(api: &ApiClient, id: &str) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let view: serde_json::Value = api.get(&format!("/v1/runs/{id}")).await.unwrap();
        if view["run"]["status"] != "running" {
            return view;
        }
        assert!(tokio::time::Instant::now() < deadline, "{view}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_business_clients_never_see_each_others_runs_users_or_audit_and_survive_a_restart() {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tag = format!("api-biz-{}-{n}", std::process::id());
    let dir = std::env::temp_dir().join(&tag);
    let _ = std::fs::remove_dir_all(&dir);
    let (data, root) = (dir.join("data"), dir.join("repos"));
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/run/static");
    for client in ["acme", "globex"] {
        reporunner_runtime::workspace::copy_repository(&fixture, &root.join(client).join("site"))
            .unwrap();
    }
    let (node, url, stop) = serve_on(&tag, &data, &root).await;
    let book = UserBook::new(node.store().unwrap().clone());
    book.add(
        &Principal::local(),
        "ops",
        Tier::Developer,
        "a long password",
    )
    .unwrap();
    book.add(&Principal::local(), "boss", Tier::Admin, "a long password")
        .unwrap();
    drop(book);
    let ops = login_as(&url, None, "ops").await;
    let boss = login_as(&url, None, "boss").await;

    // The node's developer creates two clients at runtime, each with its first admin.
    let acme: serde_json::Value = ops
        .post(
            "/v1/clients",
            &serde_json::json!({
                "name": "acme", "repo_root": "acme",
                "phases": ["environment", "analysis", "index"], "indexer": "simple",
                "admin": {"name": "ana", "password": "a long password"},
            }),
        )
        .await
        .unwrap();
    assert_eq!(
        acme["client"]["settings"]["phases"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(acme["admin"]["tier"], "admin");
    let globex: serde_json::Value = ops
        .post(
            "/v1/clients",
            &serde_json::json!({
                "name": "globex", "repo_root": "globex", "tiers": ["free", "admin"],
                "admin": {"name": "gil", "password": "a long password"},
            }),
        )
        .await
        .unwrap();
    assert_eq!(globex["client"]["running"], true);
    // Not the node's admin tier, and not outside the node's repository root.
    let answer = send(
        &boss,
        &Method::POST,
        "/v1/clients",
        Some(r#"{"name":"sneaky","repo_root":"acme"}"#),
    )
    .await;
    expect(
        &answer,
        StatusCode::FORBIDDEN,
        "forbidden",
        "the node's admin creating a client",
    );
    let answer = send(
        &ops,
        &Method::POST,
        "/v1/clients",
        Some(r#"{"name":"far","repo_root":"/etc"}"#),
    )
    .await;
    expect(
        &answer,
        StatusCode::BAD_REQUEST,
        "path_outside_root",
        "a root outside",
    );
    let answer = send(
        &ops,
        &Method::POST,
        "/v1/clients",
        Some(r#"{"name":"acme","repo_root":"acme"}"#),
    )
    .await;
    expect(&answer, StatusCode::CONFLICT, "conflict", "a second acme");

    // Each client's users log in to their own client only.
    let ana = login_as(&url, Some("acme"), "ana").await;
    let gil = login_as(&url, Some("globex"), "gil").await;
    let anon = ApiClient::new(&url, None).unwrap();
    for (client, name) in [("globex", "ana"), ("nobody", "ana"), ("acme", "ops")] {
        let answer = send(
            &anon,
            &Method::POST,
            "/v1/login",
            Some(&format!(
                r#"{{"name":"{name}","password":"a long password","client":"{client}"}}"#
            )),
        )
        .await;
        expect(
            &answer,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            &format!("{name} at {client}"),
        );
    }
    let me: serde_json::Value = ana.get("/v1/me").await.unwrap();
    assert_eq!(
        (me["client"].as_str(), me["controls_admin"].as_bool()),
        (Some("acme"), Some(false))
    );
    // A client's admin manages its own users, within its tiers.
    let _: serde_json::Value = ana
        .post(
            "/v1/users",
            &serde_json::json!({"name": "amy", "tier": "premium", "password": "a long password"}),
        )
        .await
        .unwrap();
    let answer = send(
        &gil,
        &Method::POST,
        "/v1/users",
        Some(r#"{"name":"pete","tier":"premium","password":"a long password"}"#),
    )
    .await;
    expect(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "a tier globex does not allow",
    );
    // And never the node's admin functions, whatever its tier.
    for (method, path) in [
        (Method::GET, "/v1/admin/tree"),
        (Method::GET, "/v1/cluster/nodes"),
        (Method::GET, "/metrics"),
        (Method::GET, "/v1/clients"),
        (Method::POST, "/v1/admin/checkpoint"),
    ] {
        let answer = send(&ana, &method, path, None).await;
        expect(
            &answer,
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!("ana {method} {path}"),
        );
    }

    // Runs, each in its client's root and store.
    let a_run: serde_json::Value = ana
        .post("/v1/runs", &serde_json::json!({"path": "site"}))
        .await
        .unwrap();
    let g_run: serde_json::Value = gil
        .post(
            "/v1/runs",
            &serde_json::json!({"path": "site", "index": false}),
        )
        .await
        .unwrap();
    let (a_id, g_id) = (a_run["id"].as_str().unwrap(), g_run["id"].as_str().unwrap());
    let answer = send(
        &ana,
        &Method::POST,
        "/v1/runs",
        Some(r#"{"path":"../globex/site"}"#),
    )
    .await;
    expect(
        &answer,
        StatusCode::BAD_REQUEST,
        "path_outside_root",
        "acme reaching globex",
    );
    let a_view = run_ends(&ana, a_id).await;
    let g_view = run_ends(&gil, g_id).await;
    assert_eq!(a_view["run"]["status"], "succeeded", "{a_view}");
    let phases: Vec<&str> = a_view["run"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["environment", "analysis", "index"]);
    assert_eq!(
        a_view["report"]["index"]["kind"], "simple",
        "{}",
        a_view["report"]
    );
    assert_eq!(
        g_view["report"]["rung"], "http_answers",
        "{}",
        g_view["report"]
    );
    for (who, mine, theirs) in [(&ana, a_id, g_id), (&gil, g_id, a_id)] {
        let runs: Vec<serde_json::Value> = who.get("/v1/runs").await.unwrap();
        let ids: Vec<&str> = runs.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [mine]);
        for path in [
            format!("/v1/runs/{theirs}"),
            format!("/v1/runs/{theirs}/events"),
        ] {
            let answer = send(who, &Method::GET, &path, None).await;
            expect(&answer, StatusCode::NOT_FOUND, "not_found", &path);
        }
    }
    // The node's own users see neither client's runs.
    let node_runs: Vec<serde_json::Value> = ops.get("/v1/runs").await.unwrap();
    assert!(node_runs.is_empty(), "{node_runs:?}");
    let answer = send(&ops, &Method::GET, &format!("/v1/runs/{a_id}"), None).await;
    expect(
        &answer,
        StatusCode::NOT_FOUND,
        "not_found",
        "the node reading acme's run",
    );

    // Users and audit entries, each client's own.
    let names = |users: Vec<serde_json::Value>| -> Vec<String> {
        users
            .iter()
            .map(|u| u["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(ana.get("/v1/users").await.unwrap()), ["amy", "ana"]);
    assert_eq!(names(gil.get("/v1/users").await.unwrap()), ["gil"]);
    let audit = |entries: Vec<serde_json::Value>| -> Vec<String> {
        entries
            .iter()
            .map(|e| {
                format!(
                    "{} {} {} {}",
                    e["actor"], e["action"], e["target"], e["outcome"]
                )
            })
            .collect()
    };
    let a_audit = audit(ana.get("/v1/audit").await.unwrap());
    let g_audit = audit(gil.get("/v1/audit").await.unwrap());
    let n_audit = audit(ops.get("/v1/audit").await.unwrap());
    assert!(
        a_audit
            .iter()
            .any(|e| e.contains("users.add") && e.contains("amy")),
        "{a_audit:?}"
    );
    assert!(
        a_audit
            .iter()
            .any(|e| e.contains("admin.tree") && e.contains("refused"))
    );
    assert!(
        g_audit
            .iter()
            .any(|e| e.contains("pete") && e.contains("refused")),
        "{g_audit:?}"
    );
    // (ana's failed login at globex is globex's to see: the name is what was typed.)
    assert!(!g_audit.iter().any(|e| e.contains("amy")), "{g_audit:?}");
    assert!(
        !a_audit
            .iter()
            .any(|e| e.contains("gil") || e.contains("pete"))
    );
    assert!(
        n_audit
            .iter()
            .any(|e| e.contains("clients.create") && e.contains("acme"))
    );
    assert!(
        !n_audit
            .iter()
            .any(|e| e.contains("amy") || e.contains("pete")),
        "{n_audit:?}"
    );
    // A client's token relabelled as another's is nobody's.
    let forged = token_of(&url, Some("acme"), "ana")
        .await
        .replacen("rr_acme.", "rr_globex.", 1);
    let answer = send(
        &ApiClient::new(&url, Some(forged)).unwrap(),
        &Method::GET,
        "/v1/runs",
        None,
    )
    .await;
    expect(
        &answer,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "a relabelled token",
    );

    // A restarted head brings every client back: settings, users, tokens and runs.
    let _ = stop.send(());
    drop((ana, gil, ops, boss));
    node.shutdown().await.unwrap();
    let (node, url, stop) = serve_on(&format!("{tag}-again"), &data, &root).await;
    let ops = login_as(&url, None, "ops").await;
    let clients: Vec<serde_json::Value> = ops.get("/v1/clients").await.unwrap();
    let listed: Vec<(&str, bool)> = clients
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["running"].as_bool().unwrap()))
        .collect();
    assert_eq!(listed, [("acme", true), ("globex", true)]);
    assert_eq!(clients[0]["settings"]["indexer"], "simple");
    let ana = login_as(&url, Some("acme"), "ana").await;
    let again = run_ends(&ana, a_id).await;
    assert_eq!(again["run"]["status"], "succeeded");
    let tree: serde_json::Value = ops.get("/v1/admin/tree").await.unwrap();
    assert!(
        tree.to_string()
            .contains(&format!("{tag}-again.business.acme")),
        "{tree}"
    );
    let _ = stop.send(());
    drop((ana, ops));
    node.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh token of `name` (of `client`, or of the node).
async fn token_of(url: &str, client: Option<&str>, name: &str) -> String {
    let token: serde_json::Value = ApiClient::new(url, None)
        .unwrap()
        .post(
            "/v1/login",
            &serde_json::json!({"name": name, "password": "a long password", "client": client}),
        )
        .await
        .unwrap();
    token["token"].as_str().unwrap().to_string()
}
