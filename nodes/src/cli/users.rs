//! `reporunner users add|list|set-tier|disable|enable|token|revoke|audit`: the users of the
//! local store, managed as the machine's owner (the developer tier). Passwords come from
//! `--password` or, kept out of the process list, `--password-stdin`; a token is printed
//! once, alone on the last line.

use super::runs::DataDirArgs;
use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use reporunner_actors::users::{Principal, UserBook, UserStatus, UserView};
use reporunner_protocols::access::Tier;
use reporunner_runtime::store::{SledStore, Store};
use std::io::Read as _;
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `reporunner users`.
#[derive(Debug, Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    command: UsersCommand,
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    data: DataDirArgs,
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

fn print_user(u: &UserView) {
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

pub(crate) fn run(args: UsersArgs) -> anyhow::Result<ExitCode> {
    let dir = args.data.resolve();
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir)?);
    let users = UserBook::new(store);
    let me = Principal::local();
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
            let password = match (password, password_stdin) {
                (Some(p), false) => p,
                (None, true) => {
                    let mut text = String::new();
                    std::io::stdin()
                        .read_to_string(&mut text)
                        .context("reading the password from standard input")?;
                    text.lines().next().unwrap_or("").to_string()
                }
                _ => bail!("give the password: --password P, or --password-stdin"),
            };
            show(&users.add(&me, &name, tier, &password)?)?;
        }
        UsersCommand::List => {
            let all = users.list(&me)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                all.iter().for_each(print_user);
            }
        }
        UsersCommand::SetTier { name, tier } => show(&users.set_tier(&me, &name, tier)?)?,
        UsersCommand::Disable { name } => {
            show(&users.set_status(&me, &name, UserStatus::Disabled)?)?;
        }
        UsersCommand::Enable { name } => {
            show(&users.set_status(&me, &name, UserStatus::Active)?)?;
        }
        UsersCommand::Token { name } => {
            let issued = users.issue_token(&me, &name)?;
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
            users.revoke_token(&me, &id)?;
            if !args.json {
                println!("revoked {id}");
            }
        }
        UsersCommand::Audit { n } => {
            let log = users.audit_log(n)?;
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
