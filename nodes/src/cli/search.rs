//! `reporunner search PATH "QUERY" [-k N] [--json]`: asks a repository a question. The
//! ContextIndexer chooses the index for the tier (the CLI acts as the machine's owner,
//! the developer tier, unless `--as-tier`), brings it up to date with the files that
//! changed (a Collection is kept in the data directory, so a second search re-indexes
//! nothing), and answers with path, lines, score and snippet.

use super::runs::DataDirArgs;
use crate::boot::{Node, NodeConfig};
use anyhow::Context as _;
use clap::Args;
use reporunner_actors::agents::context_indexer::{
    ContextIndexerMessage, IndexRequest, SearchAnswer, SearchRequest,
};
use reporunner_protocols::access::Tier;
use reporunner_protocols::admin::AdminClient;
use reporunner_protocols::ids::AgentId;
use reporunner_runtime::index::{Filter, IndexKind, Query};
use reporunner_runtime::naming::Namespace;
use reporunner_runtime::naming::lookup;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `reporunner search`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  reporunner search . \"where is the database url read\"
  reporunner search ~/src/app \"login handler\" -k 3 --language python --json

Exit codes: 0 answered (maybe with no hits); 1 the path or the index cannot be used")]
pub struct SearchArgs {
    /// The repository's folder.
    path: PathBuf,
    /// The question, in words or code.
    query: String,
    /// How many answers.
    #[arg(short, default_value_t = 5)]
    k: usize,
    /// The index: simple (BM25), vector (HNSW over MiniLM) or collection (kept, hybrid).
    /// Unset: the best the tier may use and the host offers.
    #[arg(long, value_name = "KIND")]
    indexer: Option<IndexKind>,
    /// Search as a user of this tier would (it decides the indexers allowed).
    #[arg(long, default_value = "developer", value_name = "TIER")]
    as_tier: Tier,
    /// Only files whose path matches this glob, such as `src/**/*.py`.
    #[arg(long, value_name = "GLOB")]
    path_glob: Option<String>,
    /// Only files in this language (`python`, `markdown`, ...).
    #[arg(long)]
    language: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    data: DataDirArgs,
}

/// The agents a search needs.
const AGENTS: &[&str] = &["env-detector", "file", "context-indexer"];

pub(crate) async fn run(args: SearchArgs) -> anyhow::Result<ExitCode> {
    let root = super::repository_folder(&args.path)?;
    let node = Node::start(NodeConfig {
        data_dir: Some(args.data.resolve()),
        ..NodeConfig::default()
    })
    .await?;
    let result = search(&node, root, &args).await;
    node.shutdown().await?;
    let answer = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print!("{}", render(&answer));
    }
    Ok(ExitCode::SUCCESS)
}

async fn search(node: &Node, root: PathBuf, args: &SearchArgs) -> anyhow::Result<SearchAnswer> {
    let request = SearchRequest {
        index: IndexRequest {
            root,
            tier: args.as_tier,
            kind: args.indexer,
        },
        query: Query {
            text: args.query.clone(),
            k: args.k,
            filter: Filter {
                path_glob: args.path_glob.clone(),
                language: args.language.clone(),
            },
        },
    };
    search_with(&node.admin(), node.namespace(), request).await
}

/// Answers `request` with the context indexer of `namespace`, spawning the agents it needs
/// through `admin` when they are not running yet (the CLI and the HTTP API share this).
pub(crate) async fn search_with(
    admin: &AdminClient,
    namespace: &Namespace,
    request: SearchRequest,
) -> anyhow::Result<SearchAnswer> {
    super::ensure_agents(admin, AGENTS).await?;
    let indexer =
        lookup::<ContextIndexerMessage>(&namespace.agent(&AgentId::new("context-indexer")))
            .context("the context indexer is not registered")?;
    let answer = ractor::call_t!(
        indexer,
        ContextIndexerMessage::Search,
        3_600_000,
        Box::new(request)
    )
    .map_err(|e| anyhow::anyhow!("the context indexer did not answer: {e}"))??;
    Ok(answer)
}

/// The answer, for a person.
fn render(a: &SearchAnswer) -> String {
    let mut out = String::new();
    let r = &a.report;
    let _ = writeln!(
        out,
        "{} index{}: {} files, {} chunks; {} re-indexed, {} dropped, {} skipped ({} ms){}",
        r.kind,
        r.embedder
            .as_deref()
            .map(|e| format!(" over {e}"))
            .unwrap_or_default(),
        r.files_seen,
        r.chunks,
        r.files_indexed,
        r.files_removed,
        r.files_skipped,
        r.ms,
        if r.reloaded { "; reloaded" } else { "" }
    );
    let _ = writeln!(out, "  why: {}", r.reasons.join("; "));
    if a.hits.is_empty() {
        let _ = writeln!(out, "\nno answer");
    }
    for h in &a.hits {
        let _ = writeln!(
            out,
            "\n{}:{}-{}  ({}, score {:.3})",
            h.path, h.start_line, h.end_line, h.language, h.score
        );
        for line in h.snippet.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}
