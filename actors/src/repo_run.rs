//! The repository run: the `repo` workflow that gets a repository running, phase by phase,
//! each phase a typed request to an agent.
//!
//! | phase          | agent                        | result                |
//! |----------------|------------------------------|-----------------------|
//! | `environment`  | EnvDetector                  | [`HostProfile`]       |
//! | `analysis`     | Detection (and its peers)    | [`AnalysisOutput`]    |
//! | `dependencies` | Dependency                   | [`DependencyReport`]  |
//! | `setup`        | Setup                        | [`SetupReport`]       |
//! | `start`        | Runner                       | [`ServiceReport`]     |
//! | `health`       | Health                       | [`HealthReport`]      |
//! | `tests`        | Tests                        | [`TestReport`]        |
//!
//! A failed phase goes to the Fixer (the workflow's repairer); the fix it decides sends
//! the run back to the phase that applies it. The run works in a copy of the repository
//! under `<work>/workspaces`; installs are cached under `<work>/cache`; logs go to
//! `<work>/runs/<run>/logs`. The service and the databases stay up after the last phase,
//! held by the Runner and Setup agents, until [`stop_run`] (or the node's shutdown).
//!
//! [`HostProfile`]: reporunner_protocols::host::HostProfile

use crate::agents::context_indexer::{ContextIndexerMessage, IndexRequest, SearchRequest};
use crate::agents::dependency::{DependencyMessage, InstallRequest};
use crate::agents::fixer::{FixRequest, FixerMessage};
use crate::agents::health::{HealthMessage, HealthRequest};
use crate::agents::runner::{RunnerMessage, StartRequest};
use crate::agents::setup::{SetupMessage, SetupRequest};
use crate::agents::stage::{ask, merge_env};
use crate::agents::test_runner::{TestRequest, TestsMessage};
use crate::assist;
use crate::runs::now_ms;
use reporunner_protocols::Wire;
use reporunner_protocols::access::Tier;
use reporunner_protocols::admin::{AdminClient, AdminError, AdminMessage};
use reporunner_protocols::assist::{Consultation, Purpose, Verdict};
use reporunner_protocols::env::EnvDetectorMessage;
use reporunner_protocols::host::IndexerKind;
use reporunner_protocols::ids::{AgentId, RunId};
use reporunner_protocols::profile::{AnalyzeRequest, Component, DetectionMessage, ProjectProfile};
use reporunner_protocols::repair::{CommandResult, FailureClass, Fix, RepairOutcome, RepairRecord};
use reporunner_protocols::run::{PhaseStatus, RunRecord};
use reporunner_protocols::stage::{
    AnalysisOutput, DependencyReport, HealthReport, IndexReport, Plan, PlanKind, Probe,
    REPO_WORKFLOW, RepoRunInput, RunReport, Rung, ServiceReport, SetupReport, StepReport,
    TestReport,
};
use reporunner_runtime::index::{Hit, IndexKind, Query};
use reporunner_runtime::naming::{Namespace, lookup};
use reporunner_runtime::network::NetPolicy;
use reporunner_runtime::process::{self, CommandSpec, Confinement, Limits};
use reporunner_runtime::workflow::{
    Phase, PhaseContext, PhaseError, PhaseFuture, Repair, RepairFuture, Repairer, Workflow,
};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The agents a repository run asks, by kind; each runs under its kind's name.
pub const RUN_AGENTS: &[&str] = &[
    "env-detector",
    "requirements",
    "config",
    "database",
    "detection",
    crate::agents::dependency::KIND,
    crate::agents::setup::KIND,
    crate::agents::runner::KIND,
    crate::agents::health::KIND,
    crate::agents::fixer::KIND,
    crate::agents::test_runner::KIND,
    crate::agents::file::KIND,
    crate::agents::context_indexer::KIND,
];

/// The phases, in order.
pub const PHASES: &[&str] = &[
    "environment",
    "analysis",
    "index",
    "dependencies",
    "setup",
    "start",
    "health",
    "tests",
];

/// What each phase reads of the phases before it: a business client's own list of the
/// phases must keep, for every phase it keeps, the ones that phase needs.
pub const PHASE_NEEDS: &[(&str, &[&str])] = &[
    ("environment", &[]),
    ("analysis", &[]),
    ("index", &["analysis"]),
    ("dependencies", &["analysis"]),
    ("setup", &["analysis", "dependencies"]),
    ("start", &["analysis", "dependencies", "setup"]),
    ("health", &["analysis", "start"]),
    ("tests", &["analysis", "dependencies", "setup"]),
];

/// Refuses a list of the phases in which a phase lacks one it reads ([`PHASE_NEEDS`]).
///
/// # Errors
/// The first phase that lacks one, and what it needs.
pub fn check_phases(phases: &[String]) -> Result<(), String> {
    for phase in phases {
        let needs = PHASE_NEEDS
            .iter()
            .find(|(p, _)| p == phase)
            .map_or(&[][..], |(_, n)| *n);
        if let Some(missing) = needs.iter().find(|n| !phases.iter().any(|p| p == *n)) {
            return Err(format!(
                "the {phase} phase reads the {missing} phase's result, so a workflow with {phase} needs {}",
                needs.join(", ")
            ));
        }
    }
    Ok(())
}

/// How long an install or a test suite may take, end to end.
const LONG: Duration = Duration::from_secs(60 * 60);

/// What every phase shares.
#[derive(Debug)]
struct Shared {
    namespace: Namespace,
    work: PathBuf,
}

impl Shared {
    fn agent(&self, kind: &str) -> String {
        self.namespace.agent(&AgentId::new(kind))
    }

    fn run_dir(&self, run: &RunId) -> PathBuf {
        self.work.join("runs").join(run.as_str())
    }

    fn logs(&self, run: &RunId) -> PathBuf {
        self.run_dir(run).join("logs")
    }

    /// How the repository's commands of this run are confined: see [`confinement`].
    /// Its network reaches the databases the setup phase started, once it has run.
    fn confine(
        &self,
        input: &RepoRunInput,
        ctx: &PhaseContext,
        a: &AnalysisOutput,
    ) -> Option<Confinement> {
        if !input.sandbox || process::sandbox().is_err() {
            return None;
        }
        let run = &ctx.run;
        let top = PathBuf::from(a.root.as_deref().unwrap_or(&a.workspace));
        let mut confinement = confinement(
            &self.work,
            top.parent().unwrap_or(&top),
            &self.run_dir(run),
            Path::new(&input.path),
            std::env::var_os("HOME").map(PathBuf::from).as_deref(),
        );
        // A Rust component's kept `target`, mounted where the project has it.
        let dir = Path::new(&a.workspace).join(&a.plan.component);
        if dir.join("Cargo.toml").is_file() {
            let cache = crate::agents::dependency::cargo_target_cache(
                &self.work.join("cache"),
                Path::new(&a.workspace),
            );
            for place in crate::agents::dependency::cargo_target_places(
                &dir,
                a.root.as_deref().map(Path::new),
            ) {
                confinement.mounts.push((cache.clone(), place));
            }
        }
        let setup = output::<SetupReport>(ctx, "setup").ok();
        // The configuration files setup wrote for places outside the workspace.
        confinement.files = setup
            .iter()
            .flat_map(|s| s.files.iter())
            .map(|(file, place)| (PathBuf::from(file), PathBuf::from(place)))
            .collect();
        confinement.network = network_policy(input, setup);
        Some(confinement)
    }
}

/// The variables that name a package index this host is configured for (pip's, uv's,
/// npm's, Go's, cargo's): their hosts join the allow-list.
const REGISTRY_ENV: &[&str] = &[
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "NPM_CONFIG_REGISTRY",
    "npm_config_registry",
    "GOPROXY",
    "CARGO_REGISTRIES_CRATES_IO_INDEX",
];

