//! The Dependency agent: installs a component's dependencies for a run, and checks that
//! what its entry point imports can be found.
//!
//! Installs are cached by [`install_key`]: a hash of the manifests, the lockfiles and the
//! toolchain (with the fixes that change what is installed). Python gets a virtual
//! environment under `<cache>/python/<key>`, built from the highest interpreter on the host
//! that satisfies the project's constraint; Node's `node_modules` moves to
//! `<cache>/node/<key>` and the workspace links to it; Rust's `target` links to a folder
//! per workspace, where cargo keeps its own incremental cache. A hit skips the install.

use crate::agents::stage::{StageFailure, merge_env, must, on_path, path_with, shell};
use crate::toolchains::install_key;
use crate::toolchains::node;
use crate::toolchains::python::{self, Interpreter};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster_derive::RactorMessage;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_protocols::repair::{Fix, RepairRecord};
use reporunner_protocols::stage::{DependencyReport, Plan, PlanKind};
use reporunner_runtime::kinds::AgentKind;
use reporunner_runtime::process::Confinement;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The kind name the Dependency agent is registered under.
pub const KIND: &str = "dependency";

/// The file that marks a cache entry as complete.
const COMPLETE: &str = ".reporunner-complete";

/// What to install.
#[derive(Debug, Clone)]
pub struct InstallRequest {
    /// The workspace: the run's copy of the repository.
    pub workspace: PathBuf,
    /// The plan the analysis made.
    pub plan: Plan,
    /// The repairs applied so far: extra packages, `-e .`, another runtime, ...
    pub repairs: Vec<RepairRecord>,
    /// Where installs are cached.
    pub cache: PathBuf,
    /// Where the steps' logs go.
    pub logs: PathBuf,
    /// Whether Debian packages may be installed (as root only).
    pub install_system_deps: bool,
    /// The copy of the enclosing repository, when the workspace is one of its members.
    pub root: Option<PathBuf>,
    /// How the repository's own commands (installs, builds) are confined; `None` runs
    /// them unconfined (`--no-sandbox`, or a host without bubblewrap).
    pub confine: Option<Confinement>,
}

/// The Dependency agent's messages.
#[derive(Debug, RactorMessage)]
pub enum DependencyMessage {
    /// Installs, or reuses the cached install.
    Install(
        Box<InstallRequest>,
        RpcReplyPort<Result<DependencyReport, StageFailure>>,
    ),
}

/// The Dependency agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dependency;

/// The Dependency agent's state: the interpreters found, looked up once.
#[derive(Debug, Default)]
pub struct DependencyState {
    pythons: Option<Vec<Interpreter>>,
    default_python: Option<Option<(u32, u32, u32)>>,
}

impl Actor for Dependency {
    type Msg = DependencyMessage;
    type State = DependencyState;
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _args: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(DependencyState::default())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let DependencyMessage::Install(request, reply) = message;
        if reply.is_closed() {
            return Ok(());
        }
        let mut report = DependencyReport::default();
        let result = match state.install(&request, &mut report).await {
            Ok(()) => Ok(report),
            Err(mut f) => {
                // What ran before the failure stays on record: its time and its logs.
                if f.detail.is_none() {
                    f.detail = serde_json::to_value(&report).ok();
                }
                Err(f)
            }
        };
        let _ = reply.send(result);
        Ok(())
    }
}

/// The fixes of `repairs` that change what is installed.
#[derive(Debug, Default)]
struct Extras {
    packages: Vec<String>,
    editable: bool,
    unfrozen: bool,
    /// The Python constraint a fix asked for.
    runtime: Option<String>,
    /// The Node constraint a fix asked for.
    node: Option<String>,
    /// The Maven constraint a fix asked for.
    maven: Option<String>,
    system: Vec<String>,
    /// Resolve with releases no newer than this date.
    as_of: Option<String>,
    /// Install the lock of this package manager, exported, with pip.
    export_lock: Option<String>,
    /// Skip the production build: the dev server serves.
    dev_server: bool,
    /// Generation commands to run before the build.
    generate: Vec<String>,
}

impl Extras {
    fn of(repairs: &[RepairRecord]) -> Self {
        let mut x = Extras::default();
        for r in repairs {
            match &r.fix {
                Fix::InstallPackage { package } | Fix::InstallTestTool { tool: package }
                    if !x.packages.contains(package) =>
                {
                    x.packages.push(package.clone());
                }
                Fix::InstallProject => x.editable = true,
                Fix::UnfrozenInstall => x.unfrozen = true,
                Fix::DevServer => x.dev_server = true,
                Fix::Generate { command } if !x.generate.contains(command) => {
                    x.generate.push(command.clone());
                }
                Fix::UseRuntime {
                    runtime,
                    constraint,
                } if runtime == "node" => x.node = Some(constraint.clone()),
                Fix::UseRuntime {
                    runtime,
                    constraint,
                } if runtime == "maven" => x.maven = Some(constraint.clone()),
                Fix::UseRuntime { constraint, .. } => x.runtime = Some(constraint.clone()),
                Fix::ResolveAsOf { date } => x.as_of = Some(date.clone()),
                Fix::ExportLock { manager } => x.export_lock = Some(manager.clone()),
                Fix::InstallSystemPackage { package } => x.system.push(package.clone()),
                _ => {}
            }
        }
        x
    }

    fn describe(&self) -> String {
        let mut s = format!(
            "extras={} editable={} unfrozen={}",
            self.packages.join(","),
            self.editable,
            self.unfrozen
        );
        if let Some(d) = &self.as_of {
            s.push_str(&format!(" as-of={d}"));
        }
        if let Some(m) = &self.export_lock {
            s.push_str(&format!(" export-lock={m}"));
        }
        if let Some(m) = &self.maven {
            s.push_str(&format!(" maven={m}"));
        }
        s
    }
}

impl DependencyState {
    /// The version `python3` on the host's PATH runs, looked up once.
    async fn default_python(&mut self) -> Option<(u32, u32, u32)> {
        if self.default_python.is_none() {
            let spec = reporunner_runtime::process::CommandSpec::new(
                "python3",
                &["-c", "import sys; print('%d %d %d' % sys.version_info[:3])"],
                ".",
            );
            let parsed = reporunner_runtime::process::run(&spec)
                .await
                .ok()
                .filter(|o| o.success())
                .and_then(|o| {
                    let line = o.head.first()?.clone();
                    let mut n = line.split_whitespace().map(|p| p.parse::<u32>().ok());
                    Some((n.next()??, n.next()??, n.next()??))
                });
            self.default_python = Some(parsed);
        }
        self.default_python.flatten()
    }

    async fn install(
        &mut self,
        req: &InstallRequest,
        report: &mut DependencyReport,
    ) -> Result<(), StageFailure> {
        let extras = Extras::of(&req.repairs);
        if !extras.system.is_empty() {
            install_system(&extras.system, req, report).await?;
        }
        let plan = &req.plan;
        if plan.kind == PlanKind::Static {
            report.toolchain = "builtin static server".into();
            let dir = req.workspace.join(&plan.component);
            // A site built by a Node toolchain (Vite, Eleventy, ...) is installed and
            // built, unless its built output is committed.
            let node = matches!(plan.language.as_deref(), Some("javascript" | "typescript"))
                && dir.join("package.json").is_file();
            if node && plan.build.is_some() && crate::repo_run::prebuilt_site(&dir).is_none() {
                node_install(req, &extras, report).await?;
            }
            return Ok(());
        }
        match plan.language.as_deref() {
            Some("python") => self.python(req, &extras, report).await,
            Some("javascript" | "typescript") => node_install(req, &extras, report).await,
            Some("rust") => rust(req, report).await,
            Some("go") => go(req, &extras, report).await,
            Some("java" | "kotlin") => java(req, &extras, report).await,
            _ => generic(req, report).await,
        }
    }

