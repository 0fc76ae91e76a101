//! Repository analysis: rules over a [`RepoSnapshot`] that build a [`ProjectProfile`].
//!
//! Analysis only reads. Each ecosystem's rules add facts with evidence to the component they
//! look at; nothing is decided by the first rule that matches. Files that cannot be read
//! become warnings in the profile, and analysis goes on.

pub mod snapshot;

mod python;
mod text;

use reporunner_protocols::profile::{Component, Fact, ProjectProfile, Warning};
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
];

/// Folders never taken as components of their own: tests, examples and docs hold manifests
/// that are not the project.
const NOT_COMPONENTS: &[&str] = &[
    "test", "tests", "example", "examples", "docs", "doc", "fixtures",
];

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

    /// Records a warning about `file`.
    pub(crate) fn warn(&mut self, file: &str, message: impl Into<String>) {
        self.warnings.push(Warning {
            file: Some(file.to_string()),
            message: message.into(),
        });
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
    let mut a = Analysis {
        snap: &snap,
        warnings: snap.warnings().to_vec(),
    };
    let mut components = Vec::new();
    for dir in component_dirs(&snap) {
        let mut c = Component {
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
        python::analyze(&mut a, &dir, &mut c);
        if !c.languages.is_empty() {
            components.push(c);
        }
    }
    let (web, reason) = choose_web_component(&components);
    Ok(ProjectProfile {
        root: root.display().to_string(),
        components,
        web_component: web,
        web_component_reason: reason,
        warnings: a.warnings,
        files_seen: snap.files().len() as u64,
        analyze_ms: started.elapsed().as_millis() as u64,
    })
}

/// Every folder (the root first) that holds a manifest, outside test and example folders.
fn component_dirs(snap: &RepoSnapshot) -> Vec<String> {
    let mut dirs: Vec<String> = snap
        .files()
        .iter()
        .filter_map(|f| {
            let (dir, name) = f.rel.rsplit_once('/').unwrap_or(("", f.rel.as_str()));
            let requirements = name.starts_with("requirement") && name.ends_with(".txt");
            if !(MANIFESTS.contains(&name) || requirements) {
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
    dirs
}

/// Picks the component that faces the web: the one with a port, then a start command, with
/// the most certain evidence first.
fn choose_web_component(components: &[Component]) -> (Option<String>, Option<String>) {
    let score = |c: &Component| {
        let kind_is_service = c.kind.as_ref().is_some_and(|k| k.value == "service");
        let conf = |f: &Option<Fact<u16>>| f.as_ref().map_or(0.0, |f| f.confidence);
        (kind_is_service as u8 as f32) * 2.0
            + conf(&c.port)
            + c.start_command.as_ref().map_or(0.0, |f| f.confidence)
    };
    let best = components
        .iter()
        .filter(|c| c.start_command.is_some())
        .max_by(|a, b| score(a).total_cmp(&score(b)));
    match best {
        Some(c) if components.len() == 1 => {
            (Some(c.path.clone()), Some("the only component".into()))
        }
        Some(c) => {
            let why = match (&c.port, &c.kind) {
                (Some(p), Some(k)) if k.value == "service" => format!(
                    "a service with a start command and port {} ({})",
                    p.value,
                    p.evidence
                        .first()
                        .map(|e| e.to_string())
                        .unwrap_or_default()
                ),
                _ => "the only component with a start command".to_string(),
            };
            (Some(c.path.clone()), Some(why))
        }
        None => (None, None),
    }
}

#[cfg(test)]
mod tests;
