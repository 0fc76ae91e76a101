//! Repository analysis: rules over a [`RepoSnapshot`] that build a [`ProjectProfile`].
//!
//! Analysis only reads. Each ecosystem's rules add facts with evidence to the component they
//! look at; nothing is decided by the first rule that matches. Files that cannot be read
//! become warnings in the profile, and analysis goes on.

pub mod snapshot;

mod go;
mod intent;
mod java;
mod node;
mod operate;
mod other;
mod python;
mod rust;
mod text;

pub(crate) use go::{
    BIN_DIR as GO_BIN_DIR, MIGRATION_DIRS as GO_MIGRATION_DIRS, built_binary, is_up_migration,
    parse_go_mod,
};
pub(crate) use java::{GRADLE_OUT, MAVEN_OUT, build_root as jvm_build_root, java_major};
pub use text::looks_secret;

use reporunner_protocols::profile::{
    Component, Conflict, EnvVar, Evidence, Fact, ProjectProfile, Warning,
};
use snapshot::{RepoSnapshot, SnapshotError};
use std::path::Path;
use std::time::Instant;

/// Files whose presence makes a folder a component.
const MANIFESTS: &[&str] = &[
    "requirements.txt",
    "requirement.txt",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "Pipfile",
    "environment.yml",
    "manage.py",
    "package.json",
    "index.html",
    "Cargo.toml",
    "go.mod",
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "Procfile",
];

/// Folders never taken as components of their own: tests, examples and docs hold manifests
/// that are not the project.
const NOT_COMPONENTS: &[&str] = &[
    "test", "tests", "example", "examples", "docs", "doc", "fixtures",
];

/// Which parts of a component a pass fills. The Detection, Requirements, Config and
/// Database agents each run the rules for their own concern, so one can fail (and be
/// restarted) without losing the others' work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concerns {
    /// Manifests, package manager, install and build, runtime versions, dependencies,
    /// system packages, and whether this host can build it.
    pub requirements: bool,
    /// Kind, frameworks, start command, port, bind host, tests.
    pub detection: bool,
    /// Environment variables and env files.
    pub config: bool,
    /// Databases and migrations.
    pub database: bool,
}

impl Concerns {
    /// Every concern: a whole analysis in one pass.
    pub const ALL: Concerns = Concerns {
        requirements: true,
        detection: true,
        config: true,
        database: true,
    };
    /// The Requirements agent's.
    pub const REQUIREMENTS: Concerns = Concerns {
        requirements: true,
        detection: false,
        config: false,
        database: false,
    };
    /// The Detection agent's.
    pub const DETECTION: Concerns = Concerns {
        requirements: false,
        detection: true,
        config: false,
        database: false,
    };
    /// The Config agent's.
    pub const CONFIG: Concerns = Concerns {
        requirements: false,
        detection: false,
        config: true,
        database: false,
    };
    /// The Database agent's.
    pub const DATABASE: Concerns = Concerns {
        requirements: false,
        detection: false,
        config: false,
        database: true,
    };

    /// Clears what is not this pass's concern, so merging passes never mixes them. Name,
    /// path, languages and manifests say which component a part is, and stay.
    fn mask(self, c: &mut Component) {
        if !self.requirements {
            c.package_manager = None;
            c.install_command = None;
            c.build_command = None;
            c.runtime_versions.clear();
            c.dependencies.clear();
            c.system_packages.clear();
            c.unsupported = None;
        }
        if !self.detection {
            c.kind = None;
            c.frameworks.clear();
            c.start_command = None;
            c.port = None;
            c.reads_port_env = None;
            c.bind_host = None;
            c.test_command = None;
            c.routes.clear();
        }
        if !self.config {
            c.env_vars.clear();
            c.env_files.clear();
        }
        if !self.database {
            c.databases.clear();
            c.migrations.clear();
            c.init_commands.clear();
            c.services.clear();
        }
        c.conflicts.retain(|k| match k.topic.as_str() {
            "package_manager" | "python_version" | "node_version" => self.requirements,
            _ => self.detection,
        });
    }
}

