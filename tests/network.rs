//! A confined command's narrowed network, end to end: real bubblewrap with a network
//! namespace of its own, the real bridge program inside it, real TCP servers on the
//! host's loopback, and Python probing from inside what it can and cannot reach.

use reporunner_runtime::network::{NetPolicy, bridge_program};
use reporunner_runtime::process::{self, CommandSpec, Confinement};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Whether this host can give a command a network namespace; panics where confinement is
/// required (CI) and it cannot.
fn narrowing() -> bool {
    reporunner_runtime::network::set_bridge_program(PathBuf::from(env!(
        "CARGO_BIN_EXE_net-bridge"
    )));
    if bridge_program().is_some() {
        return true;
    }
    if std::env::var_os("REPORUNNER_REQUIRE_SANDBOX").is_some() {
        panic!("confinement is required here, and bubblewrap cannot make a network namespace");
    }
    eprintln!("skipped: bubblewrap cannot make a network namespace here");
    false
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("reporunner-net-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A TCP server on `addr` that answers every connection with `greeting`, or, for an HTTP
/// request, with 200 and `greeting` as its body.
fn greeter(addr: &str, greeting: &'static str) -> SocketAddr {
    let listener = TcpListener::bind(addr).unwrap();
    let local = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut conn = conn;
                let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
                let mut buf = [0u8; 4096];
                let n = conn.read(&mut buf).unwrap_or(0);
                let text = String::from_utf8_lossy(&buf[..n]);
                let reply = if text.starts_with("GET ") {
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{greeting}",
                        greeting.len()
                    )
                } else {
                    format!("{greeting}\n")
                };
                let _ = conn.write_all(reply.as_bytes());
            });
        }
    });
    local
}

fn confined(root: &std::path::Path, reach: Vec<SocketAddr>, allow: &[&str]) -> Confinement {
    Confinement {
        writable: vec![root.to_path_buf()],
        network: Some(NetPolicy {
            bridge: bridge_program().unwrap(),
            reach,
            allow_hosts: allow.iter().map(|h| h.to_string()).collect(),
            no_proxy: Vec::new(),
            upstream: None,
            proxy_env: true,
        }),
        ..Confinement::default()
    }
}

const PROBE: &str = r#"
import os, socket, sys, urllib.request, urllib.error, http.client
reach, other, registry, denied = sys.argv[1:5]

def connect(addr):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    s.sendall(b"hi\n")
    return s.recv(100).decode().strip()

try:
    print("reach:", connect(reach), flush=True)
except OSError as e:
    print("reach: refused", e, flush=True)
try:
    print("other port: REACHED", connect(other), flush=True)
except OSError as e:
    print("other port: refused", flush=True)
try:
    socket.create_connection(("192.0.2.1", 80), timeout=3)
    print("direct: REACHED", flush=True)
except OSError as e:
    print("direct: unreachable", flush=True)
try:
    socket.getaddrinfo("pypi.org", 443)
    print("dns: RESOLVED", flush=True)
except OSError:
    print("dns: none", flush=True)
print("proxy:", os.environ.get("HTTP_PROXY"), flush=True)
print("allowed:", urllib.request.urlopen(f"http://{registry}/simple/").read().decode(), flush=True)
try:
    urllib.request.urlopen(f"http://{denied}/")
    print("denied: REACHED", flush=True)
except urllib.error.HTTPError as e:
    print("denied:", e.code, e.read().decode().strip(), flush=True)
# Garbage straight at the bridge's host socket: refused, and the proxy still serves.
for junk in [b"\x00\xff garbage\n", b"tcp 8.8.8.8:53\n", b"proxy\nNOT HTTP\r\n\r\n"]:
    s = socket.socket(socket.AF_UNIX)
    s.connect("/tmp/.reporunner-net/host/host.sock")
    s.sendall(junk)
    s.settimeout(5)
    try:
        s.recv(200)
    except OSError:
        pass
    s.close()
host, port = registry.rsplit(":", 1)
proxy = os.environ["HTTPS_PROXY"].rsplit(":", 1)
c = http.client.HTTPConnection(proxy[0].removeprefix("http://"), int(proxy[1]), timeout=5)
c.set_tunnel(host, int(port))
c.request("GET", "/tunnel")
print("tunnel:", c.getresponse().read().decode(), flush=True)
"#;

