//! The UserManager: keeps the node's users in the store ([`UserBook`]: argon2id password
//! hashes, hashed API tokens, the audit log) and answers for them by message: who a token
//! or a password belongs to, and the user management the Admin and Developer tiers may do.
//! The HTTP API asks it for every request; embedders can too, through [`UsersClient`].
//!
//! Its messages are local: an authenticated [`Principal`] is a fact of this node. Argon2id
//! takes tens of milliseconds, so password work runs on the blocking pool and answers from
//! there, while the mailbox goes on; token checks (a SHA-256 and a constant-time
//! comparison) run inline.

use crate::users::{AuditEntry, IssuedToken, Principal, UserBook, UserError, UserStatus, UserView};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster_derive::RactorMessage;
use reporunner_protocols::access::Tier;
use reporunner_runtime::store::Store;
use std::sync::Arc;
use std::time::Duration;

/// The kind name the UserManager shows in the tree.
pub const KIND: &str = "user-manager";

/// How long a [`UsersClient`] call waits: password hashing is the slowest answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The UserManager actor.
#[derive(Debug, Default)]
pub struct UserManager;

/// Its arguments: the store, when the node has one (without it every request is refused).
#[derive(Debug, Clone)]
pub struct UserManagerArguments {
    /// The node's store (a business client's scope of it, for a client's users).
    pub store: Option<Arc<dyn Store>>,
    /// The business client whose users these are, and the tiers they may hold; none: the
    /// node's own users.
    pub client: Option<(String, Vec<Tier>)>,
}

/// What the UserManager is asked.
#[derive(RactorMessage)]
pub enum UserManagerMessage {
    /// Who an API token belongs to.
    Authenticate(String, RpcReplyPort<Result<Principal, UserError>>),
    /// A new token of the user a name and password belong to.
    Login {
        /// The user.
        name: String,
        /// The password.
        password: String,
        /// The answer: the token, shown this once.
        reply: RpcReplyPort<Result<IssuedToken, UserError>>,
    },
    /// Adds a user, as `actor`.
    Add {
        /// Who asks.
        actor: Principal,
        /// The new user's name.
        name: String,
        /// Its tier.
        tier: Tier,
        /// Its password (hashed with argon2id; never kept).
        password: String,
        /// The answer.
        reply: RpcReplyPort<Result<UserView, UserError>>,
    },
    /// Every user, as `actor`.
    List(Principal, RpcReplyPort<Result<Vec<UserView>, UserError>>),
    /// Sets a user's tier, as `actor`.
    SetTier {
        /// Who asks.
        actor: Principal,
        /// The user.
        name: String,
        /// The new tier.
        tier: Tier,
        /// The answer.
        reply: RpcReplyPort<Result<UserView, UserError>>,
    },
    /// Enables or disables a user, as `actor`.
    SetStatus {
        /// Who asks.
        actor: Principal,
        /// The user.
        name: String,
        /// The new status.
        status: UserStatus,
        /// The answer.
        reply: RpcReplyPort<Result<UserView, UserError>>,
    },
    /// Issues an API token for a user, as `actor`.
    IssueToken {
        /// Who asks.
        actor: Principal,
        /// The user.
        name: String,
        /// The answer: the token, shown this once.
        reply: RpcReplyPort<Result<IssuedToken, UserError>>,
    },
    /// Revokes a token by its id, as `actor`.
    RevokeToken {
        /// Who asks.
        actor: Principal,
        /// The token's id.
        id: String,
        /// The answer.
        reply: RpcReplyPort<Result<(), UserError>>,
    },
    /// The last `n` audit entries, oldest first.
    AuditLog(usize, RpcReplyPort<Result<Vec<AuditEntry>, UserError>>),
    /// Writes an audit entry: an action done, or refused, elsewhere (the API's refusals,
    /// the Admin's actions it carried out); answers once it is written.
    Audit(AuditEntry, RpcReplyPort<()>),
}

impl std::fmt::Debug for UserManagerMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never a password or a token.
        f.write_str(match self {
            UserManagerMessage::Authenticate(..) => "Authenticate",
            UserManagerMessage::Login { .. } => "Login",
            UserManagerMessage::Add { .. } => "Add",
            UserManagerMessage::List(..) => "List",
            UserManagerMessage::SetTier { .. } => "SetTier",
            UserManagerMessage::SetStatus { .. } => "SetStatus",
            UserManagerMessage::IssueToken { .. } => "IssueToken",
            UserManagerMessage::RevokeToken { .. } => "RevokeToken",
            UserManagerMessage::AuditLog(..) => "AuditLog",
            UserManagerMessage::Audit(..) => "Audit",
        })
    }
}

