use super::*;
use reporunner_runtime::store::SledStore;

fn book(tag: &str) -> (UserBook, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("rr-users-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir).unwrap());
    (UserBook::new(store), dir)
}

#[test]
fn passwords_are_hashed_with_argon2id_and_never_stored_in_clear() {
    let (users, dir) = book("hash");
    let local = Principal::local();
    let v = users
        .add(&local, "ann", Tier::Premium, "correct horse")
        .unwrap();
    assert_eq!((v.tier, v.status), (Tier::Premium, UserStatus::Active));
    let stored: UserRecord = users.store.get_record(Tree::Users, "ann").unwrap().unwrap();
    assert!(
        stored.password_hash.starts_with("$argon2id$"),
        "{}",
        stored.password_hash
    );
    assert!(!stored.password_hash.contains("correct horse"));
    // Nowhere in the store's files either.
    users.store.flush_blocking().unwrap();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                let bytes = std::fs::read(e.path()).unwrap();
                assert!(
                    !bytes.windows(13).any(|w| w == b"correct horse"),
                    "{} holds the password",
                    e.path().display()
                );
            }
        }
    }
    assert_eq!(
        users.authenticate_password("ann", "correct horse").unwrap(),
        Principal {
            name: "ann".into(),
            tier: Tier::Premium
        }
    );
    drop(users);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wrong_passwords_unknown_users_and_disabled_users_get_one_answer() {
    let (users, dir) = book("auth");
    let local = Principal::local();
    users.add(&local, "bob", Tier::Free, "password1").unwrap();
    let wrong = users.authenticate_password("bob", "password2").unwrap_err();
    let unknown = users
        .authenticate_password("nobody", "password1")
        .unwrap_err();
    assert_eq!(wrong, UserError::Unauthorized);
    assert_eq!(unknown, UserError::Unauthorized);
    users
        .set_status(&local, "bob", UserStatus::Disabled)
        .unwrap();
    assert_eq!(
        users.authenticate_password("bob", "password1").unwrap_err(),
        UserError::Unauthorized
    );
    users.set_status(&local, "bob", UserStatus::Active).unwrap();
    assert!(users.authenticate_password("bob", "password1").is_ok());
    drop(users);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tokens_are_shown_once_stored_hashed_and_revocable() {
    let (users, dir) = book("tokens");
    let local = Principal::local();
    users.add(&local, "cy", Tier::Admin, "password1").unwrap();
    let issued = users.issue_token(&local, "cy").unwrap();
    assert!(issued.token.starts_with(&format!("rr_{}_", issued.id)));
    assert_eq!(issued.token.len(), 3 + 12 + 1 + 64);
    let stored: TokenRecord = users
        .store
        .get_record(Tree::Tokens, &issued.id)
        .unwrap()
        .unwrap();
    assert!(!stored.secret_hash.contains(&issued.token[16..]));
    assert_eq!(
        users.authenticate_token(&issued.token).unwrap().tier,
        Tier::Admin
    );
    assert_eq!(
        users.list(&local).unwrap()[0].tokens,
        vec![issued.id.clone()]
    );
    // A near miss, a malformed token and a made-up id: one answer.
    // One character off (never the one it replaces: a token ending in `0` made this a
    // one-in-sixteen flake).
    let mut near = issued.token.clone();
    let last = near.pop();
    near.push(if last == Some('0') { '1' } else { '0' });
    for bad in [near.as_str(), "garbage", "rr_000000000000_00"] {
        assert_eq!(
            users.authenticate_token(bad).unwrap_err(),
            UserError::Unauthorized
        );
    }
    users.revoke_token(&local, &issued.id).unwrap();
    assert_eq!(
        users.authenticate_token(&issued.token).unwrap_err(),
        UserError::Unauthorized
    );
    assert_eq!(
        users.revoke_token(&local, &issued.id).unwrap_err(),
        UserError::NoToken(issued.id.clone())
    );
    // A disabled user's live token is refused too.
    let second = users.issue_token(&local, "cy").unwrap();
    users
        .set_status(&local, "cy", UserStatus::Disabled)
        .unwrap();
    assert_eq!(
        users.authenticate_token(&second.token).unwrap_err(),
        UserError::Unauthorized
    );
    drop(users);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn only_admin_and_developer_manage_users_and_everything_is_audited() {
    let (users, dir) = book("rights");
    let local = Principal::local();
    users
        .add(&local, "root2", Tier::Admin, "password1")
        .unwrap();
    for tier in Tier::ALL {
        let actor = Principal {
            name: format!("as-{tier}"),
            tier,
        };
        let name = format!("made-by-{tier}");
        let result = users.add(&actor, &name, Tier::Free, "password1");
        if matches!(tier, Tier::Admin | Tier::Developer) {
            assert!(result.is_ok(), "{tier}: {result:?}");
        } else {
            assert_eq!(
                result.unwrap_err(),
                UserError::Forbidden {
                    tier,
                    action: "manage users".into()
                }
            );
            assert!(users.list(&actor).is_err());
            assert!(users.issue_token(&actor, "root2").is_err());
            assert!(users.set_tier(&actor, "root2", Tier::Free).is_err());
        }
    }
    assert_eq!(
        users
            .add(&local, "root2", Tier::Free, "password1")
            .unwrap_err(),
        UserError::Exists("root2".into())
    );
    assert!(matches!(
        users.add(&local, "Bad Name", Tier::Free, "password1"),
        Err(UserError::Invalid(_))
    ));
    assert!(matches!(
        users.add(&local, "short", Tier::Free, "1234567"),
        Err(UserError::Invalid(_))
    ));
    let log = users.audit_log(1000).unwrap();
    let refused = log
        .iter()
        .filter(|e| e.outcome.starts_with("refused"))
        .count();
    // Four refusals each for free, advanced, premium and tester.
    assert_eq!(refused, 16, "{log:#?}");
    assert!(log.iter().any(|e| e.action == "users.add"
        && e.target == "made-by-admin"
        && e.outcome.starts_with("ok")));
    drop(users);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_clients_tokens_name_it_and_open_only_its_own_book() {
    let dir = std::env::temp_dir().join(format!("rr-users-clients-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir).unwrap());
    let node = UserBook::new(store.clone());
    let acme = UserBook::for_client(
        store.scope("client.acme").unwrap(),
        "acme",
        vec![Tier::Free, Tier::Admin],
    );
    let globex = UserBook::for_client(
        store.scope("client.globex").unwrap(),
        "globex",
        vec![Tier::Free],
    );
    let local = Principal::local();
    for book in [&node, &acme, &globex] {
        book.add(&local, "ann", Tier::Free, "a long password")
            .unwrap();
    }
    let t_acme = acme.issue_token(&local, "ann").unwrap().token;
    let t_node = node.issue_token(&local, "ann").unwrap().token;
    assert!(t_acme.starts_with("rr_acme."), "{t_acme}");
    assert_eq!(token_client(&t_acme), Some("acme"));
    assert_eq!(token_client(&t_node), None);
    assert_eq!(acme.authenticate_token(&t_acme).unwrap().name, "ann");
    // Another client's book, the node's book, or the token relabelled: refused.
    assert_eq!(
        globex.authenticate_token(&t_acme),
        Err(UserError::Unauthorized)
    );
    assert_eq!(
        node.authenticate_token(&t_acme),
        Err(UserError::Unauthorized)
    );
    assert_eq!(
        acme.authenticate_token(&t_node),
        Err(UserError::Unauthorized)
    );
    let relabelled = t_acme.replacen("rr_acme.", "rr_globex.", 1);
    assert_eq!(
        globex.authenticate_token(&relabelled),
        Err(UserError::Unauthorized)
    );
    // A tier the client does not allow.
    let e = acme
        .add(&local, "boss", Tier::Premium, "a long password")
        .unwrap_err();
    assert!(
        matches!(&e, UserError::Invalid(m) if m.contains("premium")),
        "{e}"
    );
    assert!(acme.set_tier(&local, "ann", Tier::Developer).is_err());
    assert_eq!(
        acme.set_tier(&local, "ann", Tier::Admin).unwrap().tier,
        Tier::Admin
    );
    // Each book lists its own users, and the audit logs are apart.
    assert_eq!(globex.list(&local).unwrap().len(), 1);
    let acme_audit = acme.audit_log(100).unwrap();
    assert!(acme_audit.iter().any(|e| e.action == "users.set_tier"));
    assert!(
        !globex
            .audit_log(100)
            .unwrap()
            .iter()
            .any(|e| e.action == "users.set_tier")
    );
    assert!(
        !node
            .audit_log(100)
            .unwrap()
            .iter()
            .any(|e| e.action == "users.set_tier")
    );
    drop((node, acme, globex, store));
    let _ = std::fs::remove_dir_all(&dir);
}
