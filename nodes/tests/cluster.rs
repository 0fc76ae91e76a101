//! A cluster of real `reporunner node` processes on 127.0.0.1: a head and workers joining
//! it with the cookie, a worker with the wrong cookie refused, every node seen by
//! `reporunner cluster status` with its labels and agents, an agent that needs a GPU placed
//! on the GPU worker (and refused to a tier without GPU access), that worker killed with
//! SIGKILL marked down, its agent unplaceable until another GPU node joins and then placed
//! there, the killed worker rejoining without a second copy; a worker frozen with SIGSTOP
//! whose agent moves and whose copy is stopped when it thaws (the downing rule); mutual TLS
//! with certificates made here, a plaintext or foreign peer refused; and malformed bytes
//! from a raw TCP client neither crashing nor stalling the head. And a model: a node that
//! joins to generate gets SmolLM2 run on the GPU worker by an Inference agent the head
//! placed there, runs it on its own CPU for a tier without GPU access, and falls back to
//! its CPU when the GPU worker is gone.

use std::io::Write as _;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A node process, killed when dropped.
struct NodeProcess {
    child: Child,
    data: PathBuf,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(name: &str, args: &[&str]) -> NodeProcess {
    start_env(name, args, &[])
}

/// As [`start`], with `env` set for the node.
fn start_env(name: &str, args: &[&str], env: &[(&str, &str)]) -> NodeProcess {
    // Tests run side by side in one process: a counter keeps their data apart.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let data = std::env::temp_dir().join(format!("rr-cluster-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let child = Command::new(env!("CARGO_BIN_EXE_reporunner"))
        .args(["node", "start", "--name", name])
        .args(args)
        .arg("--data-dir")
        .arg(&data)
        .env_remove("REPORUNNER_COOKIE")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    NodeProcess { child, data }
}

/// `cluster status --json` with extra arguments (TLS files), or `None` when it fails.
fn status_with(address: &str, cookie: &str, extra: &[&str]) -> Option<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_reporunner"))
        .args([
            "cluster",
            "status",
            "--json",
            "--address",
            address,
            "--cookie",
            cookie,
        ])
        .args(extra)
        .env_remove("REPORUNNER_COOKIE")
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

fn status(address: &str, cookie: &str) -> Option<serde_json::Value> {
    status_with(address, cookie, &[])
}

/// Polls `cluster status` until `check` holds, and returns that status.
fn wait_for(
    address: &str,
    cookie: &str,
    extra: &[&str],
    what: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < Duration::from_secs(60) {
        if let Some(v) = status_with(address, cookie, extra) {
            if check(&v) {
                return v;
            }
            last = Some(v);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("the cluster never showed {what}: {last:#?}");
}

/// Polls `cluster status` until it lists `n` nodes, and returns them.
fn wait_nodes(address: &str, cookie: &str, n: usize) -> serde_json::Value {
    wait_for(address, cookie, &[], &format!("{n} nodes"), |v| {
        v["nodes"].as_array().map(Vec::len) == Some(n)
    })["nodes"]
        .clone()
}

/// The node called `name` in a status.
fn node<'a>(status: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == name)
}

/// Whether `node` of the status is up and runs `agent`.
fn runs(status: &serde_json::Value, name: &str, agent: &str) -> bool {
    node(status, name).is_some_and(|n| {
        n["state"] == "up" && n["running"].as_array().unwrap().iter().any(|a| a == agent)
    })
}

/// The node the head's table places `agent` on (`null` when none fits).
fn placed_on(status: &serde_json::Value, agent: &str) -> serde_json::Value {
    status["placements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["request"]["spawn"]["name"] == agent)
        .map(|p| p["node"].clone())
        .unwrap_or_else(|| panic!("{agent} is not in the placements: {status:#}"))
}

/// `cluster spawn` of an env-detector (a permanent kind) with one need, as `tier`.
fn spawn(address: &str, name: &str, need: &str, tier: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_reporunner"))
        .args(["cluster", "spawn", "--json", "--address", address])
        .args(["--cookie", "s3cret", "--as-tier", tier])
        .args(["--kind", "env-detector", "--name", name, "--need", need])
        .output()
        .unwrap()
}

fn wait_listening(port: u16) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        // A plain connect is a peer that never authenticates: the head logs and drops it.
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing listens on {port}");
}

#[test]
fn workers_join_with_the_cookie_and_a_wrong_cookie_is_refused() {
    let port = free_port();
    let head_addr = format!("127.0.0.1:{port}");
    let _head = start(
        "head",
        &[
            "--head",
            "--port",
            &port.to_string(),
            "--cookie",
            "s3cret",
            "--label",
            "zone=a",
        ],
    );
    wait_listening(port);
    let gpu_port = free_port();
    let mut gpu_node = start(
        "gpu-1",
        &[
            "--join",
            &head_addr,
            "--port",
            &gpu_port.to_string(),
            "--cookie",
            "s3cret",
            "--label",
            "gpu=true",
            "--label",
            "vram_mib=16384",
        ],
    );
    let cpu_port = free_port();
    let _cpu = start(
        "cpu-1",
        &[
            "--join",
            &head_addr,
            "--port",
            &cpu_port.to_string(),
            "--cookie",
            "s3cret",
        ],
    );
    let nodes = wait_nodes(&head_addr, "s3cret", 3);
    let names: Vec<&str> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap())
        .collect();
    assert_eq!(names[0], "head", "the head comes first: {names:?}");
    assert!(
        names.contains(&"gpu-1") && names.contains(&"cpu-1"),
        "{names:?}"
    );
    let gpu = nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == "gpu-1")
        .unwrap();
    assert_eq!(gpu["labels"]["gpu"], "true");
    assert_eq!(gpu["gpus"][0]["memory_total_mib"], 16384);
    assert_eq!(gpu["address"], format!("127.0.0.1:{gpu_port}"));
    assert_eq!(nodes[0]["labels"]["zone"], "a");

