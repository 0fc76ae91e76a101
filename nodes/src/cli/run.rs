//! `reporunner run PATH`: gets a repository running, shows each phase as it goes, reports
//! how far it got, and stays attached to the service until Ctrl-C. With `--check` it
//! stops everything after the report and exits with a status that tells the rung.

use crate::boot::{Node, NodeConfig};
use crate::cli::runs::DataDirArgs;
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use reporunner_actors::repo_run::{self, PHASES};
use reporunner_protocols::assist::{Consultation, Verdict};
use reporunner_protocols::ids::RunId;
use reporunner_protocols::run::{PhaseStatus, RunRecord, RunStatus};
use reporunner_protocols::stage::{REPO_WORKFLOW, RepoRunInput, RunReport};
use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Arguments of `reporunner run`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  reporunner run .                      run the repository here until Ctrl-C
  reporunner run ~/src/app --check      climb the ladder, report, stop everything
  reporunner run ~/src/app --check --json --no-tests > report.json

Exit codes (with --check):
  0      the target rung was reached (tests pass, or HTTP answers without tests)
  10+N   it stopped at rung N of 7 (10: nothing verified, 13: imports resolve, 16: HTTP answers)
  1      the path or the arguments are wrong, or the data directory is in use")]
pub struct RunArgs {
    /// The repository's folder. It is only read: the run works in a copy.
    path: PathBuf,
    /// Climb the ladder, run the tests, report, stop everything, and exit with a status
    /// that tells the rung: 0 when the target rung was reached, else 10 plus the rung
    /// reached (10 nothing, 11 plan valid, 12 install ok, 13 imports resolve, 14 process
    /// alive, 15 port open, 16 HTTP answers).
    #[arg(long)]
    check: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// The address the service binds.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Install missing Debian packages with apt-get (only as root).
    #[arg(long)]
    install_system_deps: bool,
    /// How long the service may take to answer HTTP, in seconds.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    http_timeout: u64,
    /// Do not run the project's tests.
    #[arg(long)]
    no_tests: bool,
    /// A model the run may consult when the rules run out: for a fix the failure
    /// catalogue does not know (an allow-listed command, within a budget), and for a start
    /// command in the README (kept only with a cited line). `smollm2`, or a GGUF file or
    /// safetensors folder. Off unless given; also `REPORUNNER_MODEL`.
    #[arg(long, env = "REPORUNNER_MODEL")]
    model: Option<String>,
    /// Do not build the repository's context index (built by default after analysis,
    /// and kept: a later run re-indexes only the files that changed).
    #[arg(long)]
    no_index: bool,
    /// Run the repository's commands unconfined, with this user's rights (for hosts where
    /// bubblewrap cannot make its namespaces; the report says so). Confined by default.
    #[arg(long)]
    no_sandbox: bool,
    /// Let confined commands share this host's network. By default their network is
    /// narrowed to the package registries (through a proxy), the databases the run
    /// starts, and the service's own port.
    #[arg(long)]
    open_network: bool,
    /// A host (with its subdomains) that confined commands may reach on top of the
    /// registries: an API the tests call, a private mirror. Repeatable.
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<String>,
    #[command(flatten)]
    data: DataDirArgs,
}

/// The exit status `--check` gives for a report.
pub(crate) fn check_status(report: &RunReport) -> u8 {
    if report.rung >= report.target {
        0
    } else {
        10 + report.rung.number()
    }
}

pub(crate) async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let path = super::repository_folder(&args.path)?;
    let input = RepoRunInput {
        path: path.display().to_string(),
        host: args.host.clone(),
        install_system_deps: args.install_system_deps,
        http_timeout_secs: args.http_timeout,
        run_tests: !args.no_tests,
        model: args.model.clone(),
        index: !args.no_index,
        tier: reporunner_protocols::access::Tier::Developer,
        user: None,
        sandbox: !args.no_sandbox,
        indexer: None,
        open_network: args.open_network,
        allow_hosts: args.allow_hosts.clone(),
    };
    let node = Node::start(NodeConfig {
        data_dir: Some(args.data.resolve()),
        ..NodeConfig::default()
    })
    .await?;
    let result = drive(&node, &args, &input).await;
    let code = match &result {
        Ok(code) => *code,
        Err(_) => ExitCode::FAILURE,
    };
    node.shutdown().await?;
    result.map(|_| code)
}

