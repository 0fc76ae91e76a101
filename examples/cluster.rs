//! A cluster of three nodes on 127.0.0.1: this process is the head, and it starts two
//! copies of itself as workers, one of them stating a GPU with the `gpu=true` label. An
//! agent that needs a GPU is placed on the GPU worker; that worker is killed, the head marks
//! it down and reports the agent unplaceable (no other node has a GPU); a second GPU worker
//! joins, and the head places the agent again there.
//!
//! Run with: cargo run -p reporunner-examples --example cluster

use anyhow::{Context as _, bail};
use ractor::ActorRef;
use reporunner::boot::{Node, NodeConfig};
use reporunner::cluster::{self, ClusterConfig};
use reporunner_protocols::Wire;
use reporunner_protocols::access::Tier;
use reporunner_protocols::admin::SpawnAgentRequest;
use reporunner_protocols::cluster::{Member, NodeHostMessage, NodeState, PlaceRequest, Placement};
use reporunner_protocols::ids::{AgentId, NodeId};
use reporunner_protocols::kinds::AgentNeeds;
use reporunner_runtime::naming::Namespace;
use std::collections::BTreeMap;
use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const COOKIE: &str = "example";
/// Short, so that the example does not wait long for the lost node.
const DOWN_AFTER_MS: u64 = 2_000;

fn config(port: u16, head: bool, join: Option<String>, gpu: bool) -> ClusterConfig {
    let mut labels = BTreeMap::new();
    if gpu {
        labels.insert("gpu".to_string(), "true".to_string());
        labels.insert("vram_mib".to_string(), "24576".to_string());
    }
    ClusterConfig {
        port,
        cookie: COOKIE.into(),
        advertise_host: "127.0.0.1".into(),
        head,
        join,
        labels,
        models: vec![],
        down_after_ms: Some(DOWN_AFTER_MS),
        tls: None,
    }
}

async fn start(
    name: &str,
    cluster: ClusterConfig,
) -> anyhow::Result<(Node, cluster::ClusterHandle)> {
    let node = Node::start(NodeConfig {
        node: NodeId::new(name),
        // One namespace per node, as `reporunner node start` does.
        namespace: Namespace::new(format!("reporunner.{name}")),
        ..NodeConfig::default()
    })
    .await?;
    let handle = cluster::start(&node, &cluster).await?;
    Ok((node, handle))
}

/// A worker process: `cluster worker NAME HEAD [gpu]`. It lives until its stdin closes or
/// it is killed.
async fn worker(args: &[String]) -> anyhow::Result<()> {
    let [name, head, rest @ ..] = args else {
        bail!("usage: cluster worker NAME HEAD [gpu]");
    };
    let gpu = rest.first().is_some_and(|a| a == "gpu");
    let (node, handle) = start(name, config(0, false, Some(head.clone()), gpu)).await?;
    tokio::task::spawn_blocking(|| {
        let _ = std::io::stdin().read(&mut [0u8; 1]);
    })
    .await?;
    handle.stop().await;
    node.shutdown().await?;
    Ok(())
}

fn spawn_worker(name: &str, head: &str, gpu: bool) -> anyhow::Result<Child> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["worker", name, head]);
    if gpu {
        cmd.arg("gpu");
    }
    Ok(cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?)
}

/// Asks the head's host, until `check` holds on its members and placements.
async fn wait(
    host: &ActorRef<NodeHostMessage>,
    what: &str,
    check: impl Fn(&[Member], &[Placement]) -> bool,
) -> anyhow::Result<(Vec<Member>, Vec<Placement>)> {
    let started = Instant::now();
    loop {
        let members = ractor::call_t!(host, NodeHostMessage::GetMembers, 5_000)?.open()?;
        let placements = ractor::call_t!(host, NodeHostMessage::GetPlacements, 5_000)?.open()?;
        if check(&members, &placements) {
            return Ok((members, placements));
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("waited a minute for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn show(members: &[Member]) {
    for m in members {
        let state = match m.state {
            NodeState::Up => "up",
            NodeState::Down => "down",
        };
        let agents: Vec<&str> = m.info.running.iter().map(|a| a.as_str()).collect();
        println!(
            "  {:<6} {:<5} {:<16} gpu={:<5} agents: {}",
            m.info.node.as_str(),
            state,
            m.info.address,
            m.info.has_gpu(),
            agents.join(", ")
        );
    }
}

fn placed_on(placements: &[Placement], agent: &str) -> Option<String> {
    placements
        .iter()
        .find(|p| p.request.spawn.name.as_str() == agent)
        .and_then(|p| p.node.as_ref().map(|n| n.to_string()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "worker") {
        return worker(&args[1..]).await;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let head_addr = format!("127.0.0.1:{port}");
    let (node, handle) = start("head", config(port, true, None, false)).await?;
    println!("head listening on {head_addr}");
    let mut workers = vec![
        spawn_worker("cpu-1", &head_addr, false)?,
        spawn_worker("gpu-1", &head_addr, true)?,
    ];
    let host: ActorRef<NodeHostMessage> = ractor::registry::where_is(
        Namespace::new("reporunner.head").agent(&AgentId::new("node-host")),
    )
    .context("the head's NodeHost is not running")?
    .into();
    let (members, _) = wait(&host, "three nodes", |m, _| m.len() == 3).await?;
    println!("three nodes:");
    show(&members);

    let needs = AgentNeeds {
        gpu: true,
        ..AgentNeeds::default()
    };
    let request = PlaceRequest {
        spawn: SpawnAgentRequest {
            kind: "env-detector".into(),
            name: AgentId::new("inference"),
            config: String::new(),
        },
        needs,
        tier: Tier::Premium,
    };
    let mut free = request.clone();
    free.tier = Tier::Free;
    free.spawn.name = AgentId::new("free-inference");
    let refused = ractor::call_t!(host, NodeHostMessage::Place, 30_000, Wire::new(free))?.open()?;
    println!(
        "a Free-tier user asking for a GPU agent: {}",
        refused.err().map(|e| e.to_string()).unwrap_or_default()
    );
    let info =
        ractor::call_t!(host, NodeHostMessage::Place, 30_000, Wire::new(request))?.open()??;
    println!("the agent `inference` needs a GPU: placed on {}", info.node);

    println!("killing gpu-1 (SIGKILL)");
    workers[1].kill()?;
    workers[1].wait()?;
    let (members, placements) = wait(&host, "gpu-1 down", |m, p| {
        m.iter()
            .any(|m| m.info.node.as_str() == "gpu-1" && m.state == NodeState::Down)
            && placed_on(p, "inference").is_none()
    })
    .await?;
    show(&members);
    let reason = placements
        .iter()
        .find(|p| p.request.spawn.name.as_str() == "inference")
        .and_then(|p| p.reason.clone())
        .unwrap_or_default();
    println!("`inference` is unplaced: {reason}");

    println!("gpu-2 joins");
    workers.push(spawn_worker("gpu-2", &head_addr, true)?);
    let (members, _) = wait(&host, "inference on gpu-2", |m, p| {
        placed_on(p, "inference").as_deref() == Some("gpu-2")
            && m.iter().any(|m| {
                m.info.node.as_str() == "gpu-2"
                    && m.info.running.iter().any(|a| a.as_str() == "inference")
            })
    })
    .await?;
    show(&members);
    println!("`inference` placed again on gpu-2");

    for mut w in workers {
        drop(w.stdin.take());
        let _ = w.wait();
    }
    handle.stop().await;
    node.shutdown().await?;
    Ok(())
}