    // An agent that needs a GPU lands on the GPU worker; one that needs more VRAM than
    // any node has is refused, with what each node lacks.
    let out = spawn(&head_addr, "gpu-probe", "gpu", "developer");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let placed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(placed["node"], "gpu-1", "{placed}");
    let out = spawn(&head_addr, "too-big", "vram_mib=99999", "developer");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no node fits"), "{err}");
    assert!(err.contains("cpu-1: no GPU"), "{err}");
    assert!(
        err.contains("gpu-1: 16384 MiB of VRAM, 99999 needed"),
        "{err}"
    );
    // The tier must allow the GPU: Free has none, Advanced only small ones.
    let out = spawn(&head_addr, "free-gpu", "gpu", "free");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not allowed for the free tier") && err.contains("no GPU access"),
        "{err}"
    );
    let out = spawn(&head_addr, "advanced-big", "vram_mib=12000", "advanced");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("small (up to 8192 MiB"), "{err}");
    let out = spawn(&head_addr, "tester-gpu", "vram_mib=12000", "tester");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let now = wait_for(&head_addr, "s3cret", &[], "gpu-probe on gpu-1", |v| {
        runs(v, "gpu-1", "gpu-probe")
    });
    assert_eq!(placed_on(&now, "gpu-probe"), "gpu-1");
    assert!(node(&now, "gpu-1").unwrap()["agents"].as_u64().unwrap() >= 2);

    // kill -9 the GPU worker: the head marks it down once it misses its heartbeats, and
    // its agents have nowhere to go: they are reported unplaceable, with the reason.
    let _ = gpu_node.child.kill();
    let _ = gpu_node.child.wait();
    let now = wait_for(&head_addr, "s3cret", &[], "gpu-1 down", |v| {
        node(v, "gpu-1").is_some_and(|n| n["state"] == "down")
    });
    let now = if placed_on(&now, "gpu-probe").is_null() {
        now
    } else {
        wait_for(&head_addr, "s3cret", &[], "gpu-probe unplaced", |v| {
            placed_on(v, "gpu-probe").is_null()
        })
    };
    let p = now["placements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["request"]["spawn"]["name"] == "gpu-probe")
        .unwrap();
    let reason = p["reason"].as_str().unwrap();
    assert!(
        reason.contains("cpu-1: no GPU") && reason.contains("head: no GPU"),
        "{reason}"
    );
    let out = spawn(&head_addr, "gpu-probe-2", "gpu", "developer");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no node fits"));

    // Another GPU node joins: the lost agents are placed again on it.
    let gpu2_port = free_port();
    let _gpu2 = start(
        "gpu-2",
        &[
            "--join",
            &head_addr,
            "--port",
            &gpu2_port.to_string(),
            "--cookie",
            "s3cret",
            "--label",
            "gpu=true",
            "--label",
            "vram_mib=16384",
        ],
    );
    let now = wait_for(&head_addr, "s3cret", &[], "gpu-probe on gpu-2", |v| {
        runs(v, "gpu-2", "gpu-probe") && runs(v, "gpu-2", "tester-gpu")
    });
    assert_eq!(placed_on(&now, "gpu-probe"), "gpu-2");

    // The killed worker comes back under its name: it rejoins, and the agents stay where
    // they are now, with one copy each.
    let _gpu_again = start(
        "gpu-1",
        &[
            "--join",
            &head_addr,
            "--port",
            &gpu_port.to_string(),
            "--cookie",
            "s3cret",
            "--label",
            "gpu=true",
        ],
    );
    let now = wait_for(&head_addr, "s3cret", &[], "gpu-1 back up", |v| {
        node(v, "gpu-1").is_some_and(|n| n["state"] == "up")
    });
    assert!(!runs(&now, "gpu-1", "gpu-probe"), "{now:#}");
    assert!(runs(&now, "gpu-2", "gpu-probe"), "{now:#}");
    // New GPU agents go to the least loaded GPU node: the one that came back.
    let out = spawn(&head_addr, "gpu-probe-3", "gpu", "developer");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let placed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(placed["node"], "gpu-1");
    let nodes = wait_nodes(&head_addr, "s3cret", 4);
    assert!(
        nodes.as_array().unwrap().iter().all(|n| n["state"] == "up"),
        "{nodes}"
    );

    // An agent stopped through the head is gone for good: no node runs it, and it is not
    // placed again.
    let out = Command::new(env!("CARGO_BIN_EXE_reporunner"))
        .args([
            "cluster",
            "stop",
            "--address",
            &head_addr,
            "--cookie",
            "s3cret",
        ])
        .args(["--name", "tester-gpu"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("tester-gpu stopped on gpu-2"));
    let now = wait_for(&head_addr, "s3cret", &[], "tester-gpu gone", |v| {
        !runs(v, "gpu-2", "tester-gpu")
    });
    assert!(
        !now["placements"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["request"]["spawn"]["name"] == "tester-gpu"),
        "{now:#}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_reporunner"))
        .args([
            "cluster",
            "stop",
            "--address",
            &head_addr,
            "--cookie",
            "s3cret",
        ])
        .args(["--name", "tester-gpu"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no agent named"));

    // The tree shows every node with its Admin's live tree.
    let out = Command::new(env!("CARGO_BIN_EXE_reporunner"))
        .args(["cluster", "tree", "--json", "--address", &head_addr])
        .args(["--cookie", "s3cret"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let gpu2 = tree
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["member"]["info"]["node"] == "gpu-2")
        .expect("gpu-2 in the tree");
    let text = gpu2["tree"]["Ok"].to_string();
    assert!(
        text.contains("gpu-probe") && text.contains("node-host"),
        "{gpu2:#}"
    );

    // The wrong cookie: the worker is refused and says so.
    let out = Command::new(env!("CARGO_BIN_EXE_reporunner"))
        .args(["node", "start", "--name", "intruder", "--join", &head_addr])
        .args(["--port", &free_port().to_string(), "--cookie", "guess"])
        .arg("--data-dir")
        .arg(std::env::temp_dir().join(format!("rr-cluster-intruder-{}", std::process::id())))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused this node"), "{err}");
    assert!(err.contains("cookie"), "{err}");
    // And asking with the wrong cookie gets nothing.
    assert!(status(&head_addr, "guess").is_none());
    // Something that is not a node at all.
    {
        let mut raw = std::net::TcpStream::connect(&head_addr).unwrap();
        let _ = raw.write_all(b"GET / HTTP/1.1\r\n\r\n");
    }
    // The head tells the two refusals apart in `cluster status`, newest first.
    let v = wait_for(&head_addr, "s3cret", &[], "two refusals", |v| {
        v["refused"].as_array().is_some_and(|r| r.len() >= 2)
    });
    let refused = v["refused"].as_array().unwrap();
    let intruder = refused
        .iter()
        .find(|r| {
            r["node"]
                .as_str()
                .is_some_and(|n| n.starts_with("intruder"))
        })
        .unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(intruder["reason"], "cookie", "{v:#}");
    assert!(
        intruder["why"]
            .as_str()
            .unwrap()
            .contains("REPORUNNER_COOKIE")
    );
    assert!(
        refused
            .iter()
            .any(|r| r["reason"] == "handshake" && r["node"].is_null()),
        "{v:#}"
    );
    // The cluster is as it was.
    assert_eq!(
        wait_nodes(&head_addr, "s3cret", 4)
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn malformed_bytes_neither_crash_nor_stall_the_head() {
    let port = free_port();
    let head_addr = format!("127.0.0.1:{port}");
    let _head = start(
        "lone-head",
        &["--head", "--port", &port.to_string(), "--cookie", "c"],
    );
    wait_listening(port);
    // Garbage, a frame that claims to be huge, and a half frame left open.
    for payload in [
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        vec![0xff; 64],
        vec![0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3],
        vec![0, 0, 0, 0, 0, 0, 0, 40, 1, 2],
    ] {
        let mut s = TcpStream::connect(&head_addr).unwrap();
        let _ = s.write_all(&payload);
        // Left open: the head must not wait on it.
        std::mem::forget(s);
    }
    let nodes = wait_nodes(&head_addr, "c", 1);
    assert_eq!(nodes[0]["node"], "lone-head");
}

/// Sends `signal` (`STOP`, `CONT`) to a node process.
fn signal(node: &NodeProcess, signal: &str) {
    let ok = Command::new("kill")
        .args([format!("-{signal}"), node.child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{signal} failed");
}

#[test]
fn a_frozen_worker_loses_its_agent_and_its_copy_is_stopped_when_it_thaws() {
    let port = free_port();
    let head_addr = format!("127.0.0.1:{port}");
    let _head = start(
        "head",
        &[
            "--head",
            "--port",
            &port.to_string(),
            "--cookie",
            "s3cret",
            "--down-after-ms",
            "2000",
        ],
    );
    wait_listening(port);
    let worker = |name: &str| {
        start(
            name,
            &[
                "--join",
                &head_addr,
                "--port",
                &free_port().to_string(),
                "--cookie",
                "s3cret",
                "--label",
                "gpu=true",
                "--down-after-ms",
                "2000",
            ],
        )
    };
    let gpu_a = worker("gpu-a");
    let _gpu_b = worker("gpu-b");
    wait_nodes(&head_addr, "s3cret", 3);
    let out = spawn(&head_addr, "model-server", "gpu", "developer");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let placed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (first, second) = if placed["node"] == "gpu-a" {
        ("gpu-a", "gpu-b")
    } else {
        ("gpu-b", "gpu-a")
    };
    assert_eq!(first, "gpu-a", "equal loads go by name: {placed}");

    // Freeze the worker: its session stays open but it answers nothing. The head marks it
    // down and places the agent on the other GPU worker.
    signal(&gpu_a, "STOP");
    let now = wait_for(&head_addr, "s3cret", &[], "model-server moved", |v| {
        placed_on(v, "model-server") == second && runs(v, second, "model-server")
    });
    assert_eq!(node(&now, first).unwrap()["state"], "down", "{now:#}");

    // Thaw it: it has not heard from the head for longer than half the timeout, so it
    // stops its copy, and the head's table would have it stopped anyway. One copy stays.
    signal(&gpu_a, "CONT");
    let now = wait_for(
        &head_addr,
        "s3cret",
        &[],
        "gpu-a back without its copy",
        |v| {
            node(v, first).is_some_and(|n| {
                n["state"] == "up"
                    && !n["running"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|a| a == "model-server")
            })
        },
    );
    assert!(runs(&now, second, "model-server"), "{now:#}");
    assert_eq!(placed_on(&now, "model-server"), second);
    // And it stays that way.
    std::thread::sleep(Duration::from_secs(3));
    let now = status(&head_addr, "s3cret").unwrap();
    assert!(!runs(&now, first, "model-server"), "{now:#}");
    assert!(runs(&now, second, "model-server"), "{now:#}");
}

/// A CA and certificates it signs for 127.0.0.1, as PEM files in `dir`.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("rr-pki-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Pki { dir }
    }

    /// Makes a CA called `ca` and, signed by it, a certificate and key for each node.
    fn issue(&self, ca: &str, nodes: &[&str]) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("{ca} test CA"));
        let issuer = rcgen::CertifiedIssuer::self_signed(params, ca_key).unwrap();
        std::fs::write(self.dir.join(format!("{ca}.pem")), issuer.pem()).unwrap();
        for node in nodes {
            let key = rcgen::KeyPair::generate().unwrap();
            let mut params =
                rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
                    .unwrap();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, *node);
            let cert = params.signed_by(&key, &issuer).unwrap();
            std::fs::write(self.dir.join(format!("{node}.pem")), cert.pem()).unwrap();
            std::fs::write(self.dir.join(format!("{node}.key")), key.serialize_pem()).unwrap();
        }
    }

    /// The TLS flags of `node` under the CA `ca`.
    fn flags(&self, node: &str, ca: &str) -> Vec<String> {
        let path = |f: String| self.dir.join(f).display().to_string();
        vec![
            "--tls-cert".into(),
            path(format!("{node}.pem")),
            "--tls-key".into(),
            path(format!("{node}.key")),
            "--tls-ca".into(),
            path(format!("{ca}.pem")),
        ]
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn tls_nodes_join_and_plaintext_or_foreign_peers_are_refused() {
    let pki = Pki::new("tls");
    pki.issue("cluster", &["tls-head", "tls-w1", "tls-w2", "client"]);
    pki.issue("other", &["rogue"]);
    let port = free_port();
    let head_addr = format!("127.0.0.1:{port}");
    let flags = |node: &str, ca: &str| pki.flags(node, ca);
    let args = |extra: &[&str], tls: Vec<String>| -> Vec<String> {
        extra
            .iter()
            .map(|s| s.to_string())
            .chain(tls)
            .collect::<Vec<_>>()
    };
    let head_args = args(
        &["--head", "--port", &port.to_string(), "--cookie", "t"],
        flags("tls-head", "cluster"),
    );
    let _head = start(
        "tls-head",
        &head_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    wait_listening(port);
    let mut workers = Vec::new();
    for name in ["tls-w1", "tls-w2"] {
        let a = args(
            &[
                "--join",
                &head_addr,
                "--port",
                &free_port().to_string(),
                "--cookie",
                "t",
            ],
            flags(name, "cluster"),
        );
        workers.push(start(
            name,
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
        ));
    }
    let client = flags("client", "cluster");
    let client: Vec<&str> = client.iter().map(String::as_str).collect();
    let now = wait_for(&head_addr, "t", &client, "three TLS nodes", |v| {
        v["nodes"].as_array().map(Vec::len) == Some(3)
    });
    assert!(
        now["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["state"] == "up"),
        "{now:#}"
    );

    // A plaintext worker, and a client without TLS, get nowhere.
    let out = Command::new(env!("CARGO_BIN_EXE_reporunner"))
        .args(["node", "start", "--name", "plain", "--join", &head_addr])
        .args(["--port", &free_port().to_string(), "--cookie", "t"])
        .arg("--data-dir")
        .arg(std::env::temp_dir().join(format!("rr-cluster-plain-{}", std::process::id())))
        .env_remove("REPORUNNER_COOKIE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused this node"), "{err}");
    assert!(err.contains("wants TLS"), "{err}");
    assert!(status(&head_addr, "t").is_none());

    // A worker whose certificate another CA signed is refused too.
    let rogue = args(
        &[
            "--join",
            &head_addr,
            "--port",
            &free_port().to_string(),
            "--cookie",
            "t",
        ],
        flags("rogue", "cluster"),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_reporunner"))
        .args(["node", "start", "--name", "rogue"])
        .args(&rogue)
        .arg("--data-dir")
        .arg(std::env::temp_dir().join(format!("rr-cluster-rogue-{}", std::process::id())))
        .env_remove("REPORUNNER_COOKIE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused") || err.contains("TLS"), "{err}");

    // Half the TLS flags is an error, not a silent plaintext node.
    let out = Command::new(env!("CARGO_BIN_EXE_reporunner"))
        .args([
            "node",
            "start",
            "--head",
            "--cookie",
            "t",
            "--tls-cert",
            "x.pem",
        ])
        .env_remove("REPORUNNER_COOKIE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("all three"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The cluster is as it was.
    let now = status_with(&head_addr, "t", &client).expect("the head answers over TLS");
    assert_eq!(now["nodes"].as_array().unwrap().len(), 3, "{now:#}");
}

#[test]
fn a_restarted_head_keeps_its_placements_and_its_workers_join_it_again() {
    let port = free_port();
    let head_addr = format!("127.0.0.1:{port}");
    let head_args = ["--head", "--port", &port.to_string(), "--cookie", "s3cret"];
    let mut head = start("head", &head_args);
    wait_listening(port);
    let _worker = start(
        "gpu-w",
        &[
            "--join",
            &head_addr,
            "--port",
            &free_port().to_string(),
            "--cookie",
            "s3cret",
            "--label",
            "gpu=true",
        ],
    );
    wait_nodes(&head_addr, "s3cret", 2);
    let out = spawn(&head_addr, "keeper", "gpu", "developer");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(&head_addr, "s3cret", &[], "keeper on gpu-w", |v| {
        runs(v, "gpu-w", "keeper")
    });

    // The head dies and comes back on the same port with the same data directory: it
    // restores its placement table, the worker joins it again, and the agent runs on the
    // worker, once.
    let _ = head.child.kill();
    let _ = head.child.wait();
    std::thread::sleep(Duration::from_secs(2));
    head.child = Command::new(env!("CARGO_BIN_EXE_reporunner"))
        .args(["node", "start", "--name", "head"])
        .args(head_args)
        .arg("--data-dir")
        .arg(&head.data)
        .env_remove("REPORUNNER_COOKIE")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_listening(port);
    let now = wait_for(
        &head_addr,
        "s3cret",
        &[],
        "the worker back with keeper",
        |v| v["nodes"].as_array().map(Vec::len) == Some(2) && runs(v, "gpu-w", "keeper"),
    );
    assert_eq!(placed_on(&now, "keeper"), "gpu-w");
    assert_eq!(now["placements"].as_array().unwrap().len(), 1, "{now:#}");
}

/// `models generate --join` as `tier`: this process joins as a node, its ModelManager picks
/// where SmolLM2 runs, and the answer says where it ran and what was passed over.
fn generate(address: &str, tier: &str, python: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_reporunner"))
        .args([
            "models",
            "generate",
            "Say hello.",
            "--json",
            "--max-tokens",
            "4",
        ])
        .args(["--join", address, "--cookie", "s3cret", "--as-tier", tier])
        .env_remove("REPORUNNER_COOKIE")
        .env("REPORUNNER_MODELS_PYTHON", python)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "models generate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_model_runs_on_the_gpu_worker_through_an_inference_agent_and_falls_back_without_it() {
    let python = reporunner_runtime::testsuite::models_python();
    let env = [("REPORUNNER_MODELS_PYTHON", python.as_str())];
    let (hp, wp) = (free_port(), free_port());
    let address = format!("127.0.0.1:{hp}");
    let _head = start_env(
        "head",
        &["--head", "--port", &hp.to_string(), "--cookie", "s3cret"],
        &env,
    );
    wait_listening(hp);
    let gpu = start_env(
        "gpu1",
        &[
            "--join",
            &address,
            "--port",
            &wp.to_string(),
            "--cookie",
            "s3cret",
            "--label",
            "gpu=true",
            "--label",
            "vram_mib=8192",
        ],
        &env,
    );
    wait_nodes(&address, "s3cret", 2);

    // The developer tier may use the GPU: an Inference agent on gpu1 generates. This
    // build has no CUDA, so gpu1 runs the model on its CPU, and says so.
    let v = generate(&address, "developer", &python);
    assert_eq!(v["node"], "gpu1", "{v:#}");
    assert_eq!(v["backend"], "cpu", "{v:#}");
    assert!(
        v["passed_over"].to_string().contains("cuda:0 was chosen"),
        "{v:#}"
    );
    assert!(v["tokens"].as_u64().unwrap() > 0, "{v:#}");
    let agent = "inference-smollm2-135m-instruct-gpu";
    let s = wait_for(
        &address,
        "s3cret",
        &[],
        "the inference agent on gpu1",
        |s| runs(s, "gpu1", agent),
    );
    assert_eq!(placed_on(&s, agent), "gpu1");
    // A second asker finds the agent already placed.
    assert_eq!(generate(&address, "developer", &python)["node"], "gpu1");

    // The free tier has no GPU: the asking node runs the model on its own CPU.
    let v = generate(&address, "free", &python);
    assert!(
        v["node"].as_str().unwrap().starts_with("generate-"),
        "{v:#}"
    );
    assert!(
        v["passed_over"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "GPU: the tier has no GPU access"),
        "{v:#}"
    );

    // Without gpu1, the developer falls back to the asking node's CPU, with the reason.
    drop(gpu);
    wait_for(&address, "s3cret", &[], "gpu1 down", |s| {
        node(s, "gpu1").is_some_and(|n| n["state"] == "down")
    });
    let v = generate(&address, "developer", &python);
    assert!(
        v["node"].as_str().unwrap().starts_with("generate-"),
        "{v:#}"
    );
    assert_eq!(v["backend"], "cpu");
    let why = v["passed_over"].to_string();
    assert!(why.contains("gpu1") || why.contains("has a GPU"), "{v:#}");
}

#[test]
fn the_head_serves_the_api_and_lists_the_workers_that_joined() {
    let data = std::env::temp_dir().join(format!("rr-cluster-api-head-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let reporunner = || Command::new(env!("CARGO_BIN_EXE_reporunner"));
    let add = reporunner()
        .args([
            "users",
            "add",
            "ops",
            "--tier",
            "admin",
            "--password",
            "a long password",
        ])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    let out = reporunner()
        .args(["users", "token", "ops", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let (port, api_port) = (free_port(), free_port());
    let head = NodeProcess {
        child: reporunner()
            .args([
                "node", "start", "--name", "head", "--head", "--cookie", "s3cret",
            ])
            .args([
                "--port",
                &port.to_string(),
                "--api-port",
                &api_port.to_string(),
            ])
            .arg("--data-dir")
            .arg(&data)
            .env_remove("REPORUNNER_COOKIE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        data: data.clone(),
    };
    wait_listening(port);
    let _worker = start(
        "worker-1",
        &[
            "--join",
            &format!("127.0.0.1:{port}"),
            "--port",
            &free_port().to_string(),
            "--cookie",
            "s3cret",
        ],
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let url = format!("http://127.0.0.1:{api_port}");
        let api = reporunner::api::client::ApiClient::new(&url, Some(token)).unwrap();
        let started = Instant::now();
        let nodes = loop {
            if let Ok(nodes) = api.get::<Vec<serde_json::Value>>("/v1/cluster/nodes").await
                && nodes.len() == 2
                && nodes.iter().all(|n| n["state"] == "up")
            {
                break nodes;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the head's API never listed the worker"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        let names: Vec<&str> = nodes
            .iter()
            .map(|n| n["info"]["node"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"head") && names.contains(&"worker-1"),
            "{names:?}"
        );
        let tree: serde_json::Value = api.get("/v1/admin/tree").await.unwrap();
        assert!(tree["name"].as_str().unwrap().ends_with("admin"), "{tree}");
        // The admin tier sees the tree; the Admin agent itself is the developer's.
        let refused = api
            .post::<_, serde_json::Value>("/v1/admin/checkpoint", &serde_json::json!(null))
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("forbidden"), "{refused}");
        let metrics = api.raw(hyper::Method::GET, "/metrics", None).await.unwrap();
        let text = String::from_utf8_lossy(&metrics.body);
        assert!(
            text.contains(r#"reporunner_nodes{status="up"} 2"#),
            "{text}"
        );
    });
    drop(head);
}

/// The README's two commands on one host, with no `--name`: each node is named after the
/// host and its port, so the worker joins. A worker given the head's own name is refused,
/// and both sides say it is the name.
#[test]
fn nodes_without_names_join_on_one_host_and_a_name_clash_is_told_apart() {
    let port = free_port();
    let head_addr = format!("127.0.0.1:{port}");
    let spawn_unnamed = |args: &[&str], tag: &str| {
        let data = std::env::temp_dir().join(format!("rr-cluster-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        let child = Command::new(env!("CARGO_BIN_EXE_reporunner"))
            .args(["node", "start"])
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .env_remove("REPORUNNER_COOKIE")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        NodeProcess { child, data }
    };
    let mut head = spawn_unnamed(
        &["--head", "--port", &port.to_string(), "--cookie", "s3cret"],
        "unnamed-head",
    );
    wait_listening(port);
    let worker_port = free_port();
    let _worker = spawn_unnamed(
        &[
            "--join",
            &head_addr,
            "--port",
            &worker_port.to_string(),
            "--cookie",
            "s3cret",
        ],
        "unnamed-worker",
    );
    let nodes = wait_nodes(&head_addr, "s3cret", 2);
    let names: Vec<String> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap().to_string())
        .collect();
    assert!(names[0].ends_with(&format!("-{port}")), "{names:?}");
    assert!(names[1].ends_with(&format!("-{worker_port}")), "{names:?}");

    // A third node named as the head is.
    let out = Command::new(env!("CARGO_BIN_EXE_reporunner"))
        .args(["node", "start", "--name", &names[0], "--join", &head_addr])
        .args(["--port", &free_port().to_string(), "--cookie", "s3cret"])
        .arg("--data-dir")
        .arg(std::env::temp_dir().join(format!("rr-cluster-clash-{}", std::process::id())))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("own name {}", names[0])) && !err.contains("cookie"),
        "{err}"
    );
    // The cluster is as it was, and the head's log names the clash too.
    assert_eq!(
        wait_nodes(&head_addr, "s3cret", 2)
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let _ = head.child.kill();
    let mut log = String::new();
    use std::io::Read as _;
    let _ = head.child.stderr.take().unwrap().read_to_string(&mut log);
    assert!(log.contains("two nodes cannot share a name"), "{log}");
}

/// A peer of another Repo Runner release answers in a wire version this node cannot read:
/// it never becomes a member, and `cluster status`'s refusals say why. The peer here is an
/// actor in the node hosts' group whose answers carry what decoding a newer release's
/// frame gives (`UnsupportedVersion`), in the same process as a real NodeHost.
#[tokio::test]
async fn a_peer_of_another_wire_version_is_refused_and_said_so() {
    use ractor::{Actor, ActorProcessingErr, ActorRef};
    use reporunner::boot::{Node, NodeConfig};
    use reporunner_protocols::Wire;
    use reporunner_protocols::cluster::{NODE_HOSTS_GROUP, NodeHostMessage, RefusalReason};
    use reporunner_protocols::codec::WireError;
    use reporunner_protocols::ids::{AgentId, NodeId};
    use reporunner_runtime::naming::{Namespace, lookup};

    struct NewerRelease;
    impl Actor for NewerRelease {
        type Msg = NodeHostMessage;
        type State = ();
        type Arguments = ();
        async fn pre_start(
            &self,
            myself: ActorRef<Self::Msg>,
            _: (),
        ) -> Result<(), ActorProcessingErr> {
            ractor::pg::join(NODE_HOSTS_GROUP.to_string(), vec![myself.get_cell()]);
            Ok(())
        }
        async fn handle(
            &self,
            _: ActorRef<Self::Msg>,
            message: Self::Msg,
            _: &mut (),
        ) -> Result<(), ActorProcessingErr> {
            if let NodeHostMessage::GetInfo(reply) = message {
                let _ = reply.send(Wire::Malformed(WireError::UnsupportedVersion { found: 2 }));
            }
            Ok(())
        }
    }

    let tag = format!("wire-version-{}", std::process::id());
    let node = Node::start(NodeConfig {
        node: NodeId::new(tag.clone()),
        namespace: Namespace::new(tag.clone()),
        ..NodeConfig::default()
    })
    .await
    .unwrap();
    reporunner::cluster::host_alone(&node, "127.0.0.1:1")
        .await
        .unwrap();
    let (peer, handle) = Actor::spawn(None, NewerRelease, ()).await.unwrap();
    let host: ActorRef<NodeHostMessage> =
        lookup(&node.namespace().agent(&AgentId::new("node-host"))).expect("the node host");
    let started = Instant::now();
    let refusals = loop {
        let refusals = ractor::call_t!(host, NodeHostMessage::GetRefusals, 5_000)
            .unwrap()
            .open()
            .unwrap();
        if !refusals.is_empty() || started.elapsed() > Duration::from_secs(30) {
            break refusals;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let refusal = refusals.first().expect("a refusal within 30 s");
    assert_eq!(refusal.reason, RefusalReason::Version, "{refusals:?}");
    assert_eq!(
        refusal.detail.as_deref(),
        Some(
            format!(
                "wire version 2; this node reads {}",
                reporunner_protocols::codec::WIRE_VERSION
            )
            .as_str()
        ),
        "{refusals:?}"
    );
    // It is not a member.
    let members = ractor::call_t!(host, NodeHostMessage::GetMembers, 5_000)
        .unwrap()
        .open()
        .unwrap();
    assert_eq!(members.len(), 1, "{members:?}");
    peer.stop(None);
    let _ = handle.await;
    node.shutdown().await.unwrap();
}
