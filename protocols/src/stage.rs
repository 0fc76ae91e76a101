//! The repository run's vocabulary: its input, the verification ladder, and the typed
//! result of each phase, as the run's checkpoints store them and the report shows them.

use crate::access::Tier;
use crate::profile::ProjectProfile;
use crate::repair::RepairRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The name of the workflow that runs a repository.
pub const REPO_WORKFLOW: &str = "repo";

/// What a repository run is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoRunInput {
    /// The repository's folder, absolute. It is only read: the run works in a copy.
    pub path: String,
    /// The address the service binds: `127.0.0.1` unless asked otherwise.
    pub host: String,
    /// Whether Debian packages may be installed with apt-get (only as root).
    pub install_system_deps: bool,
    /// How long the service may take to answer HTTP, in seconds.
    pub http_timeout_secs: u64,
    /// Whether the project's own tests run.
    pub run_tests: bool,
    /// The model the run may consult (the Fixer for failures the catalogue does not know,
    /// Detection for a start command in the README); none by default.
    #[serde(default)]
    pub model: Option<String>,
    /// Whether the run builds the repository's context index (after analysis).
    #[serde(default = "yes")]
    pub index: bool,
    /// The tier the run acts for: it chooses the context indexer and bounds the GPUs a
    /// model may use. The local CLI acts as the machine's owner, the Developer tier; the
    /// HTTP API passes the caller's.
    #[serde(default = "Tier::developer")]
    pub tier: Tier,
    /// The user who asked for the run (none from the local CLI): the API shows a run only
    /// to that user and to those who manage users.
    #[serde(default)]
    pub user: Option<String>,
    /// Whether the repository's commands are confined with bubblewrap (the default;
    /// `--no-sandbox` for hosts that cannot, which the report then says).
    #[serde(default = "yes")]
    pub sandbox: bool,
    /// The context indexer to use instead of the tier's choice (a business client's
    /// setting); none: the tier's.
    #[serde(default)]
    pub indexer: Option<crate::host::IndexerKind>,
    /// Whether confined commands share the host's network (`--open-network`) instead of
    /// one narrowed to the registries, the run's databases and its service's port.
    #[serde(default)]
    pub open_network: bool,
    /// Hosts a confined command may reach on top of the registries (`--allow-host`).
    #[serde(default)]
    pub allow_hosts: Vec<String>,
}

fn yes() -> bool {
    true
}

impl RepoRunInput {
    /// A run of `path` with the defaults: loopback, no system packages, 60 s for the
    /// service to answer, tests run.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            host: "127.0.0.1".into(),
            install_system_deps: false,
            http_timeout_secs: 60,
            run_tests: true,
            model: None,
            index: true,
            tier: Tier::Developer,
            user: None,
            sandbox: true,
            indexer: None,
            open_network: false,
            allow_hosts: Vec::new(),
        }
    }
}

/// A rung of the verification ladder. Each rung needs the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rung {
    /// Nothing was verified.
    None,
    /// The analysis produced a plan that can be carried out.
    PlanValid,
    /// The dependencies installed.
    InstallOk,
    /// The modules the entry point imports can be found.
    ImportsResolve,
    /// The service's process stays up.
    ProcessAlive,
    /// It accepts TCP connections.
    PortOpen,
    /// It answers HTTP.
    HttpAnswers,
    /// The project's own tests pass.
    TestsPass,
}

impl Rung {
    /// Every rung, from the bottom.
    pub const ALL: [Rung; 8] = [
        Rung::None,
        Rung::PlanValid,
        Rung::InstallOk,
        Rung::ImportsResolve,
        Rung::ProcessAlive,
        Rung::PortOpen,
        Rung::HttpAnswers,
        Rung::TestsPass,
    ];

    /// Its number on the ladder: 0 for none, 7 for tests pass.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// Its name, for people.
    pub fn label(self) -> &'static str {
        match self {
            Rung::None => "nothing verified",
            Rung::PlanValid => "plan valid",
            Rung::InstallOk => "install ok",
            Rung::ImportsResolve => "imports resolve",
            Rung::ProcessAlive => "process alive",
            Rung::PortOpen => "port open",
            Rung::HttpAnswers => "HTTP answers",
            Rung::TestsPass => "tests pass",
        }
    }
}

impl std::fmt::Display for Rung {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// What the run will do with the component it chose: the analysis phase's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanKind {
    /// A service: installed, started, probed over HTTP.
    Service,
    /// Static files, served by Repo Runner's own server.
    Static,
    /// Nothing to start (a library or a tool): installed and tested.
    Library,
}

