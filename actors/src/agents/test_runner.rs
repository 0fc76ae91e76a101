//! The Tests agent: runs the project's own test command in the run's environment and reads
//! each test's status where the runner can say it: pytest through JUnit XML, `cargo test`
//! from its output, Vitest and `node --test` through JUnit, Maven and Gradle from the
//! JUnit XML they write, anything printing TAP from its
//! output. Otherwise the exit code decides. A failing suite is reported as failing; only a
//! suite that could not run at all (its tool is missing) fails the phase, for the Fixer.

use crate::agents::stage::{StageFailure, run_step, shell};
use crate::repair::{DiagnoseContext, FailureClass, diagnose};
use crate::testreport::{self, Status, TestSummary};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster_derive::RactorMessage;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_protocols::repair::{Fix, RepairRecord};
use reporunner_protocols::stage::{Plan, TestReport, TestResult};
use reporunner_runtime::kinds::AgentKind;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The kind name the Tests agent is registered under.
pub const KIND: &str = "tests";

/// How many passing tests a report lists by name; failing ones are always listed.
const LIST_PASSING: usize = 50;

/// What to test.
#[derive(Debug, Clone)]
pub struct TestRequest {
    /// The workspace.
    pub workspace: PathBuf,
    /// The plan, with the test command.
    pub plan: Plan,
    /// The run's environment.
    pub env: BTreeMap<String, String>,
    /// Where logs and reports go.
    pub logs: PathBuf,
    /// The hosts file the tests see as `/etc/hosts`, when the setup made one.
    pub hosts_file: Option<PathBuf>,
    /// How the repository's commands are confined; `None` runs them unconfined.
    pub confine: Option<reporunner_runtime::process::Confinement>,
    /// The repairs applied so far: test modules left out, with why.
    pub repairs: Vec<RepairRecord>,
}

/// The Tests agent's messages.
#[derive(Debug, RactorMessage)]
pub enum TestsMessage {
    /// Runs the test command.
    Run(
        Box<TestRequest>,
        RpcReplyPort<Result<TestReport, StageFailure>>,
    ),
}

/// The Tests agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tests;

impl Actor for Tests {
    type Msg = TestsMessage;
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
        let TestsMessage::Run(req, reply) = message;
        if reply.is_closed() {
            return Ok(());
        }
        let _ = reply.send(run_tests(&req).await);
        Ok(())
    }
}

/// The command as run, with the flags that make its runner write JUnit XML to `junit`.
fn with_report_flags(command: &str, dir: &std::path::Path, junit: &str) -> (String, bool) {
    if command.trim() == "tox" {
        // The tests on this interpreter, not every environment tox.ini lists (linters,
        // docs builds that fetch inventories, other Pythons).
        return ("tox -e py".into(), false);
    }
    if command.contains("pytest") {
        // The flag goes to the pytest of a chain (`cd svc && pytest -vv`).
        let parts: Vec<String> = command
            .split(" && ")
            .map(|p| {
                if p.contains("pytest") {
                    format!("{p} --junitxml='{junit}'")
                } else {
                    p.to_string()
                }
            })
            .collect();
        return (parts.join(" && "), true);
    }
    // go test reports each test as a JSON event; its text is read back from them.
    if let Some(rest) = command.strip_prefix("go test")
        && !command.contains(" -json")
        && !command.contains("&&")
    {
        return (format!("go test -json{rest}"), false);
    }
    // unittest and Django name each test when verbose; the lines are parsed afterwards.
    if command.contains("manage.py test") && !command.contains(" -v") {
        return (format!("{command} -v 2"), false);
    }
    if command.ends_with("-m unittest") || command.contains("-m unittest discover") {
        return (format!("{command} -v"), false);
    }
    let js_test = ["npm", "pnpm", "yarn"].iter().any(|pm| {
        command.starts_with(&format!("{pm} test")) || command.starts_with(&format!("{pm} run test"))
    });
    let script = if js_test {
        std::fs::read_to_string(dir.join("package.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| {
                v.pointer("/scripts/test")
                    .and_then(|s| s.as_str())
                    .map(String::from)
            })
            .unwrap_or_default()
    } else {
        command.to_string()
    };
    let sep = if command.starts_with("npm ") {
        " --"
    } else {
        ""
    };
    if script.contains("vitest") {
        let run = if script.contains("vitest run") {
            ""
        } else {
            " --run"
        };
        return (
            format!(
                "{command}{sep}{run} --reporter=default --reporter=junit --outputFile.junit='{junit}'"
            ),
            true,
        );
    }
    // Arguments after `npm test --` land at the end of the script: on node only when the
    // script's last command is `node --test` (not a runner handed it as a word).
    let last = script
        .rsplit(['&', ';', '|'])
        .next()
        .unwrap_or_default()
        .trim_start();
    if last.starts_with("node --test") {
        return (
            format!(
                "{command}{sep} --test-reporter=spec --test-reporter-destination=stdout --test-reporter=junit --test-reporter-destination='{junit}'"
            ),
            true,
        );
    }
    (command.to_string(), false)
}

