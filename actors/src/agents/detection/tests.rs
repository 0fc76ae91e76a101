use super::*;
use crate::admin::{Admin, AdminArguments};
use reporunner_protocols::admin::AdminClient;
use std::sync::atomic::{AtomicU32, Ordering};

static NS: AtomicU32 = AtomicU32::new(0);

async fn start(agents: &[&str]) -> (AdminClient, Namespace, tokio::task::JoinHandle<()>) {
    let ns = Namespace::new(format!("detect-test-{}", NS.fetch_add(1, Ordering::SeqCst)));
    let (admin, handle) = Actor::spawn(
        Some(ns.admin()),
        Admin,
        AdminArguments {
            namespace: ns.clone(),
            ..AdminArguments::default()
        },
    )
    .await
    .unwrap();
    let client = AdminClient::new(admin);
    for kind in agents {
        client
            .spawn_agent(kind, AgentId::new(*kind), "")
            .await
            .unwrap();
    }
    (client, ns, handle)
}

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/repos")
        .join(name)
        .display()
        .to_string()
}

async fn ask(ns: &Namespace, path: &str) -> Result<ProjectProfile, AnalyzeError> {
    let d = lookup::<DetectionMessage>(&ns.agent(&AgentId::new("detection"))).unwrap();
    ractor::call!(
        d,
        DetectionMessage::Analyze,
        Wire::new(AnalyzeRequest {
            path: path.into(),
            model: None,
            tier: reporunner_protocols::access::Tier::Developer,
        })
    )
    .unwrap()
    .open()
    .unwrap()
}

#[tokio::test]
async fn the_four_agents_give_the_same_profile_as_one_pass() {
    let (admin, ns, handle) = start(&["requirements", "config", "database", "detection"]).await;
    for name in [
        "env-example-secrets",
        "compose-postgres",
        "monorepo-api-web",
        "py-django-sqlite",
    ] {
        let path = fixture(name);
        let mut by_agents = ask(&ns, &path).await.unwrap();
        let mut whole = crate::analysis::analyze(std::path::Path::new(&path)).unwrap();
        by_agents.analyze_ms = 0;
        whole.analyze_ms = 0;
        for p in [&mut by_agents, &mut whole] {
            for c in &mut p.components {
                c.conflicts
                    .sort_by(|a, b| (&a.topic, &a.chosen).cmp(&(&b.topic, &b.chosen)));
            }
        }
        assert_eq!(by_agents, whole, "{name}");
    }
    admin.actor().stop(None);
    handle.await.unwrap();
}

#[tokio::test]
async fn a_missing_agent_costs_its_part_and_is_named() {
    let (admin, ns, handle) = start(&["requirements", "detection"]).await;
    let p = ask(&ns, &fixture("env-example-secrets")).await.unwrap();
    let c = p.component(".").unwrap();
    // Detection's and Requirements' parts are there; Config's and Database's are not.
    assert_eq!(c.port.as_ref().map(|f| f.value), Some(8080));
    assert!(c.package_manager.is_some());
    assert!(c.env_vars.is_empty() && c.databases.is_empty());
    for agent in ["config", "database"] {
        assert!(
            p.warnings.iter().any(|w| w
                .message
                .contains(&format!("the {agent} agent is not running"))),
            "{:#?}",
            p.warnings
        );
    }
    admin.actor().stop(None);
    handle.await.unwrap();
}

#[tokio::test]
async fn a_path_that_is_not_a_folder_is_a_typed_error() {
    let (admin, ns, handle) = start(&["detection"]).await;
    let err = ask(&ns, "/no/such/repository").await.unwrap_err();
    assert!(matches!(err, AnalyzeError::NotAFolder { .. }), "{err}");
    admin.actor().stop(None);
    handle.await.unwrap();
}