/// Copies into `into` the fields of `part` that `want` covers.
fn overlay(into: &mut Component, part: Component, want: Concerns) {
    if want.requirements {
        into.package_manager = part.package_manager;
        into.install_command = part.install_command;
        into.build_command = part.build_command;
        into.runtime_versions = part.runtime_versions;
        into.dependencies = part.dependencies;
        into.system_packages = part.system_packages;
        into.unsupported = part.unsupported;
    }
    if want.detection {
        into.kind = part.kind;
        into.frameworks = part.frameworks;
        into.start_command = part.start_command;
        into.port = part.port;
        into.reads_port_env = part.reads_port_env;
        into.bind_host = part.bind_host;
        into.test_command = part.test_command;
        into.routes = part.routes;
        into.name = part.name;
    }
    if want.config {
        into.env_vars = part.env_vars;
        into.env_files = part.env_files;
    }
    if want.database {
        into.databases = part.databases;
        into.migrations = part.migrations;
        into.init_commands = part.init_commands;
        into.services = part.services;
    }
    into.conflicts.extend(part.conflicts);
}

/// What one ecosystem found in one folder, for one pass.
#[derive(Debug, Clone)]
pub struct Part {
    /// The folder, relative to the root (empty for the root).
    pub dir: String,
    /// Which ecosystem's rules found it.
    pub ecosystem: usize,
    /// What they found, limited to the pass's concerns.
    pub component: Component,
}

/// The result of one pass over a repository.
#[derive(Debug, Clone, Default)]
pub struct PassOutput {
    /// What each ecosystem found in each folder.
    pub parts: Vec<Part>,
    /// What could not be read.
    pub warnings: Vec<Warning>,
}

/// The ecosystems, in the order their parts are listed.
type Rules = fn(&mut Analysis<'_>, &str, &mut Component, Concerns);
const ECOSYSTEMS: [Rules; 6] = [
    python::analyze,
    node::analyze,
    rust::analyze,
    go::analyze,
    java::analyze,
    other::analyze,
];

/// Runs the rules of `want` over the folders `dirs` of `snap`.
pub fn run_pass(snap: &RepoSnapshot, dirs: &[String], want: Concerns) -> PassOutput {
    let mut a = Analysis {
        snap,
        warnings: Vec::new(),
    };
    let mut parts = Vec::new();
    for dir in dirs {
        let base = Component {
            path: if dir.is_empty() {
                ".".into()
            } else {
                dir.clone()
            },
            name: dir
                .rsplit('/')
                .next()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| {
                    snap.root()
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "root".into())
                }),
            ..Component::default()
        };
        for (ecosystem, rules) in ECOSYSTEMS.iter().enumerate() {
            let mut part = base.clone();
            rules(&mut a, dir, &mut part, want);
            if part.languages.is_empty() {
                continue;
            }
            intent::analyze(&mut a, dir, &mut part, want);
            operate::analyze(&mut a, dir, &mut part, want);
            want.mask(&mut part);
            parts.push(Part {
                dir: dir.clone(),
                ecosystem,
                component: part,
            });
        }
    }
    PassOutput {
        parts,
        warnings: a.warnings,
    }
}

/// Runs a pass on the blocking pool (it reads files and matches text), so the actor's
/// thread stays free. A rule that panics on some input costs its pass, not the agent: the
/// pass comes back empty with a warning naming it.
pub async fn run_pass_blocking(
    snap: std::sync::Arc<RepoSnapshot>,
    dirs: std::sync::Arc<Vec<String>>,
    want: Concerns,
    label: &'static str,
) -> PassOutput {
    match tokio::task::spawn_blocking(move || run_pass(&snap, &dirs, want)).await {
        Ok(out) => out,
        Err(e) => PassOutput {
            parts: Vec::new(),
            warnings: vec![Warning {
                file: None,
                message: format!(
                    "the {label} rules failed ({e}): that part of the profile is empty"
                ),
            }],
        },
    }
}

/// Builds the profile from passes over the same snapshot, each covering its concerns. A
/// concern no pass covered is left empty.
pub fn assemble(
    root: &Path,
    snap: &RepoSnapshot,
    passes: Vec<(Concerns, PassOutput)>,
    started: Instant,
) -> ProjectProfile {
    let mut warnings: Vec<Warning> = snap.warnings().to_vec();
    let mut merged: Vec<Part> = Vec::new();
    for (want, pass) in passes {
        for w in pass.warnings {
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        for part in pass.parts {
            match merged
                .iter_mut()
                .find(|m| m.dir == part.dir && m.ecosystem == part.ecosystem)
            {
                Some(m) => overlay(&mut m.component, part.component, want),
                None => {
                    let mut identity = Component {
                        path: part.component.path.clone(),
                        name: part.component.name.clone(),
                        languages: part.component.languages.clone(),
                        manifests: part.component.manifests.clone(),
                        ..Component::default()
                    };
                    overlay(&mut identity, part.component, want);
                    merged.push(Part {
                        component: identity,
                        ..part
                    });
                }
            }
        }
    }
    merged.sort_by(|a, b| a.dir.cmp(&b.dir).then(a.ecosystem.cmp(&b.ecosystem)));
    let mut components = Vec::new();
    let mut i = 0;
    while i < merged.len() {
        let dir = merged[i].dir.clone();
        let same: Vec<Component> = merged[i..]
            .iter()
            .take_while(|p| p.dir == dir)
            .map(|p| p.component.clone())
            .collect();
        i += same.len();
        if let Some(c) = compose(same) {
            components.push(c);
        }
    }
    let (web, reason) = choose_web_component(&components);
    ProjectProfile {
        root: root.display().to_string(),
        components,
        web_component: web,
        web_component_reason: reason,
        warnings,
        files_seen: snap.files().len() as u64,
        analyze_ms: started.elapsed().as_millis() as u64,
        consultations: Vec::new(),
    }
}

/// The state of one analysis: the snapshot, and the warnings met on the way.
#[derive(Debug)]
pub(crate) struct Analysis<'a> {
    pub(crate) snap: &'a RepoSnapshot,
    pub(crate) warnings: Vec<Warning>,
}

