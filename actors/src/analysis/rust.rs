//! Rust rules: Cargo manifests, binaries, web frameworks, ports and databases.

use super::text::line_at;
use super::{Analysis, Concerns, choose, join};
use regex::Regex;
use reporunner_protocols::profile::{Component, Dependency, Evidence, Fact};
use std::sync::LazyLock;

const FRAMEWORKS: &[(&str, &str, u16)] = &[
    ("axum", "axum", 3000),
    ("actix-web", "actix-web", 8080),
    ("rocket", "rocket", 8000),
    ("warp", "warp", 3030),
];

const DATABASES: &[(&str, &str)] = &[
    ("tokio-postgres", "postgresql"),
    ("postgres", "postgresql"),
    ("redis", "redis"),
    ("mongodb", "mongodb"),
    ("rusqlite", "sqlite"),
];

static BIND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""(0\.0\.0\.0|127\.0\.0\.1|localhost|\[::\]):(\d{2,5})""#).unwrap()
});
static ENV_READ: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:std::)?env::var\(\s*"([A-Z][A-Z0-9_]*)"\s*\)(\.unwrap_or(?:_else)?\(\s*(?:\|[^|]*\|\s*)?"([^"]*)")?"#).unwrap()
});

/// Adds the Rust facts of the component in `dir`.
pub(crate) fn analyze(a: &mut Analysis<'_>, dir: &str, c: &mut Component, want: Concerns) {
    let manifest = join(dir, "Cargo.toml");
    if !a.snap.exists(&manifest) {
        return;
    }
    let Some(text) = a.read(&manifest) else {
        return;
    };
    let toml: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            a.warn(&manifest, format!("invalid TOML: {}", e.message()));
            return;
        }
    };
    let line_of = |needle: &str| {
        text.lines()
            .position(|l| l.trim_start().starts_with(needle))
            .map(|i| i as u32 + 1)
    };
    let ev = |needle: &str, rule: &str| match line_of(needle) {
        Some(l) => Evidence::line(&manifest, l, rule),
        None => Evidence::file(&manifest, rule),
    };
    c.manifests.push(manifest.clone());
    c.languages.push(Fact::new(
        "rust".into(),
        1.0,
        Evidence::file(&manifest, "rust.cargo-toml"),
    ));
    let package = toml.get("package").and_then(|p| p.as_table());
    if let Some(name) = package.and_then(|p| p.get("name")).and_then(|v| v.as_str()) {
        c.name = name.to_string();
    }
    let lock = join(dir, "Cargo.lock");
    c.package_manager = Some(Fact::new(
        "cargo".into(),
        1.0,
        if a.snap.exists(&lock) {
            Evidence::file(lock, "rust.cargo-lock")
        } else {
            Evidence::file(&manifest, "rust.cargo-toml")
        },
    ));
    c.install_command = Some(Fact::new(
        "cargo fetch".into(),
        0.9,
        Evidence::file(&manifest, "rust.cargo"),
    ));
    c.build_command = Some(Fact::new(
        "cargo build --release".into(),
        0.9,
        Evidence::file(&manifest, "rust.cargo"),
    ));
    // A workspace's tests are every member's: `cargo test` in one member, or at a virtual
    // root's `default-members`, leaves the others' unrun.
    let workspace_root = if toml.contains_key("workspace") {
        Some(manifest.clone())
    } else {
        enclosing_workspace(a, dir)
    };
    c.test_command = Some(match &workspace_root {
        Some(root) => Fact::new(
            "cargo test --workspace".into(),
            0.9,
            Evidence::file(root, "rust.workspace-tests"),
        ),
        None => Fact::new(
            "cargo test".into(),
            0.9,
            Evidence::file(&manifest, "rust.cargo"),
        ),
    });
    let rust_version = package
        .and_then(|p| p.get("rust-version"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or_else(|| {
            let toolchain = join(dir, "rust-toolchain.toml");
            a.snap
                .exists(&toolchain)
                .then(|| a.read(&toolchain))
                .flatten()
                .and_then(|t| {
                    t.parse::<toml::Table>()
                        .ok()?
                        .get("toolchain")?
                        .get("channel")?
                        .as_str()
                        .map(str::to_string)
                })
        });
    if let Some(v) = rust_version {
        c.runtime_versions.push(Fact::new(
            format!("rust {v}"),
            0.9,
            ev("rust-version", "rust.rust-version"),
        ));
    }
    for section in ["dependencies", "dev-dependencies"] {
        for (name, spec) in toml
            .get(section)
            .and_then(|d| d.as_table())
            .into_iter()
            .flatten()
        {
            let spec_str = spec
                .as_str()
                .map(str::to_string)
                .or_else(|| spec.get("version")?.as_str().map(str::to_string))
                .unwrap_or_default();
            c.dependencies.push(Dependency {
                name: name.clone(),
                spec: spec_str,
                dev: section == "dev-dependencies",
                evidence: ev(&format!("{name} "), "rust.dependency"),
            });
            if name == "sqlx"
                && let Some(features) = spec.get("features").and_then(|f| f.as_array())
            {
                for f in features.iter().filter_map(|f| f.as_str()) {
                    let db = match f {
                        "postgres" => "postgresql",
                        "mysql" => "mysql",
                        "sqlite" => "sqlite",
                        _ => continue,
                    };
                    c.databases
                        .push(Fact::new(db.into(), 0.9, ev("sqlx", "rust.sqlx-feature")));
                }
            }
            if name == "diesel" {
                c.migrations
                    .push(Fact::new("diesel".into(), 0.8, ev("diesel", "rust.diesel")));
            }
        }
    }
    if c.dependencies.iter().any(|d| d.name == "sqlx")
        && a.snap
            .files_under(&join(dir, "migrations"))
            .next()
            .is_some()
    {
        c.migrations.push(Fact::new(
            "sqlx".into(),
            0.8,
            ev("sqlx", "rust.sqlx-migrations"),
        ));
    }
    for (dep, db) in DATABASES {
        if let Some(d) = c.dependencies.iter().find(|d| d.name == *dep)
            && !c.databases.iter().any(|f| f.value == *db)
        {
            c.databases
                .push(Fact::new((*db).into(), 0.8, d.evidence.clone()));
        }
    }
    let mut default_port = None;
    for (dep, fw, port) in FRAMEWORKS {
        if let Some(d) = c.dependencies.iter().find(|d| d.name == *dep) {
            c.frameworks
                .push(Fact::new((*fw).into(), 0.9, d.evidence.clone()));
            default_port.get_or_insert(*port);
        }
    }

    // Binaries: [[bin]] entries, else src/main.rs under the package's name.
    let mut bins: Vec<String> = toml
        .get("bin")
        .and_then(|b| b.as_array())
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("name")?.as_str().map(str::to_string))
        .collect();
    if bins.is_empty() && a.snap.exists(&join(dir, "src/main.rs")) && package.is_some() {
        bins.push(c.name.clone());
    }
    // The workspace's own build tooling (the `cargo xtask` convention, or a member the
    // workspace's `.cargo/config.toml` runs as a cargo alias) is not what the repository
    // offers its users: another member's binary leads.
    let tooling = workspace_root
        .as_deref()
        .filter(|_| !dir.is_empty())
        .and_then(|root| cargo_alias_of(a, root, &c.name))
        .or_else(|| (c.name == "xtask").then(|| Evidence::file(&manifest, "rust.xtask")));
    if let Some(bin) = bins.first() {
        let (confidence, why) = match tooling {
            Some(why) => (0.3, why),
            None => (
                0.8,
                ev(
                    if toml.contains_key("bin") {
                        "[[bin]]"
                    } else {
                        "name"
                    },
                    "rust.binary",
                ),
            ),
        };
        c.start_command = Some(Fact::new(
            format!("./target/release/{bin}"),
            confidence,
            why,
        ));
    }
    if let Some(ws) = toml
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
    {
        let members: Vec<&str> = ws.iter().filter_map(|m| m.as_str()).collect();
        if !members.is_empty() && c.start_command.is_none() {
            a.warn(
                &manifest,
                format!(
                    "a workspace of {} members: each member with a binary is its own component",
                    members.len()
                ),
            );
        }
    }

    // Ports and environment, from the code.
    let mut ports: Vec<Fact<u16>> = Vec::new();
    let sources: Vec<String> = a
        .snap
        .files_under(&join(dir, "src"))
        .filter(|f| f.rel.ends_with(".rs") && f.size <= 256 * 1024)
        .take(2000)
        .map(|f| f.rel.clone())
        .collect();
    // The code is read only by the passes that use it.
    for src in sources.iter().filter(|_| want.detection || want.config) {
        let Some(code) = a.read(src) else { continue };
        for m in BIND.captures_iter(&code) {
            let at = line_at(&code, m.get(0).map_or(0, |x| x.start()));
            if let Ok(p) = m[2].parse() {
                ports.push(Fact::new(
                    p,
                    0.8,
                    Evidence::line(src, at, "rust.bind-literal"),
                ));
            }
            let host = if &m[1] == "localhost" {
                "127.0.0.1"
            } else {
                &m[1]
            };
            c.bind_host.get_or_insert(Fact::new(
                host.to_string(),
                0.8,
                Evidence::line(src, at, "rust.bind-literal"),
            ));
        }
        for m in ENV_READ.captures_iter(&code) {
            let name = &m[1];
            let at = line_at(&code, m.get(0).map_or(0, |x| x.start()));
            let ev = Evidence::line(src, at, "rust.env-var");
            let default = m.get(3).map(|d| d.as_str().to_string());
            if name == "PORT" {
                c.reads_port_env
                    .get_or_insert(Fact::new(true, 0.9, ev.clone()));
                if let Some(p) = default.as_deref().and_then(|d| d.parse().ok()) {
                    ports.push(Fact::new(p, 0.8, ev.clone()));
                }
            }
            super::add_env(&mut c.env_vars, name, default.is_none(), default, ev);
        }
    }
    if ports.is_empty() {
        ports.extend(super::default_port_fact(
            "rust",
            default_port,
            &c.frameworks,
        ));
    }
    c.port = choose(
        &mut c.conflicts,
        "port",
        ports,
        "a port in the code beats the framework's default",
    );
    if c.reads_port_env.is_none() && c.start_command.is_some() {
        c.reads_port_env = Some(Fact::new(
            false,
            0.5,
            Evidence::file(&manifest, "rust.no-port-env"),
        ));
    }
    c.kind = Some(match (&c.start_command, c.frameworks.first()) {
        (Some(_), Some(fw)) => Fact::new("service".into(), 0.9, fw.evidence[0].clone()),
        (Some(s), None) => Fact::new("cli".into(), 0.6, s.evidence[0].clone()),
        (None, _) => Fact::new(
            "library".into(),
            0.7,
            Evidence::file(&manifest, "rust.no-binary"),
        ),
    });
}

