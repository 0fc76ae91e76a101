//! The cost of a confined service's narrowed network: round trips from the host to a
//! TCP echo server (Python, one keep-alive connection, `TCP_NODELAY`) that runs confined
//! with its network narrowed, so every byte crosses the forward on the host, the Unix
//! socket and the bridge inside the namespace; beside the same server confined with the
//! host's network shared (the raw path: no bridge), in the same run.
//!
//! Run with: cargo bench -p reporunner-benches --bench network
//! Where bubblewrap cannot make a network namespace it says so and measures nothing.

use criterion::{Criterion, Throughput};
use reporunner_runtime::network::{NetPolicy, bridge_program, set_bridge_program};
use reporunner_runtime::process::{self, CommandSpec, Confinement, Service};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ECHO: &str = "import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1])))
s.listen()
while True:
    c, _ = s.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while (d := c.recv(1 << 16)):
        c.sendall(d)
    c.close()
";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the echo server confined, with `network` (narrowed) or the host's, and
/// connects to it once it answers.
async fn echo(root: &Path, network: Option<NetPolicy>) -> (Service, TcpStream) {
    let port = free_port();
    let mut spec = CommandSpec::new("python3", &["-c", ECHO, &port.to_string()], root);
    spec.confine = Some(Confinement {
        writable: vec![root.to_path_buf()],
        network,
        ..Confinement::default()
    });
    let service = process::spawn(&spec).await.unwrap();
    let began = Instant::now();
    loop {
        if let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) {
            c.set_nodelay(true).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut back = [0u8; 1];
            if c.write_all(b"x").is_ok() && c.read_exact(&mut back).is_ok() {
                return (service, c);
            }
        }
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "the echo server never answered: {:?}",
            service.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn round_trip(c: &mut TcpStream, out: &[u8], back: &mut [u8]) {
    c.write_all(out).unwrap();
    c.read_exact(back).unwrap();
}

fn main() {
    set_bridge_program(PathBuf::from(env!("CARGO_BIN_EXE_bench-net-bridge")));
    let Some(bridge) = bridge_program() else {
        eprintln!("skipped: bubblewrap cannot make a network namespace here");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let root = std::env::temp_dir().join(format!("reporunner-bench-net-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let narrowed = NetPolicy {
        bridge,
        ..NetPolicy::default()
    };
    let (shared_service, mut shared) = rt.block_on(echo(&root, None));
    let (narrowed_service, mut through) = rt.block_on(echo(&root, Some(narrowed)));

    let mut c = Criterion::default().configure_from_args();
    for size in [64usize, 64 << 10] {
        let out = vec![7u8; size];
        let mut back = vec![0u8; size];
        let mut g = c.benchmark_group(format!("service_round_trip_{size}B"));
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function("host_network_shared", |b| {
            b.iter(|| round_trip(&mut shared, &out, &mut back))
        });
        g.bench_function("narrowed_through_the_bridge", |b| {
            b.iter(|| round_trip(&mut through, &out, &mut back))
        });
        g.finish();
    }
    c.final_summary();
    drop((shared, through));
    rt.block_on(async {
        shared_service.stop(Duration::from_secs(5)).await;
        narrowed_service.stop(Duration::from_secs(5)).await;
    });
    let _ = std::fs::remove_dir_all(&root);
}
