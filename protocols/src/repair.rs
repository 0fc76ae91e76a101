//! The Fixer's vocabulary: the failure classes of the catalogue (F1 to F17 of the
//! research), the typed fixes they call for, and the record a run keeps of every repair
//! it attempted.

use serde::{Deserialize, Serialize};

/// A failure class of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// F1: the wrong or a missing runtime version.
    RuntimeVersion,
    /// F3: an imported module whose package is not declared.
    UndeclaredDependency,
    /// F4: the project's own package is not installed.
    ProjectNotInstalled,
    /// F5: a system library or header is missing.
    SystemLibrary,
    /// F6: the test tool is missing.
    TestTooling,
    /// F11: the port is taken.
    PortInUse,
    /// F12: the database is not running or not migrated.
    Database,
    /// F13: an environment variable, a secret or a configuration file is missing.
    MissingEnv,
    /// F14: a command waits for a person or watches forever.
    Interactive,
    /// F17: the lockfile does not match the manifest, or its package manager cannot
    /// install it.
    LockfileMismatch,
    /// F20: dependencies resolved today break code written against older releases.
    DependencyDrift,
    /// F23: a build step the app needs before it serves was not run (static files
    /// collected into a manifest).
    BuildStep,
    /// F24: a host name the code uses does not resolve (a compose service's name).
    HostName,
    /// F25: the start command is a command-line program that printed its usage and
    /// exited: it serves through a subcommand with host and port flags, or it is no
    /// service at all.
    CliUsage,
    /// F26: a test module needs the files of a git submodule that this copy of the
    /// repository does not have.
    MissingSubmodule,
    /// F27: a production build fetches from the network (web fonts, a CDN), which this
    /// host cannot reach; the project's dev server builds as it serves.
    OfflineBuild,
    /// Not in the catalogue: a failure only a model proposed a fix for.
    Unclassified,
}

impl FailureClass {
    /// Returns the class's number in the catalogue, such as `F3`.
    pub fn code(self) -> &'static str {
        match self {
            FailureClass::RuntimeVersion => "F1",
            FailureClass::UndeclaredDependency => "F3",
            FailureClass::ProjectNotInstalled => "F4",
            FailureClass::SystemLibrary => "F5",
            FailureClass::TestTooling => "F6",
            FailureClass::PortInUse => "F11",
            FailureClass::Database => "F12",
            FailureClass::MissingEnv => "F13",
            FailureClass::Interactive => "F14",
            FailureClass::LockfileMismatch => "F17",
            FailureClass::DependencyDrift => "F20",
            FailureClass::BuildStep => "F23",
            FailureClass::HostName => "F24",
            FailureClass::CliUsage => "F25",
            FailureClass::MissingSubmodule => "F26",
            FailureClass::OfflineBuild => "F27",
            FailureClass::Unclassified => "F0",
        }
    }
}

