//! The Admin checkpoints its tree, and a node that restarts on the same data directory
//! rebuilds it.

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster_derive::RactorMessage;
use reporunner::boot::{Node, NodeConfig};
use reporunner_protocols::admin::{ActorStatus, AdminTreeCheckpoint};
use reporunner_protocols::ids::AgentId;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_runtime::kinds::AgentKind;
use reporunner_runtime::naming::{Namespace, lookup};
use reporunner_runtime::store::{SledStore, Store, StoreExt, Tree};
use std::path::{Path, PathBuf};

struct Echo;

#[derive(RactorMessage)]
enum EchoMessage {
    Say(RpcReplyPort<String>),
}

impl Actor for Echo {
    type Msg = EchoMessage;
    type State = String;
    type Arguments = String;
    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        w: String,
    ) -> Result<String, ActorProcessingErr> {
        Ok(w)
    }
    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: EchoMessage,
        word: &mut String,
    ) -> Result<(), ActorProcessingErr> {
        let EchoMessage::Say(reply) = msg;
        let _ = reply.send(word.clone());
        Ok(())
    }
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
struct EchoConfig {
    word: String,
}

fn echo_kind() -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: "echo".into(),
            description: "echoes its word".into(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |_, c: EchoConfig| (Echo, c.word),
    )
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("reporunner-persist-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn config(ns: &str, dir: &Path) -> NodeConfig {
    NodeConfig {
        namespace: Namespace::new(ns),
        data_dir: Some(dir.to_path_buf()),
        ..NodeConfig::default()
    }
}

async fn say(ns: &Namespace, name: &str) -> Option<String> {
    let echo = lookup::<EchoMessage>(&ns.agent(&AgentId::new(name)))?;
    ractor::call!(echo, EchoMessage::Say).ok()
}

#[tokio::test]
async fn a_restarted_node_rebuilds_the_same_tree() -> anyhow::Result<()> {
    let dir = temp_dir("tree");
    let node = Node::start(config("persist-a", &dir)).await?;
    node.kinds().register(echo_kind())?;
    let admin = node.admin();
    admin
        .spawn_agent("echo", AgentId::new("one"), r#"{"word":"uno"}"#)
        .await?;
    admin
        .spawn_agent("echo", AgentId::new("two"), r#"{"word":"dos"}"#)
        .await?;
    admin
        .spawn_agent("env-detector", AgentId::new("env"), "")
        .await?;
    admin.restart_agent(AgentId::new("one")).await?;
    admin.stop_agent(AgentId::new("two")).await?;
    let before: Vec<(String, String)> = admin.tree().await?.children[0]
        .children
        .iter()
        .map(|c| (c.name.clone(), c.kind.clone()))
        .collect();
    node.shutdown().await?;

    // The same data directory, a fresh node: the same agents come back, configured.
    let node = Node::start(NodeConfig {
        kinds: {
            let k = NodeConfig::default().kinds;
            k.register(echo_kind())?;
            k
        },
        ..config("persist-a", &dir)
    })
    .await?;
    let tree = node.admin().tree().await?;
    let after: Vec<(String, String)> = tree.children[0]
        .children
        .iter()
        .map(|c| (c.name.clone(), c.kind.clone()))
        .collect();
    assert_eq!(after, before);
    assert_eq!(say(node.namespace(), "one").await.as_deref(), Some("uno"));
    assert_eq!(say(node.namespace(), "two").await, None);
    node.shutdown().await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test]
async fn an_agent_whose_kind_is_missing_waits_in_the_checkpoint() -> anyhow::Result<()> {
    let dir = temp_dir("pending");
    let node = Node::start(config("persist-b", &dir)).await?;
    node.kinds().register(echo_kind())?;
    node.admin()
        .spawn_agent("echo", AgentId::new("later"), r#"{"word":"hola"}"#)
        .await?;
    node.shutdown().await?;

    // Restarted without the kind: the agent shows stopped, and stays in the checkpoint.
    let node = Node::start(config("persist-b", &dir)).await?;
    let tree = node.admin().tree().await?;
    let later = tree.find("persist-b.agent.later").expect("listed");
    assert_eq!(later.status, ActorStatus::Stopped);
    node.shutdown().await?;

    // With the kind registered before the start, it comes back.
    let kinds = NodeConfig::default().kinds;
    kinds.register(echo_kind())?;
    let node = Node::start(NodeConfig {
        kinds,
        ..config("persist-b", &dir)
    })
    .await?;
    assert_eq!(
        say(node.namespace(), "later").await.as_deref(),
        Some("hola")
    );
    node.shutdown().await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test]
async fn an_unreadable_checkpoint_stops_the_start_with_a_clear_error() -> anyhow::Result<()> {
    let dir = temp_dir("corrupt");
    {
        let store = SledStore::open(&dir)?;
        store.insert(Tree::Checkpoints, b"admin_tree", b"\x00\x01 not a record")?;
        store.flush_blocking()?;
    }
    let err = Node::start(config("persist-c", &dir)).await.unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("cannot restore the tree") && text.contains("admin_tree"),
        "{text}"
    );

    // A checkpoint from a newer version is refused, not read as empty.
    {
        let store = SledStore::open(&dir)?;
        #[derive(serde::Serialize)]
        struct Env<'a> {
            kind: &'a str,
            v: u16,
            data: AdminTreeCheckpoint,
        }
        let bytes = rmp_serde::to_vec_named(&Env {
            kind: "admin_tree",
            v: 99,
            data: AdminTreeCheckpoint::default(),
        })?;
        store.insert(Tree::Checkpoints, b"admin_tree", &bytes)?;
        store.flush_blocking()?;
        assert!(
            store
                .get_record::<AdminTreeCheckpoint>(Tree::Checkpoints, "admin_tree")
                .is_err()
        );
    }
    let err = Node::start(config("persist-c", &dir)).await.unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("schema version 99"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
