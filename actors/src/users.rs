//! Users, their API tokens and the audit log, kept in the store.
//!
//! - A user has a name, an argon2id password hash (PHC string; the password itself is never
//!   stored or logged), a tier, a status (active or disabled) and a creation time.
//! - An API token is `rr_<id>_<secret>`: a public id of 48 random bits to find and revoke it
//!   by, and a secret of 256 random bits. A business client's users' tokens name the client
//!   too, `rr_<client>.<id>_<secret>`, so a node knows whose book to look them up in. It is shown once; the store keeps the secret's
//!   SHA-256 only, compared in constant time.
//! - A wrong password, an unknown user, a disabled user, a wrong or revoked token all get
//!   the same error, [`UserError::Unauthorized`], after the same work (an unknown user's
//!   password is still checked against a dummy hash; token hashes are compared in constant
//!   time).
//! - Managing users takes a tier that may ([`Tier::manages_users`]: Admin and Developer);
//!   every such action, allowed or refused, goes to the audit log.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use reporunner_protocols::access::Tier;
use reporunner_protocols::record::Record;
use reporunner_runtime::store::{Store, StoreExt, Tree};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Whether a user may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// May sign in.
    Active,
    /// Refused, with the same answer as a wrong password.
    Disabled,
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct UserRecord {
    name: String,
    tier: Tier,
    status: UserStatus,
    created_ms: u64,
    /// The argon2id hash, as a PHC string.
    password_hash: String,
}

impl Record for UserRecord {
    const KIND: &'static str = "user";
    const VERSION: u16 = 1;
}

/// A token as stored, under its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TokenRecord {
    /// The public id, to find, list and revoke it by.
    id: String,
    /// The SHA-256 of the secret, hex.
    secret_hash: String,
    user: String,
    created_ms: u64,
    revoked_ms: Option<u64>,
}

impl Record for TokenRecord {
    const KIND: &'static str = "api_token";
    const VERSION: u16 = 1;
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When, in ms since the Unix epoch.
    pub at_ms: u64,
    /// Who acted (a user's name, or `local` for the machine's owner).
    pub actor: String,
    /// What was done: `users.add`, `users.set_tier`, `auth.token`, ...
    pub action: String,
    /// On what.
    pub target: String,
    /// `ok`, or `refused: <why>`.
    pub outcome: String,
}

impl Record for AuditEntry {
    const KIND: &'static str = "audit";
    const VERSION: u16 = 1;
}

/// Who is acting, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The user's name (`local` for the machine's owner at the CLI).
    pub name: String,
    /// The user's tier.
    pub tier: Tier,
}

impl Principal {
    /// The machine's owner, as the local CLI acts: the developer tier.
    pub fn local() -> Self {
        Self {
            name: "local".into(),
            tier: Tier::Developer,
        }
    }
}

/// A user as shown: never the hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    /// The name.
    pub name: String,
    /// The tier.
    pub tier: Tier,
    /// Active or disabled.
    pub status: UserStatus,
    /// When it was created, in ms since the Unix epoch.
    pub created_ms: u64,
    /// Its live tokens' ids.
    pub tokens: Vec<String>,
}

/// A new token: the secret, shown once, and its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    /// The id to revoke it by.
    pub id: String,
    /// The token itself. It is not stored and cannot be shown again.
    pub token: String,
}

/// Why a user operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    /// Wrong name, password or token, a revoked token or a disabled user: one answer.
    #[error("unauthorized: wrong credentials, or the user is disabled")]
    Unauthorized,
    /// The actor's tier may not do this.
    #[error("forbidden: the {tier} tier may not {action}")]
    Forbidden {
        /// The actor's tier.
        tier: Tier,
        /// What was refused.
        action: String,
    },
    /// The name is taken.
    #[error("the user {0} exists")]
    Exists(String),
    /// No such user (to an actor allowed to manage users).
    #[error("no user {0}")]
    NotFound(String),
    /// No live token with that id.
    #[error("no live token {0}")]
    NoToken(String),
    /// A name or password that is not acceptable, and why.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
}

fn store_err(e: impl std::fmt::Display) -> UserError {
    UserError::Store(e.to_string())
}

fn now_ms() -> u64 {
    crate::runs::now_ms()
}

/// The SHA-256 of a token's secret, hex.
fn secret_hash(secret: &str) -> String {
    format!("{:x}", Sha256::digest(secret.as_bytes()))
}

/// Random bytes, hex.
fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `name` has the form of a user name: 1 to 64 of a-z, 0-9, `.`, `_`, `-`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

