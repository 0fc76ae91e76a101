//! Context indexing end to end, under a real Admin with a real sled store: the File agent
//! streams the fixture shop (`tests/fixtures/index/shop`) into each indexer, each finds
//! the obvious file for a set of questions, a changed file is all that is re-indexed, the
//! Collection is reloaded (not rebuilt) by a new Admin on the same store, and a tier
//! above its rights is refused.

use ractor::{Actor, ActorRef};
use reporunner_actors::admin::{Admin, AdminArguments, AdminMessage};
use reporunner_actors::agents::context_indexer::{
    ContextIndexerMessage, IndexRequest, SearchAnswer, SearchRequest,
};
use reporunner_protocols::access::Tier;
use reporunner_protocols::admin::{AdminClient, AdminError};
use reporunner_protocols::ids::{AgentId, NodeId};
use reporunner_runtime::index::{Filter, IndexError, IndexKind, Query};
use reporunner_runtime::models::locate::LocateConfig;
use reporunner_runtime::naming::{Namespace, lookup};
use reporunner_runtime::store::SledStore;
use reporunner_runtime::store::Store;
use reporunner_runtime::testsuite::installed_models;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The questions, each with the file that answers it.
const QUESTIONS: &[(&str, &str)] = &[
    (
        "where is the database connection configured",
        "shop/settings.py",
    ),
    ("how is a customer's card charged", "shop/payments.py"),
    ("the shopping cart kept in the session", "shop/cart.py"),
    ("which tables store orders", "shop/models.py"),
    ("how do I deploy to production", "docs/deploy.md"),
];