/// The narrowed network of a run's confined commands (see
/// [`reporunner_runtime::network`]): the registries, the hosts the run was told to allow,
/// and the databases `setup` started; `None` (the host's network) with `--open-network`,
/// or where this program cannot bridge a network namespace.
pub fn network_policy(input: &RepoRunInput, setup: Option<SetupReport>) -> Option<NetPolicy> {
    if input.open_network {
        return None;
    }
    let bridge = reporunner_runtime::network::bridge_program()?;
    let mut allow_hosts: Vec<String> = reporunner_runtime::network::REGISTRY_HOSTS
        .iter()
        .map(|h| h.to_string())
        .collect();
    // Registries this host is configured for (a mirror, a private index).
    for key in REGISTRY_ENV {
        if let Ok(value) = std::env::var(key) {
            allow_hosts.extend(
                value
                    .split([',', ' ', '|'])
                    .filter_map(reporunner_runtime::network::url_host),
            );
        }
    }
    allow_hosts.extend(input.allow_hosts.iter().cloned());
    allow_hosts.sort();
    allow_hosts.dedup();
    let (reach, no_proxy) = match setup {
        Some(s) => (
            s.endpoints.iter().filter_map(|e| e.parse().ok()).collect(),
            s.hosts.into_iter().map(|(h, _)| h).collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    Some(NetPolicy {
        bridge,
        reach,
        allow_hosts,
        no_proxy,
        upstream: reporunner_runtime::network::upstream_from_env(),
        proxy_env: true,
    })
}

/// The most processes (threads included) one confined command may have at once.
pub const MAX_PIDS: u64 = 4096;

/// Folders under the home folder that tools cache and install into (pip, npm, corepack,
/// cargo, uv, Poetry, node-gyp, Maven, Gradle): a confined command may write them.
const HOME_CACHES: &[&str] = &[
    ".cache",
    ".npm",
    ".cargo",
    ".local",
    ".config",
    ".yarn",
    ".pnpm-store",
    ".node-gyp",
    ".m2",
    ".gradle",
];

/// What a confined command must not read, under the home folder and on the host: keys,
/// cloud and registry credentials, and the Docker socket (root on the host).
const SECRETS: &[&str] = &[
    "~/.ssh",
    "~/.gnupg",
    "~/.aws",
    "~/.azure",
    "~/.kube",
    "~/.docker",
    "~/.config/gh",
    "~/.config/gcloud",
    "~/.netrc",
    "~/.git-credentials",
    "~/.pypirc",
    "/var/run/docker.sock",
    "/run/docker.sock",
];

/// The confinement of a run's commands: they write the run's workspace (`workspace`),
/// its folder (`run_dir`), the data directory's caches and the tools' caches in `home`;
/// the rest of the data directory `work` (the store with its users and tokens, other
/// runs' workspaces) and the user's `checkout` are hidden (the checkout only when neither
/// lies inside it), and keys and credentials are unreadable.
pub fn confinement(
    work: &Path,
    workspace: &Path,
    run_dir: &Path,
    checkout: &Path,
    home: Option<&Path>,
) -> Confinement {
    let mut hidden = vec![work.to_path_buf()];
    // Other runs' workspaces, where they live outside the data directory (hidden only
    // where that folder exists).
    hidden.extend(outside_workspaces(work));
    if !work.starts_with(checkout) && !workspace.starts_with(checkout) {
        hidden.push(checkout.to_path_buf());
    }
    let mut writable = vec![
        workspace.to_path_buf(),
        run_dir.to_path_buf(),
        work.join("cache"),
    ];
    let mut secrets = Vec::new();
    if let Some(home) = home {
        writable.extend(HOME_CACHES.iter().map(|d| home.join(d)));
    }
    for s in SECRETS {
        match (s.strip_prefix("~/"), home) {
            (Some(rel), Some(home)) => secrets.push(home.join(rel)),
            (Some(_), None) => {}
            (None, _) => secrets.push(PathBuf::from(s)),
        }
    }
    Confinement {
        writable,
        hidden,
        secrets,
        mounts: Vec::new(),
        files: Vec::new(),
        max_pids: Some(MAX_PIDS),
        max_memory_bytes: max_memory(),
        network: None,
    }
}

/// The most memory one confined command may use: three quarters of the host's, so a
/// runaway build or service is stopped before the host (and Repo Runner) run out.
fn max_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024 / 4 * 3)
}

/// The report's line on confinement: how the run's commands were confined, or why not.
fn confinement_line(input: Option<&RepoRunInput>) -> Option<String> {
    let input = input?;
    if !input.sandbox {
        return Some(
            "not confined: --no-sandbox (repository code ran with this user's rights)".into(),
        );
    }
    Some(match process::sandbox() {
        Ok(()) => {
            let (pids, memory) = process::limits_available();
            let gib = max_memory()
                .map(|b| b as f64 / (1u64 << 30) as f64)
                .unwrap_or(0.0);
            format!(
                "confined with bubblewrap: the file system read-only but the workspace and the caches, the data directory's store and the checkout hidden, keys and credentials unreadable, a private /tmp, its own PID namespace (no process outlives the run){}, {}; per command {}, {}",
                if rustix::process::geteuid().is_root() {
                    ", root's capabilities dropped (file permissions hold for it as for any user)"
                } else {
                    ""
                },
                if input.open_network {
                    "the host's network shared (--open-network)".to_string()
                } else if reporunner_runtime::network::bridge_program().is_some() {
                    let mut extra = String::new();
                    if !input.allow_hosts.is_empty() {
                        extra = format!(" and {}", input.allow_hosts.join(", "));
                    }
                    format!(
                        "its network narrowed to the package registries{extra} (through a proxy that refuses other hosts), the databases the run started and its service's port"
                    )
                } else {
                    "the host's network shared (this host cannot give a command a network namespace of its own, or this program cannot bridge one)".to_string()
                },
                if pids {
                    format!("at most {MAX_PIDS} processes")
                } else {
                    "no process limit (this host gives no pids cgroup)".into()
                },
                if memory {
                    format!("at most {gib:.1} GiB of memory")
                } else {
                    "no memory limit (this host gives no memory cgroup)".into()
                }
            )
        }
        Err(why) => format!("not confined: {why}"),
    })
}

/// The `repo` workflow of a node whose actors are named under `namespace`, working under
/// `work` (the node's data directory).
pub fn workflow(namespace: Namespace, work: PathBuf) -> Workflow {
    let shared = Arc::new(Shared { namespace, work });
    let phases: Vec<Arc<dyn Phase>> = PHASES
        .iter()
        .map(|name| {
            Arc::new(RepoPhase {
                name,
                shared: shared.clone(),
            }) as Arc<dyn Phase>
        })
        .collect();
    Workflow::new(REPO_WORKFLOW, phases).with_repairer(Arc::new(RepoRepairer { shared }))
}

/// Spawns each of [`RUN_AGENTS`] that is not running, through the Admin.
///
/// # Errors
/// If the Admin is not running or refuses to spawn one.
pub async fn ensure_agents(namespace: &Namespace) -> Result<(), PhaseError> {
    let admin = lookup::<AdminMessage>(&namespace.admin())
        .map(AdminClient::new)
        .ok_or_else(|| PhaseError::transient("the admin is not running"))?;
    for kind in RUN_AGENTS {
        let name = AgentId::new(*kind);
        if ractor::registry::where_is(namespace.agent(&name)).is_some() {
            continue;
        }
        match admin.spawn_agent(kind, name, "").await {
            Ok(_) | Err(AdminError::NameTaken { .. }) => {}
            Err(e) => return Err(PhaseError::new(format!("spawning the {kind} agent: {e}"))),
        }
    }
    Ok(())
}

/// Stops a run's service and databases. Returns whether a service was running, and how
/// many databases were.
pub async fn stop_run(namespace: &Namespace, run: &RunId) -> (bool, usize) {
    let runner =
        lookup::<RunnerMessage>(&namespace.agent(&AgentId::new(crate::agents::runner::KIND)));
    let setup = lookup::<SetupMessage>(&namespace.agent(&AgentId::new(crate::agents::setup::KIND)));
    let service = match runner {
        Some(r) => ractor::call_t!(r, RunnerMessage::StopRun, 30_000, run.clone()).unwrap_or(false),
        None => false,
    };
    let databases = match setup {
        Some(s) => ractor::call_t!(s, SetupMessage::StopRun, 60_000, run.clone()).unwrap_or(0),
        None => 0,
    };
    (service, databases)
}

struct RepoPhase {
    name: &'static str,
    shared: Arc<Shared>,
}

