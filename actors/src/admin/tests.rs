use super::*;
use crate::agents::register_builtin_kinds;
use ractor::RpcReplyPort;
use ractor_cluster_derive::RactorMessage;
use reporunner_protocols::WireError;
use reporunner_protocols::admin::AdminClient;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_protocols::ports::PortManagerMessage;
use reporunner_runtime::kinds::AgentKind;
use reporunner_runtime::naming::lookup;
use reporunner_runtime::testsuite::wait_until;
use serde::Deserialize;
use std::sync::atomic::{AtomicU32, Ordering};

const WAIT: Duration = Duration::from_secs(5);

/// A custom agent kind, as an embedder would register it.
struct Greeter;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GreeterConfig {
    greeting: Option<String>,
}

#[derive(RactorMessage)]
enum GreeterMessage {
    Greet(String, RpcReplyPort<String>),
    Panic,
}

impl Actor for Greeter {
    type Msg = GreeterMessage;
    type State = String;
    type Arguments = String;
    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        greeting: String,
    ) -> Result<String, ActorProcessingErr> {
        Ok(greeting)
    }
    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: GreeterMessage,
        greeting: &mut String,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            GreeterMessage::Greet(who, reply) => {
                let _ = reply.send(format!("{greeting}, {who}"));
            }
            GreeterMessage::Panic => panic!("greeter told to panic"),
        }
        Ok(())
    }
}

fn greeter_kind() -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: "greeter".into(),
            description: "greets".into(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |_ctx, c: GreeterConfig| (Greeter, c.greeting.unwrap_or_else(|| "hello".into())),
    )
}

static NS: AtomicU32 = AtomicU32::new(0);

struct Rig {
    ns: Namespace,
    client: AdminClient,
    handle: tokio::task::JoinHandle<()>,
}

impl Rig {
    async fn start() -> Self {
        reporunner_runtime::panics::install_quiet_hook();
        let ns = Namespace::new(format!("admin-test-{}", NS.fetch_add(1, Ordering::SeqCst)));
        let kinds = KindRegistry::new();
        register_builtin_kinds(&kinds).unwrap();
        kinds.register(greeter_kind()).unwrap();
        let args = AdminArguments {
            node: NodeId::new("test-node"),
            namespace: ns.clone(),
            kinds,
            ..AdminArguments::default()
        };
        let (admin, handle) = Actor::spawn(Some(ns.admin()), Admin, args).await.unwrap();
        Self {
            ns,
            client: AdminClient::new(admin),
            handle,
        }
    }

    fn greeter(&self, name: &str) -> Option<ActorRef<GreeterMessage>> {
        lookup(&self.ns.agent(&AgentId::new(name)))
    }

    async fn stop(self) {
        self.client.actor().stop(None);
        self.handle.await.unwrap();
    }
}

