//! The Fixer agent: matches a failed phase's output against the catalogue of failure
//! signatures ([`crate::repair::diagnose`]) and decides one typed fix, within a budget per
//! failure class. A fix already applied that did not cure its failure is not applied again
//! (a loop), and the run stops there with the failure it has.

use crate::repair::{DiagnoseContext, Diagnosis, FailureClass, Fix, diagnose};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster_derive::RactorMessage;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_protocols::repair::RepairRecord;
use reporunner_protocols::stage::Plan;
use reporunner_runtime::kinds::AgentKind;
use reporunner_runtime::process::{self, CommandSpec, Confinement};
use std::path::PathBuf;

/// The kind name the Fixer agent is registered under.
pub const KIND: &str = "fixer";

/// What failed.
#[derive(Debug, Clone)]
pub struct FixRequest {
    /// The phase that failed.
    pub phase: String,
    /// The output lines that show why.
    pub lines: Vec<String>,
    /// The repairs the run applied before.
    pub history: Vec<RepairRecord>,
    /// The project's own top-level Python modules.
    pub own_modules: Vec<String>,
    /// Whether Debian packages may be installed.
    pub install_system_deps: bool,
    /// The Python (major, minor) the failed phase used, when it used one.
    pub python: Option<(u32, u32)>,
    /// The run's plan, when analysis made one: its migrations, its table-creating
    /// commands, its compose services, its package manager and its last commit's date.
    pub plan: Option<Plan>,
    /// The component's folder in the workspace, for rules that read the code a failure
    /// points at.
    pub dir: Option<PathBuf>,
    /// How the run's commands are confined: a rule that runs the repository's program
    /// (its `--help`) runs it so too.
    pub confine: Option<Confinement>,
}

/// The Fixer agent's messages.
#[derive(Debug, RactorMessage)]
pub enum FixerMessage {
    /// Decides a fix, or `None` when no known one is left.
    Diagnose(Box<FixRequest>, RpcReplyPort<Option<RepairRecord>>),
}

/// The Fixer agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fixer;

impl Actor for Fixer {
    type Msg = FixerMessage;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _args: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        _state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let FixerMessage::Diagnose(req, reply) = message;
        let decided = match decide(&req) {
            Some(record) => Some(record),
            None => as_cli(&req).await,
        };
        let _ = reply.send(decided);
        Ok(())
    }
}

/// How many fixes of a class one run may apply.
pub fn budget(class: FailureClass) -> usize {
    match class {
        // Each missing module is its own fix; a project can lack several.
        FailureClass::UndeclaredDependency => 6,
        FailureClass::MissingEnv => 6,
        FailureClass::PortInUse => 3,
        FailureClass::Database => 3,
        // One older Python at a time.
        FailureClass::RuntimeVersion => 3,
        // A fixture's plugin, then another's.
        FailureClass::TestTooling => 4,
        FailureClass::HostName => 3,
        // Its serve subcommand, then as a CLI.
        FailureClass::CliUsage => 2,
        // Static files, a generated client.
        FailureClass::BuildStep => 2,
        // A module per submodule.
        FailureClass::MissingSubmodule => 4,
        _ => 1,
    }
}

/// The phase a fix sends the run back to.
pub fn redo_from(fix: &Fix) -> &'static str {
    match fix {
        Fix::UseRuntime { .. }
        | Fix::InstallPackage { .. }
        | Fix::InstallProject
        | Fix::InstallSystemPackage { .. }
        | Fix::InstallTestTool { .. }
        | Fix::UnfrozenInstall
        | Fix::ResolveAsOf { .. }
        | Fix::ExportLock { .. }
        | Fix::DevServer
        | Fix::Generate { .. } => "dependencies",
        Fix::StartDatabase { .. }
        | Fix::RunMigrations
        | Fix::InitDatabase { .. }
        | Fix::CollectStatic
        | Fix::Prepare { .. }
        | Fix::ServiceHost { .. }
        | Fix::WriteConfig { .. }
        | Fix::SetEnv { .. } => "setup",
        Fix::NewPort | Fix::NonInteractive | Fix::ServeWith { .. } | Fix::RunAsCli => "start",
        Fix::IgnoreTests { .. } | Fix::CommandShim { .. } | Fix::TestPackaged => "tests",
        // A model's command: the run's repairer sends the run back to the failed phase.
        Fix::RunCommand { .. } => "start",
    }
}