fn output<T: DeserializeOwned>(ctx: &PhaseContext, phase: &str) -> Result<T, PhaseError> {
    let v = ctx
        .outputs
        .get(phase)
        .ok_or_else(|| PhaseError::new(format!("the {phase} phase has no result")))?;
    serde_json::from_value(v.clone())
        .map_err(|e| PhaseError::new(format!("the {phase} phase's result is unreadable: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, PhaseError> {
    serde_json::to_value(v).map_err(|e| PhaseError::new(e.to_string()))
}

impl Phase for RepoPhase {
    fn name(&self) -> &str {
        self.name
    }

    fn run<'a>(&'a self, ctx: &'a PhaseContext) -> PhaseFuture<'a> {
        Box::pin(async move {
            let input: RepoRunInput = serde_json::from_value(ctx.input.clone())
                .map_err(|e| PhaseError::new(format!("the run's input is unreadable: {e}")))?;
            let s = &self.shared;
            match self.name {
                "environment" => {
                    ensure_agents(&s.namespace).await?;
                    if let Some(host) = cached_host(&s.work) {
                        return Ok(host);
                    }
                    let host = ask(
                        &s.agent("env-detector"),
                        |r| EnvDetectorMessage::GetHostProfile(Wire::new(false), r),
                        Duration::from_secs(120),
                    )
                    .await?
                    .open()
                    .map_err(|e| PhaseError::new(e.to_string()))?;
                    let host = to_json(&host)?;
                    remember_host(&s.work, &host);
                    Ok(host)
                }
                "analysis" => {
                    ensure_agents(&s.namespace).await?;
                    let source = PathBuf::from(&input.path);
                    let (copy_from, member) = {
                        let source = source.clone();
                        tokio::task::spawn_blocking(move || copy_root(&source))
                            .await
                            .map_err(|e| PhaseError::new(e.to_string()))?
                    };
                    let root = workspace_for(&s.work, &source).with_file_name(
                        copy_from
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_else(|| "repo".into()),
                    );
                    let root = if member.as_os_str().is_empty() {
                        workspace_for(&s.work, &source)
                    } else {
                        root
                    };
                    let workspace = root.join(&member);
                    let (src, dst) = (copy_from.clone(), root.clone());
                    tokio::task::spawn_blocking(move || {
                        reporunner_runtime::workspace::copy_repository(&src, &dst)
                    })
                    .await
                    .map_err(|e| PhaseError::new(e.to_string()))?
                    .map_err(|e| PhaseError::new(format!("copying the repository: {e}")))?;
                    let request = AnalyzeRequest {
                        path: workspace.display().to_string(),
                        model: input.model.clone(),
                        tier: input.tier,
                    };
                    let profile = ask(
                        &s.agent("detection"),
                        |r| DetectionMessage::Analyze(Wire::new(request), r),
                        Duration::from_secs(300),
                    )
                    .await?
                    .open()
                    .map_err(|e| PhaseError::new(e.to_string()))?
                    .map_err(|e| PhaseError::new(e.to_string()))?;
                    let mut plan = plan(&profile, &workspace).map_err(PhaseError::new)?;
                    plan.commit_date = tokio::task::spawn_blocking(move || commit_date(&source))
                        .await
                        .ok()
                        .flatten();
                    to_json(&AnalysisOutput {
                        workspace: workspace.display().to_string(),
                        root: (!member.as_os_str().is_empty()).then(|| root.display().to_string()),
                        profile,
                        plan,
                    })
                }
                "index" => {
                    let a: AnalysisOutput = output(ctx, "analysis")?;
                    if !input.index {
                        return Ok(serde_json::Value::Null);
                    }
                    to_json(
                        &index_workspace(s, Path::new(&a.workspace), input.tier, input.indexer)
                            .await,
                    )
                }
                "dependencies" => {
                    let a: AnalysisOutput = output(ctx, "analysis")?;
                    let confine = s.confine(&input, ctx, &a);
                    let req = InstallRequest {
                        workspace: PathBuf::from(&a.workspace),
                        plan: a.plan,
                        repairs: ctx.repairs.clone(),
                        cache: s.work.join("cache"),
                        logs: s.logs(&ctx.run),
                        install_system_deps: input.install_system_deps,
                        root: a.root.as_ref().map(PathBuf::from),
                        confine,
                    };
                    let report = ask(
                        &s.agent(crate::agents::dependency::KIND),
                        |r| DependencyMessage::Install(Box::new(req), r),
                        LONG,
                    )
                    .await?
                    .map_err(PhaseError::from)?;
                    to_json(&report)
                }
                "setup" => {
                    let a: AnalysisOutput = output(ctx, "analysis")?;
                    let deps: DependencyReport = output(ctx, "dependencies")?;
                    let component = a
                        .profile
                        .component(&a.plan.component)
                        .cloned()
                        .unwrap_or_default();
                    let confine = s.confine(&input, ctx, &a);
                    let req = SetupRequest {
                        run: ctx.run.clone(),
                        workspace: PathBuf::from(&a.workspace),
                        plan: a.plan,
                        component,
                        repairs: ctx.repairs.clone(),
                        env: deps.env,
                        logs: s.logs(&ctx.run),
                        run_dir: s.run_dir(&ctx.run),
                        host: input.host.clone(),
                        install_system_deps: input.install_system_deps,
                        confine,
                    };
                    let report = ask(
                        &s.agent(crate::agents::setup::KIND),
                        |r| SetupMessage::Prepare(Box::new(req), r),
                        LONG,
                    )
                    .await?
                    .map_err(PhaseError::from)?;
                    to_json(&report)
                }
                "start" => {
                    let a: AnalysisOutput = output(ctx, "analysis")?;
                    if a.plan.kind == PlanKind::Library
                        || ctx.repairs.iter().any(|r| r.fix == Fix::RunAsCli)
                    {
                        return Ok(serde_json::Value::Null);
                    }
                    to_json(&start(s, ctx, &input, a).await?)
                }
                "health" => {
                    let Some(mut service) = ctx
                        .outputs
                        .get("start")
                        .filter(|v| !v.is_null())
                        .and_then(|v| serde_json::from_value::<ServiceReport>(v.clone()).ok())
                    else {
                        return Ok(serde_json::Value::Null);
                    };
                    // A run resumed in a new process has lost its service: start it again.
                    let runner = s.agent(crate::agents::runner::KIND);
                    let held = ask(
                        &runner,
                        |r| RunnerMessage::Observe(ctx.run.clone(), r),
                        Duration::from_secs(10),
                    )
                    .await?;
                    let analysis: AnalysisOutput = output(ctx, "analysis")?;
                    let paths = analysis.plan.probe_paths.clone();
                    if held.is_none() {
                        service = start(s, ctx, &input, analysis).await?;
                    }
                    let req = HealthRequest {
                        run: ctx.run.clone(),
                        service,
                        timeout: Duration::from_secs(input.http_timeout_secs),
                        paths,
                    };
                    let report = ask(
                        &s.agent(crate::agents::health::KIND),
                        |r| HealthMessage::Check(Box::new(req), r),
                        Duration::from_secs(input.http_timeout_secs + 60),
                    )
                    .await?
                    .map_err(PhaseError::from)?;
                    to_json(&report)
                }
                "tests" => {
                    let a: AnalysisOutput = output(ctx, "analysis")?;
                    if !input.run_tests || a.plan.test.is_none() {
                        return Ok(serde_json::Value::Null);
                    }
                    let mut confine = s.confine(&input, ctx, &a);
                    // The tests reach the run's service where the host sees it (only
                    // they: a service started again must find its own port free).
                    if let Some(net) = confine.as_mut().and_then(|c| c.network.as_mut())
                        && let Ok(service) = output::<ServiceReport>(ctx, "start")
                    {
                        net.reach.push(std::net::SocketAddr::from((
                            std::net::Ipv4Addr::LOCALHOST,
                            service.port,
                        )));
                    }
                    // Installed already: the suite's code sees no proxy of the bridge's.
                    if let Some(net) = confine.as_mut().and_then(|c| c.network.as_mut()) {
                        net.proxy_env = false;
                    }
                    let req = TestRequest {
                        workspace: PathBuf::from(&a.workspace),
                        env: run_env(ctx)?,
                        plan: a.plan,
                        logs: s.logs(&ctx.run),
                        hosts_file: hosts_file(ctx),
                        repairs: ctx.repairs.clone(),
                        confine,
                    };
                    let report = ask(
                        &s.agent(crate::agents::test_runner::KIND),
                        |r| TestsMessage::Run(Box::new(req), r),
                        LONG,
                    )
                    .await?
                    .map_err(PhaseError::from)?;
                    to_json(&report)
                }
                other => Err(PhaseError::new(format!("unknown phase {other}"))),
            }
        })
    }
}

/// Builds or updates the workspace's context index, as the machine's owner would (the
/// developer tier: the best index the host offers). Indexing never fails a run: an error
/// is recorded in the report instead.
async fn index_workspace(
    s: &Shared,
    workspace: &Path,
    tier: Tier,
    indexer: Option<IndexerKind>,
) -> IndexReport {
    let request = IndexRequest {
        root: workspace.to_path_buf(),
        tier,
        kind: indexer.map(IndexKind::from),
    };
    let answer = ask(
        &s.agent(crate::agents::context_indexer::KIND),
        |r| ContextIndexerMessage::Index(request, r),
        LONG,
    )
    .await;
    match answer {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => IndexReport {
            error: Some(e.to_string()),
            ..IndexReport::default()
        },
        Err(e) => IndexReport {
            error: Some(e.message),
            ..IndexReport::default()
        },
    }
}

/// The chunks of the run's index that best match `text`, for a model's context; none
/// when the run has no index yet.
async fn index_context(s: &Shared, ctx: &PhaseContext, text: &str, k: usize) -> Vec<Hit> {
    let Ok(a) = output::<AnalysisOutput>(ctx, "analysis") else {
        return Vec::new();
    };
    if ctx
        .outputs
        .get("index")
        .is_none_or(serde_json::Value::is_null)
    {
        return Vec::new();
    }
    let request = SearchRequest {
        index: IndexRequest {
            root: PathBuf::from(&a.workspace),
            tier: serde_json::from_value::<RepoRunInput>(ctx.input.clone())
                .map_or(Tier::Developer, |i| i.tier),
            kind: None,
        },
        query: Query::new(text, k),
    };
    ask(
        &s.agent(crate::agents::context_indexer::KIND),
        |r| ContextIndexerMessage::Search(Box::new(request), r),
        LONG,
    )
    .await
    .ok()
    .and_then(Result::ok)
    .map(|a| a.hits)
    .unwrap_or_default()
}

/// How long a detected host profile is reused by later runs.
const HOST_PROFILE_TTL_MS: u64 = 10 * 60 * 1000;

/// What a cached host profile is valid for: this machine's boot and this `PATH` (a tool
/// installed or removed since changes `PATH`'s contents only rarely, hence the short TTL).
fn host_key() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let path = std::env::var("PATH").unwrap_or_default();
    crate::toolchains::install_key(Path::new("/"), "", &[], &format!("{boot}\0{path}"))
}

/// The host profile a run detected in the last [`HOST_PROFILE_TTL_MS`] on this boot, so
/// runs in a row do not probe every tool again.
fn cached_host(work: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(work.join("cache/host-profile.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let fresh = now_ms().saturating_sub(v["at_ms"].as_u64()?) < HOST_PROFILE_TTL_MS;
    (fresh && v["key"].as_str()? == host_key()).then(|| v["profile"].clone())
}

fn remember_host(work: &Path, profile: &serde_json::Value) {
    let dir = work.join("cache");
    let _ = std::fs::create_dir_all(&dir);
    let v = serde_json::json!({ "key": host_key(), "at_ms": now_ms(), "profile": profile });
    let tmp = dir.join(format!("host-profile.json.{}", std::process::id()));
    if std::fs::write(&tmp, v.to_string()).is_ok() {
        let _ = std::fs::rename(&tmp, dir.join("host-profile.json"));
    }
}

/// Asks the Runner to start the run's service.
async fn start(
    s: &Shared,
    ctx: &PhaseContext,
    input: &RepoRunInput,
    a: AnalysisOutput,
) -> Result<ServiceReport, PhaseError> {
    let confine = s.confine(input, ctx, &a);
    let req = StartRequest {
        run: ctx.run.clone(),
        workspace: PathBuf::from(&a.workspace),
        env: run_env(ctx)?,
        plan: a.plan,
        host: input.host.clone(),
        repairs: ctx.repairs.clone(),
        logs: s.logs(&ctx.run),
        hosts_file: hosts_file(ctx),
        confine,
    };
    ask(
        &s.agent(crate::agents::runner::KIND),
        |r| RunnerMessage::Start(Box::new(req), r),
        Duration::from_secs(120),
    )
    .await?
    .map_err(PhaseError::from)
}

/// The hosts file the setup wrote for the service and its tests, when it wrote one.
fn hosts_file(ctx: &PhaseContext) -> Option<PathBuf> {
    output::<SetupReport>(ctx, "setup")
        .ok()?
        .hosts_file
        .map(PathBuf::from)
}

/// The environment of the service and its tests: the dependencies' and the setup's.
fn run_env(ctx: &PhaseContext) -> Result<BTreeMap<String, String>, PhaseError> {
    let deps: DependencyReport = output(ctx, "dependencies")?;
    let setup: SetupReport = output(ctx, "setup")?;
    let mut env = deps.env;
    merge_env(&mut env, &setup.env);
    Ok(env)
}

struct RepoRepairer {
    shared: Arc<Shared>,
}

impl Repairer for RepoRepairer {
    fn repair<'a>(
        &'a self,
        ctx: &'a PhaseContext,
        phase: &'a str,
        error: &'a PhaseError,
    ) -> RepairFuture<'a> {
        Box::pin(async move {
            if error.lines.is_empty() {
                return Repair::none();
            }
            let Ok(input) = serde_json::from_value::<RepoRunInput>(ctx.input.clone()) else {
                return Repair::none();
            };
            let analysis = output::<AnalysisOutput>(ctx, "analysis").ok();
            let own_modules = analysis
                .as_ref()
                .map(|a| a.plan.own_modules.clone())
                .unwrap_or_default();
            let req = FixRequest {
                phase: phase.to_string(),
                lines: error.lines.clone(),
                history: ctx.repairs.clone(),
                own_modules,
                install_system_deps: input.install_system_deps
                    && crate::agents::dependency::is_root(),
                python: error
                    .detail
                    .as_ref()
                    .and_then(|d| d.get("toolchain")?.as_str())
                    .and_then(python_of),
                dir: analysis
                    .as_ref()
                    .map(|a| Path::new(&a.workspace).join(&a.plan.component)),
                plan: analysis.as_ref().map(|a| a.plan.clone()),
                confine: analysis
                    .as_ref()
                    .and_then(|a| self.shared.confine(&input, ctx, a)),
            };
            let known = ask(
                &self.shared.agent(crate::agents::fixer::KIND),
                |r| FixerMessage::Diagnose(Box::new(req), r),
                Duration::from_secs(30),
            )
            .await
            .ok()
            .flatten();
            match (known, &input.model, &analysis) {
                (Some(record), _, _) => Repair::fix(record),
                // The catalogue has nothing: the model, when one is configured.
                (None, Some(model), Some(analysis)) => {
                    let asked = ModelFix {
                        shared: &self.shared,
                        ctx,
                        phase,
                        error,
                        model,
                        tier: input.tier,
                        analysis,
                        system_packages: input.install_system_deps
                            && crate::agents::dependency::is_root(),
                    };
                    asked.ask().await
                }
                _ => Repair::none(),
            }
        })
    }
}

/// The scripts of the component's `package.json`, as the commands that run them
/// (`npm run seed`); the lifecycle ones (`start`, `test`, `pre*`/`post*`) left out.
fn project_commands(dir: &Path) -> Vec<String> {
    crate::sources::package_scripts(dir)
        .keys()
        .filter(|k| {
            !matches!(k.as_str(), "start" | "test")
                && !k.starts_with("pre")
                && !k.starts_with("post")
        })
        .take(12)
        .map(|k| format!("npm run {k}"))
        .collect()
}

/// A failure the catalogue has no fix for, put to the run's model. See [`crate::assist`].
struct ModelFix<'a> {
    shared: &'a Shared,
    ctx: &'a PhaseContext,
    phase: &'a str,
    error: &'a PhaseError,
    model: &'a str,
    /// The tier the run acts for, which bounds the GPUs the model may use.
    tier: Tier,
    analysis: &'a AnalysisOutput,
    system_packages: bool,
}

impl ModelFix<'_> {
    /// Asks the model for a command, checks it, runs it, and returns the repair (or none)
    /// with the consultation.
    async fn ask(&self) -> Repair {
        let (asked, no_model) = assist::fix_questions(&self.ctx.consultations);
        if no_model || asked >= assist::FIX_BUDGET {
            return Repair::none();
        }
        let unavailable = |reason: String| Repair {
            record: None,
            consultations: vec![Consultation::unavailable(
                Purpose::Fix,
                self.model,
                Some(self.phase),
                reason,
            )],
        };
        let (generator, backend) =
            match assist::generator_for(&self.shared.namespace, self.model, self.tier).await {
                Ok(g) => g,
                Err(reason) => return unavailable(reason),
            };
        let log_tail = newest_log_tail(&self.shared.logs(&self.ctx.run));
        let about = self.error.lines.first().map(String::as_str).unwrap_or("");
        let context = index_context(self.shared, self.ctx, about, 2).await;
        let commands = project_commands(
            &Path::new(&self.analysis.workspace).join(&self.analysis.plan.component),
        );
        let request = assist::fix_request(&assist::FixQuestion {
            phase: self.phase,
            error_lines: &self.error.lines,
            plan: Some(&self.analysis.plan),
            log_tail: &log_tail,
            context: &context,
            commands: &commands,
        });
        let generation =
            match tokio::task::spawn_blocking(move || generator.generate(&request)).await {
                Ok(Ok(g)) => g,
                Ok(Err(e)) => return unavailable(format!("the model failed: {e}")),
                Err(e) => return unavailable(format!("the model's task failed: {e}")),
            };
        let answered = |proposal: Option<String>, verdict: Verdict| {
            vec![assist::consultation(
                Purpose::Fix,
                self.model,
                backend.clone(),
                Some(self.phase),
                &generation,
                proposal,
                verdict,
            )]
        };
        let Some(command) = assist::read_command(&generation.text)
            .or_else(|| assist::named_command(&generation.text, &commands))
        else {
            return Repair {
                record: None,
                consultations: answered(None, Verdict::NoProposal),
            };
        };
        let allow = assist::Allow {
            system_packages: self.system_packages,
        };
        let checked = assist::split_command(&command).and_then(|argv| {
            assist::check_command(&argv, allow)?;
            assist::check_not_the_plan(&argv, &self.analysis.plan)?;
            if assist::ran_before(&self.ctx.repairs, &argv) {
                return Err(format!(
                    "`{command}` already ran in this run and the failure came back: a loop"
                ));
            }
            Ok(argv)
        });
        let argv = match checked {
            Ok(argv) => argv,
            Err(reason) => {
                tracing::warn!(run = %self.ctx.run, %command, %reason, "a model's command refused");
                return Repair {
                    record: None,
                    consultations: answered(Some(command), Verdict::Refused { reason }),
                };
            }
        };
        let result = self.run(&argv, asked + 1).await;
        if !result.success() {
            let last = result.tail.last().cloned().unwrap_or_default();
            let reason = match (result.timed_out, result.exit_code) {
                (true, _) => format!("cut off after {:?}", assist::COMMAND_TIMEOUT),
                (false, Some(code)) => format!("exited with {code}: {last}"),
                (false, None) => format!("did not start or was killed: {last}"),
            };
            return Repair {
                record: None,
                consultations: answered(Some(command), Verdict::Failed { reason }),
            };
        }
        let record = RepairRecord {
            phase: self.phase.to_string(),
            class: FailureClass::Unclassified,
            fix: Fix::RunCommand { command: argv },
            evidence: self.error.lines.first().cloned().unwrap_or_default(),
            // The service restarts for anything after it; a failed phase runs again.
            redo_from: match self.phase {
                "health" => "start".to_string(),
                other => other.to_string(),
            },
            at_ms: now_ms(),
            model: Some(self.model.to_string()),
            command: Some(result),
            outcome: None,
        };
        Repair {
            record: Some(record),
            consultations: answered(Some(command), Verdict::Applied),
        }
    }

    /// Runs a checked command in the component's folder with the run's environment.
    async fn run(&self, argv: &[String], n: usize) -> CommandResult {
        let cwd = Path::new(&self.analysis.workspace).join(&self.analysis.plan.component);
        let logs = self.shared.logs(&self.ctx.run);
        let _ = std::fs::create_dir_all(&logs);
        let log = logs.join(format!("model-fix-{n}.log"));
        let spec = CommandSpec {
            program: argv[0].clone(),
            args: argv[1..].to_vec(),
            cwd,
            env: output::<DependencyReport>(self.ctx, "dependencies")
                .map(|d| d.env)
                .unwrap_or_default(),
            timeout: Some(assist::COMMAND_TIMEOUT),
            idle_timeout: Some(assist::COMMAND_IDLE),
            log: Some(log.clone()),
            limits: Limits::default(),
            hosts_file: None,
            confine: serde_json::from_value::<RepoRunInput>(self.ctx.input.clone())
                .ok()
                .and_then(|input| self.shared.confine(&input, self.ctx, self.analysis)),
        };
        match process::run(&spec).await {
            Ok(o) => CommandResult {
                exit_code: o.code,
                timed_out: o.cutoff.is_some(),
                ms: o.duration.as_millis() as u64,
                tail: o.tail.iter().rev().take(20).rev().cloned().collect(),
                log: Some(log.display().to_string()),
            },
            Err(e) => CommandResult {
                exit_code: None,
                timed_out: false,
                ms: 0,
                tail: vec![e.to_string()],
                log: None,
            },
        }
    }
}