#[tokio::test]
async fn spawns_a_registered_kind_at_runtime_and_finds_it_by_name() {
    let rig = Rig::start().await;
    let info = rig
        .client
        .spawn_agent("greeter", AgentId::new("g1"), r#"{"greeting":"hi"}"#)
        .await
        .unwrap();
    assert_eq!(info.kind, "greeter");
    assert_eq!(info.node, NodeId::new("test-node"));
    let g = rig.greeter("g1").unwrap();
    assert_eq!(g.get_id().to_string(), info.actor_id);
    assert_eq!(
        ractor::call!(g, GreeterMessage::Greet, "ann".to_string()).unwrap(),
        "hi, ann"
    );
    // Agents join the namespace's group, which is how other nodes will find them.
    let members = ractor::pg::get_members(&rig.ns.agents_group());
    assert!(members.iter().any(|m| m.get_id() == g.get_id()));
    rig.stop().await;
}

#[tokio::test]
async fn refuses_bad_requests_with_typed_errors() {
    let rig = Rig::start().await;
    let err = rig
        .client
        .spawn_agent("nope", AgentId::new("x"), "")
        .await
        .unwrap_err();
    match err {
        AdminError::UnknownKind { kind, known } => {
            assert_eq!(kind, "nope");
            assert!(
                known.contains(&"greeter".to_string())
                    && known.contains(&"env-detector".to_string())
            );
        }
        other => panic!("{other}"),
    }
    assert!(matches!(
        rig.client
            .spawn_agent("greeter", AgentId::new("a/b"), "")
            .await,
        Err(AdminError::InvalidName { .. })
    ));
    let err = rig
        .client
        .spawn_agent("greeter", AgentId::new("g"), r#"{"greting":"typo"}"#)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdminError::InvalidConfig { reason, .. } if reason.contains("greting")),
        "{err}"
    );
    rig.client
        .spawn_agent("greeter", AgentId::new("g"), "")
        .await
        .unwrap();
    assert_eq!(
        rig.client
            .spawn_agent("greeter", AgentId::new("g"), "")
            .await
            .unwrap_err(),
        AdminError::NameTaken { name: "g".into() }
    );
    assert_eq!(
        rig.client
            .stop_agent(AgentId::new("ghost"))
            .await
            .unwrap_err(),
        AdminError::NotFound {
            name: "ghost".into()
        }
    );
    // A malformed payload, as a bad peer would send it, gets an error reply, not silence.
    let malformed = Wire::Malformed(WireError::BadMagic { found: [0, 0] });
    let reply = ractor::call!(rig.client.actor(), AdminMessage::SpawnAgent, malformed)
        .unwrap()
        .open()
        .unwrap();
    assert!(matches!(
        reply,
        Err(AdminError::Wire(WireError::BadMagic { .. }))
    ));
    rig.stop().await;
}

#[tokio::test]
async fn a_panicking_agent_comes_back_under_the_same_name() {
    let rig = Rig::start().await;
    rig.client
        .spawn_agent("greeter", AgentId::new("crashy"), "")
        .await
        .unwrap();
    let old = rig.greeter("crashy").unwrap();
    old.cast(GreeterMessage::Panic).unwrap();
    wait_until(WAIT, "crashy to come back", || async {
        rig.greeter("crashy")
            .is_some_and(|g| g.get_id() != old.get_id())
    })
    .await
    .unwrap();
    let new = rig.greeter("crashy").unwrap();
    assert_eq!(
        ractor::call!(new, GreeterMessage::Greet, "bob".to_string()).unwrap(),
        "hello, bob"
    );
    let tree = rig.client.tree().await.unwrap();
    let node = tree.find(&rig.ns.agent(&AgentId::new("crashy"))).unwrap();
    assert_eq!((node.restarts, node.status), (1, ActorStatus::Running));
    rig.stop().await;
}

#[tokio::test]
async fn stop_and_restart_agents() {
    let rig = Rig::start().await;
    rig.client
        .spawn_agent("greeter", AgentId::new("s"), "")
        .await
        .unwrap();
    let first = rig.greeter("s").unwrap().get_id();
    let info = rig.client.restart_agent(AgentId::new("s")).await.unwrap();
    assert_eq!(info.kind, "greeter");
    let second = rig.greeter("s").unwrap().get_id();
    assert_ne!(first, second);
    assert_eq!(info.actor_id, second.to_string());

    rig.client.stop_agent(AgentId::new("s")).await.unwrap();
    assert!(rig.greeter("s").is_none());
    let tree = rig.client.tree().await.unwrap();
    assert!(tree.find(&rig.ns.agent(&AgentId::new("s"))).is_none());
    // A stopped agent's name can be used again.
    rig.client
        .spawn_agent("greeter", AgentId::new("s"), "")
        .await
        .unwrap();
    rig.stop().await;
}

#[tokio::test]
async fn the_tree_matches_what_is_running() {
    let rig = Rig::start().await;
    for n in ["t1", "t2", "t3"] {
        rig.client
            .spawn_agent("greeter", AgentId::new(n), "")
            .await
            .unwrap();
    }
    rig.client.stop_agent(AgentId::new("t2")).await.unwrap();
    let tree = rig.client.tree().await.unwrap();
    assert_eq!(tree.name, rig.ns.admin());
    assert_eq!(tree.kind, "admin");
    let kinds: Vec<&str> = tree.children.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "agent-supervisor",
            "port-manager",
            "orchestrator-manager",
            "model-manager",
            "user-manager"
        ]
    );

    // Every actor the tree lists as running is registered under its name and alive; the
    // agent supervisor's real ractor children are exactly the agents listed.
    for (_, node) in tree.flatten() {
        assert_eq!(node.status, ActorStatus::Running);
        let cell =
            ractor::registry::where_is(node.name.clone()).expect("listed actor is registered");
        assert_eq!(cell.get_status(), ractor::ActorStatus::Running);
    }
    let agents = &tree.children[0];
    let listed: Vec<String> = agents.children.iter().map(|c| c.name.clone()).collect();
    assert_eq!(
        listed,
        vec![
            rig.ns.agent(&AgentId::new("t1")),
            rig.ns.agent(&AgentId::new("t3"))
        ]
    );
    let sup_cell = ractor::registry::where_is(agents.name.clone()).unwrap();
    let mut real: Vec<String> = sup_cell
        .get_children()
        .into_iter()
        .filter_map(|c| c.get_name())
        .collect();
    real.sort();
    assert_eq!(real, listed);
    rig.stop().await;
}

