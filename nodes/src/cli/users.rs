//! `reporunner users add|list|set-tier|disable|enable|token|revoke|audit`: the users of the
//! local store, managed as the machine's owner (the developer tier); or, with `--url`, of a
//! running node through its API, as the user of `--token` (Admin and Developer only).
//! Passwords come from `--password` or, kept out of the process list, `--password-stdin`;
//! a token is printed once, alone on the last line.

use super::runs::DataDirArgs;
use crate::api::client::ApiClient;
use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use hyper::Method;
use reporunner_actors::users::{
    AuditEntry, IssuedToken, Principal, UserBook, UserStatus, UserView,
};
use reporunner_protocols::access::Tier;
use reporunner_runtime::store::{SledStore, Store};
use std::io::Read as _;
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `reporunner users`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  reporunner users add ana --tier advanced --password-stdin < pass.txt
  reporunner users token ana            a token, printed once on the last line
  reporunner users list --json

Exit codes: 0 done; 1 refused (an unknown user, a bad name or tier) or the store cannot be used")]
pub struct UsersArgs {
    #[command(subcommand)]
    command: UsersCommand,
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    api: ApiArgs,
    #[command(flatten)]
    data: DataDirArgs,
}

/// `--url` and `--token`: a running node's API to act through instead of the local store.
#[derive(Debug, Args)]
pub(super) struct ApiArgs {
    /// Act on a running node through its API instead of the local store.
    #[arg(long, env = "REPORUNNER_URL", global = true, value_name = "URL")]
    url: Option<String>,
    /// The API token to act with, with `--url`.
    #[arg(long, env = "REPORUNNER_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
}

impl ApiArgs {
    /// The API's client, with `--url`; none without it.
    ///
    /// # Errors
    /// `--url` without a token, or a URL the client cannot use.
    pub(super) fn client(&self) -> anyhow::Result<Option<ApiClient>> {
        let Some(url) = &self.url else {
            return Ok(None);
        };
        let token = self
            .token
            .clone()
            .context("--url needs a token: --token or REPORUNNER_TOKEN")?;
        Ok(Some(ApiClient::new(url, Some(token))?))
    }
}

/// Where the users are: the local store, as its owner, or a node's API, as a token's user.
enum Users {
    Local(UserBook, Principal),
    Remote(ApiClient),
}

impl Users {
    fn open(args: &UsersArgs) -> anyhow::Result<Users> {
        match args.api.client()? {
            Some(api) => Ok(Users::Remote(api)),
            None => {
                let store: Arc<dyn Store> = Arc::new(SledStore::open(&args.data.resolve())?);
                Ok(Users::Local(UserBook::new(store), Principal::local()))
            }
        }
    }

    async fn add(&self, name: &str, tier: Tier, password: &str) -> anyhow::Result<UserView> {
        Ok(match self {
            Users::Local(book, me) => book.add(me, name, tier, password)?,
            Users::Remote(api) => {
                api.post(
                    "/v1/users",
                    &serde_json::json!({"name": name, "tier": tier, "password": password}),
                )
                .await?
            }
        })
    }

    async fn list(&self) -> anyhow::Result<Vec<UserView>> {
        Ok(match self {
            Users::Local(book, me) => book.list(me)?,
            Users::Remote(api) => api.get("/v1/users").await?,
        })
    }

    async fn update(
        &self,
        name: &str,
        tier: Option<Tier>,
        status: Option<UserStatus>,
    ) -> anyhow::Result<UserView> {
        Ok(match self {
            Users::Local(book, me) => match (tier, status) {
                (Some(tier), _) => book.set_tier(me, name, tier)?,
                (None, Some(status)) => book.set_status(me, name, status)?,
                (None, None) => bail!("nothing to change"),
            },
            Users::Remote(api) => {
                let mut body = serde_json::Map::new();
                if let Some(tier) = tier {
                    body.insert("tier".into(), serde_json::to_value(tier)?);
                }
                if let Some(status) = status {
                    body.insert("status".into(), serde_json::to_value(status)?);
                }
                api.call(Method::PATCH, &format!("/v1/users/{name}"), Some(&body))
                    .await?
            }
        })
    }

    async fn token(&self, name: &str) -> anyhow::Result<IssuedToken> {
        Ok(match self {
            Users::Local(book, me) => book.issue_token(me, name)?,
            Users::Remote(api) => {
                api.post(
                    &format!("/v1/users/{name}/tokens"),
                    &serde_json::json!(null),
                )
                .await?
            }
        })
    }