/// Chooses the first diagnosis that is in budget, not a repeat, and applicable here.
/// A missing table when the migrations already ran calls for the project's own
/// table-creating commands, one at a time; a Pipenv or Poetry install that fails calls for
/// its lock, exported and installed with pip.
pub fn decide(req: &FixRequest) -> Option<RepairRecord> {
    let plan = req.plan.as_ref();
    let ctx = DiagnoseContext {
        own_modules: req.own_modules.clone(),
        python: req.python,
        commit_date: plan.and_then(|p| p.commit_date.clone()),
        compose_services: plan.map(|p| p.compose_services.clone()).unwrap_or_default(),
        dir: req.dir.clone(),
    };
    let mut found = diagnose(req.lines.iter().map(String::as_str), &ctx);
    for d in &mut found {
        if d.fix == Fix::RunMigrations {
            // The plan's migrations ran at setup (or it has none), and so did any the
            // Fixer ran: what is left is the project's own table-creating command.
            let migrated =
                plan.is_some() || req.history.iter().any(|r| r.fix == Fix::RunMigrations);
            let next = plan.and_then(|p| {
                p.init_commands.iter().find(|c| {
                    !req.history
                        .iter()
                        .any(|r| matches!(&r.fix, Fix::InitDatabase { command } if command == *c))
                })
            });
            if let (true, Some(command)) = (migrated, next) {
                d.fix = Fix::InitDatabase {
                    command: command.clone(),
                };
            }
        }
    }
    if req.phase == "dependencies"
        && let Some(manager) = plan
            .and_then(|p| p.package_manager.clone())
            .filter(|m| m == "pipenv" || m == "poetry")
        && let Some(dir) = &req.dir
        && dir
            .join(if manager == "pipenv" {
                "Pipfile.lock"
            } else {
                "poetry.lock"
            })
            .is_file()
    {
        // After what the catalogue found: the package manager itself failed.
        let evidence = req
            .lines
            .iter()
            .rev()
            .find(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("error") || l.contains("failed") || l.contains("exception")
            })
            .or(req.lines.last())
            .cloned()
            .unwrap_or_default();
        found.push(Diagnosis {
            class: FailureClass::LockfileMismatch,
            fix: Fix::ExportLock { manager },
            evidence,
        });
    }
    let runtime = plan.and_then(|p| p.language.clone()).unwrap_or_default();
    let chosen = found.into_iter().find(|d: &Diagnosis| {
        let used = req.history.iter().filter(|r| r.class == d.class).count();
        let repeat = req.history.iter().any(|r| r.fix == d.fix);
        let applicable = match &d.fix {
            Fix::InstallSystemPackage { .. } => req.install_system_deps,
            Fix::SetEnv { name, .. } => !name.is_empty(),
            // Again after an export would be the same install.
            Fix::UnfrozenInstall => !req
                .history
                .iter()
                .any(|r| matches!(r.fix, Fix::ExportLock { .. })),
            Fix::ResolveAsOf { .. } => {
                matches!(runtime.as_str(), "python" | "javascript" | "typescript")
            }
            Fix::ServiceHost { kind, .. } => kind == "redis" || kind == "postgresql",
            // A dev script to serve with.
            Fix::DevServer => {
                req.phase == "dependencies"
                    && req.dir.as_ref().is_some_and(|d| {
                        crate::sources::package_scripts(d)
                            .get("dev")
                            .is_some_and(|v| v.is_string())
                    })
            }
            Fix::RunMigrations => !req
                .history
                .iter()
                .any(|r| matches!(r.fix, Fix::InitDatabase { .. })),
            _ => true,
        };
        used < budget(d.class) && !repeat && applicable
    })?;
    // A shim for a command the service spawned is applied where it failed: at the start.
    let redo = match &chosen.fix {
        Fix::CommandShim { .. } if req.phase != "tests" => "start",
        fix => redo_from(fix),
    };
    Some(RepairRecord {
        phase: req.phase.clone(),
        class: chosen.class,
        redo_from: redo.to_string(),
        fix: chosen.fix,
        evidence: chosen.evidence,
        at_ms: crate::runs::now_ms(),
        model: None,
        command: None,
        outcome: None,
    })
}

/// The command an `npm start` or `npm run NAME` runs, when package.json gives it as one
/// plain command; else the start command itself.
fn package_script(start: &str, dir: Option<&std::path::Path>) -> String {
    let words: Vec<&str> = start.split_whitespace().collect();
    let name = match words.as_slice() {
        ["npm" | "yarn" | "pnpm", "start"] => "start",
        ["npm" | "yarn" | "pnpm", "run", name] => name,
        _ => return start.to_string(),
    };
    dir.map(crate::sources::package_scripts)
        .and_then(|s| s.get(name).and_then(|v| v.as_str()).map(str::to_string))
        .filter(|s| !s.contains("&&") && !s.contains('|') && !s.contains(';'))
        .unwrap_or_else(|| start.to_string())
}

