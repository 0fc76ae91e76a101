//! What the run's agents share: the failure a stage reports, commands run as steps with
//! their logs, and typed calls to a peer agent by name.

use ractor::rpc::CallResult;
use ractor::{ActorRef, Message, RpcReplyPort};
use reporunner_protocols::Wire;
use reporunner_protocols::ports::{LeaseRequest, PortManagerMessage};
use reporunner_protocols::repair::{Fix, RepairRecord};
use reporunner_protocols::stage::StepReport;
use reporunner_runtime::naming::{Namespace, lookup};
use reporunner_runtime::process::{self, CommandSpec, Outcome};
use reporunner_runtime::workflow::PhaseError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a stage of a run failed: the project's reason, with the lines that show it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct StageFailure {
    /// What went wrong.
    pub message: String,
    /// The output lines that show it, for the Fixer.
    pub lines: Vec<String>,
    /// What the stage found before it failed.
    pub detail: Option<serde_json::Value>,
}

impl StageFailure {
    /// A failure with this message and no output.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            lines: Vec::new(),
            detail: None,
        }
    }

    /// A failure of the step `step`: its error lines and tail go to the Fixer.
    pub fn of_step(step: &StepReport, outcome: &Outcome) -> Self {
        let mut lines = outcome.error_lines.clone();
        lines.extend(outcome.tail.iter().cloned());
        Self {
            message: format!(
                "{} failed ({}): `{}`{}",
                step.purpose,
                describe_exit(outcome),
                step.command,
                step.log
                    .as_ref()
                    .map(|l| format!("; log: {l}"))
                    .unwrap_or_default()
            ),
            lines,
            detail: None,
        }
    }
}

impl From<StageFailure> for PhaseError {
    fn from(f: StageFailure) -> Self {
        let mut e = PhaseError::new(f.message).with_lines(f.lines);
        e.detail = f.detail;
        e
    }
}

fn describe_exit(o: &Outcome) -> String {
    match (o.cutoff, o.code, o.signal) {
        (Some(c), _, _) => format!("{c:?}").to_lowercase(),
        (None, Some(code), _) => format!("exit code {code}"),
        (None, None, Some(sig)) => format!("signal {sig}"),
        _ => "no exit status".into(),
    }
}

/// How long an install, build or migration may run, and stay silent.
pub(crate) const TOOL_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How long a tool may print nothing before it is taken for hung (F14).
pub(crate) const TOOL_IDLE: Duration = Duration::from_secs(5 * 60);

/// A shell command run in `cwd` with `env`, logged to `<logs>/<purpose>.log`.
pub(crate) fn shell(
    script: &str,
    cwd: &Path,
    env: &BTreeMap<String, String>,
    logs: &Path,
    purpose: &str,
) -> CommandSpec {
    let mut spec = CommandSpec::new("/bin/sh", &["-c", script], cwd);
    spec.env = env.clone();
    spec.timeout = Some(TOOL_TIMEOUT);
    spec.idle_timeout = Some(TOOL_IDLE);
    spec.log = Some(log_path(logs, purpose));
    spec
}

/// `<logs>/<purpose>.log`, with a number added when that file exists already.
pub(crate) fn log_path(logs: &Path, purpose: &str) -> PathBuf {
    let _ = std::fs::create_dir_all(logs);
    let clean: String = purpose
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut path = logs.join(format!("{clean}.log"));
    let mut n = 2;
    while path.exists() {
        path = logs.join(format!("{clean}-{n}.log"));
        n += 1;
    }
    path
}

/// Runs `spec` as the step `purpose`; a failure to start at all is a failed step too.
pub(crate) async fn run_step(purpose: &str, spec: &CommandSpec) -> (StepReport, Outcome) {
    let command = spec
        .args
        .get(1)
        .filter(|_| spec.program == "/bin/sh")
        .cloned()
        .unwrap_or_else(|| spec.display());
    let outcome = match process::run(spec).await {
        Ok(o) => o,
        Err(e) => Outcome {
            command: command.clone(),
            code: None,
            signal: None,
            cutoff: None,
            duration: Duration::ZERO,
            head: Vec::new(),
            tail: vec![e.to_string()],
            error_lines: vec![e.to_string()],
            log: spec.log.clone(),
        },
    };
    let report = StepReport {
        purpose: purpose.to_string(),
        command,
        code: outcome.code,
        ok: outcome.success(),
        duration_ms: outcome.duration.as_millis() as u64,
        log: outcome.log.as_ref().map(|p| p.display().to_string()),
        tail: outcome.tail.iter().rev().take(20).rev().cloned().collect(),
    };
    (report, outcome)
}

/// Runs a step and fails the stage when it fails.
pub(crate) async fn must(
    purpose: &str,
    spec: &CommandSpec,
    steps: &mut Vec<StepReport>,
) -> Result<Outcome, StageFailure> {
    let (report, outcome) = run_step(purpose, spec).await;
    steps.push(report.clone());
    if report.ok {
        Ok(outcome)
    } else {
        Err(StageFailure::of_step(&report, &outcome))
    }
}