/// A fix, as a typed action.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Fix {
    /// Use a runtime version that satisfies the constraint.
    UseRuntime {
        /// `python`, `node`, `go`, `rust`.
        runtime: String,
        /// The constraint the failure stated.
        constraint: String,
    },
    /// Install a package into the project's environment.
    InstallPackage {
        /// The package, as its registry names it.
        package: String,
    },
    /// Install the project itself, editable (`pip install -e .`).
    InstallProject,
    /// Install a Debian package.
    InstallSystemPackage {
        /// The package.
        package: String,
    },
    /// Install the test tool.
    InstallTestTool {
        /// The tool.
        tool: String,
    },
    /// Lease another port and start again.
    NewPort,
    /// Start the database.
    StartDatabase {
        /// `postgresql`, `redis`, `mysql`, `mongodb`.
        kind: String,
    },
    /// Apply the migrations.
    RunMigrations,
    /// Run the project's own command that creates its database's tables (a `flask
    /// init-db` command, a `create_db.py` script), then start again.
    InitDatabase {
        /// The command, as the project names it.
        command: String,
    },
    /// Run a generation step the project's tools name (`prisma generate`) before the
    /// app and its tests, then again.
    Prepare {
        /// The command.
        command: String,
    },
    /// Collect the static files into the manifest the app serves them from (Django's
    /// `collectstatic`), then start again; the tests get them too.
    CollectStatic,
    /// Set an environment variable: a given value, or else a generated secret or a safe
    /// placeholder.
    SetEnv {
        /// Its name.
        name: String,
        /// The value, when the failure calls for a particular one (a config schema's
        /// default or a value of its type).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
    },
    /// Resolve the dependencies again with releases no newer than a date (the
    /// repository's last commit), for code that newer releases broke.
    ResolveAsOf {
        /// The date, RFC 3339.
        date: String,
    },
    /// Start a service locally and make the host name the code uses resolve to it, for
    /// the app's processes only.
    ServiceHost {
        /// The host name, as the code or its compose file names the service.
        host: String,
        /// What runs there: `redis`, `postgresql`.
        kind: String,
    },
    /// Export the lockfile of a package manager that cannot install it (Pipenv, Poetry)
    /// to a requirements file, and install that with pip at the locked versions.
    ExportLock {
        /// `pipenv` or `poetry`.
        manager: String,
    },
    /// Start the program through the subcommand that serves, with the directory and the
    /// host and port flags its own help names.
    ServeWith {
        /// The start command, with `$PORT` and `$HOST` for the leased address.
        command: String,
    },
    /// Run the program as the command-line tool it is: no service to start, its tests
    /// are its point.
    RunAsCli,
    /// Write the configuration file the program could not find, from the block the
    /// README shows for it (`~/` is a home of the run's own, given as `HOME`).
    WriteConfig {
        /// The file, as the program named it (`~/wtfd.conf`, `config/app.toml`).
        path: String,
        /// Where the README shows it: `README.md:133`, the opening fence's line.
        from: String,
    },
    /// Generate the code the build needs, with the project's own generation command
    /// (`go generate ./...`, its Makefile's `generate` target), before the build.
    Generate {
        /// The command.
        command: String,
    },
    /// Run a Maven reactor's tests through `package`, not `test`: a module's tests need a
    /// sibling's packaged jar (its `module-info` is added at packaging, as JPMS tests
    /// find it), which `mvn test` never makes.
    TestPackaged,
    /// Leave a test module out of the run (`pytest --ignore`), for a reason stated.
    IgnoreTests {
        /// The module, relative to the component.
        path: String,
        /// Why it cannot run here.
        reason: String,
    },
    /// Skip the production build and serve with the project's `dev` script.
    DevServer,
    /// Run non-interactively: `CI=true`, no watch mode, no browser.
    NonInteractive,
    /// Install without the frozen lockfile, and report it.
    UnfrozenInstall,
    /// Run a command a model proposed, which passed the allow-list, in the workspace.
    RunCommand {
        /// The program and its arguments.
        command: Vec<String>,
    },
    /// A tool spawned a command with its arguments as one program name, without a shell
    /// (`spawn tsx --test ENOENT`): put a program of exactly that name on the PATH that
    /// runs the command with its arguments.
    CommandShim {
        /// The command as the tool spawned it: a program and its arguments, in one.
        command: String,
    },
}