impl<'a> Analysis<'a> {
    /// Reads `rel`, turning a failure into a warning.
    pub(crate) fn read(&mut self, rel: &str) -> Option<String> {
        match self.snap.read(rel) {
            Ok(t) => Some(t),
            Err(w) => {
                self.warnings.push(w);
                None
            }
        }
    }

    /// Reads `rel` as YAML text: the text, once it parses; otherwise a warning and `None`.
    /// The rules read YAML line by line, but only YAML that is valid, so a broken file is
    /// reported rather than half-read.
    pub(crate) fn read_yaml(&mut self, rel: &str) -> Option<String> {
        let text = self.read(rel)?;
        match yaml_rust2::YamlLoader::load_from_str(&text) {
            Ok(_) => Some(text),
            Err(e) => {
                self.warn(rel, format!("invalid YAML: {e}"));
                None
            }
        }
    }

    /// Records a warning about `file`.
    pub(crate) fn warn(&mut self, file: &str, message: impl Into<String>) {
        self.warnings.push(Warning {
            file: Some(file.to_string()),
            message: message.into(),
        });
    }
}

/// Records that `name` is read or documented, merging with what is known of it.
pub(crate) fn add_env(
    vars: &mut Vec<EnvVar>,
    name: &str,
    required: bool,
    default: Option<String>,
    ev: Evidence,
) {
    // What the system sets for every process is no setting of the project's: a
    // placeholder for `HOME` or `USER` in `.env` would only break what reads them.
    if SYSTEM_ENV.contains(&name) {
        return;
    }
    match vars.iter_mut().find(|v| v.name == name) {
        Some(v) => {
            v.required &= required;
            if v.default.is_none() {
                v.default = default;
            }
            v.evidence.push(ev);
        }
        None => vars.push(EnvVar {
            name: name.to_string(),
            required: required && default.is_none(),
            default,
            secret: text::looks_secret(name),
            evidence: vec![ev],
        }),
    }
}

/// The framework's default port, as a fact resting on the framework's evidence: the last
/// resort when neither the code nor a file states one.
pub(crate) fn default_port_fact(
    ecosystem: &str,
    port: Option<u16>,
    frameworks: &[Fact<String>],
) -> Option<Fact<u16>> {
    let (port, fw) = (port?, frameworks.first()?);
    Some(Fact {
        value: port,
        confidence: 0.5,
        evidence: vec![Evidence {
            rule: format!("{ecosystem}.{}.default-port", fw.value),
            ..fw.evidence.first()?.clone()
        }],
    })
}

/// Variables the system and the shell set for every process.
const SYSTEM_ENV: &[&str] = &[
    "HOME",
    "USER",
    "LOGNAME",
    "PATH",
    "SHELL",
    "PWD",
    "OLDPWD",
    "TERM",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "HOSTNAME",
    "SHLVL",
    "USERPROFILE",
    "APPDATA",
    "LOCALAPPDATA",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "XDG_RUNTIME_DIR",
];

/// The prefix of the paths of the files in `dir`: empty for the root.
pub(crate) fn prefix_of(dir: &str) -> String {
    if dir.is_empty() || dir == "." {
        String::new()
    } else {
        format!("{}/", dir.trim_end_matches('/'))
    }
}

/// Joins a component folder and a file name into a path relative to the root.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() || dir == "." {
        name.to_string()
    } else {
        format!("{}/{name}", dir.trim_end_matches('/'))
    }
}