/// The plan the analysis phase made for one component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The component's folder, relative to the workspace (`.` for the root).
    pub component: String,
    /// What it is.
    pub kind: PlanKind,
    /// Its main language: `python`, `javascript`, `rust`, ...
    pub language: Option<String>,
    /// Its package manager: `pip`, `poetry`, `uv`, `pipenv`, `npm`, `yarn`, `pnpm`, `cargo`.
    pub package_manager: Option<String>,
    /// The Python or Node version range it declares (`>=3.10`, `^3.11`).
    pub runtime_constraint: Option<String>,
    /// The exact version it pins (`.python-version`, `.nvmrc`), preferred when the host
    /// has it, and otherwise given up for the range.
    pub runtime_pin: Option<String>,
    /// How it installs, as analysis found it.
    pub install: Option<String>,
    /// How it builds, when it must.
    pub build: Option<String>,
    /// How it starts, with `$PORT` and `$HOST` where they go.
    pub start: Option<String>,
    /// The port its code or config names, which the run prefers to lease.
    pub port_hint: Option<u16>,
    /// Whether it reads `PORT` from the environment.
    pub reads_port: bool,
    /// Its test command.
    pub test: Option<String>,
    /// The databases it uses: `sqlite`, `postgresql`, `redis`, ...
    pub databases: Vec<String>,
    /// The migration tools it uses: `django`, `alembic`, `flask-migrate`, `prisma`, `knex`.
    pub migrations: Vec<String>,
    /// The manifests of the component, relative to the workspace.
    pub manifests: Vec<String>,
    /// Its own top-level Python modules, to tell them from dependencies.
    pub own_modules: Vec<String>,
    /// The Python module the entry point is, when known (`app`, `app.main`).
    pub entry_module: Option<String>,
    /// The pages a user would open, after `/`, for the health check: the framework's
    /// usual routes, the paths of the code's route table, the README's URLs.
    #[serde(default)]
    pub probe_paths: Vec<String>,
    /// When the component last changed in its repository's history (RFC 3339), for
    /// resolving dependencies as they were then.
    #[serde(default)]
    pub commit_date: Option<String>,
    /// The project's own commands that create its database's tables, as its README or
    /// code names them (`flask init-db`, `python create_db.py`).
    #[serde(default)]
    pub init_commands: Vec<String>,
    /// The services of the repository's compose file that Repo Runner can start, by
    /// the host name the code reaches them at: (name, `redis` or `postgresql`).
    #[serde(default)]
    pub compose_services: Vec<(String, String)>,
}

/// What indexing a repository did: the indexer chosen and why, and what changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexReport {
    /// `simple`, `vector` or `collection`.
    pub kind: String,
    /// Why that indexer, rule by rule (a fallback says what was missing).
    pub reasons: Vec<String>,
    /// The embedding model, for a vector or collection index.
    pub embedder: Option<String>,
    /// Whether a kept collection was reloaded rather than built.
    pub reloaded: bool,
    /// Files walked.
    pub files_seen: u64,
    /// Files (re)indexed: new or changed since the last update.
    pub files_indexed: u64,
    /// Files dropped: gone since the last update.
    pub files_removed: u64,
    /// Files left out: binary, generated, too large.
    pub files_skipped: u64,
    /// Chunks in the index.
    pub chunks: u64,
    /// Bytes (re)indexed.
    pub bytes_indexed: u64,
    /// How long it took, in ms.
    pub ms: u64,
    /// Why indexing failed, when it did (a run goes on without an index).
    pub error: Option<String>,
}

/// The analysis phase's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisOutput {
    /// The workspace the run works in: a copy of the repository.
    pub workspace: String,
    /// The copy of the enclosing repository, when the folder run is a member of a
    /// workspace or reaches above itself (Cargo's `workspace = true`, a path dependency
    /// into `../..`): the workspace is then that copy's member folder.
    #[serde(default)]
    pub root: Option<String>,
    /// The repository's profile, with evidence.
    pub profile: ProjectProfile,
    /// What the run will do.
    pub plan: Plan,
}

/// One command a phase ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReport {
    /// What it was for: `venv`, `install`, `build`, `migrate`, ...
    pub purpose: String,
    /// The command, as a person would type it.
    pub command: String,
    /// Its exit code, when it exited.
    pub code: Option<i32>,
    /// Whether it succeeded.
    pub ok: bool,
    /// How long it ran, in ms.
    pub duration_ms: u64,
    /// Its log file.
    pub log: Option<String>,
    /// Its last lines.
    pub tail: Vec<String>,
}

