//! The ModelManager under a real Admin: it serves all-MiniLM-L6-v2 and SmolLM2 from the
//! packages `scripts/models.sh` installs, runs the generator on this node's CPU for a tier
//! without GPU access, and with no model installed falls back to the hashing embedder and
//! to rules, saying why.

use ractor::{Actor, ActorRef};
use reporunner_actors::admin::{Admin, AdminArguments, AdminMessage};
use reporunner_actors::managers::model_manager::{GeneratorRequest, ModelManagerMessage};
use reporunner_protocols::access::Tier;
use reporunner_protocols::ids::NodeId;
use reporunner_runtime::models::Backend;
use reporunner_runtime::models::generate::GenerateRequest;
use reporunner_runtime::models::locate::LocateConfig;
use reporunner_runtime::naming::{Namespace, lookup};
use reporunner_runtime::testsuite::installed_models;

async fn admin(ns: &str, models: LocateConfig) -> (Namespace, ActorRef<AdminMessage>) {
    let namespace = Namespace::new(ns);
    let (admin, _) = Actor::spawn(
        Some(namespace.admin()),
        Admin,
        AdminArguments {
            node: NodeId::new("local"),
            namespace: namespace.clone(),
            models,
            ..AdminArguments::default()
        },
    )
    .await
    .unwrap();
    (namespace, admin)
}

#[tokio::test]
async fn the_model_manager_serves_the_installed_models() {
    let (ns, admin) = admin("mm-installed", installed_models()).await;
    let mm = lookup::<ModelManagerMessage>(&ns.model_manager()).expect("the model manager runs");
    let e = ractor::call_t!(mm, ModelManagerMessage::GetEmbedder, 60_000).unwrap();
    assert_eq!(e.fallback, None);
    assert_eq!(e.embedder.info().name, "all-MiniLM-L6-v2");
    let g = ractor::call_t!(
        mm,
        ModelManagerMessage::GetGenerator,
        120_000,
        GeneratorRequest::default_model(Tier::Free)
    )
    .unwrap();
    assert_eq!(g.choice.backend, Backend::Cpu);
    assert_eq!(g.choice.node, Some(NodeId::new("local")));
    let generator = g.generator.expect("loaded here");
    let out = generator
        .generate(&GenerateRequest::user("Say hi.", 3))
        .unwrap();
    assert!(!out.tokens.is_empty());
    admin.stop(None);
}

#[tokio::test]
async fn with_no_models_it_falls_back_and_says_why() {
    let none = LocateConfig {
        minilm_dir: Some("/nonexistent".into()),
        ..LocateConfig::default()
    };
    let (ns, admin) = admin("mm-none", none).await;
    let mm = lookup::<ModelManagerMessage>(&ns.model_manager()).unwrap();
    let e = ractor::call_t!(mm, ModelManagerMessage::GetEmbedder, 60_000).unwrap();
    assert_eq!(e.embedder.info().backend, Backend::Rules);
    assert!(e.fallback.unwrap().contains("/nonexistent"));
    let g = ractor::call_t!(
        mm,
        ModelManagerMessage::GetGenerator,
        60_000,
        GeneratorRequest::default_model(Tier::Developer)
    )
    .unwrap();
    assert!(g.generator.is_none());
    assert_eq!(g.choice.backend, Backend::Rules);
    assert_eq!(
        g.choice.passed_over,
        vec!["no node serves SmolLM2-135M-Instruct"]
    );
    admin.stop(None);
}