/// The manifest of the workspace that the package in `dir` belongs to: the nearest folder
/// above it whose `Cargo.toml` has a `[workspace]` table (as cargo looks for it).
fn enclosing_workspace(a: &mut Analysis<'_>, dir: &str) -> Option<String> {
    let mut at = dir;
    while !at.is_empty() {
        at = at.rsplit_once('/').map_or("", |(parent, _)| parent);
        let manifest = join(at, "Cargo.toml");
        if !a.snap.exists(&manifest) {
            continue;
        }
        let text = a.snap.read(&manifest).ok()?;
        let toml: toml::Table = text.parse().ok()?;
        if let Some(ws) = toml.get("workspace") {
            // A folder the workspace excludes is a package of its own.
            let rel = dir.strip_prefix(&super::prefix_of(at)).unwrap_or(dir);
            let excluded = ws
                .get("exclude")
                .and_then(|e| e.as_array())
                .into_iter()
                .flatten()
                .filter_map(|e| e.as_str())
                .any(|e| {
                    let e = e.trim_end_matches('/');
                    rel == e || rel.starts_with(&format!("{e}/"))
                });
            return (!excluded).then_some(manifest);
        }
    }
    None
}

/// Where the workspace of the manifest `root` makes package `name` a cargo alias (`xtask =
/// "run --package xtask --"` in `.cargo/config.toml`): its build tooling.
fn cargo_alias_of(a: &mut Analysis<'_>, root: &str, name: &str) -> Option<Evidence> {
    let root = root.rsplit_once('/').map_or("", |(dir, _)| dir);
    for file in [".cargo/config.toml", ".cargo/config"] {
        let path = join(root, file);
        if !a.snap.exists(&path) {
            continue;
        }
        let Ok(text) = a.snap.read(&path) else {
            continue;
        };
        let Ok(toml) = text.parse::<toml::Table>() else {
            continue;
        };
        let aliases = toml.get("alias").and_then(|t| t.as_table());
        for (alias, value) in aliases.into_iter().flatten() {
            let words: Vec<String> = match value {
                toml::Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
                toml::Value::Array(a) => a
                    .iter()
                    .filter_map(|w| w.as_str().map(str::to_string))
                    .collect(),
                _ => continue,
            };
            let runs_it = words.first().is_some_and(|w| w == "run")
                && words.windows(2).any(|w| {
                    (w[0] == "-p" || w[0] == "--package") && w[1] == name
                        || w[0] == format!("--package={name}")
                });
            if runs_it {
                let line = text
                    .lines()
                    .position(|l| l.trim_start().starts_with(alias.as_str()))
                    .map_or(1, |i| i as u32 + 1);
                return Some(Evidence::line(&path, line, "rust.cargo-alias"));
            }
        }
    }
    None
}