/// Inside, a confined command reaches the services it was given and the allowed hosts
/// through the proxy, and nothing else: not another port of the host, not the internet
/// directly, not a name server; a host off the list gets 403 with the reason, said in the
/// command's output too; garbage sent to the bridge changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrowed_command_reaches_its_services_and_allowed_hosts_only() {
    if !narrowing() {
        return;
    }
    let root = scratch("reach");
    let reach = greeter("127.0.0.1:0", "database here");
    let other = greeter("127.0.0.1:0", "someone else's service");
    let registry = greeter("127.0.0.2:0", "registry index");
    let denied = greeter("127.0.0.3:0", "not a registry");
    let mut spec = CommandSpec::new(
        "python3",
        &[
            "-c",
            PROBE,
            &reach.to_string(),
            &other.to_string(),
            &registry.to_string(),
            &denied.to_string(),
        ],
        &root,
    );
    spec.confine = Some(confined(&root, vec![reach], &["127.0.0.2"]));
    spec.timeout = Some(Duration::from_secs(60));
    let out = process::run(&spec).await.unwrap();
    let text = format!("{}\n{}", out.head.join("\n"), out.tail.join("\n"));
    assert!(out.success(), "{out:?}");
    for want in [
        "reach: database here",
        "other port: refused",
        "direct: unreachable",
        "dns: none",
        "allowed: registry index",
        "tunnel: registry index",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    assert!(text.contains("proxy: http://127.0.0.1:"), "{text}");
    assert!(
        text.contains("denied: 403 reporunner: 127.0.0.3 is not on this run's allow-list"),
        "{text}"
    );
    // Repo Runner's own lines, in the command's output for the Fixer and the report.
    assert!(
        out.error_lines
            .iter()
            .any(|l| l.contains("refused a connection to 127.0.0.3")),
        "{:?}",
        out.error_lines
    );
    assert!(
        out.error_lines
            .iter()
            .any(|l| l.contains("connection to 8.8.8.8:53 on the host was refused")),
        "{:?}",
        out.error_lines
    );
    assert!(
        out.error_lines
            .iter()
            .any(|l| l.contains("malformed request")),
        "{:?}",
        out.error_lines
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// A confined service listens inside its own namespace, and is reached from the host at
/// the same port, as if it had none; once it stops, the port is free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrowed_service_is_reached_at_its_port_from_the_host() {
    if !narrowing() {
        return;
    }
    serve_and_reach("127.0.0.1").await;
}

/// A service on IPv6's wildcard (dual-stack) is reached at IPv4's loopback too, and one
/// on IPv4's loopback in IPv6's mapped form (a JVM's `--server.address=127.0.0.1`) at
/// IPv4's loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrowed_service_on_an_ipv6_socket_is_reached_from_the_host() {
    if !narrowing() {
        return;
    }
    serve_and_reach("::").await;
    serve_and_reach("::ffff:127.0.0.1").await;
}

async fn serve_and_reach(bind: &str) {
    let root = scratch(&format!("serve-{}", bind.replace([':', '.'], "_")));
    std::fs::write(root.join("index.html"), "served from inside\n").unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut spec = CommandSpec::new(
        "python3",
        &[
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ],
        &root,
    );
    spec.confine = Some(confined(&root, Vec::new(), &[]));
    let service = process::spawn(&spec).await.unwrap();
    let began = Instant::now();
    let body = loop {
        let answer = std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut c| {
            c.set_read_timeout(Some(Duration::from_secs(5)))?;
            c.write_all(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")?;
            let mut s = String::new();
            c.read_to_string(&mut s)?;
            Ok(s)
        });
        match answer {
            Ok(s) if s.contains("served from inside") => break s,
            _ if began.elapsed() > Duration::from_secs(30) => {
                panic!(
                    "never answered at {port}: {answer:?} {:?}",
                    service.output()
                )
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    assert!(body.starts_with("HTTP/1.0 200"), "{body}");
    // The host sees the port it listens on inside, where the Runner looks for it.
    assert!(
        service.listening_ports().iter().any(|l| l.port == port),
        "{:?}",
        service.listening_ports()
    );
    service.stop(Duration::from_secs(5)).await;
    TcpListener::bind(("127.0.0.1", port)).expect("the forwarded port is free again");
    let _ = std::fs::remove_dir_all(&root);
}

/// A test suite's narrowed network keeps the proxy for npm, Yarn and the JVM, but not in
/// the generic variables its code may read (`HTTPS_PROXY`), which a service keeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generic_proxy_variables_are_left_out_when_asked() {
    if !narrowing() {
        return;
    }
    let root = scratch("proxy-env");
    let script = "echo \"${HTTPS_PROXY:-none} ${http_proxy:-none} ${npm_config_proxy:+npm} ${JAVA_TOOL_OPTIONS:+jvm}\"";
    for (announce, want) in [(true, "http://127.0.0.1:"), (false, "none none npm jvm")] {
        let mut spec = CommandSpec::new("/bin/sh", &["-c", script], &root);
        let mut confine = confined(&root, Vec::new(), &[]);
        if let Some(net) = confine.network.as_mut() {
            net.proxy_env = announce;
        }
        spec.confine = Some(confine);
        spec.timeout = Some(Duration::from_secs(30));
        let out = process::run(&spec).await.unwrap();
        assert!(out.success(), "{out:?}");
        let line = out.head.first().cloned().unwrap_or_default();
        assert!(line.starts_with(want), "{announce}: {line}");
        if announce {
            assert!(line.ends_with(" npm jvm"), "{line}");
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}