    async fn python(
        &mut self,
        req: &InstallRequest,
        extras: &Extras,
        report: &mut DependencyReport,
    ) -> Result<(), StageFailure> {
        let plan = &req.plan;
        let dir = req.workspace.join(&plan.component);
        let found = match &self.pythons {
            Some(f) => f.clone(),
            None => {
                let path: Vec<PathBuf> = std::env::var_os("PATH")
                    .map(|p| std::env::split_paths(&p).collect())
                    .unwrap_or_default();
                let found = tokio::task::spawn_blocking(move || {
                    python::find(&path, python::default_pyenv_root().as_deref())
                })
                .await
                .unwrap_or_default();
                self.pythons = Some(found.clone());
                found
            }
        };
        let constraint = extras.runtime.clone().or(plan.runtime_constraint.clone());
        // A pin the host has wins, unless a fix asked for another runtime; otherwise the
        // interpreter that fits closest to the host's own `python3`.
        let pinned = plan
            .runtime_pin
            .as_deref()
            .filter(|_| extras.runtime.is_none())
            .and_then(|pin| python::choose(Some(&format!("=={pin}.*")), &found).ok())
            .filter(|i| {
                constraint
                    .as_deref()
                    .is_none_or(|c| python::satisfies(i.version, c))
            });
        let default = self.default_python().await;
        let interpreter = match pinned {
            Some(i) => i,
            None => closest(constraint.as_deref(), default, &found)
                .map_err(|e| StageFailure::new(e.to_string()))?,
        };
        let declared = plan.package_manager.clone().unwrap_or_else(|| "pip".into());
        // A lock its own tool cannot install is exported and installed with pip.
        let pm = if extras.export_lock.is_some() {
            "pip".to_string()
        } else {
            declared.clone()
        };
        let toolchain = format!(
            "python {} {pm} {} workspace={}",
            interpreter.version_string(),
            extras.describe(),
            req.workspace.display()
        );
        let key = install_key(&req.workspace, &plan.component, &plan.manifests, &toolchain);
        report.toolchain = format!("python {} {pm}", interpreter.version_string());
        let venv = req.cache.join("python").join(&key[..24]);
        let bin = venv.join("bin");
        let mut env = BTreeMap::new();
        env.insert("VIRTUAL_ENV".to_string(), venv.display().to_string());
        env.insert("PATH".to_string(), path_with(std::slice::from_ref(&bin)));
        env.insert("PYTHONUNBUFFERED".into(), "1".into());
        env.insert("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into());
        env.insert("PIP_NO_INPUT".into(), "1".into());
        if let Some(date) = &extras.as_of {
            // pip (25.3 on) and uv read these for every resolution, builds' included.
            env.insert("PIP_UPLOADED_PRIOR_TO".into(), date.clone());
            env.insert("UV_EXCLUDE_NEWER".into(), date.clone());
        }
        report.cache_key = Some(key.clone());
        if venv.join(COMPLETE).is_file() {
            report.cache_hit = true;
        } else {
            let _ = std::fs::remove_dir_all(&venv);
            std::fs::create_dir_all(venv.parent().unwrap_or(&req.cache))
                .map_err(|e| StageFailure::new(format!("{}: {e}", req.cache.display())))?;
            let create = format!(
                "'{}' -m venv '{}'",
                interpreter.path.display(),
                venv.display()
            );
            must(
                "venv",
                &shell(&create, &dir, &BTreeMap::new(), &req.logs, "venv")
                    .confined(req.confine.as_ref()),
                &mut report.steps,
            )
            .await?;
            let mut tool_env = env.clone();
            if extras.as_of.is_some() {
                // An old pip ignores the date: the newest pip first, itself undated.
                let mut plain = env.clone();
                plain.remove("PIP_UPLOADED_PRIOR_TO");
                must(
                    "upgrade pip",
                    &shell(
                        "python -m pip install --upgrade pip",
                        &dir,
                        &plain,
                        &req.logs,
                        "upgrade-pip",
                    )
                    .confined(req.confine.as_ref()),
                    &mut report.steps,
                )
                .await?;
            }
            if let Some(manager) = &extras.export_lock {
                let text = export_lock(&dir, manager).map_err(StageFailure::new)?;
                std::fs::write(dir.join(EXPORTED_LOCK), text)
                    .map_err(|e| StageFailure::new(format!("{EXPORTED_LOCK}: {e}")))?;
            }
            let script = match pm.as_str() {
                _ if extras.export_lock.is_some() => {
                    format!("pip install --no-deps -r {EXPORTED_LOCK}")
                }
                "poetry" => {
                    let poetry = tool(req, "poetry", &interpreter, &mut report.steps).await?;
                    tool_env.insert("POETRY_VIRTUALENVS_CREATE".into(), "false".into());
                    let lock_ok = !extras.unfrozen;
                    let mut s = format!("'{poetry}' install --no-interaction --no-root");
                    if !lock_ok || !dir.join("poetry.lock").is_file() {
                        s = format!(
                            "('{poetry}' lock --regenerate --no-interaction || '{poetry}' lock --no-interaction) && {s}"
                        );
                    }
                    s
                }
                "uv" => {
                    let uv = tool(req, "uv", &interpreter, &mut report.steps).await?;
                    tool_env.insert("UV_PROJECT_ENVIRONMENT".into(), venv.display().to_string());
                    tool_env.insert("UV_PYTHON".into(), bin.join("python").display().to_string());
                    let frozen = if extras.unfrozen || !dir.join("uv.lock").is_file() {
                        ""
                    } else {
                        " --frozen"
                    };
                    // Every dependency group (tests live in one), and the project itself
                    // (its tests import it); an application that does not build as a
                    // package gets its dependencies alone.
                    format!(
                        "'{uv}' sync{frozen} --all-groups || '{uv}' sync{frozen} --all-groups --no-install-project"
                    )
                }
                "pipenv" => {
                    let pipenv = tool(req, "pipenv", &interpreter, &mut report.steps).await?;
                    tool_env.insert("PIPENV_VERBOSITY".into(), "-1".into());
                    tool_env.insert("PIPENV_IGNORE_VIRTUALENVS".into(), "0".into());
                    if dir.join("Pipfile.lock").is_file() && !extras.unfrozen {
                        format!(
                            "'{pipenv}' requirements --dev > .reporunner-pipenv.txt && pip install -r .reporunner-pipenv.txt"
                        )
                    } else {
                        format!("'{pipenv}' install --dev --skip-lock")
                    }
                }
                _ => pip_script(&dir, plan),
            };
            let parts: Vec<&str> = if pm == "pip" {
                script
                    .split(" && ")
                    .filter(|p| !p.trim().is_empty())
                    .collect()
            } else {
                vec![script.as_str()]
                    .into_iter()
                    .filter(|p| !p.is_empty())
                    .collect()
            };
            for (n, part) in parts.iter().enumerate() {
                let own = part.trim() == "pip install -e .";
                let purpose = if own { "install project" } else { "install" };
                let spec =
                    shell(part, &dir, &tool_env, &req.logs, purpose).confined(req.confine.as_ref());
                let (step, outcome) = crate::agents::stage::run_step(purpose, &spec).await;
                report.steps.push(step.clone());
                if step.ok {
                    continue;
                }
                // An application whose dependencies installed may still fail to build as a
                // package (a build backend that finds no package in a flat layout): it runs
                // from its folder all the same, so the run goes on and says so.
                if own && n > 0 && plan.kind != PlanKind::Library {
                    report.imports.push(format!(
                        "the project itself did not install as a package (`{part}` failed); it runs from its folder"
                    ));
                    continue;
                }
                return Err(StageFailure::of_step(&step, &outcome));
            }
            if pm == "pip" {
                let groups = dependency_groups(&dir);
                pip_install("install groups", &groups, &dir, &env, req, report).await?;
            }
            pip_install("install extras", &extras.packages, &dir, &env, req, report).await?;
            if extras.editable && !script.contains("-e .") {
                must(
                    "install project",
                    &shell("pip install -e .", &dir, &env, &req.logs, "install-project")
                        .confined(req.confine.as_ref()),
                    &mut report.steps,
                )
                .await?;
            }
            std::fs::write(venv.join(COMPLETE), &toolchain)
                .map_err(|e| StageFailure::new(format!("{}: {e}", venv.display())))?;
        }
        report.env = env.clone();
        check_python_imports(req, &bin, &env, report).await
    }
}

/// The requirements file a lock is exported to, in the workspace.
const EXPORTED_LOCK: &str = ".reporunner-lock.txt";

/// The packages of a Pipenv or Poetry lock as pinned requirements (`name==version`, with
/// the lock's environment markers), development packages included: the lock's versions,
/// without its tool.
///
/// # Errors
/// Why the lock cannot be read.
fn export_lock(dir: &Path, manager: &str) -> Result<String, String> {
    let mut out = String::from("# exported by reporunner from the lock\n");
    let windows_only = [
        "pywin32",
        "pywin32-ctypes",
        "pywinpty",
        "wmi",
        "winkerberos",
    ];
    let line = |name: &str, version: &str, markers: Option<&str>| {
        let marker = markers
            .filter(|m| !m.trim().is_empty())
            .map(|m| format!(" ; {m}"))
            .or_else(|| {
                windows_only
                    .contains(&name.to_ascii_lowercase().as_str())
                    .then(|| " ; sys_platform == \"win32\"".to_string())
            })
            .unwrap_or_default();
        format!("{name}=={}{marker}\n", version.trim_start_matches("=="))
    };
    match manager {
        "pipenv" => {
            let text = std::fs::read_to_string(dir.join("Pipfile.lock"))
                .map_err(|e| format!("Pipfile.lock: {e}"))?;
            let lock: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("Pipfile.lock: {e}"))?;
            for section in ["default", "develop"] {
                let Some(pkgs) = lock.get(section).and_then(|s| s.as_object()) else {
                    continue;
                };
                for (name, p) in pkgs {
                    // Git and path dependencies have no version to pin.
                    let Some(version) = p.get("version").and_then(|v| v.as_str()) else {
                        continue;
                    };
                    out.push_str(&line(
                        name,
                        version,
                        p.get("markers").and_then(|m| m.as_str()),
                    ));
                }
            }
        }
        "poetry" => {
            let text = std::fs::read_to_string(dir.join("poetry.lock"))
                .map_err(|e| format!("poetry.lock: {e}"))?;
            let lock: toml::Table = text.parse().map_err(|e| format!("poetry.lock: {e}"))?;
            for p in lock
                .get("package")
                .and_then(|p| p.as_array())
                .into_iter()
                .flatten()
            {
                let (Some(name), Some(version)) = (
                    p.get("name").and_then(|v| v.as_str()),
                    p.get("version").and_then(|v| v.as_str()),
                ) else {
                    continue;
                };
                let source = p
                    .get("source")
                    .and_then(|s| s.get("type"))
                    .and_then(|t| t.as_str());
                if matches!(source, Some("git" | "directory" | "file" | "url")) {
                    continue;
                }
                let markers = match p.get("markers") {
                    Some(toml::Value::String(m)) => Some(m.clone()),
                    Some(toml::Value::Table(t)) => {
                        t.get("main").and_then(|m| m.as_str()).map(str::to_string)
                    }
                    _ => None,
                };
                out.push_str(&line(name, version, markers.as_deref()));
            }
        }
        other => return Err(format!("no lock export for {other}")),
    }
    Ok(out)
}