async fn drive(node: &Node, args: &RunArgs, input: &RepoRunInput) -> anyhow::Result<ExitCode> {
    let runs = node.runs()?;
    let id = runs
        .start(REPO_WORKFLOW, &serde_json::to_string(input)?)
        .await?;
    let fancy = std::io::stderr().is_terminal() && !args.json;
    let mut progress = Progress::new(fancy);
    if !args.json {
        progress.line(format!("run {id}: {}", input.path));
    }
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let record = loop {
        tokio::select! {
            _ = &mut ctrl_c => {
                progress.line("stopping (Ctrl-C)".into());
                let _ = runs.stop(&id).await;
                repo_run::stop_run(node.namespace(), &id).await;
                progress.finish();
                return Ok(ExitCode::from(130));
            }
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        let record = runs.get(&id).await?;
        progress.update(&record);
        if record.status != RunStatus::Running {
            break record;
        }
    };
    progress.finish();
    let report = repo_run::report(&record);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    let status = check_status(&report);
    let attach = !args.check && report.url.is_some();
    if attach {
        if !args.json {
            println!(
                "\nserving at {} (Ctrl-C stops it and its databases)",
                report.url.as_deref().unwrap_or_default()
            );
        }
        let _ = tokio::signal::ctrl_c().await;
        if !args.json {
            println!("stopping");
        }
    }
    stop(node, &id).await;
    Ok(ExitCode::from(status))
}

async fn stop(node: &Node, id: &RunId) {
    repo_run::stop_run(node.namespace(), id).await;
}

/// Phase progress: spinners on a terminal, plain lines otherwise.
struct Progress {
    bars: Option<(MultiProgress, BTreeMap<String, ProgressBar>)>,
    seen: BTreeMap<String, (PhaseStatus, u32)>,
    repairs: usize,
    started: Instant,
}

impl Progress {
    fn new(fancy: bool) -> Self {
        let bars = fancy.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{spinner} {prefix:<13} {wide_msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let bars = PHASES
                .iter()
                .map(|p| {
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_style(style.clone());
                    bar.set_prefix(p.to_string());
                    bar.set_message("waiting");
                    (p.to_string(), bar)
                })
                .collect();
            (multi, bars)
        });
        Self {
            bars,
            seen: BTreeMap::new(),
            repairs: 0,
            started: Instant::now(),
        }
    }

    fn line(&self, text: String) {
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    fn update(&mut self, record: &RunRecord) {
        for r in record.repairs.iter().skip(self.repairs) {
            self.line(format!(
                "fix {}: {} ({}) -> back to {}",
                r.class.code(),
                r.fix,
                r.evidence,
                r.redo_from
            ));
        }
        self.repairs = record.repairs.len();
        for p in &record.phases {
            let now = (p.status, p.attempts);
            if self.seen.get(&p.name) == Some(&now) {
                continue;
            }
            self.seen.insert(p.name.clone(), now);
            let took = p
                .finished_ms
                .map(|f| format!("{:.1}s", f.saturating_sub(p.started_ms) as f64 / 1000.0))
                .unwrap_or_default();
            let text = match p.status {
                PhaseStatus::Running => "running".to_string(),
                PhaseStatus::Succeeded => format!("done {took}"),
                PhaseStatus::Failed => {
                    format!("failed {took}: {}", p.error.as_deref().unwrap_or_default())
                }
            };
            match &self.bars {
                Some((_, bars)) => {
                    if let Some(bar) = bars.get(&p.name) {
                        match p.status {
                            PhaseStatus::Running => {
                                bar.reset_elapsed();
                                bar.enable_steady_tick(Duration::from_millis(120));
                                bar.set_message(text);
                            }
                            _ => bar.finish_with_message(text),
                        }
                    }
                }
                None => eprintln!(
                    "[{:>6.1}s] {:<13} {text}",
                    self.started.elapsed().as_secs_f64(),
                    p.name
                ),
            }
        }
    }

    fn finish(&self) {
        if let Some((_, bars)) = &self.bars {
            for bar in bars.values() {
                if !bar.is_finished() {
                    bar.finish_with_message("-");
                }
            }
        }
    }
}

/// One question put to a model, and its fate, in a line.
pub(crate) fn describe(c: &Consultation) -> String {
    let at = c
        .phase
        .as_deref()
        .map(|p| format!(" in {p}"))
        .unwrap_or_default();
    let proposal = c
        .proposal
        .as_deref()
        .map(|p| format!(" `{p}`"))
        .unwrap_or_default();
    let fate = match &c.verdict {
        Verdict::Applied => "ran it".to_string(),
        Verdict::Kept => "kept (the cited line says it)".to_string(),
        Verdict::Refused { reason } => format!("refused: {reason}"),
        Verdict::Failed { reason } => format!("ran it and it failed: {reason}"),
        Verdict::NoProposal => format!("no proposal in its answer {:?}", c.answer),
        Verdict::Unavailable { reason } => format!("no model answered: {reason}"),
    };
    format!(
        "{}{at} ({}, {} ms):{proposal} {fate}",
        c.purpose, c.backend, c.ms
    )
}

/// The report, for people.
pub(crate) fn render(r: &RunReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mark = if r.rung >= r.target {
        "reached"
    } else {
        "stopped at"
    };
    let _ = writeln!(
        out,
        "\n{mark} rung {} of 7: {} (target: {})",
        r.rung.number(),
        r.rung,
        r.target
    );
    if let Some(why) = &r.stopped_because {
        let _ = writeln!(out, "why: {why}");
    }
    if let Some(url) = &r.url {
        let _ = writeln!(out, "url: {url}");
    }
    if let Some(p) = &r.http {
        let _ = writeln!(
            out,
            "http: GET {} answered {}{}",
            p.path,
            p.status,
            p.problem
                .as_deref()
                .map(|w| format!(" ({w}): not healthy"))
                .unwrap_or_default()
        );
        for line in p.body.iter().take(5) {
            let _ = writeln!(out, "  > {line}");
        }
    }
    for p in r
        .probes
        .iter()
        .filter(|p| Some(&p.path) != r.http.as_ref().map(|h| &h.path))
    {
        let _ = writeln!(
            out,
            "  also GET {} answered {}{}",
            p.path,
            p.status,
            p.problem
                .as_deref()
                .map(|w| format!(" ({w})"))
                .unwrap_or_default()
        );
    }
    if !r.traceback.is_empty() {
        let _ = writeln!(out, "the service logged:");
        for l in r.traceback.iter().rev().take(15).rev() {
            let _ = writeln!(out, "  | {l}");
        }
    }
    if let Some(m) = &r.port_mismatch {
        let _ = writeln!(
            out,
            "port: the service ignored PORT={} and listens on {}",
            m.leased, m.actual
        );
    }
    if let Some(ws) = &r.workspace {
        let _ = writeln!(out, "workspace: {ws}");
    }
    if let Some(c) = &r.confinement {
        let _ = writeln!(out, "sandbox: {c}");
    }
    if r.installs_cached {
        let _ = writeln!(
            out,
            "dependencies: from the cache (unchanged manifests and lockfiles)"
        );
    }
    if !r.repairs.is_empty() {
        let _ = writeln!(out, "fixes:");
        for f in &r.repairs {
            let by = f
                .model
                .as_deref()
                .map(|m| format!(", proposed by {m}"))
                .unwrap_or_default();
            let outcome = f.outcome.map(|o| format!(" — {o}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} in {}: {} (seen: {}{by}){outcome}",
                f.class.code(),
                f.phase,
                f.fix,
                f.evidence
            );
        }
    }
    if let Some(i) = &r.index {
        match &i.error {
            Some(e) => {
                let _ = writeln!(out, "index: not built: {e}");
            }
            None => {
                let _ = writeln!(
                    out,
                    "index: {}{}, {} files, {} chunks, {} re-indexed{} ({} ms)",
                    i.kind,
                    i.embedder
                        .as_deref()
                        .map(|e| format!(" over {e}"))
                        .unwrap_or_default(),
                    i.files_seen,
                    i.chunks,
                    i.files_indexed,
                    if i.reloaded { ", reloaded" } else { "" },
                    i.ms
                );
            }
        }
    }
    if let Some(model) = &r.model {
        let took_part = if r.model_took_part {
            "answered"
        } else {
            "did not answer"
        };
        let _ = writeln!(out, "model {model}: {took_part}");
        for c in &r.consultations {
            let _ = writeln!(out, "  {}", describe(c));
        }
    }
    if !r.env_written.is_empty() {
        let vars: Vec<String> = r
            .env_written
            .iter()
            .map(|(k, s)| format!("{k} ({s})"))
            .collect();
        let _ = writeln!(out, ".env written: {}", vars.join(", "));
    }
    for d in &r.databases {
        let _ = writeln!(
            out,
            "database {}: {}{}",
            d.kind,
            d.state,
            d.url
                .as_deref()
                .map(|u| format!(" at {u}"))
                .unwrap_or_default()
        );
    }
    if let Some(t) = &r.tests {
        let counts: Vec<String> = t.counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        let _ = writeln!(
            out,
            "tests: {} ({}; read from {}){}",
            if t.ran_none() {
                "none ran"
            } else if t.passed {
                "passed"
            } else {
                "FAILED"
            },
            if counts.is_empty() {
                "no per-test results".into()
            } else {
                counts.join(", ")
            },
            t.parsed_from,
            t.command
                .as_deref()
                .map(|c| format!(": {c}"))
                .unwrap_or_default()
        );
        for test in t.tests.iter().filter(|t| t.status == "failed") {
            let _ = writeln!(out, "  failed: {}", test.name);
        }
        if !t.missing_programs.is_empty() {
            let _ = writeln!(
                out,
                "  they tried to run, not installed here: {}",
                t.missing_programs.join(", ")
            );
        }
    }
    if let Some(o) = &r.service_output {
        let _ = writeln!(out, "service output (last lines):");
        for l in o.tail.iter().rev().take(15).rev() {
            let _ = writeln!(out, "  | {l}");
        }
    }
    let _ = writeln!(out, "phases:");
    for (name, status, ms) in &r.phases {
        let _ = writeln!(
            out,
            "  {name:<13} {status:<10} {:>8.1}s",
            *ms as f64 / 1000.0
        );
    }
    let _ = writeln!(
        out,
        "time: {:.1}s in all; tools {:.1}s, service start-up {:.1}s, Repo Runner {:.2}s",
        r.total_ms as f64 / 1000.0,
        r.tool_ms as f64 / 1000.0,
        r.startup_ms as f64 / 1000.0,
        r.overhead_ms as f64 / 1000.0
    );
    if !r.logs.is_empty() {
        let _ = writeln!(out, "logs:");
        for l in &r.logs {
            let _ = writeln!(out, "  {l}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use reporunner_protocols::stage::Rung;

    #[test]
    fn the_check_status_tells_the_rung() {
        let mut r = RunReport {
            run: "r".into(),
            status: "succeeded".into(),
            rung: Rung::HttpAnswers,
            target: Rung::HttpAnswers,
            url: None,
            stopped_because: None,
            confinement: None,
            workspace: None,
            installs_cached: false,
            repairs: vec![],
            phases: vec![],
            logs: vec![],
            env_written: vec![],
            databases: vec![],
            port_mismatch: None,
            started: None,
            tests: None,
            service_output: None,
            total_ms: 0,
            tool_ms: 0,
            startup_ms: 0,
            overhead_ms: 0,
            model: None,
            model_took_part: false,
            consultations: vec![],
            index: None,
            http: None,
            probes: vec![],
            traceback: vec![],
        };
        assert_eq!(check_status(&r), 0);
        r.target = Rung::TestsPass;
        assert_eq!(check_status(&r), 16);
        r.rung = Rung::None;
        assert_eq!(check_status(&r), 10);
        assert!(render(&r).contains("stopped at rung 0 of 7"));
    }
}