/// Analyses the repository at `root`.
///
/// # Errors
/// [`SnapshotError`] if `root` is not a folder; anything inside it that cannot be read is
/// a warning in the profile instead.
pub fn analyze(root: &Path) -> Result<ProjectProfile, SnapshotError> {
    let started = Instant::now();
    let snap = RepoSnapshot::scan(root)?;
    let dirs = component_dirs(&snap);
    let pass = run_pass(&snap, &dirs, Concerns::ALL);
    Ok(assemble(root, &snap, vec![(Concerns::ALL, pass)], started))
}

/// How strongly a component claims to be runnable: services first, then static sites,
/// command-line tools and libraries, then the certainty of its start command.
fn weight(c: &Component) -> f32 {
    let kind = match c.kind.as_ref().map(|k| k.value.as_str()) {
        Some("service") => 3.0,
        Some("static_site") => 2.0,
        Some("cli") => 1.0,
        _ => 0.0,
    };
    kind + c.start_command.as_ref().map_or(0.0, |s| s.confidence)
}

/// Composes what several ecosystems found in one folder. The strongest keeps its single
/// facts (start command, port, kind); the others add their languages, manifests,
/// dependencies and databases, their install steps run too, and any single fact they
/// disagree on is kept as a conflict.
fn compose(mut parts: Vec<Component>) -> Option<Component> {
    parts.sort_by(|a, b| weight(b).total_cmp(&weight(a)));
    let mut parts = parts.into_iter();
    let mut main = parts.next()?;
    for other in parts {
        main.languages.extend(other.languages);
        main.manifests.extend(other.manifests);
        main.dependencies.extend(other.dependencies);
        main.runtime_versions.extend(other.runtime_versions);
        main.frameworks.extend(other.frameworks);
        for d in other.databases {
            if !main.databases.iter().any(|m| m.value == d.value) {
                main.databases.push(d);
            }
        }
        for m in other.migrations {
            if !main.migrations.iter().any(|x| x.value == m.value) {
                main.migrations.push(m);
            }
        }
        for v in other.env_vars {
            match main.env_vars.iter_mut().find(|m| m.name == v.name) {
                Some(m) => {
                    for e in v.evidence {
                        if !m.evidence.contains(&e) {
                            m.evidence.push(e);
                        }
                    }
                }
                None => main.env_vars.push(v),
            }
        }
        for f in other.env_files {
            if !main.env_files.contains(&f) {
                main.env_files.push(f);
            }
        }
        for (mine, theirs) in [
            (&mut main.routes, other.routes),
            (&mut main.init_commands, other.init_commands),
            (&mut main.services, other.services),
        ] {
            for f in theirs {
                if !mine.iter().any(|m| m.value == f.value) {
                    mine.push(f);
                }
            }
        }
        main.system_packages.extend(other.system_packages);
        main.conflicts.extend(other.conflicts);
        // Another ecosystem's install matters when it builds or runs something: a
        // package.json kept only for linters and formatters is not the app's.
        // A start command that a Procfile, a Dockerfile or a README stated is the folder's,
        // not this ecosystem's own.
        let own = |f: &Option<Fact<String>>| {
            f.as_ref().is_some_and(|f| {
                f.evidence.iter().any(|e| {
                    ![
                        "procfile.",
                        "dockerfile.",
                        "compose.",
                        "readme.",
                        "makefile.",
                        "ci.",
                    ]
                    .iter()
                    .any(|p| e.rule.starts_with(p))
                })
            })
        };
        let serves_the_app = own(&other.build_command) || own(&other.start_command);
        if serves_the_app
            && let (Some(m), Some(o)) = (&mut main.install_command, other.install_command)
        {
            m.value = format!("{} && {}", m.value, o.value);
            m.evidence.extend(o.evidence);
        }
        if main.build_command.is_none() {
            main.build_command = other.build_command;
        }
        for (topic, mine, theirs) in [
            (
                "package_manager",
                main.package_manager.clone(),
                other.package_manager,
            ),
            (
                "start_command",
                main.start_command.clone(),
                other.start_command,
            ),
            (
                "test_command",
                main.test_command.clone(),
                other.test_command,
            ),
        ] {
            if let (Some(m), Some(t)) = (mine, theirs)
                && m.value != t.value
            {
                main.conflicts.push(Conflict {
                    topic: topic.into(),
                    chosen: Some(m.value.clone()),
                    candidates: vec![m, t],
                    reason: "two ecosystems in one folder: the one that runs as a service leads"
                        .into(),
                });
            }
        }
    }
    Some(main)
}