/// The dependencies phase's result.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DependencyReport {
    /// Variables every later command of the run gets: `PATH` with the environment's
    /// `bin` first, `VIRTUAL_ENV`, ...
    pub env: BTreeMap<String, String>,
    /// What installed: `python 3.11.7 pip`, `node 20.1.0 npm`, ...
    pub toolchain: String,
    /// The cache key of the installed dependencies.
    pub cache_key: Option<String>,
    /// Whether they came from the cache.
    pub cache_hit: bool,
    /// The commands it ran.
    pub steps: Vec<StepReport>,
    /// What was checked of the imports, one line each.
    pub imports: Vec<String>,
}

/// A database a run started or uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseReport {
    /// `sqlite`, `postgresql`, `redis`.
    pub kind: String,
    /// What the run did: `created`, `started`, `present`, or why not.
    pub state: String,
    /// The URL the app is given, when there is one.
    pub url: Option<String>,
    /// Its port, when it listens.
    pub port: Option<u16>,
}

/// The setup phase's result.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SetupReport {
    /// The `.env` written, when one was.
    pub env_file: Option<String>,
    /// Every variable written, with where its value came from.
    pub env_written: Vec<(String, String)>,
    /// Variables the service gets on top of the dependencies' ones.
    pub env: BTreeMap<String, String>,
    /// The databases.
    pub databases: Vec<DatabaseReport>,
    /// The migration commands run.
    pub steps: Vec<StepReport>,
    /// The hosts file the service and its tests see as `/etc/hosts`, when the run maps
    /// host names the code hard-codes (compose services) to the services it started.
    #[serde(default)]
    pub hosts_file: Option<String>,
    /// Those names, and the address each resolves to.
    #[serde(default)]
    pub hosts: Vec<(String, String)>,
    /// Where the databases the run started listen (`127.0.0.1:5433`): the only ports of
    /// the host its confined commands may reach when their network is narrowed.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// Files written for places outside the workspace (the file, the place its program
    /// looks for it: `~/app.conf`), which confined commands see there.
    #[serde(default)]
    pub files: Vec<(String, String)>,
}

/// The start phase's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceReport {
    /// The command started, or `builtin static server`.
    pub command: String,
    /// The process group's leader, for a process.
    pub pid: Option<u32>,
    /// The address it was told to bind.
    pub host: String,
    /// The port leased for it.
    pub port: u16,
    /// The log file.
    pub log: Option<String>,
    /// When it started, in ms since the Unix epoch.
    pub started_ms: u64,
}

/// One rung checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RungCheck {
    /// The rung.
    pub rung: Rung,
    /// Whether it holds.
    pub ok: bool,
    /// What was seen.
    pub detail: String,
}

/// One page the health check asked for, and what it said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// The path asked.
    pub path: String,
    /// The status it answered.
    pub status: u16,
    /// Whether the answer counts as healthy: below 500 and not a misconfiguration.
    pub ok: bool,
    /// Why it does not, when it does not (`server error`, `Django refused the host`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The first lines of its body, as text, for a page that is not healthy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body: Vec<String>,
}

/// The health phase's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    /// The highest rung reached, counting the earlier phases'.
    pub rung: Rung,
    /// The rungs checked, from the bottom.
    pub checks: Vec<RungCheck>,
    /// Where it answers.
    pub url: Option<String>,
    /// The port it really listens on, when that is not the one leased.
    pub port_mismatch: Option<PortMismatch>,
    /// The HTTP status it answered with, and the path.
    pub http: Option<(String, u16)>,
    /// How long from start to the first HTTP answer, in ms.
    pub startup_ms: Option<u64>,
    /// The service's first lines, last lines and error lines.
    pub output: ServiceOutput,
    /// Every page asked for in the last round, in order.
    #[serde(default)]
    pub probes: Vec<Probe>,
    /// The traceback (or panic, or error stack) the service logged for a page that
    /// failed.
    #[serde(default)]
    pub traceback: Vec<String>,
}

/// The service listened elsewhere than on the port it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMismatch {
    /// The port leased and passed as `PORT`.
    pub leased: u16,
    /// The port it listens on.
    pub actual: u16,
}

/// What a service printed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServiceOutput {
    /// The first lines.
    pub head: Vec<String>,
    /// The last lines.
    pub tail: Vec<String>,
    /// The lines that look like errors.
    pub errors: Vec<String>,
}

/// One test's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    /// Its name.
    pub name: String,
    /// `passed`, `failed`, `skipped`, `error`.
    pub status: String,
}