    async fn revoke(&self, id: &str) -> anyhow::Result<()> {
        match self {
            Users::Local(book, me) => book.revoke_token(me, id)?,
            Users::Remote(api) => {
                api.call::<(), serde_json::Value>(
                    Method::DELETE,
                    &format!("/v1/tokens/{id}"),
                    None,
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn audit(&self, n: usize) -> anyhow::Result<Vec<AuditEntry>> {
        Ok(match self {
            Users::Local(book, _) => book.audit_log(n)?,
            Users::Remote(api) => api.get(&format!("/v1/audit?n={n}")).await?,
        })
    }
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Add a user.
    Add {
        /// The name: 1 to 64 of a-z, 0-9, '.', '_', '-'.
        name: String,
        /// The tier: free, advanced, premium, tester, admin or developer.
        #[arg(long)]
        tier: Tier,
        /// The password (visible in the process list: prefer --password-stdin).
        #[arg(long, conflicts_with = "password_stdin")]
        password: Option<String>,
        /// Read the password from standard input (its first line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the users.
    List,
    /// Set a user's tier.
    SetTier {
        /// The user.
        name: String,
        /// The new tier.
        tier: Tier,
    },
    /// Disable a user: its password and tokens are refused.
    Disable {
        /// The user.
        name: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// The user.
        name: String,
    },
    /// Issue an API token; it is printed once, alone on the last line.
    Token {
        /// The user.
        name: String,
    },
    /// Revoke an API token by its id.
    Revoke {
        /// The token's id (the part after `rr_`, before the second `_`).
        id: String,
    },
    /// Show the audit log's last entries.
    Audit {
        /// How many.
        #[arg(short, default_value_t = 50)]
        n: usize,
    },
}

/// The password of `--password P` or, with `--password-stdin`, standard input's first line.
pub(super) fn read_password(password: Option<String>, stdin: bool) -> anyhow::Result<String> {
    Ok(match (password, stdin) {
        (Some(p), false) => p,
        (None, true) => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the password from standard input")?;
            text.lines().next().unwrap_or("").to_string()
        }
        _ => bail!("give the password: --password P, or --password-stdin"),
    })
}

pub(super) fn print_user(u: &UserView) {
    println!(
        "{:<20} {:<10} {:<9} tokens: {}",
        u.name,
        u.tier,
        match u.status {
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        },
        if u.tokens.is_empty() {
            "-".to_string()
        } else {
            u.tokens.join(", ")
        }
    );
}

pub(crate) async fn run(args: UsersArgs) -> anyhow::Result<ExitCode> {
    let users = Users::open(&args)?;
    let show = |u: &UserView| -> anyhow::Result<()> {
        if args.json {
            println!("{}", serde_json::to_string_pretty(u)?);
        } else {
            print_user(u);
        }
        Ok(())
    };
    match args.command {
        UsersCommand::Add {
            name,
            tier,
            password,
            password_stdin,
        } => {
            let password = read_password(password, password_stdin)?;
            show(&users.add(&name, tier, &password).await?)?;
        }
        UsersCommand::List => {
            let all = users.list().await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                all.iter().for_each(print_user);
            }
        }
        UsersCommand::SetTier { name, tier } => {
            show(&users.update(&name, Some(tier), None).await?)?
        }
        UsersCommand::Disable { name } => {
            show(
                &users
                    .update(&name, None, Some(UserStatus::Disabled))
                    .await?,
            )?;
        }
        UsersCommand::Enable { name } => {
            show(&users.update(&name, None, Some(UserStatus::Active)).await?)?;
        }
        UsersCommand::Token { name } => {
            let issued = users.token(&name).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&issued)?);
            } else {
                eprintln!(
                    "token {} for {name}; it is shown this once (revoke: reporunner users revoke {}):",
                    issued.id, issued.id
                );
                println!("{}", issued.token);
            }
        }
        UsersCommand::Revoke { id } => {
            users.revoke(&id).await?;
            if !args.json {
                println!("revoked {id}");
            }
        }
        UsersCommand::Audit { n } => {
            let log = users.audit(n).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&log)?);
            } else {
                for e in log {
                    println!(
                        "{} {:<12} {:<16} {:<24} {}",
                        e.at_ms, e.actor, e.action, e.target, e.outcome
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
