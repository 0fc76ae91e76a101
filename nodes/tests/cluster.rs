//! A cluster of real `reporunner node` processes on 127.0.0.1: a head and workers joining
//! it with the cookie, a worker with the wrong cookie refused, every node seen by
//! `reporunner cluster status` with its labels, an agent that needs a GPU placed on the
//! GPU worker, that worker killed with SIGKILL marked down and then rejoining, and
//! malformed bytes from a raw TCP client neither crashing nor stalling the head.

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
    let data = std::env::temp_dir().join(format!("rr-cluster-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let child = Command::new(env!("CARGO_BIN_EXE_reporunner"))
        .args(["node", "start", "--name", name])
        .args(args)
        .arg("--data-dir")
        .arg(&data)
        .env_remove("REPORUNNER_COOKIE")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    NodeProcess { child, data }
}

fn status(address: &str, cookie: &str) -> Option<serde_json::Value> {
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
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

/// Polls `cluster status` until it lists `n` nodes.
fn wait_nodes(address: &str, cookie: &str, n: usize) -> serde_json::Value {
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < Duration::from_secs(60) {
        if let Some(v) = status(address, cookie) {
            if v.as_array().map(Vec::len) == Some(n) {
                return v;
            }
            last = Some(v);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("the cluster never showed {n} nodes: {last:?}");
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
    let spawn = |name: &str, need: &str| {
        Command::new(env!("CARGO_BIN_EXE_reporunner"))
            .args([
                "cluster",
                "spawn",
                "--json",
                "--address",
                &head_addr,
                "--cookie",
                "s3cret",
            ])
            .args(["--kind", "env-detector", "--name", name, "--need", need])
            .output()
            .unwrap()
    };
    let out = spawn("gpu-probe", "gpu");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let placed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(placed["node"], "gpu-1", "{placed}");
    let out = spawn("too-big", "vram_mib=99999");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no node fits"), "{err}");
    assert!(err.contains("cpu-1: no GPU"), "{err}");
    assert!(
        err.contains("gpu-1: 16384 MiB of VRAM, 99999 needed"),
        "{err}"
    );
    let nodes = wait_nodes(&head_addr, "s3cret", 3);
    let gpu = nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == "gpu-1")
        .unwrap();
    assert!(gpu["agents"].as_u64().unwrap() >= 2, "{gpu}");
    assert_eq!(gpu["state"], "up");

    // kill -9 the GPU worker: the head marks it down once it misses its heartbeats, and a
    // GPU agent has nowhere to go.
    let _ = gpu_node.child.kill();
    let _ = gpu_node.child.wait();
    let started = Instant::now();
    loop {
        let nodes = status(&head_addr, "s3cret").expect("the head answers");
        let state = nodes
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["node"] == "gpu-1")
            .map(|n| n["state"].clone());
        if state == Some(serde_json::json!("down")) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "gpu-1 was never marked down: {nodes}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = spawn("gpu-probe-2", "gpu");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no node fits"), "{err}");

    // The worker comes back under its name: it rejoins, and GPU agents land on it again.
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
    let started = Instant::now();
    loop {
        let out = spawn("gpu-probe-3", "gpu");
        if out.status.success() {
            let placed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(placed["node"], "gpu-1");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the worker never rejoined: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let nodes = wait_nodes(&head_addr, "s3cret", 3);
    assert!(
        nodes.as_array().unwrap().iter().all(|n| n["state"] == "up"),
        "{nodes}"
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
    // And asking with the wrong cookie gets nothing.
    assert!(status(&head_addr, "guess").is_none());
    // The cluster is as it was.
    assert_eq!(
        wait_nodes(&head_addr, "s3cret", 3)
            .as_array()
            .unwrap()
            .len(),
        3
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
