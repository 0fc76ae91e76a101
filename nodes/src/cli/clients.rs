//! `reporunner clients create|list|show|remove|add-user`: business clients, each with its
//! own orchestrator, users, store scope and workflow. Locally the command starts the
//! node's Admin on the data directory (as the machine's owner, the developer tier), asks
//! it, and stops; a head started later on that directory brings the clients back. With
//! `--url`, it asks a running node's API, as the Developer-tier user of `--token`.

use super::runs::DataDirArgs;
use super::users::{ApiArgs, print_user, read_password};
use crate::api::client::ApiClient;
use crate::boot::{Node, NodeConfig};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use hyper::Method;
use reporunner_actors::managers::user_manager::UsersClient;
use reporunner_actors::users::{Principal, UserView};
use reporunner_protocols::access::Tier;
use reporunner_protocols::business::{
    ClientInfo, ClientSettings, ClientSpec, DEFAULT_CLIENT_TIERS,
};
use reporunner_protocols::host::IndexerKind;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `reporunner clients`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  reporunner clients create acme --repo-root /srv/acme --admin ana --password-stdin < pass.txt
  reporunner clients create lab --repo-root /srv/lab --tiers free,tester --indexer simple \\
      --phases environment,analysis,index --max-concurrent-runs 2
  reporunner clients list
  reporunner clients add-user acme bob --tier advanced --password-stdin < pass.txt
  reporunner clients list --url http://head:8080 --token \"$DEV_TOKEN\"

A client's users log in with POST /v1/login {name, password, client}; their tokens name the
client, and every request of theirs sees only the client's users, runs and audit log.

Exit codes: 0 done; 1 refused (a bad name or setting, a client that exists or does not) or
the store or the node cannot be used")]
pub struct ClientsArgs {
    #[command(subcommand)]
    command: ClientsCommand,
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
    /// A running node's API to act through (with a developer tier's token).
    #[command(flatten)]
    api: ApiArgs,
    #[command(flatten)]
    data: DataDirArgs,
}

#[derive(Debug, Subcommand)]
enum ClientsCommand {
    /// Create a client: its orchestrator starts now, and with every head after.
    Create {
        /// 1 to 32 of a-z, 0-9 and '-', starting with a letter.
        name: String,
        /// The folder its repositories are taken from (with --url: inside the node's
        /// repository root, relative to it).
        #[arg(long)]
        repo_root: PathBuf,
        /// The tiers its users may hold [default: all but developer].
        #[arg(long, value_delimiter = ',')]
        tiers: Vec<Tier>,
        /// The context indexer its runs and searches use: simple, vector or collection
        /// [default: each user's tier chooses].
        #[arg(long)]
        indexer: Option<IndexerKind>,
        /// The phases its runs execute, in the registered order [default: all].
        #[arg(long, value_delimiter = ',')]
        phases: Vec<String>,
        /// At most this many requests that do work, an hour, per user.
        #[arg(long)]
        requests_per_hour: Option<u32>,
        /// At most this many of its runs at once.
        #[arg(long)]
        max_concurrent_runs: Option<u32>,
        /// Its first user, of the admin tier.
        #[arg(long, value_name = "NAME")]
        admin: Option<String>,
        /// The first user's password (visible in the process list: prefer
        /// --password-stdin).
        #[arg(long, conflicts_with = "password_stdin", requires = "admin")]
        password: Option<String>,
        /// Read the first user's password from standard input (its first line).
        #[arg(long, requires = "admin")]
        password_stdin: bool,
    },
    /// List the clients.
    List,
    /// Show one client and its settings.
    Show {
        /// The client.
        name: String,
    },
    /// Stop a client's orchestrator and forget it (its data stays in the store).
    Remove {
        /// The client.
        name: String,
    },
    /// Add a user to a client.
    AddUser {
        /// The client.
        client: String,
        /// The user's name.
        name: String,
        /// Its tier: one the client allows.
        #[arg(long)]
        tier: Tier,
        /// The password (visible in the process list: prefer --password-stdin).
        #[arg(long, conflicts_with = "password_stdin")]
        password: Option<String>,
        /// Read the password from standard input (its first line).
        #[arg(long)]
        password_stdin: bool,
    },
}

/// Where the clients are: this data directory's Admin, or a node's API.
enum Clients {
    Local(Box<Node>),
    Remote(ApiClient),
}

impl Clients {
    async fn open(args: &ClientsArgs) -> anyhow::Result<Clients> {
        match args.api.client()? {
            Some(api) => Ok(Clients::Remote(api)),
            None => Ok(Clients::Local(Box::new(
                Node::start(NodeConfig {
                    data_dir: Some(args.data.resolve()),
                    ..NodeConfig::default()
                })
                .await?,
            ))),
        }
    }

    async fn close(self) -> anyhow::Result<()> {
        if let Clients::Local(node) = self {
            node.shutdown().await?;
        }
        Ok(())
    }

    async fn list(&self) -> anyhow::Result<Vec<ClientInfo>> {
        Ok(match self {
            Clients::Local(node) => node.admin().clients().await?,
            Clients::Remote(api) => api.get("/v1/clients").await?,
        })
    }