/// The last lines of the newest log in `dir`.
fn newest_log_tail(dir: &Path) -> Vec<String> {
    let newest = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max_by_key(|(t, _)| *t)
        .map(|(_, p)| p);
    let Some(text) = newest.and_then(|p| std::fs::read(p).ok()) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

/// The (major, minor) of a toolchain such as `python 3.11.7 pip`.
fn python_of(toolchain: &str) -> Option<(u32, u32)> {
    let version = toolchain
        .strip_prefix("python ")?
        .split_whitespace()
        .next()?;
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??))
}

/// The workspace of a repository: one per source folder, refreshed by every run, at
/// `<work>/workspaces/<hash of the source path>/<the source folder's name>` (tools that
/// name things after their folder see the repository's own name).
pub fn workspace_for(work: &Path, source: &Path) -> PathBuf {
    let key =
        crate::toolchains::install_key(Path::new("/"), "", &[], &source.display().to_string());
    let name: String = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "repo".into())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    workspaces_root(work).join(&key[..12]).join(name)
}

/// Where the workspaces of the data directory `work` live: its `workspaces` folder,
/// unless a folder on its path is hidden (the default `~/.local/share/reporunner`). Code
/// that refuses dotted paths (the `send` module behind Express's `res.sendFile` answers 404
/// for any absolute path with a `.folder` in it) fails there where it passes in a
/// checkout, so they go to `/var/tmp/reporunner-<uid>/<hash of work>` instead (made
/// private to the user), when that can be made.
pub fn workspaces_root(work: &Path) -> PathBuf {
    let inside = work.join("workspaces");
    let Some(outside) = outside_workspaces(work) else {
        return inside;
    };
    let uid = rustix::process::getuid().as_raw();
    let base = PathBuf::from(format!("/var/tmp/reporunner-{uid}"));
    let private = || -> std::io::Result<()> {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        std::fs::create_dir_all(&base)?;
        let meta = std::fs::symlink_metadata(&base)?;
        // Another user's folder, or a link planted there, is not ours to use.
        if !meta.is_dir() || meta.uid() != uid {
            return Err(std::io::Error::other("not this user's folder"));
        }
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o700))
    };
    match private() {
        Ok(()) => outside,
        Err(_) => inside,
    }
}