/// The interpreter that satisfies `constraint` (any, without one) closest to the host's
/// default `python3`: the default itself when it fits, else the nearest version above or
/// below it. Old lockfiles pin packages with wheels for the Pythons of their day, which
/// the newest interpreter often lacks (and must then build from source).
fn closest(
    constraint: Option<&str>,
    default: Option<(u32, u32, u32)>,
    found: &[Interpreter],
) -> Result<Interpreter, python::NoInterpreter> {
    let Some(d) = default else {
        return python::choose(constraint, found);
    };
    let c = constraint.map(|c| c.trim().trim_start_matches("python").trim());
    let fits: Vec<&Interpreter> = found
        .iter()
        .filter(|i| c.is_none_or(|c| python::satisfies(i.version, c)))
        .collect();
    let distance = |i: &Interpreter| {
        let key = |v: (u32, u32, u32)| i64::from(v.0) * 1000 + i64::from(v.1);
        (
            (key(i.version) - key(d)).abs(),
            std::cmp::Reverse(i.version),
        )
    };
    match fits.into_iter().min_by_key(|i| distance(i)) {
        Some(i) => Ok(i.clone()),
        None => python::choose(constraint, found),
    }
}

/// `pip install` of `packages` into the environment `env` names, as the step `purpose`;
/// nothing when there are none.
async fn pip_install(
    purpose: &str,
    packages: &[String],
    dir: &Path,
    env: &BTreeMap<String, String>,
    req: &InstallRequest,
    report: &mut DependencyReport,
) -> Result<(), StageFailure> {
    if packages.is_empty() {
        return Ok(());
    }
    let quoted: Vec<String> = packages.iter().map(|p| format!("'{p}'")).collect();
    let script = format!("pip install {}", quoted.join(" "));
    let log = purpose.replace(' ', "-");
    must(
        purpose,
        &shell(&script, dir, env, &req.logs, &log).confined(req.confine.as_ref()),
        &mut report.steps,
    )
    .await?;
    Ok(())
}

/// The pip commands for a component: the analysis's install command when it uses pip, else
/// the requirements file, else the project itself.
fn pip_script(dir: &Path, plan: &Plan) -> String {
    if let Some(install) = plan
        .install
        .as_deref()
        .filter(|i| i.starts_with("pip ") || i.contains(" pip "))
    {
        return install.replace("pip3 ", "pip ");
    }
    if dir.join("requirements.txt").is_file() {
        "pip install -r requirements.txt".into()
    } else if dir.join("pyproject.toml").is_file() || dir.join("setup.py").is_file() {
        "pip install -e .".into()
    } else {
        String::new()
    }
}