    async fn add_user(
        &self,
        client: &str,
        name: &str,
        tier: Tier,
        password: &str,
    ) -> anyhow::Result<UserView> {
        Ok(match self {
            Clients::Local(node) => {
                if !node
                    .admin()
                    .clients()
                    .await?
                    .iter()
                    .any(|c| c.name == client)
                {
                    anyhow::bail!("no client {client:?}");
                }
                UsersClient::new(node.namespace().client(client).user_manager())
                    .add(&Principal::local(), name, tier, password)
                    .await?
            }
            Clients::Remote(api) => {
                api.post(
                    &format!("/v1/clients/{client}/users"),
                    &serde_json::json!({"name": name, "tier": tier, "password": password}),
                )
                .await?
            }
        })
    }
}

fn print_client(c: &ClientInfo) {
    let s = &c.settings;
    println!(
        "{}  {}\n  repositories: {}\n  tiers: {}\n  indexer: {}\n  phases: {}\n  limits: {} requests an hour per user, {} runs at once",
        c.name,
        if c.running { "running" } else { "not running" },
        s.repo_root,
        s.tiers
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        s.indexer
            .map_or_else(|| "the tier's".to_string(), |k| k.to_string()),
        s.phases.join(", "),
        s.requests_per_hour
            .map_or_else(|| "the tier's".to_string(), |n| n.to_string()),
        s.max_concurrent_runs
            .map_or_else(|| "any".to_string(), |n| n.to_string()),
    );
}

pub(crate) async fn run(args: ClientsArgs) -> anyhow::Result<ExitCode> {
    let clients = Clients::open(&args).await?;
    let result = command(&clients, args.command, args.json).await;
    clients.close().await?;
    result
}

async fn command(
    clients: &Clients,
    command: ClientsCommand,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let show = |c: &ClientInfo| -> anyhow::Result<()> {
        if json {
            println!("{}", serde_json::to_string_pretty(c)?);
        } else {
            print_client(c);
        }
        Ok(())
    };
    match command {
        ClientsCommand::Create {
            name,
            repo_root,
            tiers,
            indexer,
            phases,
            requests_per_hour,
            max_concurrent_runs,
            admin,
            password,
            password_stdin,
        } => {
            let tiers = if tiers.is_empty() {
                DEFAULT_CLIENT_TIERS.to_vec()
            } else {
                tiers
            };
            let first = match &admin {
                Some(user) => Some((user.clone(), read_password(password, password_stdin)?)),
                None => None,
            };
            let (info, user) = match clients {
                Clients::Local(node) => {
                    let root = repo_root
                        .canonicalize()
                        .with_context(|| format!("the repository root {}", repo_root.display()))?;
                    let info = node
                        .admin()
                        .create_client(ClientSpec {
                            name: name.clone(),
                            settings: ClientSettings {
                                repo_root: root.display().to_string(),
                                tiers,
                                indexer,
                                phases,
                                requests_per_hour,
                                max_concurrent_runs,
                            },
                        })
                        .await?;
                    let user = match &first {
                        Some((user, password)) => {
                            Some(clients.add_user(&name, user, Tier::Admin, password).await?)
                        }
                        None => None,
                    };
                    (info, user)
                }
                Clients::Remote(api) => {
                    let created: serde_json::Value = api
                        .call(
                            Method::POST,
                            "/v1/clients",
                            Some(&serde_json::json!({
                                "name": name,
                                "repo_root": repo_root,
                                "tiers": tiers,
                                "indexer": indexer,
                                "phases": (!phases.is_empty()).then_some(&phases),
                                "requests_per_hour": requests_per_hour,
                                "max_concurrent_runs": max_concurrent_runs,
                                "admin": first.as_ref().map(|(n, p)| serde_json::json!({"name": n, "password": p})),
                            })),
                        )
                        .await?;
                    (
                        serde_json::from_value(created["client"].clone())?,
                        serde_json::from_value(created["admin"].clone())?,
                    )
                }
            };
            show(&info)?;
            if let Some(user) = &user {
                if json {
                    println!("{}", serde_json::to_string_pretty(user)?);
                } else {
                    print!("  first user: ");
                    print_user(user);
                }
            }
        }
        ClientsCommand::List => {
            let all = clients.list().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                println!("no business clients (reporunner clients create NAME --repo-root DIR)");
            } else {
                all.iter().for_each(print_client);
            }
        }
        ClientsCommand::Show { name } => {
            let found = clients.list().await?.into_iter().find(|c| c.name == name);
            match found {
                Some(c) => show(&c)?,
                None => anyhow::bail!("no client {name:?}"),
            }
        }
        ClientsCommand::Remove { name } => {
            match clients {
                Clients::Local(node) => node.admin().remove_client(&name).await?,
                Clients::Remote(api) => {
                    api.call::<(), serde_json::Value>(
                        Method::DELETE,
                        &format!("/v1/clients/{name}"),
                        None,
                    )
                    .await?;
                }
            }
            if !json {
                println!("removed {name}; its users and runs stay in the store");
            }
        }
        ClientsCommand::AddUser {
            client,
            name,
            tier,
            password,
            password_stdin,
        } => {
            let password = read_password(password, password_stdin)?;
            let user = clients.add_user(&client, &name, tier, &password).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&user)?);
            } else {
                print_user(&user);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
