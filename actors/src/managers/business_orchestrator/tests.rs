use super::*;
use crate::admin::{Admin, AdminArguments};
use crate::users::Principal;
use reporunner_protocols::admin::{AdminClient, AdminError};
use reporunner_protocols::host::IndexerKind;
use reporunner_runtime::store::SledStore;
use std::sync::atomic::{AtomicU32, Ordering};

static N: AtomicU32 = AtomicU32::new(0);

struct Rig {
    dir: PathBuf,
    ns: Namespace,
}

impl Rig {
    fn new(tag: &str) -> Rig {
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("rr-biz-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for client in ["acme", "globex"] {
            let repo = dir.join("repos").join(client);
            std::fs::create_dir_all(&repo).unwrap();
            std::fs::write(
                repo.join("index.html"),
                format!("<html><body><h1>{client}'s site</h1></body></html>\n"),
            )
            .unwrap();
        }
        Rig {
            ns: Namespace::new(format!("biz-{tag}-{n}")),
            dir,
        }
    }

    /// An Admin on the rig's data directory, with the repository workflow registered.
    async fn admin(&self) -> (AdminClient, tokio::task::JoinHandle<()>) {
        let mut opened = SledStore::open(&self.dir.join("data"));
        for _ in 0..100 {
            if opened.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            opened = SledStore::open(&self.dir.join("data"));
        }
        let store: Arc<dyn Store> = Arc::new(opened.unwrap());
        let workflows = WorkflowRegistry::new();
        workflows.register(crate::repo_run::workflow(
            self.ns.clone(),
            self.dir.join("data"),
        ));
        let (admin, handle) = Actor::spawn(
            Some(self.ns.admin()),
            Admin,
            AdminArguments {
                namespace: self.ns.clone(),
                store: Some(store),
                workflows,
                ..AdminArguments::default()
            },
        )
        .await
        .unwrap();
        (AdminClient::new(admin), handle)
    }

    fn spec(&self, name: &str) -> ClientSpec {
        ClientSpec {
            name: name.into(),
            settings: ClientSettings::new(self.dir.join("repos").join(name).display().to_string()),
        }
    }

    fn contact(&self, client: &str) -> ActorRef<BusinessMessage> {
        lookup(&self.ns.business(client)).expect("the client's orchestrator runs")
    }
}

async fn context(orchestrator: &ActorRef<BusinessMessage>) -> ClientContext {
    ractor::call_t!(orchestrator, BusinessMessage::Contact, 5_000).unwrap()
}