/// The id and the secret of a token `rr_<id>_<secret>` of the node, or
/// `rr_<client>.<id>_<secret>` of the business client `client`.
fn parse_token<'t>(token: &'t str, client: Option<&str>) -> Option<(&'t str, &'t str)> {
    let (id, secret) = token.strip_prefix("rr_")?.split_once('_')?;
    let id = match (id.split_once('.'), client) {
        (None, None) => id,
        (Some((c, id)), Some(client)) if c == client => id,
        _ => return None,
    };
    (id.len() == 12 && secret.len() == 64).then_some((id, secret))
}

/// The business client a token belongs to: `acme` for `rr_acme.<id>_<secret>`, none for
/// a node's own `rr_<id>_<secret>`. It only reads the token's form; whether the token is
/// good is for that client's [`UserBook`] to say.
pub fn token_client(token: &str) -> Option<&str> {
    let (id, _) = token.strip_prefix("rr_")?.split_once('_')?;
    id.split_once('.').map(|(client, _)| client)
}

/// The users of a store. See the module docs.
#[derive(Debug, Clone)]
pub struct UserBook {
    store: Arc<dyn Store>,
    /// The business client these users belong to: its name is in their tokens.
    client: Option<String>,
    /// The tiers they may hold; none: any.
    tiers: Option<Vec<Tier>>,
}

/// The least length of a password.
pub const MIN_PASSWORD: usize = 8;

