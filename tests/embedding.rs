//! Embedding the runtime through the public API only: start a node, register a kind at
//! runtime, spawn it, message it, make it panic, and find it again by name.

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster_derive::RactorMessage;
use reporunner::boot::{Node, NodeConfig};
use reporunner_protocols::admin::{ActorStatus, AdminError};
use reporunner_protocols::ids::AgentId;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_runtime::kinds::AgentKind;
use reporunner_runtime::naming::{Namespace, lookup};
use reporunner_runtime::testsuite::wait_until;
use std::time::Duration;

struct Counter;

#[derive(RactorMessage)]
enum CounterMessage {
    Add(u64),
    Get(RpcReplyPort<u64>),
    Crash,
}

impl Actor for Counter {
    type Msg = CounterMessage;
    type State = u64;
    type Arguments = u64;
    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        start: u64,
    ) -> Result<u64, ActorProcessingErr> {
        Ok(start)
    }
    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: CounterMessage,
        n: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            CounterMessage::Add(k) => *n += k,
            CounterMessage::Get(reply) => {
                let _ = reply.send(*n);
            }
            CounterMessage::Crash => panic!("counter crashed on purpose"),
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
struct CounterConfig {
    start: u64,
}

fn counter_kind() -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: "counter".into(),
            description: "counts".into(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |_, c: CounterConfig| (Counter, c.start),
    )
}

fn config(ns: &str) -> NodeConfig {
    NodeConfig {
        namespace: Namespace::new(ns),
        ..NodeConfig::default()
    }
}

#[tokio::test]
async fn an_embedder_registers_a_kind_at_runtime_and_it_survives_a_panic() -> anyhow::Result<()> {
    let node = Node::start(config("embed-a")).await?;
    let admin = node.admin();
    // Not registered yet: refused with the list of kinds.
    assert!(matches!(
        admin.spawn_agent("counter", AgentId::new("c"), "").await,
        Err(AdminError::UnknownKind { .. })
    ));
    node.kinds().register(counter_kind())?;
    assert!(admin.kinds().await?.iter().any(|k| k.name == "counter"));
    admin
        .spawn_agent("counter", AgentId::new("c"), r#"{"start":40}"#)
        .await?;

    let name = node.namespace().agent(&AgentId::new("c"));
    let counter = lookup::<CounterMessage>(&name).expect("registered by name");
    counter.cast(CounterMessage::Add(2))?;
    assert_eq!(ractor::call!(counter, CounterMessage::Get)?, 42);

    counter.cast(CounterMessage::Crash)?;
    wait_until(
        Duration::from_secs(5),
        "the counter to come back",
        || async {
            lookup::<CounterMessage>(&name).is_some_and(|c| c.get_id() != counter.get_id())
        },
    )
    .await
    .map_err(anyhow::Error::msg)?;
    // The new incarnation starts from the spec's config: state in memory was lost.
    let counter = lookup::<CounterMessage>(&name).unwrap();
    assert_eq!(ractor::call!(counter, CounterMessage::Get)?, 40);

    let tree = admin.tree().await?;
    let c = tree.find(&name).unwrap();
    assert_eq!(
        (c.kind.as_str(), c.restarts, c.status),
        ("counter", 1, ActorStatus::Running)
    );
    node.shutdown().await?;
    assert!(lookup::<CounterMessage>(&name).is_none());
    Ok(())
}

#[tokio::test]
async fn two_runtimes_share_a_process_through_namespaces() -> anyhow::Result<()> {
    let a = Node::start(config("embed-b1")).await?;
    let b = Node::start(config("embed-b2")).await?;
    for node in [&a, &b] {
        node.kinds().register(counter_kind())?;
        node.admin()
            .spawn_agent("counter", AgentId::new("same-name"), "")
            .await?;
    }
    let in_a = lookup::<CounterMessage>(&a.namespace().agent(&AgentId::new("same-name"))).unwrap();
    let in_b = lookup::<CounterMessage>(&b.namespace().agent(&AgentId::new("same-name"))).unwrap();
    assert_ne!(in_a.get_id(), in_b.get_id());

    // A third node with a namespace already in use is refused with a clear error.
    let err = Node::start(config("embed-b1")).await.unwrap_err();
    assert!(format!("{err:#}").contains("already registered"), "{err:#}");

    a.shutdown().await?;
    b.shutdown().await?;
    Ok(())
}