/// How long a program's `--help` may take.
const HELP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// A start command that printed its own usage, a list of commands, and exited: a
/// command-line program. When the list has a `serve` subcommand whose `--help` names a
/// port flag, the program is started through it with the leased address; when that did
/// not serve either, or there is none, it is run as the CLI it is.
async fn as_cli(req: &FixRequest) -> Option<RepairRecord> {
    if req.phase != "health" || req.history.iter().any(|r| r.fix == Fix::RunAsCli) {
        return None;
    }
    let plan = req.plan.as_ref()?;
    let start = package_script(plan.start.as_deref()?, req.dir.as_deref());
    let start = start.as_str();
    let record = |fix: Fix, evidence: String| RepairRecord {
        phase: req.phase.clone(),
        class: FailureClass::CliUsage,
        redo_from: redo_from(&fix).to_string(),
        fix,
        evidence,
        at_ms: crate::runs::now_ms(),
        model: None,
        command: None,
        outcome: None,
    };
    if let Some(served) = req.history.iter().find_map(|r| match &r.fix {
        Fix::ServeWith { command } => Some(command.clone()),
        _ => None,
    }) {
        let why = req
            .lines
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| format!(": {}", l.trim()))
            .unwrap_or_default();
        return Some(record(
            Fix::RunAsCli,
            format!("`{served}` did not serve either{why}"),
        ));
    }
    let usage = crate::cliusage::usage(start, &req.lines)?;
    if let (Some(sub), Some(dir)) = (&usage.serve, &req.dir) {
        // The repository's own program: confined as its other commands are.
        let script = format!("{start} {sub} --help");
        let mut spec =
            CommandSpec::new("/bin/sh", &["-c", &script], dir).confined(req.confine.as_ref());
        spec.timeout = Some(HELP_TIMEOUT);
        if let Ok(out) = process::run(&spec).await {
            let mut lines = out.head.clone();
            lines.extend(out.tail.iter().filter(|l| !out.head.contains(l)).cloned());
            let text = lines.join("\n");
            if let Some(command) = crate::cliusage::serve_command(start, sub, &text, dir) {
                return Some(record(
                    Fix::ServeWith { command },
                    format!("{} (its commands include `{sub}`)", usage.line),
                ));
            }
        }
    }
    Some(record(Fix::RunAsCli, usage.line))
}

/// The Fixer agent's kind, for the kind registry.
pub fn kind() -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: KIND.to_string(),
            description: "matches failures against known signatures and decides a fix".to_string(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |_ctx, _config: super::NoConfig| (Fixer, ()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(lines: &[&str], history: Vec<RepairRecord>) -> FixRequest {
        FixRequest {
            phase: "health".into(),
            lines: lines.iter().map(|s| s.to_string()).collect(),
            history,
            own_modules: vec!["myapp".into()],
            install_system_deps: false,
            python: None,
            plan: None,
            dir: None,
            confine: None,
        }
    }

    #[test]
    fn a_missing_module_is_installed_then_never_again() {
        let r = decide(&req(
            &["ModuleNotFoundError: No module named 'requests'"],
            vec![],
        ))
        .expect("a fix");
        assert_eq!(
            r.fix,
            Fix::InstallPackage {
                package: "requests".into()
            }
        );
        assert_eq!(r.redo_from, "dependencies");
        // The same failure after the same fix is a loop: no fix.
        assert_eq!(
            decide(&req(
                &["ModuleNotFoundError: No module named 'requests'"],
                vec![r]
            )),
            None
        );
    }

    #[test]
    fn the_projects_own_module_means_install_the_project() {
        let r = decide(&req(
            &["ModuleNotFoundError: No module named 'myapp'"],
            vec![],
        ))
        .unwrap();
        assert_eq!(r.fix, Fix::InstallProject);
        assert_eq!(r.class.code(), "F4");
    }

    #[test]
    fn a_budget_stops_a_class() {
        let mut history = Vec::new();
        for i in 0..budget(FailureClass::PortInUse) {
            history.push(RepairRecord {
                phase: "health".into(),
                class: FailureClass::PortInUse,
                fix: Fix::SetEnv {
                    name: format!("X{i}"),
                    value: None,
                },
                evidence: String::new(),
                redo_from: "start".into(),
                at_ms: 0,
                model: None,
                command: None,
                outcome: None,
            });
        }
        assert_eq!(
            decide(&req(
                &["Error: listen EADDRINUSE: address already in use :::3000"],
                history
            )),
            None
        );
        assert_eq!(
            decide(&req(
                &["Error: listen EADDRINUSE: address already in use :::3000"],
                vec![]
            ))
            .unwrap()
            .fix,
            Fix::NewPort
        );
    }

    #[test]
    fn system_packages_need_permission() {
        let lines = ["fatal error: libpq-fe.h: No such file or directory"];
        assert_eq!(decide(&req(&lines, vec![])), None);
        let mut r = req(&lines, vec![]);
        r.install_system_deps = true;
        assert!(matches!(
            decide(&r).unwrap().fix,
            Fix::InstallSystemPackage { .. }
        ));
    }

    #[test]
    fn nothing_known_gives_no_fix() {
        assert_eq!(decide(&req(&["everything is fine"], vec![])), None);
    }
}