/// The host's `PATH` with `dirs` in front.
pub(crate) fn path_with(dirs: &[PathBuf]) -> String {
    let mut parts: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    if let Ok(p) = std::env::var("PATH") {
        parts.push(p);
    }
    parts.join(":")
}

/// Merges `extra` into `env`; a `PATH` in both is joined, `extra`'s first.
pub(crate) fn merge_env(env: &mut BTreeMap<String, String>, extra: &BTreeMap<String, String>) {
    for (k, v) in extra {
        match (k.as_str(), env.get(k)) {
            ("PATH", Some(old)) if old != v => {
                let host = std::env::var("PATH").unwrap_or_default();
                let head = v.strip_suffix(&host).unwrap_or(v).trim_end_matches(':');
                let joined = format!("{head}:{old}");
                env.insert(k.clone(), joined);
            }
            _ => {
                env.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Whether `program` is on the host's `PATH`.
pub(crate) fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(program))
            .find(|f| f.is_file())
    })
}

/// Calls the agent registered as `name` and waits up to `timeout` for its answer. An agent
/// that is missing, or stops (crashes) while answering, gives a transient error, so the
/// phase that asked runs again once its supervisor has restarted it.
pub(crate) async fn ask<M, T>(
    name: &str,
    build: impl FnOnce(RpcReplyPort<T>) -> M,
    timeout: Duration,
) -> Result<T, PhaseError>
where
    M: Message,
    T: Send + 'static,
{
    let Some(actor): Option<ActorRef<M>> = lookup(name) else {
        // It may be between a crash and its restart.
        tokio::time::sleep(Duration::from_millis(200)).await;
        return Err(PhaseError::transient(format!(
            "no agent named {name} is running"
        )));
    };
    match actor.call(build, Some(timeout)).await {
        Ok(CallResult::Success(v)) => Ok(v),
        Ok(CallResult::Timeout) => Err(PhaseError::new(format!(
            "the agent {name} gave no answer within {timeout:?}"
        ))),
        Ok(CallResult::SenderError) | Err(_) => {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Err(PhaseError::transient(format!(
                "the agent {name} stopped while answering"
            )))
        }
    }
}

/// A port leased from the node's PortManager for `purpose`, held by the actor `holder`
/// (released when it stops). Returns the lease's id and the port.
pub(crate) async fn lease_port(
    namespace: &Namespace,
    purpose: &str,
    preferred: Option<u16>,
    holder: u64,
) -> Result<(u64, u16), StageFailure> {
    let pm = lookup::<PortManagerMessage>(&namespace.port_manager())
        .ok_or_else(|| StageFailure::new("the port manager is not running"))?;
    let req = LeaseRequest {
        purpose: purpose.to_string(),
        preferred,
        holder_pid: Some(holder),
    };
    let lease = ractor::call_t!(pm, PortManagerMessage::Lease, 10_000, Wire::new(req))
        .map_err(|e| StageFailure::new(format!("the port manager did not answer: {e}")))?
        .open()
        .map_err(|e| StageFailure::new(e.to_string()))?
        .map_err(|e| StageFailure::new(e.to_string()))?;
    Ok((lease.id, lease.port))
}

/// Gives a lease back; a PortManager that is gone has released it already.
pub(crate) async fn release_port(namespace: &Namespace, lease: u64) {
    if let Some(pm) = lookup::<PortManagerMessage>(&namespace.port_manager()) {
        let _ = ractor::call_t!(pm, PortManagerMessage::Release, 5_000, Wire::new(lease));
    }
}

/// Writes the programs the Fixer's [`Fix::CommandShim`]s call for, each named exactly as a
/// tool spawned a command with its arguments (`tsx --test`) and running that command with
/// the arguments it is given, in the run's folder (above `logs`), and puts them first on
/// the PATH: for the tests and the service alike.
pub(crate) fn command_shims(
    repairs: &[RepairRecord],
    logs: &Path,
    env: &mut BTreeMap<String, String>,
) {
    let commands: Vec<&String> = repairs
        .iter()
        .filter_map(|r| match &r.fix {
            Fix::CommandShim { command } => Some(command),
            _ => None,
        })
        .collect();
    let Some(run_dir) = logs.parent() else {
        return;
    };
    if commands.is_empty() {
        return;
    }
    let shims = run_dir.join("shims");
    let _ = std::fs::create_dir_all(&shims);
    for command in commands {
        // Its words are plain characters (the Fixer's pattern), each quoted anyway.
        let words: Vec<String> = command
            .split_whitespace()
            .map(|w| format!("'{}'", w.replace('\'', "")))
            .collect();
        let path = shims.join(command);
        let script = format!("#!/bin/sh\nexec {} \"$@\"\n", words.join(" "));
        if std::fs::write(&path, script).is_ok() {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
        }
    }
    let path = env
        .get("PATH")
        .cloned()
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_default();
    env.insert("PATH".into(), format!("{}:{path}", shims.display()));
}