impl std::fmt::Display for Fix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fix::UseRuntime {
                runtime,
                constraint,
            } => write!(f, "use a {runtime} that satisfies {constraint}"),
            Fix::InstallPackage { package } => write!(f, "install the package {package}"),
            Fix::InstallProject => f.write_str("install the project itself (-e .)"),
            Fix::InstallSystemPackage { package } => {
                write!(f, "install the Debian package {package}")
            }
            Fix::InstallTestTool { tool } => write!(f, "install the test tool {tool}"),
            Fix::NewPort => f.write_str("lease another port and start again"),
            Fix::StartDatabase { kind } => write!(f, "start {kind}"),
            Fix::RunMigrations => f.write_str("apply the migrations"),
            Fix::InitDatabase { command } => {
                write!(f, "create the database's tables with `{command}`")
            }
            Fix::CollectStatic => f.write_str("collect the static files"),
            Fix::Prepare { command } => write!(f, "run `{command}` first"),
            Fix::SetEnv { name, value: None } => write!(f, "set {name}"),
            Fix::SetEnv {
                name,
                value: Some(v),
            } => write!(f, "set {name}={v}"),
            Fix::ResolveAsOf { date } => write!(
                f,
                "resolve the dependencies again with releases no newer than {date} (the last commit)"
            ),
            Fix::ServiceHost { host, kind } => write!(
                f,
                "start {kind} locally and make the host name {host} resolve to it for the app"
            ),
            Fix::ExportLock { manager } => write!(
                f,
                "export the {manager} lock to requirements and install them with pip"
            ),
            Fix::ServeWith { command } => write!(f, "serve with `{command}`"),
            Fix::RunAsCli => f.write_str(
                "run it as the command-line tool it is: no service to start, its tests are its point",
            ),
            Fix::WriteConfig { path, from } => {
                write!(f, "write {path} from the block {from} shows for it")
            }
            Fix::Generate { command } => {
                write!(f, "generate the code the build needs with `{command}` first")
            }
            Fix::TestPackaged => f.write_str(
                "run the tests through `package`: a module's tests need a sibling's packaged jar",
            ),
            Fix::IgnoreTests { path, reason } => {
                write!(f, "leave the tests in {path} out: {reason}")
            }
            Fix::DevServer => {
                f.write_str("skip the production build and serve with the dev script")
            }
            Fix::NonInteractive => f.write_str("run non-interactively"),
            Fix::UnfrozenInstall => f.write_str("install without the frozen lockfile"),
            Fix::RunCommand { command } => write!(f, "run `{}`", command.join(" ")),
            Fix::CommandShim { command } => write!(
                f,
                "put a program named `{command}` on the PATH that runs it with its arguments"
            ),
        }
    }
}

/// One repair a run attempted: the failure seen, the fix chosen, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairRecord {
    /// The phase that failed.
    pub phase: String,
    /// The failure's class.
    pub class: FailureClass,
    /// The fix applied.
    pub fix: Fix,
    /// The output line that showed the failure.
    pub evidence: String,
    /// The phase the run went back to.
    pub redo_from: String,
    /// When it was decided, in ms since the Unix epoch.
    pub at_ms: u64,
    /// The model that proposed it, when a model did (the catalogue had no fix).
    #[serde(default)]
    pub model: Option<String>,
    /// How the command ran, for a [`Fix::RunCommand`].
    #[serde(default)]
    pub command: Option<CommandResult>,
    /// What the fix did for the run, as the report reads it from the phases after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<RepairOutcome>,
}

/// What a fix did for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepairOutcome {
    /// The phase it was for got past the failure.
    Helped,
    /// The same failure came back: it was tried and did not help.
    DidNotHelp,
    /// The run ended before the phase ran again.
    Untested,
}

impl std::fmt::Display for RepairOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RepairOutcome::Helped => "helped",
            RepairOutcome::DidNotHelp => "tried, did not help",
            RepairOutcome::Untested => "not tested: the run ended first",
        })
    }
}

/// How a command that a repair ran ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResult {
    /// Its exit code, when it exited.
    pub exit_code: Option<i32>,
    /// Whether it was cut off for running too long.
    pub timed_out: bool,
    /// How long it ran, in ms.
    pub ms: u64,
    /// Its last output lines.
    pub tail: Vec<String>,
    /// Where its whole output is.
    pub log: Option<String>,
}

impl CommandResult {
    /// Whether it exited with 0 on its own.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}
