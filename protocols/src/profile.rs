//! The [`ProjectProfile`]: what a repository is, with evidence for every fact.
//!
//! Analysis never takes the first match and moves on: every candidate it finds is kept as a
//! [`Fact`] with its [`Evidence`] (file, line, and the rule that fired) and a confidence. Where
//! candidates disagree (two package managers, two start commands) the profile chooses one,
//! says why, and keeps the others as a [`Conflict`], so a person can see what was decided.

use serde::{Deserialize, Serialize};

/// Where a fact was found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Evidence {
    /// The file, relative to the repository root.
    pub file: String,
    /// The line, counting from 1, when the fact comes from one line.
    pub line: Option<u32>,
    /// The rule that fired, such as `python.requirements` or `procfile.web`.
    pub rule: String,
}

impl Evidence {
    /// Evidence from a whole file.
    pub fn file(file: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            rule: rule.into(),
        }
    }

    /// Evidence from one line of a file.
    pub fn line(file: impl Into<String>, line: u32, rule: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: Some(line),
            rule: rule.into(),
        }
    }
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l} ({})", self.file, self.rule),
            None => write!(f, "{} ({})", self.file, self.rule),
        }
    }
}

/// A value, how sure analysis is of it, and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact<T> {
    /// The value.
    pub value: T,
    /// From 0 (a guess) to 1 (stated outright, as in a Procfile).
    pub confidence: f32,
    /// Where it was found; several places may agree.
    pub evidence: Vec<Evidence>,
}

impl<T> Fact<T> {
    /// A fact with one piece of evidence.
    pub fn new(value: T, confidence: f32, evidence: Evidence) -> Self {
        Self {
            value,
            confidence,
            evidence: vec![evidence],
        }
    }
}

/// Candidates that disagree, and which one was chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// What they disagree on: `package_manager`, `start_command`, `port`, …
    pub topic: String,
    /// Every candidate, with its evidence.
    pub candidates: Vec<Fact<String>>,
    /// The one chosen, if any.
    pub chosen: Option<String>,
    /// Why it was chosen.
    pub reason: String,
}

/// Something analysis could not read or did not trust. Analysis goes on past it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The file, relative to the root, when there is one.
    pub file: Option<String>,
    /// What happened.
    pub message: String,
}

/// An environment variable the project reads or documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvVar {
    /// Its name.
    pub name: String,
    /// Whether the project fails without it (read with no default).
    pub required: bool,
    /// Its default or example value, when one is given.
    pub default: Option<String>,
    /// Whether it looks like a secret (`*SECRET*`, `*KEY*`, `*TOKEN*`, `*PASSWORD*`).
    pub secret: bool,
    /// Where it is read or documented.
    pub evidence: Vec<Evidence>,
}

/// A dependency from a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    /// The package name, normalised as its ecosystem does (lowercase, `-` for Python).
    pub name: String,
    /// The version requirement as written, or empty.
    pub spec: String,
    /// Whether it is only for development or tests.
    pub dev: bool,
    /// Where it is declared.
    pub evidence: Evidence,
}

/// One part of a repository that is built and run on its own: the root of a simple
/// repository, or each app of a monorepo.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Component {
    /// Its folder, relative to the root (`.` for the root).
    pub path: String,
    /// Its name: from its manifest, else its folder.
    pub name: String,
    /// What it is: `service`, `static_site`, `library`, `worker` or `cli`.
    pub kind: Option<Fact<String>>,
    /// Its languages, most certain first.
    pub languages: Vec<Fact<String>>,
    /// The manifests that define it.
    pub manifests: Vec<String>,
    /// Its package manager (`pip`, `poetry`, `uv`, `npm`, `pnpm`, `cargo`, …).
    pub package_manager: Option<Fact<String>>,
    /// Its frameworks (`flask`, `django`, `express`, `axum`, …).
    pub frameworks: Vec<Fact<String>>,
    /// Runtime version constraints, as `python >=3.11`, `node 20`.
    pub runtime_versions: Vec<Fact<String>>,
    /// Its dependencies.
    pub dependencies: Vec<Dependency>,
    /// System packages its dependencies need (Debian names).
    pub system_packages: Vec<Fact<String>>,
    /// How to install its dependencies.
    pub install_command: Option<Fact<String>>,
    /// How to build it, when it needs a build.
    pub build_command: Option<Fact<String>>,
    /// How to start it.
    pub start_command: Option<Fact<String>>,
    /// The port it listens on.
    pub port: Option<Fact<u16>>,
    /// Whether it reads its port from `PORT`.
    pub reads_port_env: Option<Fact<bool>>,
    /// The address it binds, when the code fixes one (`127.0.0.1`, `0.0.0.0`).
    pub bind_host: Option<Fact<String>>,
    /// How to run its tests.
    pub test_command: Option<Fact<String>>,
    /// The environment variables it reads or documents.
    pub env_vars: Vec<EnvVar>,
    /// The env template files (`.env.example`, …).
    pub env_files: Vec<String>,
    /// The databases and services it needs (`postgresql`, `redis`, `sqlite`, …).
    pub databases: Vec<Fact<String>>,
    /// Its migration tools (`django`, `alembic`, `prisma`, …).
    pub migrations: Vec<Fact<String>>,
    /// Why this host cannot build or run it, when it cannot.
    pub unsupported: Option<String>,
    /// Where candidates disagreed.
    pub conflicts: Vec<Conflict>,
    /// The pages it serves that a user would open: static `GET` paths of its route
    /// table and the URLs its README gives.
    #[serde(default)]
    pub routes: Vec<Fact<String>>,
    /// Its own commands that create its database's tables (`flask init-db`, a
    /// `create_db.py`, a `db:migrate` script), as its code or README names them.
    #[serde(default)]
    pub init_commands: Vec<Fact<String>>,
    /// The services of its compose file Repo Runner can start, as `NAME KIND`
    /// (`redis redis`, `db postgresql`): the code may reach them by that host name.
    #[serde(default)]
    pub services: Vec<Fact<String>>,
}

