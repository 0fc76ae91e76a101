use super::*;
use reporunner_runtime::store::SledStore;

fn store(tag: &str) -> (Arc<dyn Store>, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "reporunner-user-manager-{tag}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    (Arc::new(SledStore::open(&dir).unwrap()), dir)
}

#[tokio::test]
async fn users_are_kept_and_checked_by_message() {
    let (store, dir) = store("messages");
    let name = "test-users-messages";
    let (actor, handle) = Actor::spawn(
        Some(name.into()),
        UserManager,
        UserManagerArguments {
            store: Some(store.clone()),
            client: None,
        },
    )
    .await
    .unwrap();
    let users = UsersClient::new(name);
    let owner = Principal::local();
    let view = users
        .add(&owner, "ada", Tier::Premium, "a long password")
        .await
        .unwrap();
    assert_eq!(view.tier, Tier::Premium);
    let issued = users.issue_token(&owner, "ada").await.unwrap();
    let ada = users.authenticate(&issued.token).await.unwrap();
    assert_eq!((ada.name.as_str(), ada.tier), ("ada", Tier::Premium));
    let own = users.login("ada", "a long password").await.unwrap();
    assert_eq!(users.authenticate(&own.token).await.unwrap().name, "ada");
    // Wrong credentials: one answer.
    assert_eq!(
        users.login("ada", "wrong").await.unwrap_err(),
        UserError::Unauthorized
    );
    assert_eq!(
        users.authenticate("rr_x").await.unwrap_err(),
        UserError::Unauthorized
    );
    // A premium user may not manage users; the refusal is audited.
    assert!(matches!(
        users.list(&ada).await.unwrap_err(),
        UserError::Forbidden { .. }
    ));
    users
        .audit(&ada, "admin.spawn", "x", "refused: not allowed")
        .await;
    let log = users.audit_log(100).await.unwrap();
    assert!(
        log.iter()
            .any(|e| e.actor == "ada" && e.action == "users.list")
    );
    assert!(
        log.iter()
            .any(|e| e.actor == "ada" && e.action == "admin.spawn")
    );
    // Disabled, then revoked.
    users
        .set_status(&owner, "ada", UserStatus::Disabled)
        .await
        .unwrap();
    assert!(users.authenticate(&issued.token).await.is_err());
    users
        .set_status(&owner, "ada", UserStatus::Active)
        .await
        .unwrap();
    users.revoke_token(&owner, &issued.id).await.unwrap();
    assert!(users.authenticate(&issued.token).await.is_err());
    // The Debug of a message never shows a secret.
    let (tx, _rx) = ractor::concurrency::oneshot();
    let m = UserManagerMessage::Login {
        name: "ada".into(),
        password: "a long password".into(),
        reply: tx.into(),
    };
    assert_eq!(format!("{m:?}"), "Login");
    actor.stop(None);
    handle.await.unwrap();
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn without_a_store_every_request_is_refused_not_dropped() {
    let name = "test-users-no-store";
    let (actor, handle) = Actor::spawn(
        Some(name.into()),
        UserManager,
        UserManagerArguments {
            store: None,
            client: None,
        },
    )
    .await
    .unwrap();
    let users = UsersClient::new(name);
    assert!(matches!(
        users.authenticate("rr_x").await.unwrap_err(),
        UserError::Store(_)
    ));
    assert!(matches!(
        users.list(&Principal::local()).await.unwrap_err(),
        UserError::Store(_)
    ));
    actor.stop(None);
    handle.await.unwrap();
    // Gone: a clear error, not a hang.
    assert!(matches!(
        UsersClient::new(name)
            .authenticate("rr_x")
            .await
            .unwrap_err(),
        UserError::Store(_)
    ));
}