/// Every folder (the root first) that holds a manifest, outside test and example folders.
pub fn component_dirs(snap: &RepoSnapshot) -> Vec<String> {
    let mut dirs: Vec<String> = snap
        .files()
        .iter()
        .filter_map(|f| {
            let (dir, name) = f.rel.rsplit_once('/').unwrap_or(("", f.rel.as_str()));
            let requirements = name.starts_with("requirement") && name.ends_with(".txt");
            let manifest = MANIFESTS.contains(&name)
                || other::manifests().any(|m| m == name)
                || name.ends_with(".csproj")
                || name.ends_with(".fsproj");
            if !(manifest || requirements) {
                return None;
            }
            // Split requirement files (`requirements/dev.txt`) belong to the folder above.
            let dir = match dir.rsplit_once('/') {
                _ if requirements && dir == "requirements" => "",
                Some((parent, "requirements")) if requirements => parent,
                _ => dir,
            };
            let depth = if dir.is_empty() {
                0
            } else {
                dir.matches('/').count() + 1
            };
            let excluded = dir.split('/').any(|part| NOT_COMPONENTS.contains(&part));
            (depth <= 3 && !excluded).then(|| dir.to_string())
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    // A folder whose only manifest is an `index.html` inside another component is that
    // component's templates or assets (`templates/`, `views/`, `public/`), not a site.
    let only_html = |d: &str| {
        snap.files_in(d).all(|f| {
            let name = f.rel.rsplit('/').next().unwrap_or(&f.rel);
            let manifest = (MANIFESTS.contains(&name) && name != "index.html")
                || other::manifests().any(|m| m == name)
                || (name.starts_with("requirement") && name.ends_with(".txt"));
            !manifest
        })
    };
    let all = dirs.clone();
    dirs.retain(|d| {
        !(only_html(d)
            && all
                .iter()
                .any(|p| p != d && (p.is_empty() || d.starts_with(&format!("{p}/")))))
    });
    dirs
}

/// Keeps every candidate: the most certain (the first, on a tie) is chosen, and if others
/// say something else, a conflict records them all and why.
pub(crate) fn choose<T: Clone + PartialEq + ToString>(
    conflicts: &mut Vec<Conflict>,
    topic: &str,
    candidates: Vec<Fact<T>>,
    reason: &str,
) -> Option<Fact<T>> {
    let best = candidates
        .iter()
        .enumerate()
        .max_by(|(i, a), (j, b)| a.confidence.total_cmp(&b.confidence).then(j.cmp(i)))
        .map(|(_, f)| f.clone())?;
    if candidates.iter().any(|f| f.value != best.value) {
        conflicts.push(Conflict {
            topic: topic.into(),
            candidates: candidates
                .iter()
                .map(|f| Fact {
                    value: f.value.to_string(),
                    confidence: f.confidence,
                    evidence: f.evidence.clone(),
                })
                .collect(),
            chosen: Some(best.value.to_string()),
            reason: reason.into(),
        });
    }
    Some(best)
}

/// Front-end frameworks: a component built on one is what a person opens in a browser.
const FRONT_ENDS: &[&str] = &["next", "nuxt", "vite", "create-react-app"];

/// Picks the component that faces the web: a front end first (what a person opens in a
/// browser), then a service with a port, then anything with a start command.
fn choose_web_component(components: &[Component]) -> (Option<String>, Option<String>) {
    let front_end = |c: &Component| {
        c.frameworks
            .iter()
            .find(|f| FRONT_ENDS.contains(&f.value.as_str()))
            .map(|f| f.value.clone())
    };
    let rank = |c: &Component| {
        let base = if front_end(c).is_some() {
            3.0
        } else if c.kind.as_ref().is_some_and(|k| k.value == "service") {
            2.0
        } else if c.kind.as_ref().is_some_and(|k| k.value == "static_site") {
            1.0
        } else {
            0.0
        };
        base + c.port.as_ref().map_or(0.0, |p| p.confidence * 0.5)
            + c.start_command.as_ref().map_or(0.0, |s| s.confidence * 0.5)
    };
    let Some(best) = components
        .iter()
        .filter(|c| c.start_command.is_some())
        .max_by(|a, b| rank(a).total_cmp(&rank(b)))
    else {
        return (None, None);
    };
    let why = if components.len() == 1 {
        "the only component".to_string()
    } else if let Some(fw) = front_end(best) {
        format!("the front end ({fw}): what a person opens in a browser")
    } else if let Some(p) = &best.port {
        format!(
            "a service listening on port {} ({})",
            p.value, p.evidence[0]
        )
    } else {
        "the only component with a start command".to_string()
    };
    (Some(best.path.clone()), Some(why))
}

#[cfg(test)]
mod tests;