/// A Maven command with its `test` goal replaced by `goal`; any other command as it is.
fn maven_goal(command: &str, goal: &str) -> String {
    let maven = command
        .split_whitespace()
        .next()
        .is_some_and(|w| w.ends_with("mvn") || w.ends_with("mvnw"));
    if !maven {
        return command.to_string();
    }
    let mut done = false;
    command
        .split(' ')
        .map(|w| {
            if w == "test" && !done {
                done = true;
                goal
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn run_tests(req: &TestRequest) -> Result<TestReport, StageFailure> {
    let Some(command) = req.plan.test.clone() else {
        return Ok(TestReport {
            command: None,
            passed: false,
            parsed_from: "none".into(),
            ..TestReport::default()
        });
    };
    let dir = req.workspace.join(&req.plan.component);
    let _ = std::fs::create_dir_all(&req.logs);
    let junit = req.logs.join("junit.xml");
    let _ = std::fs::remove_file(&junit);
    // Modules the Fixer left out, for pytest.
    let mut command = command;
    if command.contains("pytest") {
        for r in &req.repairs {
            if let Fix::IgnoreTests { path, .. } = &r.fix {
                command.push_str(&format!(" --ignore='{}'", path.replace('\'', "")));
            }
        }
    }
    // A reactor whose tests need its modules' packaged jars: `package` runs them too.
    if req.repairs.iter().any(|r| r.fix == Fix::TestPackaged) {
        command = maven_goal(&command, "package");
    }
    let (script, wants_junit) = with_report_flags(&command, &dir, &junit.display().to_string());
    // A Maven or Gradle build writes its own JUnit XML, per test class, where it builds:
    // in the reactor's root for a module built from there. Reports of an earlier try go.
    let jvm = ["mvn", "mvnw", "gradle", "gradlew"].iter().any(|t| {
        command
            .split_whitespace()
            .next()
            .is_some_and(|w| w.ends_with(t))
    });
    let jvm_root = crate::analysis::jvm_build_root(&dir, &command);
    if jvm {
        for d in testreport::jvm_report_dirs(&jvm_root) {
            let _ = std::fs::remove_dir_all(d);
        }
    }
    // Test runners that watch on a terminal (Vitest, Jest's --watch defaults) run once
    // under CI.
    let mut env = req.env.clone();
    env.entry("CI".into()).or_insert_with(|| "true".into());
    crate::agents::stage::command_shims(&req.repairs, &req.logs, &mut env);
    let mut spec = shell(&script, &dir, &env, &req.logs, "tests").confined(req.confine.as_ref());
    spec.hosts_file = req.hosts_file.clone();
    let (mut step, outcome) = run_step("tests", &spec).await;
    let mut lines = outcome.error_lines.clone();
    lines.extend(outcome.tail.iter().cloned());
    let mut text = std::fs::read_to_string(step.log.as_deref().unwrap_or_default())
        .unwrap_or_else(|_| outcome.tail.join("\n"));
    let go_json = script.starts_with("go test -json");
    let go_summary = go_json.then(|| testreport::parse_go_test_json(&text));
    if go_json {
        // The Fixer and the summaries read what go test would have printed.
        text = testreport::go_test_text(&text);
        lines = text
            .lines()
            .filter(|l| {
                !l.starts_with("=== ") && !l.starts_with("--- PASS") && !l.starts_with("PASS")
            })
            .map(str::to_string)
            .collect();
        let keep = lines.len().saturating_sub(80);
        lines.drain(..keep);
        let all: Vec<&str> = text.lines().collect();
        step.tail = all[all.len().saturating_sub(step.tail.len().max(20))..]
            .iter()
            .map(|l| l.to_string())
            .collect();
    }
    let (summary, parsed_from) = if wants_junit && junit.is_file() {
        match std::fs::read_to_string(&junit)
            .map_err(|e| e.to_string())
            .and_then(|x| testreport::parse_junit(&x).map_err(|e| e.0))
        {
            Ok(s) => (s, "junit"),
            Err(_) => (TestSummary::default(), "exit code"),
        }
    } else if let Some(go) = go_summary {
        (go, "go test -json")
    } else if let Some(s) = jvm
        .then(|| testreport::parse_jvm_reports(&testreport::jvm_report_dirs(&jvm_root)))
        .flatten()
    {
        (s, "junit")
    } else if command.contains("cargo test") {
        (testreport::parse_cargo_test(&text), "cargo")
    } else if command.contains("manage.py test") || command.contains("unittest") {
        (testreport::parse_unittest(&text), "unittest")
    } else {
        let tap = testreport::parse_tap(&text);
        if tap.cases.is_empty() {
            (tap, "exit code")
        } else {
            (tap, "tap")
        }
    };
    let mut counts = BTreeMap::new();
    for (status, name) in [
        (Status::Passed, "passed"),
        (Status::Failed, "failed"),
        (Status::Skipped, "skipped"),
    ] {
        let n = summary.count(status);
        if n > 0 {
            counts.insert(name.to_string(), n);
        }
    }
    let mut failing = summary.count(Status::Failed);
    let short = summary.cases.len() <= LIST_PASSING;
    let mut tests: Vec<TestResult> = summary
        .cases
        .iter()
        .filter(|c| short || c.status == Status::Failed)
        .map(|c| TestResult {
            name: c.name.clone(),
            status: format!("{:?}", c.status).to_lowercase(),
        })
        .collect();
    // No test named one by one: the runner's closing summary, when it printed one.
    let parsed_from = match testreport::parse_counts(&text).filter(|_| summary.cases.is_empty()) {
        Some(c) => {
            counts = c.counts;
            failing = counts.get("failed").copied().unwrap_or(0);
            tests = c
                .failing
                .into_iter()
                .map(|name| TestResult {
                    name,
                    status: "failed".into(),
                })
                .collect();
            c.runner
        }
        None if summary.cases.is_empty() => "exit code",
        None => parsed_from,
    };
    // pytest and Python 3.12's unittest exit 5 when they collected no test: nothing
    // failed, and the report reads it as none ran, not as a failing suite.
    let collected_none = step.code == Some(5)
        && counts.is_empty()
        && tests.is_empty()
        && matches!(parsed_from, "pytest" | "unittest");
    let passed = (step.ok || collected_none) && failing == 0;
    let report = TestReport {
        command: Some(command),
        passed,
        parsed_from: parsed_from.into(),
        counts,
        tests,
        step: Some(step.clone()),
        missing_programs: if passed {
            Vec::new()
        } else {
            testreport::missing_programs(&text)
        },
    };
    // A suite that could not run, or not all of it, for a reason the Fixer knows (its
    // tool, a plugin's fixture or a module missing, static files not collected, a
    // variable unset, another interpreter wanted): the phase fails, for the Fixer, with
    // the results so far.
    if !step.ok {
        let found = diagnose(
            lines.iter().map(String::as_str),
            &DiagnoseContext {
                own_modules: req.plan.own_modules.clone(),
                commit_date: req.plan.commit_date.clone(),
                compose_services: req.plan.compose_services.clone(),
                dir: Some(dir.clone()),
                ..DiagnoseContext::default()
            },
        );
        if found.iter().any(|d| {
            matches!(
                d.class,
                FailureClass::TestTooling
                    | FailureClass::UndeclaredDependency
                    | FailureClass::ProjectNotInstalled
                    | FailureClass::BuildStep
                    | FailureClass::MissingEnv
                    | FailureClass::RuntimeVersion
                    | FailureClass::HostName
                    | FailureClass::DependencyDrift
                    | FailureClass::Database
                    | FailureClass::MissingSubmodule
                    | FailureClass::LockfileMismatch
            )
        }) {
            let mut f = StageFailure::of_step(&step, &outcome);
            f.lines = lines;
            f.detail = serde_json::to_value(&report).ok();
            return Err(f);
        }
    }
    Ok(report)
}

/// The Tests agent's kind, for the kind registry.
pub fn kind() -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: KIND.to_string(),
            description: "runs the project's own tests and reads each test's status".to_string(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |_ctx, _config: super::NoConfig| (Tests, ()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_maven_test_goal_becomes_package_and_nothing_else_changes() {
        assert_eq!(maven_goal("mvn -B test", "package"), "mvn -B package");
        assert_eq!(
            maven_goal("./mvnw -B test -Dtest=FooTest", "package"),
            "./mvnw -B package -Dtest=FooTest"
        );
        assert_eq!(maven_goal("npm test", "package"), "npm test");
    }

    #[test]
    fn runners_are_asked_for_junit_where_they_can_write_it() {
        let dir = std::env::temp_dir().join(format!("rr-flags-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cmd, junit) = with_report_flags("python -m pytest", &dir, "/l/j.xml");
        assert_eq!(cmd, "python -m pytest --junitxml='/l/j.xml'");
        assert!(junit);
        std::fs::write(
            dir.join("package.json"),
            r#"{"scripts": {"test": "node --test"}}"#,
        )
        .unwrap();
        let (cmd, junit) = with_report_flags("npm test", &dir, "/l/j.xml");
        assert!(cmd.starts_with("npm test -- --test-reporter=spec"), "{cmd}");
        assert!(junit);
        std::fs::write(
            dir.join("package.json"),
            r#"{"scripts": {"test": "vitest"}}"#,
        )
        .unwrap();
        let (cmd, _) = with_report_flags("npm test", &dir, "/l/j.xml");
        assert!(
            cmd.contains(" -- --run --reporter=default --reporter=junit"),
            "{cmd}"
        );
        // pnpm passes arguments on without `--`.
        let (cmd, _) = with_report_flags("pnpm test", &dir, "/l/j.xml");
        assert!(
            cmd.starts_with("pnpm test --run --reporter=default"),
            "{cmd}"
        );
        assert_eq!(with_report_flags("tox", &dir, "x").0, "tox -e py");
        assert_eq!(
            with_report_flags("make test", &dir, "x"),
            ("make test".into(), false)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