fn no_store() -> UserError {
    UserError::Store("this node has no data directory, so it keeps no users".into())
}

/// Runs `f` on the blocking pool (argon2id work).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, UserError> + Send + 'static,
) -> Result<T, UserError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(UserError::Store(format!("the worker failed: {e}"))))
}

impl Actor for UserManager {
    type Msg = UserManagerMessage;
    type State = Option<UserBook>;
    type Arguments = UserManagerArguments;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: UserManagerArguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(args.store.map(|store| match args.client {
            Some((client, tiers)) => UserBook::for_client(store, &client, tiers),
            None => UserBook::new(store),
        }))
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        book: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let Some(book) = book.clone() else {
            reply_no_store(message);
            return Ok(());
        };
        match message {
            UserManagerMessage::Authenticate(token, reply) => {
                let _ = reply.send(book.authenticate_token(&token));
            }
            UserManagerMessage::Login {
                name,
                password,
                reply,
            } => {
                // Argon2id off the mailbox: token checks go on meanwhile.
                tokio::spawn(async move {
                    let answer = blocking(move || book.login(&name, &password)).await;
                    let _ = reply.send(answer);
                });
            }
            UserManagerMessage::Add {
                actor,
                name,
                tier,
                password,
                reply,
            } => {
                // Awaited here: adds stay one at a time, so two adds of one name cannot
                // both find it free.
                let answer = blocking(move || book.add(&actor, &name, tier, &password)).await;
                let _ = reply.send(answer);
            }
            UserManagerMessage::List(actor, reply) => {
                let _ = reply.send(book.list(&actor));
            }
            UserManagerMessage::SetTier {
                actor,
                name,
                tier,
                reply,
            } => {
                let _ = reply.send(book.set_tier(&actor, &name, tier));
            }
            UserManagerMessage::SetStatus {
                actor,
                name,
                status,
                reply,
            } => {
                let _ = reply.send(book.set_status(&actor, &name, status));
            }
            UserManagerMessage::IssueToken { actor, name, reply } => {
                let _ = reply.send(book.issue_token(&actor, &name));
            }
            UserManagerMessage::RevokeToken { actor, id, reply } => {
                let _ = reply.send(book.revoke_token(&actor, &id));
            }
            UserManagerMessage::AuditLog(n, reply) => {
                let _ = reply.send(book.audit_log(n));
            }
            UserManagerMessage::Audit(entry, reply) => {
                let actor = Principal {
                    name: entry.actor,
                    // The tier is not part of an entry.
                    tier: Tier::Free,
                };
                book.audit(&actor, &entry.action, &entry.target, &entry.outcome);
                let _ = reply.send(());
            }
        }
        Ok(())
    }
}

fn reply_no_store(message: UserManagerMessage) {
    match message {
        UserManagerMessage::Authenticate(_, r) => {
            let _ = r.send(Err(no_store()));
        }
        UserManagerMessage::Login { reply, .. } => {
            let _ = reply.send(Err(no_store()));
        }
        UserManagerMessage::Add { reply, .. }
        | UserManagerMessage::SetTier { reply, .. }
        | UserManagerMessage::SetStatus { reply, .. } => {
            let _ = reply.send(Err(no_store()));
        }
        UserManagerMessage::List(_, r) => {
            let _ = r.send(Err(no_store()));
        }
        UserManagerMessage::IssueToken { reply, .. } => {
            let _ = reply.send(Err(no_store()));
        }
        UserManagerMessage::RevokeToken { reply, .. } => {
            let _ = reply.send(Err(no_store()));
        }
        UserManagerMessage::AuditLog(_, r) => {
            let _ = r.send(Err(no_store()));
        }
        UserManagerMessage::Audit(entry, reply) => {
            tracing::warn!(action = %entry.action, "no store: audit entry dropped");
            let _ = reply.send(());
        }
    }
}

/// A typed handle on the UserManager, found by name for each call (it may have been
/// restarted since the last one).
#[derive(Debug, Clone)]
pub struct UsersClient {
    name: String,
}