/// The tests phase's result.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TestReport {
    /// The command, or `None` when the project has no tests.
    pub command: Option<String>,
    /// Whether the suite passed.
    pub passed: bool,
    /// How the result was read: `junit`, `cargo`, `tap`, `exit code`.
    pub parsed_from: String,
    /// The count of tests per status.
    pub counts: BTreeMap<String, usize>,
    /// The tests that did not pass (and, for short suites, all of them).
    pub tests: Vec<TestResult>,
    /// The command run.
    pub step: Option<StepReport>,
    /// Programs the tests tried to run that are not installed here (a browser for
    /// end-to-end tests, a CLI), as their output names them: why tests fail on this host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_programs: Vec<String>,
}

impl TestReport {
    /// Whether the runner finished and its own summary says it ran no test at all (`Ran 0
    /// tests`, `running 0 tests`, pytest's `no tests ran` and its exit code 5, unittest's
    /// `NO TESTS RAN`): a suite that proves nothing, neither passed nor failed.
    pub fn ran_none(&self) -> bool {
        let finished = self.step.as_ref().is_some_and(|s| {
            s.ok || (s.code == Some(5)
                && matches!(self.parsed_from.as_str(), "pytest" | "unittest"))
        });
        finished
            && self.counts.is_empty()
            && self.tests.is_empty()
            && !matches!(self.parsed_from.as_str(), "exit code" | "none")
    }
}

/// The report of a repository run: how far it got and what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// The run.
    pub run: String,
    /// `succeeded`, `failed`, ...
    pub status: String,
    /// The highest rung reached.
    pub rung: Rung,
    /// The rung the run aimed for: tests pass, or HTTP answers without tests.
    pub target: Rung,
    /// Where the service answers.
    pub url: Option<String>,
    /// Why it stopped below its target, when it did.
    pub stopped_because: Option<String>,
    /// How the repository's commands were confined, or why they were not.
    #[serde(default)]
    pub confinement: Option<String>,
    /// The workspace.
    pub workspace: Option<String>,
    /// Whether the installed dependencies came from the cache.
    pub installs_cached: bool,
    /// The fixes applied.
    pub repairs: Vec<RepairRecord>,
    /// Each phase: name, status, ms.
    pub phases: Vec<(String, String, u64)>,
    /// The log files.
    pub logs: Vec<String>,
    /// Variables written to `.env`, with their source.
    pub env_written: Vec<(String, String)>,
    /// The databases.
    pub databases: Vec<DatabaseReport>,
    /// The port mismatch, when the service ignored `PORT`.
    pub port_mismatch: Option<PortMismatch>,
    /// The command the service was started with, as the runner ran it.
    #[serde(default)]
    pub started: Option<String>,
    /// The tests.
    pub tests: Option<TestReport>,
    /// The service's output lines, when it failed.
    pub service_output: Option<ServiceOutput>,
    /// The whole run, in ms.
    pub total_ms: u64,
    /// Time in installs, builds, migrations and the tests, in ms.
    pub tool_ms: u64,
    /// The service's own start-up time, in ms.
    pub startup_ms: u64,
    /// Repo Runner's own time: the whole minus tools and start-up.
    pub overhead_ms: u64,
    /// The model configured for the run, when one was.
    #[serde(default)]
    pub model: Option<String>,
    /// Whether a model answered any question in this run.
    #[serde(default)]
    pub model_took_part: bool,
    /// Every question put to a model: analysis first, then the repairs.
    #[serde(default)]
    pub consultations: Vec<crate::assist::Consultation>,
    /// The context index the run built or brought up to date.
    #[serde(default)]
    pub index: Option<IndexReport>,
    /// The page the health verdict rests on: its path and status.
    #[serde(default)]
    pub http: Option<Probe>,
    /// Every page the health check asked for in its last round.
    #[serde(default)]
    pub probes: Vec<Probe>,
    /// The traceback the service logged for a page that failed.
    #[serde(default)]
    pub traceback: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_are_ordered_and_numbered() {
        assert!(Rung::HttpAnswers > Rung::PortOpen);
        assert_eq!(Rung::TestsPass.number(), 7);
        assert_eq!(Rung::None.number(), 0);
        for (i, r) in Rung::ALL.iter().enumerate() {
            assert_eq!(r.number() as usize, i);
        }
    }

    #[test]
    fn an_input_round_trips_through_json() {
        let input = RepoRunInput::new("/src/app");
        let json = serde_json::to_string(&input).unwrap();
        assert_eq!(serde_json::from_str::<RepoRunInput>(&json).unwrap(), input);
    }
}
