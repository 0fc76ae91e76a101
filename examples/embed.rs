//! Embedding the runtime: start it in-process, register a custom agent kind, spawn an agent
//! of that kind through the Admin, send it typed messages, make it panic, and watch it come
//! back under the same name.
//!
//! Run with: cargo run -p reporunner-examples --example embed

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster_derive::RactorMessage;
use reporunner::boot::{Node, NodeConfig};
use reporunner_protocols::ids::AgentId;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_runtime::kinds::AgentKind;
use reporunner_runtime::naming::lookup;
use std::time::{Duration, Instant};

/// A custom agent: it keeps a tally of words it has been sent.
struct Tally;

/// The Tally's typed messages.
#[derive(RactorMessage)]
enum TallyMessage {
    /// Counts the words of a sentence.
    Count(String),
    /// Returns the total so far.
    GetTotal(RpcReplyPort<u64>),
    /// Panics, to show the supervisor at work.
    Explode,
}

impl Actor for Tally {
    type Msg = TallyMessage;
    type State = u64;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Self::Msg>, _: ()) -> Result<u64, ActorProcessingErr> {
        Ok(0)
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: TallyMessage,
        total: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TallyMessage::Count(s) => *total += s.split_whitespace().count() as u64,
            TallyMessage::GetTotal(reply) => {
                let _ = reply.send(*total);
            }
            TallyMessage::Explode => panic!("the tally exploded on purpose"),
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
struct TallyConfig {}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let node = Node::start(NodeConfig::default()).await?;
    println!("node {} started", node.id());

    // Embedders register their own kinds, even while the runtime runs.
    node.kinds().register(AgentKind::with_config(
        AgentKindDescriptor {
            name: "tally".into(),
            description: "counts words".into(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |_, _: TallyConfig| (Tally, ()),
    ))?;

    let admin = node.admin();
    let info = admin
        .spawn_agent("tally", AgentId::new("words"), "{}")
        .await?;
    println!(
        "spawned {} ({}) as actor {}",
        info.name, info.kind, info.actor_id
    );

    // Address it by its logical name, never by a stored ref.
    let name = node.namespace().agent(&AgentId::new("words"));
    let tally = lookup::<TallyMessage>(&name).expect("registered");
    tally.cast(TallyMessage::Count("the quick brown fox".into()))?;
    println!("total: {}", ractor::call!(tally, TallyMessage::GetTotal)?);

    let crashed_at = Instant::now();
    tally.cast(TallyMessage::Explode)?;
    let restarted = loop {
        if let Some(t) = lookup::<TallyMessage>(&name)
            && t.get_id() != tally.get_id()
            && let Ok(total) = ractor::call!(t, TallyMessage::GetTotal)
        {
            break (t, total);
        }
        anyhow::ensure!(crashed_at.elapsed() < Duration::from_secs(5), "no restart");
        tokio::task::yield_now().await;
    };
    println!(
        "after the panic, {name} answers again as actor {} (total {}, restarted in {:?})",
        restarted.0.get_id(),
        restarted.1,
        crashed_at.elapsed()
    );

    println!("\nlive tree:");
    for (depth, actor) in admin.tree().await?.flatten() {
        println!(
            "{:indent$}{} [{}] {} restarts={}",
            "",
            actor.name,
            actor.kind,
            actor.status,
            actor.restarts,
            indent = depth * 2
        );
    }
    node.shutdown().await?;
    println!("\nstopped cleanly");
    Ok(())
}