impl UsersClient {
    /// A client of the UserManager registered as `name` (`Namespace::user_manager`).
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }

    async fn ask<T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<Result<T, UserError>>) -> UserManagerMessage,
    ) -> Result<T, UserError> {
        let manager = reporunner_runtime::naming::lookup::<UserManagerMessage>(&self.name)
            .ok_or_else(|| UserError::Store("the user manager is restarting".into()))?;
        match manager.call(build, Some(CALL_TIMEOUT)).await {
            Ok(ractor::rpc::CallResult::Success(answer)) => answer,
            Ok(_) => Err(UserError::Store("the user manager did not answer".into())),
            Err(e) => Err(UserError::Store(format!("the user manager is gone: {e}"))),
        }
    }

    /// Who `token` belongs to.
    ///
    /// # Errors
    /// [`UserError::Unauthorized`] for any token that does not authenticate.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, UserError> {
        let token = token.to_string();
        self.ask(|r| UserManagerMessage::Authenticate(token, r))
            .await
    }

    /// A new token of the user `name`, for its `password`.
    ///
    /// # Errors
    /// [`UserError::Unauthorized`] for a wrong name or password, or a disabled user.
    pub async fn login(&self, name: &str, password: &str) -> Result<IssuedToken, UserError> {
        let (name, password) = (name.to_string(), password.to_string());
        self.ask(|reply| UserManagerMessage::Login {
            name,
            password,
            reply,
        })
        .await
    }

    /// Adds a user, as `actor`.
    ///
    /// # Errors
    /// As [`UserBook::add`].
    pub async fn add(
        &self,
        actor: &Principal,
        name: &str,
        tier: Tier,
        password: &str,
    ) -> Result<UserView, UserError> {
        let (actor, name, password) = (actor.clone(), name.to_string(), password.to_string());
        self.ask(|reply| UserManagerMessage::Add {
            actor,
            name,
            tier,
            password,
            reply,
        })
        .await
    }

    /// Every user, as `actor`.
    ///
    /// # Errors
    /// As [`UserBook::list`].
    pub async fn list(&self, actor: &Principal) -> Result<Vec<UserView>, UserError> {
        let actor = actor.clone();
        self.ask(|r| UserManagerMessage::List(actor, r)).await
    }

    /// Sets a user's tier, as `actor`.
    ///
    /// # Errors
    /// As [`UserBook::set_tier`].
    pub async fn set_tier(
        &self,
        actor: &Principal,
        name: &str,
        tier: Tier,
    ) -> Result<UserView, UserError> {
        let (actor, name) = (actor.clone(), name.to_string());
        self.ask(|reply| UserManagerMessage::SetTier {
            actor,
            name,
            tier,
            reply,
        })
        .await
    }

    /// Enables or disables a user, as `actor`.
    ///
    /// # Errors
    /// As [`UserBook::set_status`].
    pub async fn set_status(
        &self,
        actor: &Principal,
        name: &str,
        status: UserStatus,
    ) -> Result<UserView, UserError> {
        let (actor, name) = (actor.clone(), name.to_string());
        self.ask(|reply| UserManagerMessage::SetStatus {
            actor,
            name,
            status,
            reply,
        })
        .await
    }

    /// Issues a token for a user, as `actor`.
    ///
    /// # Errors
    /// As [`UserBook::issue_token`].
    pub async fn issue_token(
        &self,
        actor: &Principal,
        name: &str,
    ) -> Result<IssuedToken, UserError> {
        let (actor, name) = (actor.clone(), name.to_string());
        self.ask(|reply| UserManagerMessage::IssueToken { actor, name, reply })
            .await
    }

    /// Revokes a token, as `actor`.
    ///
    /// # Errors
    /// As [`UserBook::revoke_token`].
    pub async fn revoke_token(&self, actor: &Principal, id: &str) -> Result<(), UserError> {
        let (actor, id) = (actor.clone(), id.to_string());
        self.ask(|reply| UserManagerMessage::RevokeToken { actor, id, reply })
            .await
    }

    /// The last `n` audit entries, oldest first.
    ///
    /// # Errors
    /// The store's.
    pub async fn audit_log(&self, n: usize) -> Result<Vec<AuditEntry>, UserError> {
        self.ask(|r| UserManagerMessage::AuditLog(n, r)).await
    }

    /// Writes an audit entry and waits until it is written. A failure to write is logged
    /// (by the manager, or here when it cannot be reached), never hidden.
    pub async fn audit(&self, actor: &Principal, action: &str, target: &str, outcome: &str) {
        let entry = AuditEntry {
            at_ms: crate::runs::now_ms(),
            actor: actor.name.clone(),
            action: action.to_string(),
            target: target.to_string(),
            outcome: outcome.to_string(),
        };
        let written = match reporunner_runtime::naming::lookup::<UserManagerMessage>(&self.name) {
            Some(manager) => manager
                .call(|r| UserManagerMessage::Audit(entry, r), Some(CALL_TIMEOUT))
                .await
                .is_ok_and(|r| r.is_success()),
            None => false,
        };
        if !written {
            tracing::error!(
                action,
                target,
                outcome,
                "the user manager did not take an audit entry"
            );
        }
    }
}

#[cfg(test)]
mod tests;