#[tokio::test]
async fn the_port_manager_is_restarted_and_found_by_name() {
    let rig = Rig::start().await;
    let name = rig.ns.port_manager();
    let old = lookup::<PortManagerMessage>(&name).unwrap();
    // Kill it from outside: a permanent child comes back whatever the reason.
    old.kill();
    wait_until(WAIT, "port manager to come back", || async {
        lookup::<PortManagerMessage>(&name).is_some_and(|p| p.get_id() != old.get_id())
    })
    .await
    .unwrap();
    let pm = lookup::<PortManagerMessage>(&name).unwrap();
    let leases = ractor::call!(pm, PortManagerMessage::GetLeases)
        .unwrap()
        .open()
        .unwrap();
    assert!(leases.is_empty());
    let tree = rig.client.tree().await.unwrap();
    assert_eq!(tree.find(&name).unwrap().restarts, 1);
    rig.stop().await;
}

#[tokio::test]
async fn stopping_the_admin_stops_everything_in_reverse_order() {
    let rig = Rig::start().await;
    rig.client
        .spawn_agent("greeter", AgentId::new("last"), "")
        .await
        .unwrap();
    let names = [
        rig.ns.agent(&AgentId::new("last")),
        rig.ns.agent_supervisor(),
        rig.ns.port_manager(),
        rig.ns.admin(),
    ];
    rig.stop().await;
    for n in names {
        assert!(
            ractor::registry::where_is(n.clone()).is_none(),
            "{n} still registered"
        );
    }
}

#[tokio::test]
async fn the_env_detector_kind_answers_with_a_host_profile() {
    let rig = Rig::start().await;
    rig.client
        .spawn_agent(
            "env-detector",
            AgentId::new("env"),
            r#"{"command_timeout_ms":5000}"#,
        )
        .await
        .unwrap();
    let env: ActorRef<crate::agents::env_detector::EnvDetectorMessage> =
        lookup(&rig.ns.agent(&AgentId::new("env"))).unwrap();
    let profile = ractor::call!(
        env,
        crate::agents::env_detector::EnvDetectorMessage::GetHostProfile,
        Wire::new(false)
    )
    .unwrap()
    .open()
    .unwrap();
    assert!(profile.cpu.logical >= 1);
    assert!(profile.memory.total_bytes > 0);
    assert_eq!(profile.arch, std::env::consts::ARCH);
    rig.stop().await;
}