async fn stop(admin: AdminClient, handle: tokio::task::JoinHandle<()>) {
    admin.actor().stop(None);
    handle.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_are_created_at_runtime_kept_apart_and_brought_back_by_a_restarted_admin() {
    let rig = Rig::new("life");
    let (admin, handle) = rig.admin().await;
    let mut acme = rig.spec("acme");
    acme.settings.tiers = vec![Tier::Admin, Tier::Free];
    acme.settings.indexer = Some(IndexerKind::Simple);
    acme.settings.phases = vec!["environment".into(), "analysis".into(), "index".into()];
    acme.settings.max_concurrent_runs = Some(1);
    let info = admin.create_client(acme).await.unwrap();
    assert_eq!(info.name, "acme");
    assert_eq!(info.settings.tiers, vec![Tier::Free, Tier::Admin]);
    assert_eq!(info.settings.phases, ["environment", "analysis", "index"]);
    assert!(info.running);
    let globex = admin.create_client(rig.spec("globex")).await.unwrap();
    // Every phase, written out, when none are named.
    assert_eq!(globex.settings.phases, crate::repo_run::PHASES);
    // A second client of the same name is refused.
    assert!(matches!(
        admin.create_client(rig.spec("acme")).await,
        Err(AdminError::ClientExists { .. })
    ));
    let tree = admin.tree().await.unwrap();
    let node = tree.find(&rig.ns.business("acme")).expect("in the tree");
    assert_eq!(node.kind, KIND);

    // Each client's users are its own.
    let a = context(&rig.contact("acme")).await;
    let g = context(&rig.contact("globex")).await;
    let owner = Principal::local();
    a.users
        .add(&owner, "ana", Tier::Admin, "a long password")
        .await
        .unwrap();
    g.users
        .add(&owner, "gus", Tier::Premium, "a long password")
        .await
        .unwrap();
    // A tier acme does not allow.
    assert!(
        a.users
            .add(&owner, "pat", Tier::Premium, "a long password")
            .await
            .is_err()
    );
    let ana = a.users.login("ana", "a long password").await.unwrap();
    assert!(ana.token.starts_with("rr_acme."), "{}", ana.token);
    assert!(g.users.authenticate(&ana.token).await.is_err());
    assert_eq!(a.users.list(&owner).await.unwrap().len(), 1);
    assert_eq!(g.users.list(&owner).await.unwrap()[0].name, "gus");

    // A run of acme's short workflow, through its orchestrator, finds its own store.
    let mut input = RepoRunInput::new(a.repo_root.display().to_string());
    input.user = Some("ana".into());
    let run = ractor::call_t!(
        rig.contact("acme"),
        BusinessMessage::StartRun,
        10_000,
        Box::new(input.clone())
    )
    .unwrap()
    .unwrap();
    // Its limit at once is one run.
    let busy = ractor::call_t!(
        rig.contact("acme"),
        BusinessMessage::StartRun,
        10_000,
        Box::new(input.clone())
    )
    .unwrap();
    let record = RunBook::new(a.store.clone()).load(&run).unwrap();
    if record
        .as_ref()
        .is_some_and(|r| r.status == RunStatus::Running)
    {
        assert!(
            matches!(busy, Err(BusinessError::Busy { running: 1 })),
            "{busy:?}"
        );
    }
    assert!(RunBook::new(g.store.clone()).load(&run).unwrap().is_none());
    let stored: RepoRunInput =
        serde_json::from_str(&record.expect("in acme's store").input_json).unwrap();
    assert_eq!(stored.indexer, Some(IndexerKind::Simple));
    // Wait for it to end: it never goes past acme's phases.
    let book = RunBook::new(a.store.clone());
    reporunner_runtime::testsuite::wait_until(
        std::time::Duration::from_secs(120),
        "acme's run to end",
        || {
            let ended = book
                .load(&run)
                .ok()
                .flatten()
                .is_some_and(|r| r.status != RunStatus::Running);
            async move { ended }
        },
    )
    .await
    .unwrap();
    let done = book.load(&run).unwrap().unwrap();
    let phases: Vec<&str> = done.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(phases, ["environment", "analysis", "index"], "{done:?}");
    // The contexts hold the store: let it go, as the API does when it stops.
    drop((a, g, book));
    stop(admin, handle).await;

    // A restarted Admin on the same store brings both clients back, with their settings
    // and their users.
    let (admin, handle) = rig.admin().await;
    let clients = admin.clients().await.unwrap();
    let names: Vec<&str> = clients.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["acme", "globex"]);
    assert_eq!(
        clients[0].settings.phases,
        ["environment", "analysis", "index"]
    );
    assert!(clients.iter().all(|c| c.running));
    let a = context(&rig.contact("acme")).await;
    assert_eq!(a.users.authenticate(&ana.token).await.unwrap().name, "ana");
    assert!(RunBook::new(a.store.clone()).load(&run).unwrap().is_some());
    drop(a);

    // Removed: gone from the list and the tree, and not back after another restart.
    admin.remove_client("globex").await.unwrap();
    assert!(lookup::<BusinessMessage>(&rig.ns.business("globex")).is_none());
    assert!(matches!(
        admin.remove_client("globex").await,
        Err(AdminError::NoClient { .. })
    ));
    stop(admin, handle).await;
    let (admin, handle) = rig.admin().await;
    let names: Vec<String> = admin
        .clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["acme"]);
    stop(admin, handle).await;
    let _ = std::fs::remove_dir_all(&rig.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_a_client_cannot_hold_are_refused_in_words() {
    let rig = Rig::new("refuse");
    let (admin, handle) = rig.admin().await;
    let cases: Vec<(ClientSpec, &str)> = vec![
        (
            ClientSpec {
                name: "Bad_Name".into(),
                ..rig.spec("acme")
            },
            "not a client name",
        ),
        (
            ClientSpec {
                name: "acme".into(),
                settings: ClientSettings::new("/no/such/folder"),
            },
            "not a folder",
        ),
        (
            {
                let mut s = rig.spec("acme");
                s.settings.tiers = vec![Tier::Developer];
                s
            },
            "developer tier",
        ),
        (
            {
                let mut s = rig.spec("acme");
                s.settings.phases = vec!["environment".into(), "deploy".into()];
                s
            },
            "not a phase",
        ),
        (
            {
                let mut s = rig.spec("acme");
                s.settings.phases = vec!["analysis".into(), "environment".into()];
                s
            },
            "out of order",
        ),
        (
            {
                let mut s = rig.spec("acme");
                s.settings.phases = vec!["analysis".into(), "health".into()];
                s
            },
            "needs analysis, start",
        ),
        (
            {
                let mut s = rig.spec("acme");
                s.settings.max_concurrent_runs = Some(0);
                s
            },
            "at least 1",
        ),
    ];
    for (spec, words) in cases {
        match admin.create_client(spec.clone()).await {
            Err(AdminError::InvalidConfig { reason, .. }) => {
                assert!(reason.contains(words), "{spec:?}: {reason}")
            }
            other => panic!("{spec:?}: {other:?}"),
        }
    }
    assert!(admin.clients().await.unwrap().is_empty());
    stop(admin, handle).await;
    let _ = std::fs::remove_dir_all(&rig.dir);
}