/// The requirements of `pyproject.toml`'s test and dev dependency groups (PEP 735), which
/// the pip this venv has may not read itself: `{include-group = ...}` entries are followed.
fn dependency_groups(dir: &Path) -> Vec<String> {
    let Some(groups) = std::fs::read_to_string(dir.join("pyproject.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| t.get("dependency-groups")?.as_table().cloned())
    else {
        return Vec::new();
    };
    fn expand(groups: &toml::Table, name: &str, depth: u32, out: &mut Vec<String>) {
        let Some(items) = groups.get(name).and_then(|v| v.as_array()) else {
            return;
        };
        for item in items {
            match item {
                toml::Value::String(req) if !out.contains(req) => out.push(req.clone()),
                toml::Value::Table(t) if depth < 8 => {
                    if let Some(inc) = t.get("include-group").and_then(|v| v.as_str()) {
                        expand(groups, inc, depth + 1, out);
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for name in groups.keys().filter(|n| n.contains("test") || *n == "dev") {
        expand(&groups, name, 0, &mut out);
    }
    out
}

/// A Python tool (`poetry`, `uv`, `pipenv`): from the host's PATH, or installed once into
/// its own virtual environment under `<cache>/tools`.
async fn tool(
    req: &InstallRequest,
    name: &str,
    interpreter: &Interpreter,
    steps: &mut Vec<reporunner_protocols::stage::StepReport>,
) -> Result<String, StageFailure> {
    if let Some(p) = on_path(name) {
        return Ok(p.display().to_string());
    }
    let venv = req.cache.join("tools").join(name);
    let exe = venv.join("bin").join(name);
    if venv.join(COMPLETE).is_file() && exe.is_file() {
        return Ok(exe.display().to_string());
    }
    let _ = std::fs::remove_dir_all(&venv);
    let script = format!(
        "'{py}' -m venv '{v}' && '{v}/bin/pip' install --disable-pip-version-check '{name}'",
        py = interpreter.path.display(),
        v = venv.display()
    );
    must(
        &format!("install {name}"),
        &shell(&script, &req.workspace, &BTreeMap::new(), &req.logs, name)
            .confined(req.confine.as_ref()),
        steps,
    )
    .await?;
    let _ = std::fs::write(venv.join(COMPLETE), name);
    Ok(exe.display().to_string())
}

/// The script that lists what the entry point imports and cannot be found, as Python's own
/// `No module named` lines, so the Fixer reads them as it reads a crash.
const IMPORT_CHECK: &str = r#"
import ast, importlib.util, os, sys
sys.path.insert(0, os.getcwd())
missing, seen = [], set()
args = sys.argv[1:]
if args and args[0] == "--module":
    # The entry point's own package must be importable as the start command imports it.
    top = args[1].split(".")[0]
    seen.add(top)
    try:
        if importlib.util.find_spec(top) is None:
            missing.append(top)
    except (ImportError, ValueError):
        missing.append(top)
    args = args[2:]
for path in args:
    try:
        tree = ast.parse(open(path, encoding="utf-8").read(), path)
    except (OSError, SyntaxError, ValueError) as e:
        print(f"cannot read {path}: {e}")
        continue
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top in seen:
                continue
            seen.add(top)
            try:
                found = importlib.util.find_spec(top) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                missing.append(top)
for m in missing:
    print(f"ModuleNotFoundError: No module named '{m}'")
sys.exit(1 if missing else 0)
"#;

/// Checks that the modules the entry point's files import can be found in the environment.
async fn check_python_imports(
    req: &InstallRequest,
    bin: &Path,
    env: &BTreeMap<String, String>,
    report: &mut DependencyReport,
) -> Result<(), StageFailure> {
    let dir = req.workspace.join(&req.plan.component);
    let files = entry_files(&dir, &req.plan);
    let module =
        req.plan.entry_module.clone().filter(|m| {
            m != "manage" && !dir.join(format!("{}.py", m.replace('.', "/"))).is_file()
        });
    if files.is_empty() && module.is_none() {
        report
            .imports
            .push("no entry file known: imports not checked".into());
        return Ok(());
    }
    let mut spec = reporunner_runtime::process::CommandSpec::new(
        bin.join("python").display().to_string(),
        &["-c", IMPORT_CHECK],
        &dir,
    );
    if let Some(m) = &module {
        spec.args.extend(["--module".to_string(), m.clone()]);
    }
    spec.args.extend(files.iter().cloned());
    spec.env = env.clone();
    spec.timeout = Some(std::time::Duration::from_secs(60));
    let (step, outcome) = crate::agents::stage::run_step("import check", &spec).await;
    if step.ok {
        report.imports.push(format!(
            "every module {} imports is found",
            files.join(", ")
        ));
        Ok(())
    } else {
        report.steps.push(step.clone());
        let mut f = StageFailure::of_step(&step, &outcome);
        f.message = format!(
            "imports do not resolve: {}",
            outcome
                .tail
                .iter()
                .filter(|l| l.contains("No module named"))
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
        f.detail = serde_json::to_value(&*report).ok();
        Err(f)
    }
}

/// The Python files the entry point is: the module the start command names, or the
/// script it runs, or the usual names.
fn entry_files(dir: &Path, plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(m) = &plan.entry_module {
        let rel = m.replace('.', "/");
        for candidate in [format!("{rel}.py"), format!("{rel}/__init__.py")] {
            for base in ["", "src/"] {
                let p = format!("{base}{candidate}");
                if dir.join(&p).is_file() && !out.contains(&p) {
                    out.push(p);
                }
            }
        }
    }
    if out.is_empty() {
        for name in ["app.py", "main.py", "wsgi.py", "asgi.py"] {
            if dir.join(name).is_file() {
                out.push(name.to_string());
                break;
            }
        }
    }
    out
}

/// Installs a Node component: `node_modules` is cached by key, unless the project is an
/// npm/yarn/pnpm workspace (whose links are relative to the project).
async fn node_install(
    req: &InstallRequest,
    extras: &Extras,
    report: &mut DependencyReport,
) -> Result<(), StageFailure> {
    let plan = &req.plan;
    let dir = req.workspace.join(&plan.component);
    let pm = plan.package_manager.clone().unwrap_or_else(|| "npm".into());
    let mut node_version = version_of("node").await;
    // Another Node when a fix asks for one, or the project's `engines` rules the host's
    // out.
    let wanted = extras.node.clone().or_else(|| {
        plan.runtime_constraint
            .clone()
            .filter(|_| matches!(plan.language.as_deref(), Some("javascript" | "typescript")))
    });
    let mut node_bin: Option<PathBuf> = None;
    if let Some(range) =
        wanted.filter(|r| node::parse(&node_version).is_none_or(|v| !node::satisfies(v, r)))
    {
        let began = std::time::Instant::now();
        let (v, bin) = node::install(&range, &req.cache, &req.logs)
            .await
            .map_err(|e| StageFailure::new(e.to_string()))?;
        report.steps.push(reporunner_protocols::stage::StepReport {
            purpose: "node".into(),
            command: format!(
                "node {}.{}.{} for {range} (the host has {node_version})",
                v.0, v.1, v.2
            ),
            code: Some(0),
            ok: true,
            duration_ms: began.elapsed().as_millis() as u64,
            log: None,
            tail: Vec::new(),
        });
        node_version = format!("{}.{}.{}", v.0, v.1, v.2);
        node_bin = Some(bin);
    }
    report.toolchain = format!("node {node_version} {pm}");
    let mut env = BTreeMap::new();
    env.insert("COREPACK_ENABLE_DOWNLOAD_PROMPT".into(), "0".into());
    env.insert("COREPACK_USE_LATEST".into(), "0".into());
    let mut bins = vec![dir.join("node_modules/.bin")];
    if let Some(bin) = node_bin {
        bins.push(bin);
    }
    if let Some(shims) = package_manager_shim(req, &pm, &dir, &env, &mut report.steps).await? {
        bins.push(shims);
    }
    if let Some(date) = &extras.as_of {
        // npm resolves what the lockfile does not pin as of the date.
        env.insert("npm_config_before".into(), date.clone());
    }
    env.insert("PATH".to_string(), path_with(&bins));
    env.insert("npm_config_yes".into(), "true".into());
    env.insert("npm_config_fund".into(), "false".into());
    env.insert("npm_config_audit".into(), "false".into());
    env.insert("NEXT_TELEMETRY_DISABLED".into(), "1".into());
    env.insert("BROWSER".into(), "none".into());
    let manifest = std::fs::read_to_string(dir.join("package.json")).unwrap_or_default();
    let workspaces = serde_json::from_str::<serde_json::Value>(&manifest)
        .ok()
        .is_some_and(|v| v.get("workspaces").is_some())
        || dir.join("pnpm-workspace.yaml").is_file();
    let toolchain = format!("{} {}", report.toolchain, extras.describe());
    let key = install_key(&req.workspace, &plan.component, &plan.manifests, &toolchain);
    let cached = req.cache.join("node").join(&key[..24]);
    let modules = dir.join("node_modules");
    if !workspaces {
        report.cache_key = Some(key.clone());
    }
    if !workspaces && cached.join(COMPLETE).is_file() {
        report.cache_hit = true;
        link(&cached.join("node_modules"), &modules)?;
    } else {
        let mut script = plan.install.clone().unwrap_or_else(|| match pm.as_str() {
            "yarn" => "yarn install".into(),
            "pnpm" => "pnpm install".into(),
            "bun" => "bun install".into(),
            _ if dir.join("package-lock.json").is_file() => "npm ci".into(),
            _ => "npm install".into(),
        });
        if extras.unfrozen {
            script = script
                .replace("npm ci", "npm install")
                .replace(" --frozen-lockfile", "")
                .replace(" --immutable", "");
        }
        let installed = must(
            "install",
            &shell(&script, &dir, &env, &req.logs, "install").confined(req.confine.as_ref()),
            &mut report.steps,
        )
        .await;
        match installed {
            // A registry whose publish dates are later than the date for every version
            // (a mirror that republished them) cannot resolve as of it: the install is
            // made as it would be without, and the step before says why.
            Err(e)
                if env.contains_key("npm_config_before")
                    && e.lines.iter().any(|l| {
                        l.contains("ENOVERSIONS") || l.contains("No versions available")
                    }) =>
            {
                env.remove("npm_config_before");
                must(
                    "install (this registry cannot resolve as of the date)",
                    &shell(&script, &dir, &env, &req.logs, "install")
                        .confined(req.confine.as_ref()),
                    &mut report.steps,
                )
                .await?;
            }
            other => {
                other?;
            }
        }
        if !extras.packages.is_empty() {
            let s = format!("npm install --no-save {}", extras.packages.join(" "));
            must(
                "install extras",
                &shell(&s, &dir, &env, &req.logs, "install-extras").confined(req.confine.as_ref()),
                &mut report.steps,
            )
            .await?;
        }
        if !workspaces && modules.is_dir() {
            let _ = std::fs::remove_dir_all(&cached);
            std::fs::create_dir_all(&cached)
                .and_then(|_| std::fs::rename(&modules, cached.join("node_modules")))
                .map_err(|e| StageFailure::new(format!("caching node_modules: {e}")))?;
            std::fs::write(cached.join(COMPLETE), &toolchain)
                .map_err(|e| StageFailure::new(format!("{}: {e}", cached.display())))?;
            link(&cached.join("node_modules"), &modules)?;
        }
    }
    if let Some(build) = plan.build.as_ref().filter(|_| !extras.dev_server) {
        must(
            "build",
            &shell(build, &dir, &env, &req.logs, "build").confined(req.confine.as_ref()),
            &mut report.steps,
        )
        .await?;
    }
    // Imports: every runtime dependency must be in node_modules.
    let deps: Vec<String> = serde_json::from_str::<serde_json::Value>(&manifest)
        .ok()
        .and_then(|v| v.get("dependencies").and_then(|d| d.as_object()).cloned())
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let missing: Vec<&String> = deps
        .iter()
        .filter(|d| !modules.join(d).join("package.json").is_file())
        .collect();
    report.env = env;
    if missing.is_empty() {
        report.imports.push(format!(
            "all {} dependencies are in node_modules",
            deps.len()
        ));
        Ok(())
    } else {
        let lines = missing
            .iter()
            .map(|m| format!("Error: Cannot find module '{m}'"))
            .collect();
        Err(StageFailure {
            message: format!(
                "imports do not resolve: not in node_modules: {}",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            lines,
            detail: serde_json::to_value(&*report).ok(),
        })
    }
}

/// Puts yarn or pnpm on PATH when the host lacks it: a shim that runs it through
/// corepack (which honours the project's `packageManager` pin), or, when this Node's
/// corepack cannot verify the release (its signing keys are older than the release),
/// through `npx` at the pinned version, which npm checks against the registry's integrity
/// hash. Returns the shim's folder.
async fn package_manager_shim(
    req: &InstallRequest,
    pm: &str,
    dir: &Path,
    env: &BTreeMap<String, String>,
    steps: &mut Vec<reporunner_protocols::stage::StepReport>,
) -> Result<Option<PathBuf>, StageFailure> {
    if !matches!(pm, "yarn" | "pnpm") || on_path(pm).is_some() {
        return Ok(None);
    }
    let pinned = std::fs::read_to_string(dir.join("package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("packageManager")?.as_str().map(str::to_string))
        .map(|p| p.split('+').next().unwrap_or(&p).to_string())
        .filter(|p| p.starts_with(&format!("{pm}@")));
    let spec = pinned.clone().unwrap_or_else(|| match pm {
        "yarn" if !dir.join(".yarnrc.yml").is_file() => "yarn@1".to_string(),
        _ => format!("{pm}@latest"),
    });
    let folder = req.cache.join("shims").join(spec.replace(['@', '/'], "-"));
    let _ = std::fs::create_dir_all(&folder);
    let shim = folder.join(pm);
    let candidates = [
        format!("#!/bin/sh\nexec corepack {pm} \"$@\"\n"),
        format!("#!/bin/sh\nexec npx --yes {spec} \"$@\"\n"),
    ];
    let mut last = None;
    for script in candidates {
        write_executable(&shim, &script)
            .map_err(|e| StageFailure::new(format!("{}: {e}", shim.display())))?;
        let check = format!("'{}' --version", shim.display());
        let (step, outcome) = crate::agents::stage::run_step(
            &format!("{pm} shim"),
            &shell(&check, dir, env, &req.logs, pm).confined(req.confine.as_ref()),
        )
        .await;
        // Fetching the package manager is tool time, like an install.
        steps.push(step.clone());
        if step.ok {
            return Ok(Some(folder));
        }
        last = Some((step, outcome));
    }
    let (step, outcome) = last.expect("two candidates were tried");
    Err(StageFailure::of_step(&step, &outcome))
}

fn write_executable(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

/// Makes `link` a symlink to `target`, replacing what is there.
fn link(target: &Path, link: &Path) -> Result<(), StageFailure> {
    if link.is_symlink() || link.is_file() {
        let _ = std::fs::remove_file(link);
    } else if link.is_dir() {
        let _ = std::fs::remove_dir_all(link);
    }
    std::os::unix::fs::symlink(target, link)
        .map_err(|e| StageFailure::new(format!("linking {}: {e}", link.display())))
}

/// The folder kept per workspace (`workspace`) in `cache` for cargo's `target`, so its
/// incremental cache survives the workspace's refresh.
/// Keyed by the workspace's path alone: its lockfile may not exist before the first
/// build, and cargo's own fingerprints deal with a changed one.
pub fn cargo_target_cache(cache: &Path, workspace: &Path) -> PathBuf {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::digest(format!("cargo target\0{}", workspace.display()).as_bytes());
    let key: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    cache.join("cargo").join(key)
}

/// The component `dir`'s own `target`, without `.` components: the path is baked into
/// test binaries (CARGO_TARGET_TMPDIR) and compared with the paths the tools print.
fn cargo_target_place(dir: &Path) -> PathBuf {
    dir.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect::<PathBuf>()
        .join("target")
}

/// Where a Rust component `dir` has its `target`: its own folder, and each Cargo workspace
/// above it inside `root` (a member builds into the workspace's `target`).
pub fn cargo_target_places(dir: &Path, root: Option<&Path>) -> Vec<PathBuf> {
    let mut places = vec![cargo_target_place(dir)];
    for dir in dir.ancestors().skip(1) {
        if root.is_none_or(|r| !dir.starts_with(r)) {
            break;
        }
        if std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|t| t.contains("[workspace]"))
        {
            places.push(dir.join("target"));
        }
    }
    places
}

/// Builds a Rust component in release mode into the workspace's kept `target` folder
/// ([`cargo_target_cache`]). Confined, the folder is mounted at `target` (a real folder,
/// at its place in the project: a test that looks for the project's `Cargo.toml` above
/// CARGO_TARGET_TMPDIR finds it, and its paths are canonical); unconfined, `target` is a
/// link to it and cargo is told the real folder.
async fn rust(req: &InstallRequest, report: &mut DependencyReport) -> Result<(), StageFailure> {
    let plan = &req.plan;
    let dir = req.workspace.join(&plan.component);
    report.toolchain = format!("rust {}", version_of("cargo").await);
    let target = cargo_target_cache(&req.cache, &req.workspace);
    std::fs::create_dir_all(&target)
        .map_err(|e| StageFailure::new(format!("{}: {e}", target.display())))?;
    let place = cargo_target_place(&dir);
    let mounted = req
        .confine
        .as_ref()
        .is_some_and(|c| c.mounts.iter().any(|(s, p)| *s == target && *p == place));
    let mut env = BTreeMap::new();
    if mounted {
        env.insert("CARGO_TARGET_DIR".to_string(), place.display().to_string());
    } else {
        for place in cargo_target_places(&dir, req.root.as_deref()) {
            link(&target, &place)?;
        }
        // `target` is a link: a test that compares the paths it made under
        // CARGO_TARGET_TMPDIR with canonical ones must see one path.
        env.insert(
            "CARGO_TARGET_DIR".to_string(),
            target
                .canonicalize()
                .unwrap_or_else(|_| target.clone())
                .display()
                .to_string(),
        );
    }
    let build = plan
        .build
        .clone()
        .unwrap_or_else(|| "cargo build --release".into());
    // SQLx's macros check each query against a live database at compile time when the
    // project keeps no offline data: a private one, migrated, for the build alone.
    let build_db = match compile_time_database(&dir, req.root.as_deref(), plan) {
        Some(kind) => Some(BuildDatabase::start(req, &dir, kind, report).await?),
        None => None,
    };
    let mut build_env = env.clone();
    if let Some(db) = &build_db {
        build_env.insert("DATABASE_URL".into(), db.url.clone());
    }
    let built = must(
        "build",
        &shell(&build, &dir, &build_env, &req.logs, "build").confined(req.confine.as_ref()),
        &mut report.steps,
    )
    .await;
    if let Some(db) = build_db {
        db.stop().await;
    }
    built?;
    report
        .imports
        .push("the crate compiled: every import resolved".into());
    report.env = env;
    Ok(())
}

/// Builds a Go component: its modules downloaded into a cache kept in the data directory
/// (`GOMODCACHE`), its build cached there too (`GOCACHE`), so an unchanged module builds
/// again in a moment; vendored modules are built from `vendor/` as the go command does.
/// A module that asks for a newer Go than the host's gets that toolchain (`GOTOOLCHAIN`).
/// A fix for a `go.sum` that lacks entries runs `go mod tidy` first.
async fn go(
    req: &InstallRequest,
    extras: &Extras,
    report: &mut DependencyReport,
) -> Result<(), StageFailure> {
    let plan = &req.plan;
    let dir = req.workspace.join(&plan.component);
    let host = crate::toolchains::go::host_version().await;
    let (go_line, toolchain_line) = crate::toolchains::go::module_lines(&dir);
    let toolchain = crate::toolchains::go::toolchain_for(
        host,
        go_line.as_deref(),
        toolchain_line.as_deref(),
        extras.runtime.as_deref(),
    );
    let cache = req.cache.join("go");
    let mut env = BTreeMap::new();
    for (var, sub) in [
        ("GOMODCACHE", "mod"),
        ("GOCACHE", "build"),
        ("GOPATH", "path"),
    ] {
        let path = cache.join(sub);
        std::fs::create_dir_all(&path)
            .map_err(|e| StageFailure::new(format!("{}: {e}", path.display())))?;
        env.insert(var.to_string(), path.display().to_string());
    }
    // Module files are written read-only by default, which keeps the data directory from
    // being removed by a plain `rm -r`; VCS stamping needs a git checkout the copy lacks.
    env.insert("GOFLAGS".into(), "-modcacherw -buildvcs=false".into());
    env.insert(
        "GOTOOLCHAIN".into(),
        toolchain.clone().unwrap_or_else(|| "local".into()),
    );
    report.toolchain = match (&toolchain, host) {
        (Some(t), _) => format!(
            "go {} (GOTOOLCHAIN, for go.mod's go {})",
            t.trim_start_matches("go"),
            go_line.as_deref().unwrap_or("?")
        ),
        (None, Some((a, b, c))) => format!("go {a}.{b}.{c}"),
        (None, None) => "go missing".into(),
    };
    let key = install_key(
        &req.workspace,
        &plan.component,
        &plan.manifests,
        &format!("{} {}", report.toolchain, extras.describe()),
    );
    let done = cache.join("downloaded").join(&key[..24]);
    if extras.unfrozen {
        must(
            "go mod tidy",
            &shell("go mod tidy", &dir, &env, &req.logs, "go-mod-tidy")
                .confined(req.confine.as_ref()),
            &mut report.steps,
        )
        .await?;
        report
            .imports
            .push("go.mod and go.sum brought up to date with `go mod tidy`".into());
    }
    if let Some(install) = &plan.install {
        if done.is_file() && !extras.unfrozen {
            report.cache_hit = true;
        } else {
            must(
                "install",
                &shell(install, &dir, &env, &req.logs, "install").confined(req.confine.as_ref()),
                &mut report.steps,
            )
            .await?;
            if let Some(parent) = done.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let _ = std::fs::write(&done, &key);
        }
    } else if dir.join("vendor/modules.txt").is_file() {
        report.imports.push("modules vendored in vendor/".into());
    }
    // The code the build needs that the project generates (templates, bindings).
    for command in &extras.generate {
        must(
            "generate",
            &shell(command, &dir, &env, &req.logs, "generate").confined(req.confine.as_ref()),
            &mut report.steps,
        )
        .await?;
    }
    if let Some(build) = &plan.build {
        must(
            "build",
            &shell(build, &dir, &env, &req.logs, "build").confined(req.confine.as_ref()),
            &mut report.steps,
        )
        .await?;
        report
            .imports
            .push("the module compiled: every import resolved".into());
    }
    report.env = env;
    Ok(())
}

/// Folders a JVM build writes, left out of the key of its sources.
const JVM_OUTPUTS: &[&str] = &[
    "target",
    "build",
    ".gradle",
    ".git",
    "node_modules",
    ".idea",
];

/// Builds a Maven or Gradle component with the JDK its release needs (the host's when
/// new enough, else the oldest installed one that is, `JAVA_HOME`), the local
/// repository, the wrapper's distribution and Gradle's caches kept in the data directory.
/// The jars a build writes are kept under a key of every source file, the toolchain and
/// the command, so a second run of an unchanged project starts from them at once.
async fn java(
    req: &InstallRequest,
    extras: &Extras,
    report: &mut DependencyReport,
) -> Result<(), StageFailure> {
    use crate::toolchains::java as jdks;
    let plan = &req.plan;
    let dir = req.workspace.join(&plan.component);
    let need = plan.runtime_constraint.as_deref().and_then(jdks::at_least);
    let asked = extras.runtime.as_deref().and_then(jdks::at_least);
    let (default, installed) =
        tokio::task::spawn_blocking(|| (jdks::host_default(), jdks::installed()))
            .await
            .map_err(|e| StageFailure::new(e.to_string()))?;
    let jdk = jdks::choose(default.as_ref(), &installed, need, asked).map_err(StageFailure::new)?;
    let cache = req.cache.join("java");
    let mut env = BTreeMap::new();
    let mut bins = Vec::new();
    if let Some(j) = &jdk {
        env.insert("JAVA_HOME".to_string(), j.home.display().to_string());
        bins.push(j.home.join("bin"));
    }
    env.insert("PATH".to_string(), path_with(&bins));
    let repo = cache.join("m2");
    let mut maven_opts = format!("-Dmaven.repo.local={}", repo.display());
    if let Ok(old) = std::env::var("MAVEN_OPTS") {
        maven_opts = format!("{old} {maven_opts}");
    }
    env.insert("MAVEN_OPTS".into(), maven_opts);
    env.insert(
        "MAVEN_USER_HOME".into(),
        cache.join("maven").display().to_string(),
    );
    env.insert(
        "GRADLE_USER_HOME".into(),
        cache.join("gradle").display().to_string(),
    );
    report.toolchain = match &jdk {
        Some(j) if default.as_ref().is_some_and(|d| d.home == j.home) => {
            format!("java {} ({})", j.major, j.home.display())
        }
        Some(j) => format!(
            "java {} ({}, JAVA_HOME: the build asks for {}{})",
            j.major,
            j.home.display(),
            need.map(|n| format!("Java {n}")).unwrap_or_default(),
            asked
                .map(|a| format!(", a fix for Java {a}"))
                .unwrap_or_default()
        ),
        None => "java missing".into(),
    };
    // Wrappers whose execute bit the repository lost.
    for w in ["mvnw", "gradlew"] {
        for d in dir
            .ancestors()
            .take_while(|d| d.starts_with(&req.workspace))
        {
            let f = d.join(w);
            if f.is_file() {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755));
            }
        }
    }
    let Some(mut build) = plan.build.clone() else {
        report.env = env;
        return Ok(());
    };
    if let Some(want) = &extras.maven {
        // The host's Maven is too old for the build: a newer one from Maven Central, kept
        // in the data directory, runs it (the wrapper, when there is one, gives way).
        let home = provision_maven(req, &cache, want, &env, report).await?;
        let bin = home.join("bin");
        env.insert(
            "PATH".to_string(),
            path_with(
                &[bin]
                    .into_iter()
                    .chain(bins.iter().cloned())
                    .collect::<Vec<_>>(),
            ),
        );
        build = use_host_maven(&build);
        report
            .toolchain
            .push_str(&format!(", Maven from {}", home.display()));
    }
    // A module of a reactor is built from the root above it: its sources count too.
    let root = crate::analysis::jvm_build_root(&dir, &build);
    let key = {
        let root = root.clone();
        let describe = format!("{} {} {}", report.toolchain, build, extras.describe());
        tokio::task::spawn_blocking(move || {
            let mut files = Vec::new();
            let mut stack = vec![PathBuf::new()];
            while let Some(rel) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(root.join(&rel)) else {
                    continue;
                };
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let r = rel.join(&name);
                    match e.file_type() {
                        Ok(t) if t.is_dir() && !JVM_OUTPUTS.contains(&name.as_str()) => {
                            stack.push(r)
                        }
                        Ok(t) if t.is_file() => files.push(r.display().to_string()),
                        _ => {}
                    }
                }
                if files.len() > 50_000 {
                    break;
                }
            }
            crate::toolchains::install_key(&root, "", &files, &describe)
        })
        .await
        .map_err(|e| StageFailure::new(e.to_string()))?
    };
    report.cache_key = Some(key[..16].to_string());
    let kept = cache.join("builds").join(&key[..24]);
    let outputs = [crate::analysis::MAVEN_OUT, crate::analysis::GRADLE_OUT];
    if kept.is_dir() && !extras.unfrozen {
        for out in outputs {
            let from = kept.join(out.replace('/', "_"));
            if from.is_dir() {
                copy_files(&from, &dir.join(out))
                    .map_err(|e| StageFailure::new(format!("restoring the kept build: {e}")))?;
            }
        }
        report.cache_hit = true;
        report.imports.push(format!(
            "unchanged since a build kept at {}: its jars are used",
            kept.display()
        ));
        report.env = env;
        return Ok(());
    }
    if let Err(mut failure) = must(
        "build",
        &shell(&build, &dir, &env, &req.logs, "build").confined(req.confine.as_ref()),
        &mut report.steps,
    )
    .await
    {
        // A wrapper that cannot fetch its distribution names the host it could not reach.
        if build.contains("gradlew") || build.contains("mvnw") {
            let log = report
                .steps
                .last()
                .and_then(|s| s.log.clone())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(host) = WRAPPER_UNREACHABLE
                .captures(&text)
                .and_then(|m| m.get(1).or(m.get(2)).map(|h| h.as_str().to_string()))
            {
                failure.message = format!(
                    "the build tool's wrapper could not download its distribution: {host} cannot be reached from this host; put the tool on PATH (gradle or mvn), or run where {host} is reachable ({})",
                    failure.message
                );
            }
        }
        return Err(failure);
    }
    report
        .imports
        .push("the project compiled: every dependency resolved".into());
    let _ = std::fs::remove_dir_all(&kept);
    for out in outputs {
        let from = dir.join(out);
        if from.is_dir() {
            let _ = copy_files(&from, &kept.join(out.replace('/', "_")));
        }
    }
    report.env = env;
    Ok(())
}

/// A wrapper's download that found no route to its host.
static WRAPPER_UNREACHABLE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"(?:UnknownHostException: ([\w.-]+)|Could not resolve host: ([\w.-]+))")
        .unwrap()
});

/// Where Maven Central keeps Maven's own distributions.
const MAVEN_DIST: &str = "https://repo.maven.apache.org/maven2/org/apache/maven/apache-maven";

/// `./mvnw ...` or `../mvnw ...` as the same command on the `mvn` found on PATH.
fn use_host_maven(build: &str) -> String {
    match build.split_once(' ') {
        Some((first, rest)) if first.ends_with("mvnw") => format!("mvn {rest}"),
        _ => build.to_string(),
    }
}

/// The Maven 3 release Maven Central lists for `want` (`>=3.9.6`: the newest 3.9),
/// downloaded and unpacked once under the data directory; its home.
async fn provision_maven(
    req: &InstallRequest,
    cache: &Path,
    want: &str,
    env: &BTreeMap<String, String>,
    report: &mut DependencyReport,
) -> Result<PathBuf, StageFailure> {
    let parse = |v: &str| -> Option<Vec<u32>> {
        v.trim()
            .trim_start_matches(">=")
            .split('.')
            .map(|p| p.parse().ok())
            .collect()
    };
    let need = parse(want).unwrap_or_default();
    let dists = cache.join("maven-dist");
    std::fs::create_dir_all(&dists)
        .map_err(|e| StageFailure::new(format!("{}: {e}", dists.display())))?;
    let metadata = dists.join("maven-metadata.xml");
    if !metadata.is_file() {
        must(
            "maven-versions",
            &shell(
                &format!(
                    "curl -fsSL --retry 2 -o '{}' {MAVEN_DIST}/maven-metadata.xml",
                    metadata.display()
                ),
                &dists,
                env,
                &req.logs,
                "maven-versions",
            )
            .confined(req.confine.as_ref()),
            &mut report.steps,
        )
        .await?;
    }
    let listed = std::fs::read_to_string(&metadata).unwrap_or_default();
    let version = regex::Regex::new(r"<version>(3\.\d+\.\d+)</version>")
        .map_err(|e| StageFailure::new(e.to_string()))?
        .captures_iter(&listed)
        .filter_map(|m| Some((parse(&m[1])?, m[1].to_string())))
        .filter(|(v, _)| *v >= need)
        // The oldest minor release that satisfies, at its newest patch: the line the
        // build was written for, with its fixes.
        .max_by_key(|(v, _)| {
            (
                std::cmp::Reverse((v[0], v[1])),
                v.get(2).copied().unwrap_or(0),
            )
        })
        .map(|(_, v)| v)
        .ok_or_else(|| {
            StageFailure::new(format!(
                "the build needs Maven {want}, and Maven Central lists no Maven 3 release that satisfies it"
            ))
        })?;
    let home = dists.join(format!("apache-maven-{version}"));
    if !home.join("bin/mvn").is_file() {
        must(
            "maven-download",
            &shell(
                &format!(
                    "curl -fsSL --retry 2 {MAVEN_DIST}/{version}/apache-maven-{version}-bin.tar.gz | tar -xz -C '{}'",
                    dists.display()
                ),
                &dists,
                env,
                &req.logs,
                "maven-download",
            ).confined(req.confine.as_ref()),
            &mut report.steps,
        )
        .await?;
    }
    Ok(home)
}

/// Copies the plain files of `from` (not its folders) into `to`, created.
fn copy_files(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)?.flatten() {
        if e.file_type()?.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

/// The database SQLx's query macros need at compile time (`postgresql` or `sqlite`):
/// the crate uses `query!` and its kin, and neither it nor its workspace keeps offline
/// data (`.sqlx/`, `sqlx-data.json`) or sets `SQLX_OFFLINE`.
fn compile_time_database(dir: &Path, root: Option<&Path>, plan: &Plan) -> Option<&'static str> {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    if !manifest.contains("sqlx") {
        return None;
    }
    let offline = dir
        .ancestors()
        .take_while(|d| root.is_none_or(|r| d.starts_with(r)))
        .take(4)
        .any(|d| {
            d.join(".sqlx").is_dir()
                || d.join("sqlx-data.json").is_file()
                || std::fs::read_to_string(d.join(".env"))
                    .is_ok_and(|t| t.lines().any(|l| l.trim() == "SQLX_OFFLINE=true"))
        });
    if offline {
        return None;
    }
    let macros = crate::sources::texts(&dir.join("src"), &["rs"]).any(|(_, t)| {
        ["query!(", "query_as!(", "query_scalar!(", "query_file!("]
            .iter()
            .any(|m| t.contains(m))
    });
    if !macros {
        return None;
    }
    if plan.databases.iter().any(|d| d == "postgresql") || manifest.contains("\"postgres\"") {
        Some("postgresql")
    } else if plan.databases.iter().any(|d| d == "sqlite") || manifest.contains("\"sqlite\"") {
        Some("sqlite")
    } else {
        None
    }
}

/// The private database a build compiles its queries against.
struct BuildDatabase {
    url: String,
    server: Option<reporunner_runtime::process::Service>,
}

impl BuildDatabase {
    /// Creates it (PostgreSQL on a free loopback port, or a SQLite file in the run's
    /// folder) and applies the crate's migrations; each step is in the report.
    async fn start(
        req: &InstallRequest,
        dir: &Path,
        kind: &str,
        report: &mut DependencyReport,
    ) -> Result<Self, StageFailure> {
        let run_dir = req.logs.parent().unwrap_or(&req.logs).to_path_buf();
        let (url, server) = if kind == "sqlite" {
            let file = run_dir.join("build-sqlx.db");
            let _ = std::fs::remove_file(&file);
            (format!("sqlite://{}", file.display()), None)
        } else {
            let bin = crate::agents::setup::postgres_bin().ok_or_else(|| {
                StageFailure::new(
                    "the build checks its SQL against PostgreSQL, which is missing: install the Debian package postgresql",
                )
            })?;
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .map_err(|e| {
                    StageFailure::new(format!("no free port for the build database: {e}"))
                })?;
            let place = crate::agents::setup::PgPlace {
                tag: format!("build-{port}"),
                run_dir: &run_dir,
                workspace: &req.workspace,
                logs: &req.logs,
            };
            let server = crate::agents::setup::start_postgres(&place, &bin, "127.0.0.1", port)
                .await
                .map_err(|e| StageFailure::new(format!("the build database: {e}")))?;
            let create = format!(
                "'{}' -h 127.0.0.1 -p {port} -U postgres -q -c 'CREATE DATABASE build'",
                bin.join("psql").display()
            );
            let created = must(
                "build database",
                &shell(&create, dir, &BTreeMap::new(), &req.logs, "build-db"),
                &mut report.steps,
            )
            .await;
            if let Err(e) = created {
                let _ = server.stop(std::time::Duration::from_secs(5)).await;
                return Err(e);
            }
            (
                format!("postgres://postgres@127.0.0.1:{port}/build"),
                Some(server),
            )
        };
        let db = BuildDatabase { url, server };
        if let Some(script) = crate::agents::setup::sqlx_apply(dir, &db.url) {
            let mut env = BTreeMap::new();
            if let Some(pg) = crate::agents::setup::postgres_bin() {
                env.insert("PATH".to_string(), path_with(&[pg]));
            }
            let applied = must(
                "migrate the build database",
                &shell(&script, dir, &env, &req.logs, "build-db-migrate")
                    .confined(req.confine.as_ref()),
                &mut report.steps,
            )
            .await;
            if let Err(e) = applied {
                db.stop().await;
                return Err(e);
            }
        }
        Ok(db)
    }

    async fn stop(self) {
        if let Some(server) = self.server {
            let _ = server.stop(std::time::Duration::from_secs(5)).await;
        }
    }
}

/// Any other language: the analysis's install and build commands, as they are.
async fn generic(req: &InstallRequest, report: &mut DependencyReport) -> Result<(), StageFailure> {
    let plan = &req.plan;
    let dir = req.workspace.join(&plan.component);
    let env = BTreeMap::new();
    for (purpose, cmd) in [("install", &plan.install), ("build", &plan.build)] {
        if let Some(cmd) = cmd {
            must(
                purpose,
                &shell(cmd, &dir, &env, &req.logs, purpose).confined(req.confine.as_ref()),
                &mut report.steps,
            )
            .await?;
        }
    }
    report.toolchain = plan.language.clone().unwrap_or_else(|| "unknown".into());
    Ok(())
}

/// Installs Debian packages with apt-get, which needs `--install-system-deps` and root.
async fn install_system(
    packages: &[String],
    req: &InstallRequest,
    report: &mut DependencyReport,
) -> Result<(), StageFailure> {
    if !req.install_system_deps || !is_root() {
        return Err(StageFailure::new(format!(
            "the Debian packages {} are needed: install them (apt-get install {}), or run with --install-system-deps as root",
            packages.join(", "),
            packages.join(" ")
        )));
    }
    let mut env = BTreeMap::new();
    env.insert("DEBIAN_FRONTEND".into(), "noninteractive".into());
    let script = format!(
        "apt-get update -q && apt-get install -y -q --no-install-recommends {}",
        packages.join(" ")
    );
    must(
        "apt-get",
        &shell(&script, &req.workspace, &env, &req.logs, "apt-get"),
        &mut report.steps,
    )
    .await?;
    Ok(())
}

/// Whether this process runs as root.
pub(crate) fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// `PROGRAM --version`'s first word that looks like a version, or `unknown`.
async fn version_of(program: &str) -> String {
    let spec = reporunner_runtime::process::CommandSpec::new(program, &["--version"], ".");
    match reporunner_runtime::process::run(&spec).await {
        Ok(o) => o
            .head
            .first()
            .and_then(|l| {
                l.split_whitespace()
                    .map(|w| w.trim_start_matches('v'))
                    .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "unknown".into()),
        Err(_) => "missing".into(),
    }
}

/// Merges a dependency report's environment under the host's.
pub fn run_env(report: &DependencyReport) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    merge_env(&mut env, &report.env);
    env
}

/// The Dependency agent's kind, for the kind registry.
pub fn kind() -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: KIND.to_string(),
            description: "installs a component's dependencies, cached by lockfile hash".to_string(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |_ctx, _config: super::NoConfig| (Dependency, ()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn py(v: (u32, u32, u32)) -> Interpreter {
        Interpreter {
            path: PathBuf::from(format!("/py/{}.{}", v.0, v.1)),
            version: v,
        }
    }

    #[test]
    fn test_and_dev_dependency_groups_are_read_with_their_includes() {
        let dir = std::env::temp_dir().join(format!("rr-groups-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("pyproject.toml"),
            r#"
[dependency-groups]
tests = ["pytest>=8", {include-group = "typing"}]
typing = ["mypy"]
docs = ["sphinx"]
dev = [{include-group = "tests"}, "ruff"]
"#,
        )
        .unwrap();
        let groups = dependency_groups(&dir);
        assert_eq!(groups, vec!["pytest>=8", "mypy", "ruff"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_interpreter_closest_to_the_default_is_chosen() {
        let found = vec![
            py((3, 13, 0)),
            py((3, 12, 1)),
            py((3, 11, 7)),
            py((3, 8, 18)),
        ];
        let d = Some((3, 11, 7));
        let pick = |c: Option<&str>| closest(c, d, &found).map(|i| i.version.1);
        assert_eq!(pick(None), Ok(11));
        assert_eq!(pick(Some(">=3.12")), Ok(12));
        assert_eq!(pick(Some("<3.11")), Ok(8));
        assert_eq!(pick(Some("^3.11")), Ok(11));
        assert!(pick(Some(">=3.14")).is_err());
        // Without a known default, the highest that fits.
        assert_eq!(closest(None, None, &found).unwrap().version.1, 13);
    }
}