/// Where [`workspaces_root`] puts the workspaces of a data directory whose path has a
/// hidden folder, worked out without touching the disk; `None` for any other.
fn outside_workspaces(work: &Path) -> Option<PathBuf> {
    let hidden = work.components().any(
        |c| matches!(c, std::path::Component::Normal(n) if n.to_string_lossy().starts_with('.')),
    );
    if !hidden {
        return None;
    }
    let uid = rustix::process::getuid().as_raw();
    let key = crate::toolchains::install_key(Path::new("/"), "", &[], &work.display().to_string());
    Some(PathBuf::from(format!(
        "/var/tmp/reporunner-{uid}/{}/workspaces",
        &key[..12]
    )))
}

fn value<T: Clone>(f: &Option<reporunner_protocols::profile::Fact<T>>) -> Option<T> {
    f.as_ref().map(|f| f.value.clone())
}

/// Decides what the run does with the profile: which component, and how it installs,
/// starts and tests.
///
/// # Errors
/// Why the profile gives nothing to run, in words.
pub fn plan(profile: &ProjectProfile, workspace: &Path) -> Result<Plan, String> {
    let component: &Component = profile
        .web_component
        .as_deref()
        .and_then(|w| profile.component(w))
        .or_else(|| profile.components.iter().find(|c| c.start_command.is_some()))
        .or_else(|| profile.components.first())
        .ok_or_else(|| {
            let mut why = "no component found: the repository has no manifest, start command or index.html Repo Runner recognises (Python, JavaScript/TypeScript, Rust, Go, JVM, Ruby, PHP, .NET, static sites)".to_string();
            let mut top: Vec<String> = std::fs::read_dir(workspace)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect();
            top.sort();
            if !top.is_empty() {
                let more = top.len().saturating_sub(8);
                top.truncate(8);
                why.push_str(&format!(
                    "; its top level holds {}{}",
                    top.join(", "),
                    if more > 0 { format!(" and {more} more") } else { String::new() }
                ));
            }
            for w in &profile.warnings {
                why.push_str(&format!(
                    "; {}{}",
                    w.file.as_deref().map(|f| format!("{f}: ")).unwrap_or_default(),
                    w.message
                ));
            }
            why
        })?;
    if let Some(why) = &component.unsupported {
        return Err(format!(
            "component {} is not supported: {why}",
            component.path
        ));
    }
    let kind_name = value(&component.kind).unwrap_or_default();
    let start = value(&component.start_command).map(|s| in_the_environment(&s));
    // A Procfile's bare program name (`pgweb --listen=$PORT`) is the binary the Go build
    // writes into the workspace: started from there.
    let build = value(&component.build_command);
    let built = build.as_deref().and_then(crate::analysis::built_binary);
    let start = match (start, built) {
        (Some(s), Some(bin)) if s.split_whitespace().next() == Some(bin) => {
            Some(format!("./{}/{s}", crate::analysis::GO_BIN_DIR))
        }
        (s, _) => s,
    };
    let kind = match kind_name.as_str() {
        "static_site" => PlanKind::Static,
        "service" if start.is_some() => PlanKind::Service,
        // A package whose tests are its point (a middleware, a library with a server
        // dependency, a collection of examples with one root test script): a test suite.
        "service" if component.test_command.is_some() => PlanKind::Library,
        "service" => {
            return Err(format!(
                "component {} is a service, but no start command was found",
                component.path
            ));
        }
        // A command-line tool or a background worker answers no HTTP: installed, built
        // and tested, not started.
        "cli" | "worker" | "library" => PlanKind::Library,
        _ if start.is_some() => PlanKind::Service,
        _ => PlanKind::Library,
    };
    let language = component
        .languages
        .iter()
        .map(|l| l.value.to_ascii_lowercase())
        .find(|l| l != "html");
    // A front end with no server framework whose built site is committed: serve that,
    // rather than its dev tooling (watchers, browser-sync, live reload).
    let prebuilt = matches!(language.as_deref(), Some("javascript" | "typescript"))
        && component.frameworks.is_empty()
        && prebuilt_site(&workspace.join(&component.path)).is_some();
    let kind = if prebuilt && kind == PlanKind::Service {
        PlanKind::Static
    } else {
        kind
    };
    let package_manager = value(&component.package_manager);
    let runtime = match language.as_deref() {
        Some("javascript" | "typescript") => "node",
        Some(l) => l,
        None => "",
    };
    // Every candidate, not just the one analysis chose: a pin the host lacks gives way
    // to the range beside it.
    let versions: Vec<String> = component
        .runtime_versions
        .iter()
        .chain(
            component
                .conflicts
                .iter()
                .filter(|c| c.topic.ends_with("_version"))
                .flat_map(|c| c.candidates.iter()),
        )
        .filter_map(|f| {
            let (rt, c) = f.value.split_once(' ')?;
            (rt == runtime).then(|| c.trim().to_string())
        })
        .collect();
    // A bare version is a pin; anything with an operator is a range.
    let is_pin = |v: &String| v.chars().next().is_some_and(|c| c.is_ascii_digit());
    let runtime_constraint = versions.iter().find(|v| !is_pin(v)).cloned();
    let runtime_pin = versions.iter().find(|v| is_pin(v)).cloned();
    let dir = workspace.join(&component.path);
    let own_modules = own_python_modules(&dir);
    let entry_module = start.as_deref().and_then(entry_module);
    let init_commands = init_commands(component, start.as_deref());
    Ok(Plan {
        component: component.path.clone(),
        kind,
        language,
        package_manager,
        runtime_constraint,
        runtime_pin,
        install: value(&component.install_command),
        build: value(&component.build_command),
        start,
        port_hint: value(&component.port),
        reads_port: value(&component.reads_port_env).unwrap_or(false),
        test: value(&component.test_command).map(|t| in_the_environment(&t)),
        databases: component
            .databases
            .iter()
            .map(|d| d.value.clone())
            .collect(),
        migrations: component
            .migrations
            .iter()
            .map(|m| m.value.clone())
            .filter(|m| !m.starts_with("release:"))
            .collect(),
        manifests: component.manifests.clone(),
        own_modules,
        entry_module,
        probe_paths: probe_paths(component),
        commit_date: None,
        init_commands,
        compose_services: component
            .services
            .iter()
            .filter_map(|f| {
                let (name, kind) = f.value.split_once(' ')?;
                Some((name.to_string(), kind.to_string()))
            })
            .collect(),
    })
}

/// A command as it runs in the run's environment, which is the project's own: `poetry run
/// pytest -q` is `pytest -q` there, `cd svc && uv run --frozen pytest` is `cd svc &&
/// pytest`. The environment tools are not on the run's `PATH`, and need not be.
fn in_the_environment(cmd: &str) -> String {
    let wrappers: &[&[&str]] = &[
        &["poetry", "run"],
        &["uv", "run"],
        &["pipenv", "run"],
        &["pdm", "run"],
        &["hatch", "run"],
        &["rye", "run"],
    ];
    cmd.split(" && ")
        .map(|part| {
            let words: Vec<&str> = part.split_whitespace().collect();
            for w in wrappers {
                if words.len() > w.len() && words[..w.len()] == **w {
                    let rest: Vec<&str> = words[w.len()..]
                        .iter()
                        .copied()
                        .skip_while(|x| x.starts_with('-'))
                        .collect();
                    if !rest.is_empty() {
                        return rest.join(" ");
                    }
                }
            }
            part.to_string()
        })
        .collect::<Vec<_>>()
        .join(" && ")
}

/// The pages the health check asks for after `/`: the framework's usual ones, then the
/// README's URLs and the route table's paths, as analysis found them.
fn probe_paths(component: &Component) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in &component.frameworks {
        let usual: &[&str] = match f.value.as_str() {
            "fastapi" => &["/docs"],
            "django" => &["/admin/"],
            "spring-boot" => &["/actuator/health"],
            _ => &[],
        };
        out.extend(usual.iter().map(|s| s.to_string()));
    }
    for r in &component.routes {
        if !out.contains(&r.value) {
            out.push(r.value.clone());
        }
    }
    out
}

/// The component's table-creating commands, as the run types them: a Flask command gets
/// the app the start command names (`FLASK_APP=wsgi:app flask init-db`), so it works on
/// the same configuration, and so the same database, as the service.
fn init_commands(component: &Component, start: Option<&str>) -> Vec<String> {
    let app = start.and_then(flask_app_of);
    component
        .init_commands
        .iter()
        .map(|f| match (&app, f.value.strip_prefix("flask ")) {
            (Some(app), Some(rest)) => format!("FLASK_APP={app} flask {rest}"),
            _ => f.value.clone(),
        })
        .collect()
}

