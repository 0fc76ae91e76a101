//! `reporunner env [--json]`: the host profile, detected by an EnvDetector agent spawned
//! through the Admin, as every agent is.

use crate::boot::{Node, NodeConfig};
use anyhow::Context as _;
use clap::Args;
use reporunner_protocols::Wire;
use reporunner_protocols::env::EnvDetectorMessage;
use reporunner_protocols::host::HostProfile;
use reporunner_protocols::ids::AgentId;
use reporunner_runtime::naming::lookup;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `reporunner env`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  reporunner env            OS, CPUs, memory, GPUs, container, cloud, tools, and the advice
  reporunner env --json

Exit codes: 0 detected; 1 the detection could not run")]
pub struct EnvArgs {
    /// Print the whole profile as JSON.
    #[arg(long)]
    json: bool,
    /// How long each tool's `--version` may take, in milliseconds.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    command_timeout_ms: u64,
}

pub(crate) async fn run(args: EnvArgs) -> anyhow::Result<ExitCode> {
    let node = Node::start(NodeConfig::default()).await?;
    let result = detect(&node, args.command_timeout_ms).await;
    node.shutdown().await?;
    let profile = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&profile)?);
    } else {
        print!("{}", render(&profile));
    }
    Ok(ExitCode::SUCCESS)
}

async fn detect(node: &Node, timeout_ms: u64) -> anyhow::Result<HostProfile> {
    let name = AgentId::new("env-detector");
    node.admin()
        .spawn_agent(
            "env-detector",
            name.clone(),
            &format!(r#"{{"command_timeout_ms":{timeout_ms}}}"#),
        )
        .await
        .context("spawning the env detector")?;
    let env = lookup::<EnvDetectorMessage>(&node.namespace().agent(&name))
        .context("the env detector is not registered")?;
    let wait = Duration::from_millis(timeout_ms.saturating_mul(2)) + Duration::from_secs(10);
    let profile = ractor::call_t!(
        env,
        EnvDetectorMessage::GetHostProfile,
        wait.as_millis() as u64,
        Wire::new(true)
    )
    .map_err(|e| anyhow::anyhow!("the env detector did not answer: {e}"))?
    .open()?;
    Ok(profile)
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// Renders the profile for a person.
fn render(p: &HostProfile) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| {
        let _ = writeln!(out, "{k:<12}{v}");
    };
    line("Host", p.hostname.clone());
    let kernel =
        p.os.kernel
            .as_deref()
            .map(|k| format!(", kernel {k}"))
            .unwrap_or_default();
    line("OS", format!("{}{kernel} ({})", p.os.pretty_name, p.arch));
    line(
        "CPU",
        format!(
            "{} logical{}",
            p.cpu.logical,
            p.cpu
                .model
                .as_deref()
                .map(|m| format!(", {m}"))
                .unwrap_or_default()
        ),
    );
    let limit = p
        .memory
        .cgroup_limit_bytes
        .map(|l| format!(" (cgroup limit {})", gib(l)))
        .unwrap_or_default();
    line(
        "Memory",
        format!(
            "{} total, {} available{limit}",
            gib(p.memory.total_bytes),
            gib(p.memory.available_bytes)
        ),
    );
    if p.gpus.is_empty() {
        line(
            "GPUs",
            format!("none ({})", p.gpu_note.as_deref().unwrap_or("no GPU found")),
        );
    } else {
        for g in &p.gpus {
            line(
                "GPU",
                format!(
                    "#{} {}, {} MiB ({} MiB free), driver {}",
                    g.index, g.name, g.memory_total_mib, g.memory_free_mib, g.driver
                ),
            );
        }
    }
    line(
        "Container",
        p.container
            .as_ref()
            .map(|c| format!("{} ({})", c.runtime, c.evidence))
            .unwrap_or_else(|| "none".into()),
    );
    line("Kubernetes", if p.kubernetes { "yes" } else { "no" }.into());
    line(
        "Cloud",
        p.cloud
            .as_ref()
            .map(|c| format!("{} ({})", c.provider, c.evidence))
            .unwrap_or_else(|| "none detected".into()),
    );
    let found: Vec<String> = p
        .tools
        .iter()
        .filter(|t| t.path.is_some())
        .map(|t| format!("{} {}", t.name, t.version.as_deref().unwrap_or("?")))
        .collect();
    let missing: Vec<&str> = p
        .tools
        .iter()
        .filter(|t| t.path.is_none())
        .map(|t| t.name.as_str())
        .collect();
    line("Tools", found.join(", "));
    if !missing.is_empty() {
        line("Missing", missing.join(", "));
    }
    let r = &p.recommendation;
    line("Indexer", r.indexer.to_string());
    line("Workers", r.workers.to_string());
    for reason in &r.reasons {
        line("", format!("- {reason}"));
    }
    line("Detected in", format!("{} ms", p.detect_ms));
    out
}