/// A copy of the fixture shop, which the test may change.
fn shop(tag: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/index/shop");
    let dst = std::env::temp_dir().join(format!("rr-index-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dst);
    copy(&src, &dst);
    dst
}

fn copy(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

struct Node {
    ns: Namespace,
    admin: ActorRef<AdminMessage>,
}

async fn node(tag: &str, store: Option<Arc<dyn Store>>, models: LocateConfig) -> Node {
    let ns = Namespace::new(format!("index-{tag}"));
    let (admin, _) = Actor::spawn(
        Some(ns.admin()),
        Admin,
        AdminArguments {
            node: NodeId::new("local"),
            namespace: ns.clone(),
            store,
            models,
            ..AdminArguments::default()
        },
    )
    .await
    .unwrap();
    let client = AdminClient::new(admin.clone());
    for kind in ["file", "context-indexer"] {
        // A node on a store that kept its tree restores its agents itself.
        match client.spawn_agent(kind, AgentId::new(kind), "").await {
            Ok(_) | Err(AdminError::NameTaken { .. }) => {}
            Err(e) => panic!("spawning {kind}: {e}"),
        }
    }
    Node { ns, admin }
}

impl Node {
    fn indexer(&self) -> ActorRef<ContextIndexerMessage> {
        lookup(&self.ns.agent(&AgentId::new("context-indexer"))).unwrap()
    }

    async fn search(
        &self,
        root: &Path,
        kind: Option<IndexKind>,
        tier: Tier,
        query: Query,
    ) -> Result<SearchAnswer, IndexError> {
        let request = SearchRequest {
            index: IndexRequest {
                root: root.to_path_buf(),
                tier,
                kind,
            },
            query,
        };
        ractor::call_t!(
            self.indexer(),
            ContextIndexerMessage::Search,
            600_000,
            Box::new(request)
        )
        .unwrap()
    }

    async fn stop(self) {
        self.admin.stop_and_wait(None, None).await.unwrap();
    }
}

/// Each question's expected file is among the top three hits.
async fn answers_every_question(node: &Node, root: &Path, kind: IndexKind) -> SearchAnswer {
    let mut last = None;
    for (question, file) in QUESTIONS {
        let answer = node
            .search(root, Some(kind), Tier::Developer, Query::new(*question, 3))
            .await
            .unwrap();
        assert_eq!(answer.report.kind, kind.to_string());
        let paths: Vec<&str> = answer.hits.iter().map(|h| h.path.as_str()).collect();
        assert!(
            paths.contains(file),
            "{kind}: {question:?} should find {file}, found {paths:?}"
        );
        last = Some(answer);
    }
    last.unwrap()
}

#[tokio::test]
async fn the_simple_index_finds_the_obvious_file_and_reindexes_only_what_changed() {
    let root = shop("simple");
    let node = node("simple", None, LocateConfig::default()).await;
    let first = node
        .search(
            &root,
            None,
            Tier::Free,
            Query::new("database connection", 3),
        )
        .await
        .unwrap();
    assert_eq!(first.report.kind, "simple");
    assert_eq!(first.report.reasons, vec!["the free tier is always simple"]);
    // The PNG and the lockfile are skipped; the rest is indexed.
    assert_eq!(first.report.files_skipped, 2, "{:?}", first.report);
    assert_eq!(first.report.files_indexed, first.report.files_seen);
    assert_eq!(first.hits[0].path, "shop/settings.py");
    assert!(
        first.hits[0].snippet.contains("DATABASE_URL"),
        "{:?}",
        first.hits[0]
    );
    assert_eq!((first.hits[0].start_line, first.hits[0].end_line), (1, 14));

    let again = answers_every_question(&node, &root, IndexKind::Simple).await;
    assert_eq!(again.report.files_indexed, 0, "nothing changed");

    // One file changes, one goes: only they are touched.
    std::fs::write(
        root.join("shop/cart.py"),
        "\"\"\"The basket.\"\"\"\nBASKET_LIMIT = 40\n",
    )
    .unwrap();
    std::fs::remove_file(root.join("docs/deploy.md")).unwrap();
    let after = node
        .search(&root, None, Tier::Free, Query::new("basket limit", 3))
        .await
        .unwrap();
    assert_eq!(after.report.files_indexed, 1);
    assert_eq!(after.report.files_removed, 1);
    assert_eq!(after.hits[0].path, "shop/cart.py");
    let gone = node
        .search(&root, None, Tier::Free, Query::new("reverse proxy", 3))
        .await
        .unwrap();
    assert!(gone.hits.iter().all(|h| h.path != "docs/deploy.md"));
    node.stop().await;
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn the_vector_index_answers_questions_in_words_with_minilm() {
    let root = shop("vector");
    let node = node("vector", None, installed_models()).await;
    let answer = answers_every_question(&node, &root, IndexKind::Vector).await;
    assert_eq!(answer.report.embedder.as_deref(), Some("all-MiniLM-L6-v2"));
    // Tester is always vector; without a store, premium falls back to vector too.
    let tester = node
        .search(&root, None, Tier::Tester, Query::new("card payment", 3))
        .await
        .unwrap();
    assert_eq!(tester.report.kind, "vector");
    assert_eq!(tester.hits[0].path, "shop/payments.py");
    let premium = node
        .search(&root, None, Tier::Premium, Query::new("card payment", 3))
        .await
        .unwrap();
    assert_eq!(premium.report.kind, "vector");
    assert!(
        premium
            .report
            .reasons
            .iter()
            .any(|r| r.contains("no store")),
        "{:?}",
        premium.report.reasons
    );
    node.stop().await;
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn the_collection_filters_fuses_and_is_reloaded_by_a_new_node_without_rebuilding() {
    let root = shop("collection");
    let data = std::env::temp_dir().join(format!("rr-index-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&data).unwrap());
    let first = node("collection-1", Some(store.clone()), installed_models()).await;
    let built = answers_every_question(&first, &root, IndexKind::Collection).await;
    assert_eq!(built.report.reasons, vec!["collection was asked for"]);
    // Filters: by language, by path glob.
    let md = first
        .search(
            &root,
            None,
            Tier::Developer,
            Query {
                text: "database".into(),
                k: 5,
                filter: Filter {
                    path_glob: None,
                    language: Some("markdown".into()),
                },
            },
        )
        .await
        .unwrap();
    assert_eq!(md.report.kind, "collection");
    assert!(!md.hits.is_empty());
    assert!(
        md.hits.iter().all(|h| h.language == "markdown"),
        "{:?}",
        md.hits
    );
    let tests = first
        .search(
            &root,
            None,
            Tier::Admin,
            Query {
                text: "cart".into(),
                k: 5,
                filter: Filter {
                    path_glob: Some("tests/**".into()),
                    language: None,
                },
            },
        )
        .await
        .unwrap();
    assert_eq!(tests.hits.len(), 1, "{:?}", tests.hits);
    assert_eq!(tests.hits[0].path, "tests/test_cart.py");
    let bad = first
        .search(
            &root,
            None,
            Tier::Admin,
            Query {
                text: "cart".into(),
                k: 5,
                filter: Filter {
                    path_glob: Some("[".into()),
                    language: None,
                },
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(bad, IndexError::BadFilter(_)), "{bad}");
    first.stop().await;

    // A new node on the same store: the collection is reloaded, nothing is re-embedded.
    let second = node("collection-2", Some(store), installed_models()).await;
    let again = second
        .search(&root, None, Tier::Developer, Query::new(QUESTIONS[0].0, 3))
        .await
        .unwrap();
    assert!(again.report.reloaded, "{:?}", again.report);
    assert_eq!(again.report.files_indexed, 0, "{:?}", again.report);
    assert_eq!(again.report.chunks, built.report.chunks);
    assert!(
        again.hits.iter().any(|h| h.path == QUESTIONS[0].1),
        "{:?}",
        again.hits
    );
    second.stop().await;
    std::fs::remove_dir_all(&root).unwrap();
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn a_tier_above_its_rights_is_refused_and_a_missing_embedder_falls_back() {
    let root = shop("rights");
    let none = LocateConfig {
        minilm_dir: Some("/nonexistent".into()),
        installed: Vec::new(),
        pythons: Vec::new(),
        site_packages: Vec::new(),
        hf_caches: Vec::new(),
    };
    let node = node("rights", None, none).await;
    let e = node
        .search(
            &root,
            Some(IndexKind::Vector),
            Tier::Free,
            Query::new("cart", 3),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the free tier may not use the vector index: its best is simple"
    );
    let e = node
        .search(
            &root,
            Some(IndexKind::Collection),
            Tier::Advanced,
            Query::new("cart", 3),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, IndexError::Forbidden { .. }));
    // No MiniLM: the developer's best falls back to simple, and says why.
    let a = node
        .search(&root, None, Tier::Developer, Query::new("cart session", 3))
        .await
        .unwrap();
    assert_eq!(a.report.kind, "simple");
    assert!(
        a.report
            .reasons
            .last()
            .unwrap()
            .contains("no embedding model"),
        "{:?}",
        a.report.reasons
    );
    assert_eq!(a.hits[0].path, "shop/cart.py");
    node.stop().await;
    std::fs::remove_dir_all(&root).unwrap();
}