/// The Flask app a start command runs: `FLASK_APP=x flask run` → `x`, `flask --app x run`
/// → `x`, `gunicorn wsgi:app` → `wsgi:app`.
fn flask_app_of(start: &str) -> Option<String> {
    let words: Vec<&str> = start.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        if let Some(app) = w.strip_prefix("FLASK_APP=") {
            return Some(app.to_string());
        }
        if *w == "--app" {
            return words.get(i + 1).map(|s| s.to_string());
        }
    }
    if words
        .first()
        .is_some_and(|w| *w == "gunicorn" || w.ends_with("/gunicorn"))
    {
        return words
            .iter()
            .skip(1)
            .find(|w| !w.starts_with('-') && w.contains(':') && !w.contains('$'))
            .map(|s| s.to_string());
    }
    None
}

/// What a run copies for `source`, and where `source` is inside it: `source` alone,
/// unless it is a member of an enclosing workspace (a Cargo `[workspace]`, npm or pnpm
/// workspaces, `go.work`, a Maven parent, Gradle settings) or reaches above itself (a
/// path dependency into `..`, a field inherited from the workspace). Then the enclosing
/// root: the git checkout's top, or else the highest folder that encloses it as a
/// workspace.
pub fn copy_root(source: &Path) -> (PathBuf, PathBuf) {
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let cargo = read(&source.join("Cargo.toml"));
    let pkg = read(&source.join("package.json"));
    let gomod = read(&source.join("go.mod"));
    let pom = read(&source.join("pom.xml"));
    let reaches_up = cargo.contains(".workspace = true")
        || cargo.contains("workspace = true")
        || cargo.contains("path = \"..")
        || pkg.contains("\"file:..")
        || pkg.contains("\"workspace:")
        || gomod
            .lines()
            .any(|l| l.contains("=> ../") || l.contains("=> ./.."))
        || (pom.contains("<parent>") && !pom.contains("<relativePath/>"));
    let mut enclosing: Option<PathBuf> = None;
    for dir in source.ancestors().skip(1).take(5) {
        // A workspace of the folder's own kind that lists the folder among its members: a
        // Rust workspace above a Python app, or above a crate it does not list, does not
        // make that folder its member.
        let workspace = source
            .strip_prefix(dir)
            .is_ok_and(|rel| workspace_lists(dir, source, rel));
        if workspace {
            enclosing = Some(dir.to_path_buf());
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    if !reaches_up && enclosing.is_none() {
        return (source.to_path_buf(), PathBuf::new());
    }
    let top = std::process::Command::new("git")
        .args(["-c", "safe.directory=*", "-C"])
        .arg(source)
        .args(["rev-parse", "--show-toplevel"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|t| source.starts_with(t) && t != source);
    let root = top.or(enclosing);
    match root.and_then(|r| Some((source.strip_prefix(&r).ok()?.to_path_buf(), r))) {
        Some((member, root)) => (root, member),
        None => (source.to_path_buf(), PathBuf::new()),
    }
}

/// Whether the workspace at `dir` (Cargo, npm/pnpm, go.work, Maven modules or a Gradle
/// settings file) names `rel`, the path of the folder `source` below it, as a member, by
/// the manifest of the folder's own kind.
fn workspace_lists(dir: &Path, source: &Path, rel: &Path) -> bool {
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let has = |f: &str| source.join(f).is_file();
    let rel = rel.to_string_lossy().replace('\\', "/");
    let listed = |patterns: &[String], excluded: &[String]| {
        patterns.iter().any(|p| glob_matches(p, &rel))
            && !excluded.iter().any(|p| {
                glob_matches(p, &rel) || rel.starts_with(&format!("{}/", p.trim_end_matches('/')))
            })
    };
    let strings = |v: Option<&toml::Value>| -> Vec<String> {
        v.and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    if has("Cargo.toml")
        && let Ok(root) = read(&dir.join("Cargo.toml")).parse::<toml::Table>()
        && let Some(ws) = root.get("workspace")
    {
        return listed(&strings(ws.get("members")), &strings(ws.get("exclude")));
    }
    if has("package.json") {
        let manifest = serde_json::from_str::<serde_json::Value>(&read(&dir.join("package.json")))
            .unwrap_or_default();
        let globs = |v: Option<&serde_json::Value>| -> Vec<String> {
            v.and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let ws = manifest.get("workspaces");
        let mut patterns = globs(ws);
        patterns.extend(globs(ws.and_then(|w| w.get("packages"))));
        if let Ok(docs) =
            yaml_rust2::YamlLoader::load_from_str(&read(&dir.join("pnpm-workspace.yaml")))
        {
            for doc in docs {
                if let Some(list) = doc["packages"].as_vec() {
                    patterns.extend(list.iter().filter_map(|x| x.as_str().map(str::to_string)));
                }
            }
        }
        let (excluded, included): (Vec<String>, Vec<String>) =
            patterns.into_iter().partition(|p| p.starts_with('!'));
        let excluded: Vec<String> = excluded.iter().map(|p| p[1..].to_string()).collect();
        return listed(&included, &excluded);
    }
    if has("go.mod") {
        let work = read(&dir.join("go.work"));
        let uses: Vec<String> = work
            .lines()
            .map(|l| l.split("//").next().unwrap_or("").trim())
            .map(|l| l.strip_prefix("use").map_or(l, str::trim))
            .filter(|l| l.starts_with("./") || l.starts_with('"'))
            .map(|l| l.trim_matches('"').trim_start_matches("./").to_string())
            .collect();
        return listed(&uses, &[]);
    }
    if has("pom.xml") {
        let pom = read(&dir.join("pom.xml"));
        let modules: Vec<String> = pom
            .split("<module>")
            .skip(1)
            .filter_map(|m| m.split("</module>").next())
            .map(|m| m.trim().trim_start_matches("./").to_string())
            .collect();
        return listed(&modules, &[]);
    }
    if has("build.gradle") || has("build.gradle.kts") {
        let settings = read(&dir.join("settings.gradle")) + &read(&dir.join("settings.gradle.kts"));
        let projects: Vec<String> = settings
            .lines()
            .filter(|l| l.trim_start().starts_with("include"))
            .flat_map(|l| {
                l.split(['"', '\''])
                    .skip(1)
                    .step_by(2)
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .map(|p| p.trim_start_matches(':').replace(':', "/"))
            .collect();
        return listed(&projects, &[]);
    }
    false
}

/// A workspace glob (`crates/*`, `packages/**`, `apps/web`) against a slash-separated
/// relative path: `*` is any run within one segment, `**` any number of segments.
fn glob_matches(pattern: &str, path: &str) -> bool {
    fn segment(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => segment(&p[1..], s) || (!s.is_empty() && segment(p, &s[1..])),
            (Some(a), Some(b)) if a == b || *a == b'?' => segment(&p[1..], &s[1..]),
            _ => false,
        }
    }
    fn parts(p: &[&str], s: &[&str]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(&"**"), _) => parts(&p[1..], s) || (!s.is_empty() && parts(p, &s[1..])),
            (Some(a), Some(b)) => segment(a.as_bytes(), b.as_bytes()) && parts(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let clean = |x: &str| -> Vec<String> {
        x.trim_start_matches("./")
            .split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .map(str::to_string)
            .collect()
    };
    let (p, s) = (clean(pattern), clean(path));
    let p: Vec<&str> = p.iter().map(String::as_str).collect();
    let s: Vec<&str> = s.iter().map(String::as_str).collect();
    parts(&p, &s)
}

/// When the repository at `source` last changed that folder (its last commit's date,
/// RFC 3339), from git; none without a git history.
pub fn commit_date(source: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["-c", "safe.directory=*", "-C"])
        .arg(source)
        .args(["log", "-1", "--format=%cI", "--", "."])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let date = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && date.len() >= 10 && date.as_bytes()[4] == b'-').then_some(date)
}

/// The folder of a committed, built static site: `dist/`, `build/`, `_site/`, `out/` or
/// `public/` with an `index.html`.
pub fn prebuilt_site(dir: &Path) -> Option<PathBuf> {
    ["dist", "build", "_site", "out", "public"]
        .iter()
        .map(|d| dir.join(d))
        .find(|d| d.join("index.html").is_file())
}

/// The project's own top-level Python modules: packages and modules at the component's
/// root and under `src/`.
fn own_python_modules(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for base in [dir.to_path_buf(), dir.join("src")] {
        let Ok(entries) = std::fs::read_dir(&base) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if path.is_dir() && path.join("__init__.py").is_file() {
                out.push(name);
            } else if let Some(stem) = name.strip_suffix(".py") {
                out.push(stem.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The Python module a start command runs: `FLASK_APP=app:app flask run` → `app`,
/// `uvicorn app.main:api` → `app.main`, `python manage.py` → `manage`.
pub(crate) fn entry_module(start: &str) -> Option<String> {
    let words: Vec<&str> = start.split_whitespace().collect();
    let clean = |w: &str| -> Option<String> {
        let m = w
            .split(':')
            .next()?
            .trim_end_matches(".py")
            .replace('/', ".");
        (!m.is_empty()
            && m.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .then_some(m)
    };
    for (i, w) in words.iter().enumerate() {
        if let Some(app) = w.strip_prefix("FLASK_APP=") {
            return clean(app);
        }
        let next = words.get(i + 1).copied();
        match *w {
            "--app" | "-A" => return next.and_then(clean),
            "-m" if next.is_some_and(|n| {
                !matches!(n, "flask" | "uvicorn" | "gunicorn" | "http.server")
            }) =>
            {
                return next.and_then(clean);
            }
            "python" | "python3" if next.is_some_and(|n| n.ends_with(".py")) => {
                return next.and_then(clean);
            }
            _ => {}
        }
        if w.contains(':') && !w.starts_with('-') && !w.contains('$') && i > 0 {
            return clean(w);
        }
    }
    None
}

/// The rung a run aims for: tests pass when it has tests, else HTTP answers for a
/// service, else imports resolve.
fn target(plan: Option<&Plan>, input: Option<&RepoRunInput>) -> Rung {
    let Some(plan) = plan else {
        return Rung::TestsPass;
    };
    if plan.test.is_some() && input.is_none_or(|i| i.run_tests) {
        Rung::TestsPass
    } else if plan.kind == PlanKind::Library {
        Rung::ImportsResolve
    } else {
        Rung::HttpAnswers
    }
}

fn phase_output<T: DeserializeOwned>(record: &RunRecord, name: &str) -> Option<T> {
    let p = record.phase(name)?;
    serde_json::from_str(p.output_json.as_deref()?).ok()
}

fn succeeded(record: &RunRecord, name: &str) -> bool {
    record
        .phase(name)
        .is_some_and(|p| p.status == PhaseStatus::Succeeded)
}

/// The report of a repository run, from its record.
pub fn report(record: &RunRecord) -> RunReport {
    let input: Option<RepoRunInput> = serde_json::from_str(&record.input_json).ok();
    let analysis: Option<AnalysisOutput> = phase_output(record, "analysis");
    let plan = analysis.as_ref().map(|a| &a.plan);
    let deps: Option<DependencyReport> = phase_output(record, "dependencies");
    let setup: Option<SetupReport> = phase_output(record, "setup");
    let service: Option<ServiceReport> = phase_output(record, "start");
    let health: Option<HealthReport> = phase_output(record, "health");
    let tests: Option<TestReport> = phase_output(record, "tests");
    let repairs = repair_outcomes(record);
    // A start command the Fixer found to be a command-line program's: no service.
    let cli = repairs.iter().any(|r| r.fix == Fix::RunAsCli);
    let library = plan.is_some_and(|p| p.kind == PlanKind::Library) || cli;
    let input_model = input.as_ref().and_then(|i| i.model.clone());
    let mut consultations: Vec<Consultation> = analysis
        .as_ref()
        .map(|a| a.profile.consultations.clone())
        .unwrap_or_default();
    consultations.extend(record.consultations.iter().cloned());
    let index: Option<IndexReport> = phase_output(record, "index");

    let mut rung = Rung::None;
    if succeeded(record, "analysis") {
        rung = Rung::PlanValid;
    }
    if let Some(d) = &deps {
        let imports_failed = d.steps.iter().any(|s| !s.ok && s.purpose == "import check");
        let install_failed = d.steps.iter().any(|s| !s.ok && s.purpose != "import check");
        if succeeded(record, "dependencies") {
            rung = rung.max(Rung::ImportsResolve);
        } else if imports_failed && !install_failed {
            rung = rung.max(Rung::InstallOk);
        }
    }
    if let Some(h) = &health {
        rung = rung.max(h.rung);
    }
    let service_ok = library || health.as_ref().is_some_and(|h| h.rung >= Rung::HttpAnswers);
    let ran_none = tests.as_ref().is_some_and(TestReport::ran_none);
    let tests_ok = tests.as_ref().is_some_and(|t| t.passed) && !ran_none;
    if service_ok && tests_ok && succeeded(record, "tests") {
        rung = Rung::TestsPass;
    }
    // A suite that ran no test is no proof: the run aims for what it would without one.
    let aimed = match target(plan, input.as_ref()) {
        Rung::HttpAnswers if cli => Rung::ImportsResolve,
        t => t,
    };
    let target = match aimed {
        Rung::TestsPass if ran_none && !library => Rung::HttpAnswers,
        Rung::TestsPass if ran_none => Rung::ImportsResolve,
        t => t,
    };
    let probes = health
        .as_ref()
        .map(|h| h.probes.clone())
        .unwrap_or_default();
    let http = health.as_ref().and_then(|h| {
        let (path, status) = h.http.clone()?;
        probes
            .iter()
            .find(|p| p.path == path && p.status == status)
            .cloned()
            .or(Some(Probe {
                path,
                status,
                ok: h.rung >= Rung::HttpAnswers,
                problem: None,
                body: Vec::new(),
            }))
    });
    let traceback = health
        .as_ref()
        .filter(|h| h.rung < Rung::HttpAnswers)
        .map(|h| h.traceback.clone())
        .unwrap_or_default();
    let stopped_because = if rung >= target {
        None
    } else if let Some(t) = tests.as_ref().filter(|t| !t.passed && t.command.is_some()) {
        let counts = t
            .counts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ");
        let code = t.step.as_ref().and_then(|s| s.code);
        let why = if t.counts.get("failed").copied().unwrap_or(0) == 0 {
            // No test failed, yet the command did: a module that could not run its tests.
            format!(
                "the test command failed{} with no failing test reported ({}): see the last lines of its log",
                code.map(|c| format!(" (exit code {c})"))
                    .unwrap_or_default(),
                if counts.is_empty() {
                    "no test counted".to_string()
                } else {
                    counts
                }
            )
        } else {
            format!("the tests failed: {counts}")
        };
        // What this host lacks that they needed (a browser, Docker) is part of why.
        Some(match t.missing_programs.as_slice() {
            [] => why,
            names => format!(
                "{why}; they tried to run {}, not installed here",
                names.join(", ")
            ),
        })
    } else {
        record
            .phases
            .iter()
            .find(|p| p.status != PhaseStatus::Succeeded)
            .and_then(|p| p.error.clone())
            .or_else(|| record.error.clone())
    };
    // A fix that was tried and did not help is part of why.
    let stopped_because = stopped_because.map(|why| {
        let tried: Vec<String> = repairs
            .iter()
            .filter(|r| r.outcome == Some(RepairOutcome::DidNotHelp))
            .map(|r| format!("{} {}", r.class.code(), r.fix))
            .collect();
        if tried.is_empty() {
            why
        } else {
            format!("{why} (tried, did not help: {})", tried.join("; "))
        }
    });
    let mut logs: Vec<String> = Vec::new();
    let mut steps = Vec::new();
    if let Some(d) = &deps {
        steps.extend(d.steps.iter());
    }
    if let Some(s) = &setup {
        steps.extend(s.steps.iter());
    }
    if let Some(t) = tests.as_ref().and_then(|t| t.step.as_ref()) {
        steps.push(t);
    }
    for s in &steps {
        if let Some(l) = &s.log {
            logs.push(l.clone());
        }
    }
    if let Some(l) = service.as_ref().and_then(|s| s.log.clone()) {
        logs.push(l);
    }
    // Installs and the like that ran before a repair sent the run back count as tool time.
    let earlier: Vec<StepReport> = record
        .superseded
        .iter()
        .filter_map(|p| serde_json::from_str::<serde_json::Value>(p.output_json.as_deref()?).ok())
        .flat_map(|v| {
            v.get("steps")
                .and_then(|s| serde_json::from_value::<Vec<StepReport>>(s.clone()).ok())
                .unwrap_or_default()
        })
        .collect();
    let earlier_startup: u64 = record
        .superseded
        .iter()
        .filter(|p| p.name == "health")
        .filter_map(|p| p.finished_ms.map(|f| f.saturating_sub(p.started_ms)))
        .sum();
    let tool_ms: u64 = steps
        .iter()
        .map(|s| s.duration_ms)
        .chain(earlier.iter().map(|s| s.duration_ms))
        .sum();
    let startup_ms = health.as_ref().and_then(|h| h.startup_ms).unwrap_or(0);
    let end = record
        .phases
        .iter()
        .filter_map(|p| p.finished_ms)
        .max()
        .unwrap_or(record.updated_ms);
    let total_ms = end.saturating_sub(record.created_ms);
    RunReport {
        run: record.id.to_string(),
        status: record.status.to_string(),
        rung,
        target,
        url: health.as_ref().and_then(|h| h.url.clone()),
        stopped_because,
        confinement: confinement_line(input.as_ref()),
        workspace: analysis.as_ref().map(|a| a.workspace.clone()),
        installs_cached: deps.as_ref().is_some_and(|d| d.cache_hit),
        repairs,
        phases: record
            .phases
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    p.status.to_string(),
                    p.finished_ms
                        .unwrap_or_else(now_ms)
                        .saturating_sub(p.started_ms),
                )
            })
            .collect(),
        logs,
        env_written: setup
            .as_ref()
            .map(|s| s.env_written.clone())
            .unwrap_or_default(),
        databases: setup.map(|s| s.databases).unwrap_or_default(),
        port_mismatch: health.as_ref().and_then(|h| h.port_mismatch.clone()),
        started: service.as_ref().map(|s| s.command.clone()),
        tests,
        service_output: health
            .as_ref()
            .filter(|h| h.rung < Rung::HttpAnswers)
            .map(|h| h.output.clone()),
        total_ms,
        tool_ms,
        startup_ms,
        overhead_ms: total_ms.saturating_sub(tool_ms + startup_ms + earlier_startup),
        model_took_part: consultations.iter().any(Consultation::answered),
        model: input_model,
        consultations,
        index,
        http,
        probes,
        traceback,
    }
}

/// What each repair did for the run: it helped when its phase got past its failure, did
/// not help when the same failure came back, and is untested when its phase never ran
/// again.
fn repair_outcomes(record: &RunRecord) -> Vec<RepairRecord> {
    let mut out = record.repairs.clone();
    for (i, slot) in out.iter_mut().enumerate() {
        let r = &record.repairs[i];
        let evidence = r.evidence.trim();
        // Phase outputs are JSON: the evidence appears there escaped.
        let quoted = serde_json::to_string(evidence).unwrap_or_default();
        let escaped = quoted.trim_matches('"');
        let later = &record.repairs[i + 1..];
        let came_back = later
            .iter()
            .any(|l| l.phase == r.phase && l.evidence.trim() == evidence);
        // A fix whose own step failed (a generation step that needs the network).
        let own_step_failed = matches!(r.fix, Fix::Prepare { .. })
            && record
                .phase("setup")
                .and_then(|p| p.output_json.as_deref())
                .and_then(|o| serde_json::from_str::<SetupReport>(o).ok())
                .is_some_and(|s| s.steps.iter().any(|st| st.purpose == "prepare" && !st.ok));
        let outcome = if came_back || own_step_failed {
            RepairOutcome::DidNotHelp
        } else if later.iter().any(|l| l.phase == r.phase) {
            // Its phase failed again, but for another reason: past this one.
            RepairOutcome::Helped
        } else {
            match record.phase(&r.phase) {
                // A test suite that ran to its end and still prints the failure: the
                // fix let it run, but did not cure what it was for.
                Some(p)
                    if p.status == PhaseStatus::Succeeded
                        && r.phase == "tests"
                        && !evidence.is_empty()
                        && p.output_json
                            .as_deref()
                            .is_some_and(|o| o.contains(escaped)) =>
                {
                    RepairOutcome::DidNotHelp
                }
                Some(p) if p.status == PhaseStatus::Succeeded => RepairOutcome::Helped,
                Some(p) if p.status == PhaseStatus::Failed => {
                    let again = !evidence.is_empty()
                        && (p.error.as_deref().is_some_and(|e| e.contains(evidence))
                            || p.output_json
                                .as_deref()
                                .is_some_and(|o| o.contains(evidence) || o.contains(escaped)));
                    if again {
                        RepairOutcome::DidNotHelp
                    } else {
                        RepairOutcome::Helped
                    }
                }
                _ => RepairOutcome::Untested,
            }
        };
        slot.outcome = Some(outcome);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_urls_host_joins_the_allow_list() {
        use reporunner_runtime::network::url_host;
        assert_eq!(
            url_host("https://mirror.corp:8443/simple/").as_deref(),
            Some("mirror.corp")
        );
        assert_eq!(
            url_host("https://user:token@Registry.Corp/npm/").as_deref(),
            Some("registry.corp")
        );
        assert_eq!(
            url_host("http://[fd00::5]:3128").as_deref(),
            Some("fd00::5")
        );
        assert_eq!(url_host("direct"), None);
        assert_eq!(url_host("off"), None);
    }

    /// The narrowed network reaches what setup started (its databases, by address) and
    /// lets the hosts the run was told to allow through; --open-network shares the host's.
    #[test]
    fn the_network_policy_comes_from_the_run_and_its_setup() {
        reporunner_runtime::network::set_bridge_program(PathBuf::from("/bin/true"));
        let mut input = RepoRunInput::new("/nowhere");
        input.allow_hosts = vec!["api.example.com".into()];
        let setup = SetupReport {
            endpoints: vec!["127.0.0.1:5433".into(), "127.0.0.2:6379".into()],
            hosts: vec![("redis".into(), "127.0.0.2".into())],
            ..SetupReport::default()
        };
        let Some(policy) = network_policy(&input, Some(setup)) else {
            // No network namespace on this host: commands share the host's.
            assert!(reporunner_runtime::network::bridge_program().is_none());
            return;
        };
        assert_eq!(
            policy.reach,
            vec![
                "127.0.0.1:5433".parse::<std::net::SocketAddr>().unwrap(),
                "127.0.0.2:6379".parse().unwrap()
            ]
        );
        assert_eq!(policy.no_proxy, vec!["redis".to_string()]);
        assert!(policy.allows("api.example.com"));
        assert!(policy.allows("files.pythonhosted.org"));
        assert!(!policy.allows("example.com"));
        input.open_network = true;
        assert_eq!(network_policy(&input, None), None);
    }

    #[test]
    fn entry_modules_come_from_start_commands() {
        assert_eq!(
            entry_module("FLASK_APP=app:app flask run --port $PORT").as_deref(),
            Some("app")
        );
        assert_eq!(
            entry_module("uvicorn app.main:api --host $HOST --port $PORT").as_deref(),
            Some("app.main")
        );
        assert_eq!(
            entry_module("python manage.py runserver $HOST:$PORT").as_deref(),
            Some("manage")
        );
        assert_eq!(
            entry_module("python -m mypkg.server").as_deref(),
            Some("mypkg.server")
        );
        assert_eq!(
            entry_module("gunicorn wsgi:app -b $HOST:$PORT").as_deref(),
            Some("wsgi")
        );
        assert_eq!(entry_module("npm start"), None);
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures")
            .join(name)
    }

    fn plan_of(name: &str) -> Result<Plan, String> {
        let root = fixture(name);
        let profile = crate::analysis::analyze(&root).unwrap();
        plan(&profile, &root)
    }

    #[test]
    fn plans_follow_the_profile() {
        let p = plan_of("run/flask").unwrap();
        assert_eq!(p.kind, PlanKind::Service);
        assert_eq!(p.language.as_deref(), Some("python"));
        assert_eq!(p.entry_module.as_deref(), Some("app"));
        assert!(p.own_modules.contains(&"app".to_string()));
        assert_eq!(plan_of("run/static").unwrap().kind, PlanKind::Static);
        let lib = plan_of("run/failing-tests").unwrap();
        assert_eq!(lib.kind, PlanKind::Library);
        assert!(lib.test.is_some());
        let django = plan_of("run/django-sqlite").unwrap();
        assert_eq!(django.migrations, vec!["django".to_string()]);
        assert!(plan_of("repos/readme-only").is_err());
    }

    #[test]
    fn environment_tools_are_dropped_from_commands() {
        assert_eq!(
            in_the_environment("poetry run pytest -q tests"),
            "pytest -q tests"
        );
        assert_eq!(
            in_the_environment("cd svc && uv run --frozen pytest -vv && cd .."),
            "cd svc && pytest -vv && cd .."
        );
        assert_eq!(in_the_environment("npm test"), "npm test");
        assert_eq!(
            flask_app_of("gunicorn wsgi:app --log-file -").as_deref(),
            Some("wsgi:app")
        );
        assert_eq!(
            flask_app_of("FLASK_APP=bluelog flask run --port $PORT").as_deref(),
            Some("bluelog")
        );
    }

    #[test]
    fn a_pin_and_a_range_are_kept_apart() {
        let p = plan_of("repos/py-fastapi").unwrap();
        assert_eq!(p.runtime_constraint.as_deref(), Some(">=3.10"));
        assert_eq!(p.runtime_pin, None);
    }

    #[test]
    fn a_workspace_is_stable_per_source() {
        let a = workspace_for(Path::new("/data"), Path::new("/src/my app"));
        assert_eq!(
            a,
            workspace_for(Path::new("/data"), Path::new("/src/my app"))
        );
        assert_ne!(
            a,
            workspace_for(Path::new("/data"), Path::new("/other/my app"))
        );
        assert!(a.starts_with("/data/workspaces"));
        assert_eq!(a.file_name().unwrap(), "my_app");
        // Under a hidden data directory, no folder of the workspace's path is hidden.
        let hidden = std::env::temp_dir().join(format!(".rr-hidden-{}", std::process::id()));
        let w = workspace_for(&hidden, Path::new("/src/my app"));
        assert!(
            !w.components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with('.')),
            "{}",
            w.display()
        );
        assert_eq!(w, workspace_for(&hidden, Path::new("/src/my app")));
        assert_ne!(
            workspaces_root(&hidden),
            workspaces_root(&hidden.with_file_name(".rr-other"))
        );
        // Confined, a run sees its own workspace there and not the others'.
        let c = confinement(
            &hidden,
            w.parent().unwrap(),
            &hidden.join("runs/r1"),
            Path::new("/src/my app"),
            None,
        );
        assert!(
            c.hidden.contains(&workspaces_root(&hidden)),
            "{:?}",
            c.hidden
        );
        assert!(c.writable.contains(&w.parent().unwrap().to_path_buf()));
    }

    #[test]
    fn only_a_member_of_its_own_kind_of_workspace_copies_the_enclosing_root() {
        let top = std::env::temp_dir().join(format!("rr-copy-root-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&top);
        std::fs::create_dir_all(top.join("crates/app")).unwrap();
        std::fs::create_dir_all(top.join("examples/site")).unwrap();
        std::fs::write(
            top.join("Cargo.toml"),
            "[workspace]\nmembers = [\"crates/*\"]\n",
        )
        .unwrap();
        std::fs::write(
            top.join("crates/app/Cargo.toml"),
            "[package]\nname = \"app\"\nversion.workspace = true\n",
        )
        .unwrap();
        std::fs::write(top.join("examples/site/app.py"), "print('hi')\n").unwrap();
        let ok = std::process::Command::new("git")
            .args(["init", "-q"])
            .current_dir(&top)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let top = top.canonicalize().unwrap();
        let member = top.join("crates/app");
        assert_eq!(
            copy_root(&member),
            (top.clone(), PathBuf::from("crates/app"))
        );
        // A Python example inside a Rust workspace is copied alone, and so is a crate the
        // workspace does not list (it carries its own `[workspace]` or builds alone).
        let site = top.join("examples/site");
        assert_eq!(copy_root(&site), (site.clone(), PathBuf::new()));
        std::fs::create_dir_all(top.join("tests/fixture")).unwrap();
        std::fs::write(
            top.join("tests/fixture/Cargo.toml"),
            "[package]\nname = \"fixture\"\nversion = \"0.1.0\"\n",
        )
        .unwrap();
        let fixture = top.join("tests/fixture");
        assert_eq!(copy_root(&fixture), (fixture.clone(), PathBuf::new()));
        assert!(glob_matches("packages/**", "packages/a/b"));
        assert!(glob_matches("./apps/web", "apps/web"));
        assert!(!glob_matches("crates/*", "crates/a/b"));
        let _ = std::fs::remove_dir_all(&top);
    }
}