impl UserBook {
    /// The users of `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            client: None,
            tiers: None,
        }
    }

    /// The users of the business client `client`, kept in `store` (its own scope), who may
    /// hold only `tiers`. Their tokens name the client (`rr_<client>.<id>_<secret>`), and
    /// a token of another client or of the node is not theirs.
    pub fn for_client(store: Arc<dyn Store>, client: &str, tiers: Vec<Tier>) -> Self {
        Self {
            store,
            client: Some(client.to_string()),
            tiers: Some(tiers),
        }
    }

    /// Refuses a tier these users may not hold; the refusal is audited.
    fn may_hold(
        &self,
        actor: &Principal,
        action: &str,
        name: &str,
        tier: Tier,
    ) -> Result<(), UserError> {
        match &self.tiers {
            Some(tiers) if !tiers.contains(&tier) => {
                let message = format!(
                    "the {tier} tier is not one this client's users may hold ({})",
                    tiers
                        .iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                self.audit(actor, action, name, &format!("refused: {message}"));
                Err(UserError::Invalid(message))
            }
            _ => Ok(()),
        }
    }

    /// Writes an audit entry: who (`actor`) did what (`action`) to what (`target`), and how
    /// it ended (`ok: …` or `refused: …`). A failure to write is logged, never hidden in
    /// the result.
    pub fn audit(&self, actor: &Principal, action: &str, target: &str, outcome: &str) {
        let entry = AuditEntry {
            at_ms: now_ms(),
            actor: actor.name.clone(),
            action: action.to_string(),
            target: target.to_string(),
            outcome: outcome.to_string(),
        };
        let written = self.store.generate_id().map_err(store_err).and_then(|seq| {
            self.store
                .put_record(Tree::Audit, &format!("{seq:016x}"), &entry)
                .map_err(store_err)
        });
        if let Err(e) = written {
            tracing::error!(error = %e, action, "the audit log could not be written");
        }
    }

    /// Checks that `actor` may manage users, auditing a refusal.
    fn may_manage(&self, actor: &Principal, action: &str, target: &str) -> Result<(), UserError> {
        if actor.tier.manages_users() {
            Ok(())
        } else {
            let e = UserError::Forbidden {
                tier: actor.tier,
                action: "manage users".into(),
            };
            self.audit(actor, action, target, &format!("refused: {e}"));
            Err(e)
        }
    }

    fn get(&self, name: &str) -> Result<Option<UserRecord>, UserError> {
        self.store.get_record(Tree::Users, name).map_err(store_err)
    }

    fn put(&self, user: &UserRecord) -> Result<(), UserError> {
        self.store
            .put_record(Tree::Users, &user.name, user)
            .map_err(store_err)?;
        self.store.flush_blocking().map_err(store_err)
    }

    /// Adds a user.
    ///
    /// # Errors
    /// [`UserError::Forbidden`], [`UserError::Exists`], [`UserError::Invalid`] (a name that
    /// is not `[a-z0-9._-]{1,64}`, a password shorter than [`MIN_PASSWORD`]).
    pub fn add(
        &self,
        actor: &Principal,
        name: &str,
        tier: Tier,
        password: &str,
    ) -> Result<UserView, UserError> {
        self.may_manage(actor, "users.add", name)?;
        if !valid_name(name) || name == "local" {
            return Err(UserError::Invalid(format!(
                "{name:?} is not a user name: 1 to 64 of a-z, 0-9, '.', '_', '-' (and not \"local\")"
            )));
        }
        self.may_hold(actor, "users.add", name, tier)?;
        if password.chars().count() < MIN_PASSWORD {
            return Err(UserError::Invalid(format!(
                "the password is too short: at least {MIN_PASSWORD} characters"
            )));
        }
        if self.get(name)?.is_some() {
            return Err(UserError::Exists(name.to_string()));
        }
        let salt = SaltString::generate(&mut OsRng);
        let password_hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| UserError::Invalid(format!("hashing the password: {e}")))?
            .to_string();
        let user = UserRecord {
            name: name.to_string(),
            tier,
            status: UserStatus::Active,
            created_ms: now_ms(),
            password_hash,
        };
        self.put(&user)?;
        self.audit(actor, "users.add", name, &format!("ok: tier {tier}"));
        self.view(user)
    }

    /// Every live token, read once: (user, id).
    fn live_tokens(&self) -> Result<Vec<(String, String)>, UserError> {
        Ok(self
            .store
            .scan_records::<TokenRecord>(Tree::Tokens, "")
            .map_err(store_err)?
            .into_iter()
            .filter_map(|(_, t)| t.ok())
            .filter(|t| t.revoked_ms.is_none())
            .map(|t| (t.user, t.id))
            .collect())
    }

    fn view(&self, user: UserRecord) -> Result<UserView, UserError> {
        Ok(shown(user, &self.live_tokens()?))
    }

    /// Every user, by name.
    ///
    /// # Errors
    /// [`UserError::Forbidden`], or the store's.
    pub fn list(&self, actor: &Principal) -> Result<Vec<UserView>, UserError> {
        self.may_manage(actor, "users.list", "*")?;
        let tokens = self.live_tokens()?;
        Ok(self
            .store
            .scan_records::<UserRecord>(Tree::Users, "")
            .map_err(store_err)?
            .into_iter()
            .filter_map(|(_, u)| u.ok())
            .map(|u| shown(u, &tokens))
            .collect())
    }

    fn change(
        &self,
        actor: &Principal,
        action: &str,
        name: &str,
        f: impl FnOnce(&mut UserRecord),
    ) -> Result<UserView, UserError> {
        self.may_manage(actor, action, name)?;
        let mut user = self
            .get(name)?
            .ok_or_else(|| UserError::NotFound(name.to_string()))?;
        f(&mut user);
        self.put(&user)?;
        self.audit(actor, action, name, "ok");
        self.view(user)
    }

    /// Sets a user's tier.
    ///
    /// # Errors
    /// [`UserError::Forbidden`], [`UserError::NotFound`].
    pub fn set_tier(
        &self,
        actor: &Principal,
        name: &str,
        tier: Tier,
    ) -> Result<UserView, UserError> {
        self.may_manage(actor, "users.set_tier", name)?;
        self.may_hold(actor, "users.set_tier", name, tier)?;
        self.change(actor, "users.set_tier", name, |u| u.tier = tier)
    }

    /// Disables a user (or enables one again): a disabled user's password and tokens are
    /// refused.
    ///
    /// # Errors
    /// [`UserError::Forbidden`], [`UserError::NotFound`].
    pub fn set_status(
        &self,
        actor: &Principal,
        name: &str,
        status: UserStatus,
    ) -> Result<UserView, UserError> {
        let action = match status {
            UserStatus::Active => "users.enable",
            UserStatus::Disabled => "users.disable",
        };
        self.change(actor, action, name, |u| u.status = status)
    }

    /// Issues a new API token for `name`; the token is in the answer and nowhere else.
    ///
    /// # Errors
    /// [`UserError::Forbidden`], [`UserError::NotFound`].
    pub fn issue_token(&self, actor: &Principal, name: &str) -> Result<IssuedToken, UserError> {
        self.may_manage(actor, "users.token", name)?;
        self.mint(actor, name, "users.token")
    }

    /// A user's own new token, for its name and password: how a user of any tier gets a
    /// token without an admin.
    ///
    /// # Errors
    /// [`UserError::Unauthorized`] for a wrong name or password or a disabled user (one
    /// answer for all three).
    pub fn login(&self, name: &str, password: &str) -> Result<IssuedToken, UserError> {
        let me = self.authenticate_password(name, password)?;
        self.mint(&me, name, "users.login")
    }

    fn mint(&self, actor: &Principal, name: &str, action: &str) -> Result<IssuedToken, UserError> {
        if self.get(name)?.is_none() {
            return Err(UserError::NotFound(name.to_string()));
        }
        let (id, secret) = (random_hex(6), random_hex(32));
        let token = match &self.client {
            Some(client) => format!("rr_{client}.{id}_{secret}"),
            None => format!("rr_{id}_{secret}"),
        };
        self.store
            .put_record(
                Tree::Tokens,
                &id,
                &TokenRecord {
                    id: id.clone(),
                    secret_hash: secret_hash(&secret),
                    user: name.to_string(),
                    created_ms: now_ms(),
                    revoked_ms: None,
                },
            )
            .map_err(store_err)?;
        self.store.flush_blocking().map_err(store_err)?;
        self.audit(actor, action, name, &format!("ok: token {id}"));
        Ok(IssuedToken { id, token })
    }

    /// Revokes the token with id `id`.
    ///
    /// # Errors
    /// [`UserError::Forbidden`], [`UserError::NoToken`].
    pub fn revoke_token(&self, actor: &Principal, id: &str) -> Result<(), UserError> {
        self.may_manage(actor, "users.revoke", id)?;
        let found: Option<TokenRecord> =
            self.store.get_record(Tree::Tokens, id).map_err(store_err)?;
        let Some(mut token) = found.filter(|t| t.revoked_ms.is_none()) else {
            return Err(UserError::NoToken(id.to_string()));
        };
        token.revoked_ms = Some(now_ms());
        self.store
            .put_record(Tree::Tokens, id, &token)
            .map_err(store_err)?;
        self.store.flush_blocking().map_err(store_err)?;
        self.audit(actor, "users.revoke", id, "ok");
        Ok(())
    }

    /// Signs `name` in with `password`.
    ///
    /// # Errors
    /// [`UserError::Unauthorized`] for a wrong name or password or a disabled user, alike.
    pub fn authenticate_password(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Principal, UserError> {
        let user = self.get(name)?;
        // An unknown user costs the same hash as a known one.
        let stored = user
            .as_ref()
            .map_or_else(dummy_hash, |u| u.password_hash.clone());
        let verified = PasswordHash::new(&stored).ok().is_some_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        });
        match user {
            Some(u) if verified && u.status == UserStatus::Active => Ok(Principal {
                name: u.name,
                tier: u.tier,
            }),
            _ => {
                self.audit(
                    &Principal {
                        name: name.to_string(),
                        tier: Tier::Free,
                    },
                    "auth.password",
                    name,
                    "refused: unauthorized",
                );
                Err(UserError::Unauthorized)
            }
        }
    }

    /// Finds whose `token` this is.
    ///
    /// # Errors
    /// [`UserError::Unauthorized`] for an unknown or revoked token or a disabled user, alike.
    pub fn authenticate_token(&self, token: &str) -> Result<Principal, UserError> {
        let (id, secret) = parse_token(token, self.client.as_deref()).unwrap_or(("", ""));
        let record: Option<TokenRecord> = if id.is_empty() {
            None
        } else {
            self.store.get_record(Tree::Tokens, id).map_err(store_err)?
        };
        // The secret's hash is compared in constant time, against a dummy when the id is
        // unknown, so the answer's timing says nothing of how close a guess was.
        let stored = record
            .as_ref()
            .map_or_else(|| secret_hash("no such token"), |t| t.secret_hash.clone());
        let matches = bool::from(secret_hash(secret).as_bytes().ct_eq(stored.as_bytes()));
        let live = record.filter(|t| matches && t.revoked_ms.is_none());
        let user = match &live {
            Some(t) => self.get(&t.user)?,
            None => None,
        };
        match user {
            Some(u) if u.status == UserStatus::Active => Ok(Principal {
                name: u.name,
                tier: u.tier,
            }),
            _ => {
                self.audit(
                    &Principal {
                        name: "?".into(),
                        tier: Tier::Free,
                    },
                    "auth.token",
                    id,
                    "refused: unauthorized",
                );
                Err(UserError::Unauthorized)
            }
        }
    }

    /// The last `n` entries of the audit log, oldest first.
    ///
    /// # Errors
    /// The store's.
    pub fn audit_log(&self, n: usize) -> Result<Vec<AuditEntry>, UserError> {
        let all: Vec<AuditEntry> = self
            .store
            .scan_records::<AuditEntry>(Tree::Audit, "")
            .map_err(store_err)?
            .into_iter()
            .filter_map(|(_, e)| e.ok())
            .collect();
        Ok(all[all.len().saturating_sub(n)..].to_vec())
    }
}

/// A user as shown, with the ids of its live tokens among `tokens` (user, id).
fn shown(user: UserRecord, tokens: &[(String, String)]) -> UserView {
    UserView {
        tokens: tokens
            .iter()
            .filter(|(u, _)| *u == user.name)
            .map(|(_, id)| id.clone())
            .collect(),
        name: user.name,
        tier: user.tier,
        status: user.status,
        created_ms: user.created_ms,
    }
}

/// A valid argon2id hash of nothing anyone knows, made once: what an unknown user's
/// password is checked against.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            let salt = SaltString::generate(&mut OsRng);
            let mut secret = [0u8; 32];
            rand::rng().fill_bytes(&mut secret);
            Argon2::default()
                .hash_password(&secret, &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
        .clone()
}

#[cfg(test)]
mod tests;
