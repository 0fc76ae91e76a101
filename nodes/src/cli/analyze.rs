//! `reporunner analyze PATH [--json]`: the repository's profile, found by the Detection,
//! Requirements, Config and Database agents, spawned through the Admin.

use crate::boot::{Node, NodeConfig};
use anyhow::Context as _;
use clap::Args;
use reporunner_protocols::Wire;
use reporunner_protocols::access::Tier;
use reporunner_protocols::admin::AdminClient;
use reporunner_protocols::ids::AgentId;
use reporunner_protocols::profile::{AnalyzeRequest, DetectionMessage, Fact, ProjectProfile};
use reporunner_runtime::naming::Namespace;
use reporunner_runtime::naming::lookup;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `reporunner analyze`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  reporunner analyze .                  components, commands, port, env, databases, with evidence
  reporunner analyze ~/src/app --json   the complete profile

Exit codes: 0 analysed; 1 the path is missing, a file, or an empty folder")]
pub struct AnalyzeArgs {
    /// The repository's folder.
    path: PathBuf,
    /// Print the complete profile as JSON.
    #[arg(long)]
    json: bool,
    /// A model that may read the README for a start command the rules do not find (kept
    /// only with a cited line): `smollm2`, or a GGUF file or safetensors folder. Also
    /// `REPORUNNER_MODEL`.
    #[arg(long, env = "REPORUNNER_MODEL")]
    model: Option<String>,
}

/// The agents an analysis needs, by kind; each is spawned under its kind's name.
const AGENTS: &[&str] = &["requirements", "config", "database", "detection"];

pub(crate) async fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let path = super::repository_folder(&args.path)?;
    let node = Node::start(NodeConfig::default()).await?;
    let result = analyze(
        &node.admin(),
        node.namespace(),
        &path,
        args.model.clone(),
        Tier::Developer,
    )
    .await;
    node.shutdown().await?;
    let profile = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&profile)?);
    } else {
        print!("{}", render(&profile));
    }
    Ok(ExitCode::SUCCESS)
}

/// Analyzes the repository at `path` with the agents of `namespace`, spawning the ones not
/// running yet through `admin` (the CLI and the HTTP API share this).
pub(crate) async fn analyze(
    admin: &AdminClient,
    namespace: &Namespace,
    path: &std::path::Path,
    model: Option<String>,
    tier: Tier,
) -> anyhow::Result<ProjectProfile> {
    super::ensure_agents(admin, AGENTS).await?;
    let detection = lookup::<DetectionMessage>(&namespace.agent(&AgentId::new("detection")))
        .context("the detection agent is not registered")?;
    let request = AnalyzeRequest {
        path: path.display().to_string(),
        model,
        tier,
    };
    let profile = ractor::call_t!(
        detection,
        DetectionMessage::Analyze,
        300_000,
        Wire::new(request)
    )
    .map_err(|e| anyhow::anyhow!("the detection agent did not answer: {e}"))?
    .open()??;
    Ok(profile)
}

fn fact<T: std::fmt::Display>(f: &Option<Fact<T>>) -> String {
    match f {
        Some(f) => format!(
            "{}  [{}]",
            f.value,
            f.evidence
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        None => "-".into(),
    }
}

fn list(fs: &[Fact<String>]) -> String {
    if fs.is_empty() {
        "-".into()
    } else {
        fs.iter()
            .map(|f| f.value.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Renders the profile for a person.
fn render(p: &ProjectProfile) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({} files, {} ms)",
        p.root, p.files_seen, p.analyze_ms
    );
    if p.components.is_empty() {
        let _ = writeln!(
            out,
            "\nno component found: no manifest this version understands"
        );
    }
    for c in &p.components {
        let web = if p.web_component.as_deref() == Some(c.path.as_str()) {
            "  (web)"
        } else {
            ""
        };
        let _ = writeln!(out, "\ncomponent {} — {}{web}", c.path, c.name);
        let mut line = |k: &str, v: String| {
            let _ = writeln!(out, "  {k:<16}{v}");
        };
        line("kind", fact(&c.kind));
        line("languages", list(&c.languages));
        line("frameworks", list(&c.frameworks));
        line("runtime", list(&c.runtime_versions));
        line("package manager", fact(&c.package_manager));
        line("install", fact(&c.install_command));
        line("build", fact(&c.build_command));
        line("start", fact(&c.start_command));
        line("port", fact(&c.port));
        line("reads PORT", fact(&c.reads_port_env));
        line("binds", fact(&c.bind_host));
        line("test", fact(&c.test_command));
        line("databases", list(&c.databases));
        line("migrations", list(&c.migrations));
        line("system packages", list(&c.system_packages));
        line("dependencies", c.dependencies.len().to_string());
        if !c.env_vars.is_empty() {
            let vars: Vec<String> = c
                .env_vars
                .iter()
                .map(|v| {
                    let mut tags = Vec::new();
                    if v.required {
                        tags.push("required");
                    }
                    if v.secret {
                        tags.push("secret");
                    }
                    if tags.is_empty() {
                        v.name.clone()
                    } else {
                        format!("{} ({})", v.name, tags.join(", "))
                    }
                })
                .collect();
            line("env", vars.join(", "));
        }
        if let Some(why) = &c.unsupported {
            line("unsupported", why.clone());
        }
        for k in &c.conflicts {
            let others: Vec<&str> = k.candidates.iter().map(|f| f.value.as_str()).collect();
            line(
                "conflict",
                format!(
                    "{}: chose {} of [{}] — {}",
                    k.topic,
                    k.chosen.as_deref().unwrap_or("none"),
                    others.join(" | "),
                    k.reason
                ),
            );
        }
    }
    if let (Some(w), Some(why)) = (&p.web_component, &p.web_component_reason) {
        let _ = writeln!(out, "\nweb component: {w} — {why}");
    }
    for w in &p.warnings {
        let _ = writeln!(
            out,
            "warning: {}{}",
            w.file
                .as_deref()
                .map(|f| format!("{f}: "))
                .unwrap_or_default(),
            w.message
        );
    }
    for c in &p.consultations {
        let _ = writeln!(out, "model {}: {}", c.model, super::run::describe(c));
    }
    out
}