/// Everything analysis found out about a repository.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProjectProfile {
    /// The repository's root, as given.
    pub root: String,
    /// Its components; one for a simple repository.
    pub components: Vec<Component>,
    /// The path of the component that faces the web, when one does.
    pub web_component: Option<String>,
    /// Why that one.
    pub web_component_reason: Option<String>,
    /// What could not be read, and other doubts.
    pub warnings: Vec<Warning>,
    /// How many files were looked at.
    pub files_seen: u64,
    /// How long analysis took, in milliseconds.
    pub analyze_ms: u64,
    /// The questions put to a model (none unless the request named one).
    #[serde(default)]
    pub consultations: Vec<crate::assist::Consultation>,
}

impl ProjectProfile {
    /// Returns the component at `path`.
    pub fn component(&self, path: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.path == path)
    }
}

/// A request to analyse a repository on the node that receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyzeRequest {
    /// The repository's folder, on that node.
    pub path: String,
    /// The model that may read the README for a start command the rules did not find;
    /// none unless configured.
    #[serde(default)]
    pub model: Option<String>,
    /// The tier the analysis acts for, which bounds the GPUs the model may use (the local
    /// CLI acts as the machine's owner, the Developer tier).
    #[serde(default = "crate::access::Tier::developer")]
    pub tier: crate::access::Tier,
}

/// Why a repository could not be analysed at all. (What could not be read inside it is a
/// warning in the profile instead.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum AnalyzeError {
    /// The path is not a folder.
    #[error("{path} is not a folder")]
    NotAFolder {
        /// The path given.
        path: String,
    },
    /// The analysis itself failed.
    #[error("analysis failed: {reason}")]
    Failed {
        /// What went wrong.
        reason: String,
    },
    /// The request or reply did not survive the wire.
    #[error(transparent)]
    Wire(#[from] crate::codec::WireError),
}

/// The Detection agent's message enum. Variants are wire tags: never rename one.
#[derive(ractor_cluster_derive::RactorClusterMessage)]
pub enum DetectionMessage {
    /// Analyses a repository: components, languages, frameworks, commands, port, with the
    /// Requirements, Config and Database agents' parts.
    #[rpc]
    Analyze(
        crate::codec::Wire<AnalyzeRequest>,
        ractor::RpcReplyPort<crate::codec::Wire<Result<ProjectProfile, AnalyzeError>>>,
    ),
}

impl std::fmt::Debug for DetectionMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DetectionMessage::Analyze(req, _) => write!(f, "Analyze({req:?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Wire;
    use ractor::Message;

    #[tokio::test]
    async fn analyze_round_trips() {
        let req = AnalyzeRequest {
            path: "/src/app".into(),
            model: Some("smollm2".into()),
            tier: crate::access::Tier::Free,
        };
        let (tx, _rx) = ractor::concurrency::oneshot();
        let m = DetectionMessage::Analyze(Wire::new(req.clone()), ractor::RpcReplyPort::from(tx));
        match DetectionMessage::deserialize(m.serialize().unwrap()).unwrap() {
            DetectionMessage::Analyze(w, _) => assert_eq!(w, Wire::Value(req)),
        }
    }

    #[test]
    fn a_profile_survives_the_wire() {
        let mut c = Component {
            path: ".".into(),
            name: "app".into(),
            ..Component::default()
        };
        c.port = Some(Fact::new(
            5000,
            0.5,
            Evidence::line("app.py", 3, "python.run-port"),
        ));
        let p = ProjectProfile {
            root: "/x".into(),
            components: vec![c],
            ..ProjectProfile::default()
        };
        let bytes = crate::codec::encode(&p).unwrap();
        assert_eq!(crate::codec::decode::<ProjectProfile>(&bytes).unwrap(), p);
    }
}
