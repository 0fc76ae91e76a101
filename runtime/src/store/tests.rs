use super::*;
use reporunner_protocols::record::Record;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Note {
    text: String,
    n: u64,
}

impl Record for Note {
    const KIND: &'static str = "note";
    const VERSION: u16 = 1;
}

struct TempDir(PathBuf);

static N: AtomicU32 = AtomicU32::new(0);

impl TempDir {
    fn new() -> Self {
        let p = std::env::temp_dir().join(format!(
            "reporunner-store-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn note(n: u64) -> Note {
    Note {
        text: format!("note {n}"),
        n,
    }
}

#[tokio::test]
async fn records_survive_a_reopen_once_flushed() {
    let dir = TempDir::new();
    {
        let store = SledStore::open(&dir.0).unwrap();
        store
            .put_record_durable(Tree::Checkpoints, "agent_state_env", &note(1))
            .await
            .unwrap();
        store.put_record(Tree::Users, "ann", &note(2)).unwrap();
        store.flush().await.unwrap();
    }
    let store = SledStore::open(&dir.0).unwrap();
    assert_eq!(
        store
            .get_record::<Note>(Tree::Checkpoints, "agent_state_env")
            .unwrap(),
        Some(note(1))
    );
    assert_eq!(
        store.get_record::<Note>(Tree::Users, "ann").unwrap(),
        Some(note(2))
    );
    // Trees are separate key spaces.
    assert_eq!(store.get_record::<Note>(Tree::Runs, "ann").unwrap(), None);
}

#[tokio::test]
async fn garbage_in_one_record_is_a_clear_error_and_the_others_stay_readable() {
    let dir = TempDir::new();
    let store = SledStore::open(&dir.0).unwrap();
    for n in 0..3 {
        store
            .put_record(Tree::Runs, &format!("run-{n}"), &note(n))
            .unwrap();
    }
    store.insert(Tree::Runs, b"run-1", b"\x93garbage").unwrap();
    let err = store.get_record::<Note>(Tree::Runs, "run-1").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("run-1") && text.contains("runs") && text.contains("corrupt"),
        "{text}"
    );
    assert_eq!(
        store.get_record::<Note>(Tree::Runs, "run-0").unwrap(),
        Some(note(0))
    );
    let all = store.scan_records::<Note>(Tree::Runs, "run-").unwrap();
    assert_eq!(all.len(), 3);
    assert!(all[0].1.is_ok() && all[1].1.is_err() && all[2].1.is_ok());
}

#[tokio::test]
async fn a_second_open_of_the_same_directory_names_the_holder() {
    let dir = TempDir::new();
    let _first = SledStore::open(&dir.0).unwrap();
    let err = SledStore::open(&dir.0).unwrap_err();
    match &err {
        StoreError::Locked { dir: d, holder } => {
            assert_eq!(d, &dir.0);
            assert!(
                holder.contains(&format!("pid {}", std::process::id())),
                "{holder}"
            );
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("in use by another process"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_durable_writes_share_flushes_and_all_land() {
    let dir = TempDir::new();
    {
        let store = SledStore::open(&dir.0).unwrap();
        let mut tasks = Vec::new();
        for t in 0..8u64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..25u64 {
                    let n = t * 1000 + i;
                    store
                        .put_record_durable(Tree::RunEvents, &format!("ev-{n:06}"), &note(n))
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }
    let store = SledStore::open(&dir.0).unwrap();
    let all = store.scan_records::<Note>(Tree::RunEvents, "ev-").unwrap();
    assert_eq!(all.len(), 200);
    assert!(all.iter().all(|(_, r)| r.is_ok()));
}

#[tokio::test]
async fn batches_ids_and_removal() {
    let dir = TempDir::new();
    let first_id;
    {
        let store = SledStore::open(&dir.0).unwrap();
        store
            .apply(
                Tree::PortLeases,
                vec![
                    (b"a".to_vec(), Some(b"1".to_vec())),
                    (b"b".to_vec(), Some(b"2".to_vec())),
                ],
            )
            .unwrap();
        store
            .apply(Tree::PortLeases, vec![(b"a".to_vec(), None)])
            .unwrap();
        assert_eq!(store.get(Tree::PortLeases, b"a").unwrap(), None);
        store.remove(Tree::PortLeases, b"b").unwrap();
        assert!(store.scan_prefix(Tree::PortLeases, b"").unwrap().is_empty());
        first_id = store.generate_id().unwrap();
        assert!(store.generate_id().unwrap() > first_id);
        store.flush_blocking().unwrap();
    }
    let store = SledStore::open(&dir.0).unwrap();
    assert!(store.generate_id().unwrap() > first_id);
}

#[test]
fn keys_and_directories_follow_the_seed_and_xdg() {
    assert_eq!(
        checkpoint_key(CheckpointKind::Agent, "EnvDetector"),
        "agent_state_EnvDetector"
    );
    assert_eq!(
        checkpoint_key(CheckpointKind::Manager, "PortManager"),
        "manager_state_PortManager"
    );
    assert_eq!(checkpoint_key(CheckpointKind::Admin, "tree"), "admin_tree");
    assert_eq!(
        checkpoint_key(CheckpointKind::Business, "acme"),
        "business_acme"
    );
    let env = |k: &str| match k {
        "XDG_DATA_HOME" => Some("/xdg".to_string()),
        "HOME" => Some("/home/u".to_string()),
        _ => None,
    };
    assert_eq!(default_data_dir(env), PathBuf::from("/xdg/reporunner"));
    let env = |k: &str| (k == "HOME").then(|| "/home/u".to_string());
    assert_eq!(
        default_data_dir(env),
        PathBuf::from("/home/u/.local/share/reporunner")
    );
    assert_eq!(default_data_dir(|_| None), PathBuf::from(".reporunner"));
}

#[tokio::test]
async fn scopes_are_apart_from_each_other_and_from_the_store_and_survive_a_reopen() {
    let dir = TempDir::new();
    {
        let store = SledStore::open(&dir.0).unwrap();
        let acme = store.scope("acme").unwrap();
        let globex = store.scope("globex").unwrap();
        store.put_record(Tree::Users, "ann", &note(0)).unwrap();
        acme.put_record(Tree::Users, "ann", &note(1)).unwrap();
        acme.put_record(Tree::Audit, "1", &note(11)).unwrap();
        globex.put_record(Tree::Users, "bob", &note(2)).unwrap();
        // Same key, three answers; scans see their own scope only.
        assert_eq!(
            store.get_record::<Note>(Tree::Users, "ann").unwrap(),
            Some(note(0))
        );
        assert_eq!(
            acme.get_record::<Note>(Tree::Users, "ann").unwrap(),
            Some(note(1))
        );
        assert_eq!(globex.get_record::<Note>(Tree::Users, "ann").unwrap(), None);
        assert_eq!(acme.get_record::<Note>(Tree::Users, "bob").unwrap(), None);
        let keys = |s: &dyn Store, t| -> Vec<Vec<u8>> {
            s.scan_prefix(t, b"")
                .unwrap()
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        };
        assert_eq!(keys(&store, Tree::Users), vec![b"ann".to_vec()]);
        assert_eq!(keys(&*globex, Tree::Users), vec![b"bob".to_vec()]);
        assert!(keys(&store, Tree::Audit).is_empty());
        assert!(keys(&*globex, Tree::Audit).is_empty());
        // Ids never repeat across scopes.
        let a = acme.generate_id().unwrap();
        let b = globex.generate_id().unwrap();
        let c = store.generate_id().unwrap();
        assert!(a < b && b < c);
        assert_eq!(acme.data_dir(), dir.0.join("scopes/acme"));
        assert!(acme.data_dir().is_dir());
        // One flush covers every scope.
        acme.flush().await.unwrap();
        for bad in ["", "Acme", "a/b", "../x", "-x", &"x".repeat(65)] {
            assert!(store.scope(bad).is_err(), "{bad:?}");
        }
    }
    let store = SledStore::open(&dir.0).unwrap();
    let acme = store.scope("acme").unwrap();
    assert_eq!(
        acme.get_record::<Note>(Tree::Users, "ann").unwrap(),
        Some(note(1))
    );
    assert_eq!(
        acme.get_record::<Note>(Tree::Audit, "1").unwrap(),
        Some(note(11))
    );
    assert_eq!(
        store.get_record::<Note>(Tree::Users, "ann").unwrap(),
        Some(note(0))
    );
}
