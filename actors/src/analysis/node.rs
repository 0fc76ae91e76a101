//! JavaScript and TypeScript rules, and plain static sites.

use super::text::line_at;
use super::{Analysis, Concerns, join};
use regex::Regex;
use reporunner_protocols::profile::{Component, Dependency, Evidence, Fact};
use serde_json::Value;
use std::sync::LazyLock;

/// Frameworks by the dependency that names them, with their default port.
const FRAMEWORKS: &[(&str, &str, u16)] = &[
    ("next", "next", 3000),
    ("nuxt", "nuxt", 3000),
    ("@nestjs/core", "nestjs", 3000),
    ("express", "express", 3000),
    ("koa", "koa", 3000),
    ("fastify", "fastify", 3000),
    ("react-scripts", "create-react-app", 3000),
    ("vite", "vite", 5173),
];

/// Database drivers by dependency.
const DATABASES: &[(&str, &str)] = &[
    ("pg", "postgresql"),
    ("postgres", "postgresql"),
    ("mysql", "mysql"),
    ("mysql2", "mysql"),
    ("redis", "redis"),
    ("ioredis", "redis"),
    ("mongoose", "mongodb"),
    ("mongodb", "mongodb"),
    ("sqlite3", "sqlite"),
    ("better-sqlite3", "sqlite"),
];

/// npm's placeholder test script, which is no test at all.
const NO_TEST: &str = "no test specified";

static LISTEN_ENV: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"process\.env\.PORT\s*(?:\|\||\?\?)\s*(\d{2,5})").unwrap());
static LISTEN_LITERAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\.listen\s*\(\s*(\d{2,5})").unwrap());
static SCRIPT_PORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:--port[ =]|-p )(\d{2,5})").unwrap());
static ENV_READ: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"process\.env\.([A-Z][A-Z0-9_]*)(\s*(?:\|\||\?\?)\s*([^\s,;)]+))?").unwrap()
});

/// Adds the JavaScript facts of the component in `dir`.
pub(crate) fn analyze(a: &mut Analysis<'_>, dir: &str, c: &mut Component, want: Concerns) {
    let pkg_path = join(dir, "package.json");
    if !a.snap.exists(&pkg_path) {
        static_site(a, dir, c);
        return;
    }
    let Some(text) = a.read(&pkg_path) else {
        return;
    };
    let pkg: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            a.warn(&pkg_path, format!("invalid JSON: {e}"));
            return;
        }
    };
    let has = |n: &str| a.snap.exists(&join(dir, n));
    let line_of = |key: &str| {
        text.lines()
            .position(|l| l.contains(&format!("\"{key}\"")))
            .map(|i| i as u32 + 1)
    };
    let ev = |key: &str, rule: &str| match line_of(key) {
        Some(l) => Evidence::line(&pkg_path, l, rule),
        None => Evidence::file(&pkg_path, rule),
    };
    let typescript = has("tsconfig.json") || pkg_dep(&pkg, "typescript").is_some();
    c.manifests.push(pkg_path.clone());
    c.languages.push(Fact::new(
        if typescript {
            "typescript"
        } else {
            "javascript"
        }
        .into(),
        1.0,
        Evidence::file(&pkg_path, "node.package-json"),
    ));
    if let Some(name) = pkg.get("name").and_then(Value::as_str) {
        c.name = name.to_string();
    }
    for (section, dev) in [("dependencies", false), ("devDependencies", true)] {
        for (name, spec) in pkg
            .get(section)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            c.dependencies.push(Dependency {
                name: name.clone(),
                spec: spec.as_str().unwrap_or("").to_string(),
                dev,
                evidence: ev(name, "node.dependency"),
            });
        }
    }

    // The package manager: the packageManager field, then the lockfiles.
    let mut pms: Vec<Fact<String>> = Vec::new();
    if let Some(pm) = pkg.get("packageManager").and_then(Value::as_str) {
        let name = pm.split('@').next().unwrap_or(pm);
        pms.push(Fact::new(
            name.into(),
            1.0,
            ev("packageManager", "node.package-manager-field"),
        ));
    }
    for (lock, pm) in [
        ("pnpm-lock.yaml", "pnpm"),
        ("bun.lockb", "bun"),
        ("bun.lock", "bun"),
        (".yarnrc.yml", "yarn"),
        ("yarn.lock", "yarn"),
        ("package-lock.json", "npm"),
    ] {
        if has(lock) {
            pms.push(Fact::new(
                pm.into(),
                0.9,
                Evidence::file(join(dir, lock), "node.lockfile"),
            ));
        }
    }
    if pms.is_empty() {
        pms.push(Fact::new(
            "npm".into(),
            0.5,
            Evidence::file(&pkg_path, "node.default-npm"),
        ));
    }
    c.package_manager = super::choose(
        &mut c.conflicts,
        "package_manager",
        pms,
        "the packageManager field, then the lockfiles",
    );
    let pm = c
        .package_manager
        .as_ref()
        .map(|f| f.value.clone())
        .unwrap_or_else(|| "npm".into());
    c.install_command = c.package_manager.as_ref().map(|f| Fact {
        value: match pm.as_str() {
            "pnpm" => "pnpm install --frozen-lockfile".into(),
            "yarn" => "yarn install".into(),
            "bun" => "bun install".into(),
            _ if has("package-lock.json") => "npm ci".into(),
            _ => "npm install".into(),
        },
        confidence: f.confidence,
        evidence: f.evidence.clone(),
    });

    // The Node version.
    let mut versions = Vec::new();
    if let Some(v) = pkg
        .get("engines")
        .and_then(|e| e.get("node"))
        .and_then(Value::as_str)
    {
        versions.push(Fact::new(
            format!("node {v}"),
            0.9,
            ev("engines", "node.engines"),
        ));
    }
    for (f, rule) in [
        (".nvmrc", "node.nvmrc"),
        (".node-version", "node.node-version"),
    ] {
        if has(f)
            && let Some(v) = a
                .read(&join(dir, f))
                .map(|t| t.trim().trim_start_matches('v').to_string())
                .filter(|v| !v.is_empty())
        {
            versions.push(Fact::new(
                format!("node {v}"),
                0.8,
                Evidence::line(join(dir, f), 1, rule),
            ));
        }
    }
    if let Some(v) = super::choose(
        &mut c.conflicts,
        "node_version",
        versions,
        "engines.node, then .nvmrc, then .node-version",
    ) {
        c.runtime_versions.push(v);
    }

    // Frameworks.
    let mut default_port = None;
    for (dep, fw, port) in FRAMEWORKS {
        if let Some(d) = c.dependencies.iter().find(|d| d.name == *dep) {
            c.frameworks
                .push(Fact::new((*fw).into(), 0.9, d.evidence.clone()));
            default_port.get_or_insert(*port);
        }
    }
    let framework = c.frameworks.first().map(|f| f.value.clone());

    // Scripts.
    let scripts = pkg
        .get("scripts")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let script = |n: &str| scripts.get(n).and_then(Value::as_str).map(str::to_string);
    let run = |n: &str| {
        if pm == "npm" {
            format!("npm run {n}")
        } else {
            format!("{pm} run {n}")
        }
    };
    if script("build").is_some() {
        c.build_command = Some(Fact::new(
            run("build"),
            0.9,
            ev("build", "node.script.build"),
        ));
    }
    let mut starts: Vec<Fact<String>> = Vec::new();
    if script("start").is_some() {
        starts.push(Fact::new(
            if pm == "npm" {
                "npm start".into()
            } else {
                format!("{pm} start")
            },
            0.9,
            ev("start", "node.script.start"),
        ));
    }
    for alt in ["start:prod", "serve", "start:dev", "dev"] {
        if script(alt).is_some() {
            starts.push(Fact::new(
                run(alt),
                if alt == "dev" { 0.5 } else { 0.6 },
                ev(alt, &format!("node.script.{alt}")),
            ));
        }
    }
    // A file is a program to start only when it serves: a library's `main` is what it
    // exports (`module.exports = require('./lib')`).
    let serves = |a: &mut Analysis<'_>, file: &str| {
        a.read(&join(dir, file)).is_some_and(|t| {
            [
                ".listen(",
                "createServer(",
                "Bun.serve(",
                "serve({",
                "serve(app",
            ]
            .iter()
            .any(|n| t.contains(n))
        })
    };
    if let Some(main) = pkg.get("main").and_then(Value::as_str)
        && has(main)
        && serves(a, main)
    {
        starts.push(Fact::new(
            format!("node {main}"),
            0.6,
            ev("main", "node.main"),
        ));
    }
    for index in ["server.js", "index.js", "app.js"] {
        if has(index) && serves(a, index) {
            starts.push(Fact::new(
                format!("node {index}"),
                0.4,
                Evidence::file(join(dir, index), "node.index-file"),
            ));
            break;
        }
    }
    if framework.as_deref() == Some("vite") && starts.is_empty() {
        starts.push(Fact::new(
            "npx vite --host $HOST --port $PORT".to_string(),
            0.5,
            c.frameworks[0].evidence[0].clone(),
        ));
    }
    c.start_command = super::choose(
        &mut c.conflicts,
        "start_command",
        starts,
        "the start script, then other run scripts, then main, then an index file",
    );
    let lints = script("test").and_then(|t| lint_only(&t, &scripts, 0));
    if let Some(tools) = &lints {
        // A `test` script that only lints or type-checks runs no test: passing it proves
        // nothing about the code's behaviour.
        a.warn(
            &join(dir, "package.json"),
            format!(
                "the test script only lints or type-checks ({}): no tests to run",
                tools.join(", ")
            ),
        );
    }
    if lints.is_none() && script("test").is_some_and(|t| !t.contains(NO_TEST)) {
        c.test_command = Some(Fact::new(
            if pm == "npm" {
                "npm test".into()
            } else {
                format!("{pm} test")
            },
            0.9,
            ev("test", "node.script.test"),
        ));
    }

    // Ports: scripts, then code, then the framework's default.
    let mut ports: Vec<Fact<u16>> = Vec::new();
    for (name, s) in &scripts {
        if let Some(m) = s.as_str().and_then(|s| SCRIPT_PORT.captures(s))
            && let Ok(p) = m[1].parse()
        {
            ports.push(Fact::new(p, 0.8, ev(name, "node.script-port")));
        }
    }
    let sources: Vec<String> = a
        .snap
        .files_under(dir)
        .filter(|f| {
            (f.rel.ends_with(".js")
                || f.rel.ends_with(".ts")
                || f.rel.ends_with(".mjs")
                || f.rel.ends_with(".cjs"))
                && f.size <= 256 * 1024
                && !f.rel.contains(".min.")
                && !f.rel.split('/').any(|p| {
                    p == "dist" || p == "build" || p == "test" || p == "tests" || p == "__tests__"
                })
        })
        .take(2000)
        .map(|f| f.rel.clone())
        .collect();
    // The code is read only by the passes that use it.
    for src in sources.iter().filter(|_| want.detection || want.config) {
        let Some(code) = a.read(src) else { continue };
        for m in LISTEN_ENV.captures_iter(&code) {
            let at = line_at(&code, m.get(0).map_or(0, |x| x.start()));
            c.reads_port_env.get_or_insert(Fact::new(
                true,
                0.9,
                Evidence::line(src, at, "node.listen-env"),
            ));
            if let Ok(p) = m[1].parse() {
                ports.push(Fact::new(
                    p,
                    0.8,
                    Evidence::line(src, at, "node.listen-env"),
                ));
            }
        }
        for m in LISTEN_LITERAL.captures_iter(&code) {
            let at = line_at(&code, m.get(0).map_or(0, |x| x.start()));
            if let Ok(p) = m[1].parse() {
                ports.push(Fact::new(
                    p,
                    0.8,
                    Evidence::line(src, at, "node.listen-literal"),
                ));
            }
        }
        for m in ENV_READ.captures_iter(&code) {
            let name = &m[1];
            if name == "NODE_ENV" {
                continue;
            }
            let at = line_at(&code, m.get(0).map_or(0, |x| x.start()));
            let default = m.get(3).map(|d| {
                d.as_str()
                    .trim_matches(|ch| ch == '"' || ch == '\'' || ch == '`')
                    .to_string()
            });
            let ev = Evidence::line(src, at, "node.env-read");
            if name == "PORT" {
                c.reads_port_env
                    .get_or_insert(Fact::new(true, 0.9, ev.clone()));
            }
            super::add_env(&mut c.env_vars, name, default.is_none(), default, ev);
        }
    }
    if ports.is_empty() {
        ports.extend(super::default_port_fact(
            "node",
            default_port,
            &c.frameworks,
        ));
    }
    c.port = super::choose(
        &mut c.conflicts,
        "port",
        ports,
        "a port in a script or the code beats the framework's default",
    );
    if c.reads_port_env.is_none() && c.start_command.is_some() {
        c.reads_port_env = Some(Fact::new(
            false,
            0.5,
            Evidence::file(&pkg_path, "node.no-port-env"),
        ));
    }

    // Databases and migrations.
    for (dep, db) in DATABASES {
        if let Some(d) = c.dependencies.iter().find(|d| d.name == *dep)
            && !c.databases.iter().any(|f| f.value == *db)
        {
            c.databases
                .push(Fact::new((*db).into(), 0.8, d.evidence.clone()));
        }
    }
    let prisma = join(dir, "prisma/schema.prisma");
    if a.snap.exists(&prisma) {
        c.migrations.push(Fact::new(
            "prisma".into(),
            0.9,
            Evidence::file(&prisma, "node.prisma"),
        ));
        if let Some(schema) = a.read(&prisma)
            && let Some(provider) =
                Regex::new(r#"provider\s*=\s*"(postgresql|mysql|sqlite|mongodb)""#)
                    .unwrap()
                    .captures(&schema)
        {
            let db = provider[1].to_string();
            let at = line_at(&schema, provider.get(0).map_or(0, |x| x.start()));
            if !c.databases.iter().any(|f| f.value == db) {
                c.databases.push(Fact::new(
                    db,
                    0.9,
                    Evidence::line(&prisma, at, "node.prisma.provider"),
                ));
            }
        }
    }
    if c.dependencies.iter().any(|d| d.name == "knex") {
        let d = c.dependencies.iter().find(|d| d.name == "knex").cloned();
        if let Some(d) = d {
            c.migrations.push(Fact::new("knex".into(), 0.7, d.evidence));
        }
    }

    // What it is.
    let static_build = matches!(
        framework.as_deref(),
        Some("create-react-app") | Some("vite")
    ) && !c
        .dependencies
        .iter()
        .any(|d| ["express", "koa", "fastify"].contains(&d.name.as_str()));
    c.kind = Some(if static_build {
        Fact::new(
            "static_site".into(),
            0.7,
            c.frameworks[0].evidence[0].clone(),
        )
    } else if !c.frameworks.is_empty()
        || ["start", "start:prod", "serve"]
            .iter()
            .any(|s| script(s).is_some())
        || c.port
            .as_ref()
            .is_some_and(|p| p.evidence.iter().any(|e| e.rule.starts_with("node.listen")))
    {
        let e = c
            .start_command
            .iter()
            .chain(c.frameworks.iter())
            .flat_map(|f| f.evidence.first())
            .chain(c.port.iter().flat_map(|p| p.evidence.first()))
            .next()
            .cloned()
            .unwrap_or_else(|| Evidence::file(&pkg_path, "node.service"));
        Fact::new("service".into(), 0.8, e)
    } else {
        Fact::new(
            "library".into(),
            0.6,
            Evidence::file(&pkg_path, "node.no-entry-point"),
        )
    });
    // A library's `main` is what it exports, not a program to start.
    if c.kind.as_ref().is_some_and(|k| k.value == "library") {
        c.start_command = None;
        c.conflicts.retain(|k| k.topic != "start_command");
    }
}

fn pkg_dep<'a>(pkg: &'a Value, name: &str) -> Option<&'a Value> {
    ["dependencies", "devDependencies"]
        .iter()
        .find_map(|s| pkg.get(s)?.get(name))
}

/// A folder with an `index.html` and no build step is a static site.
fn static_site(a: &mut Analysis<'_>, dir: &str, c: &mut Component) {
    let index = join(dir, "index.html");
    if !a.snap.exists(&index) || !c.languages.is_empty() {
        return;
    }
    c.languages.push(Fact::new(
        "html".into(),
        0.9,
        Evidence::file(&index, "static.index-html"),
    ));
    c.kind = Some(Fact::new(
        "static_site".into(),
        0.9,
        Evidence::file(&index, "static.index-html"),
    ));
    c.start_command = Some(Fact::new(
        "builtin static server".into(),
        0.9,
        Evidence::file(&index, "static.index-html"),
    ));
}

/// Programs that check code without running it: linters, formatters, type checkers.
const CHECKERS: &[&str] = &[
    "eslint",
    "standard",
    "semistandard",
    "xo",
    "prettier",
    "tsc",
    "vue-tsc",
    "biome",
    "stylelint",
    "tslint",
    "jshint",
    "jscs",
    "markdownlint",
    "publint",
    "attw",
];

/// The checkers a script runs when that is all it runs (`eslint . && tsc --noEmit`,
/// `npm run lint` whose script is `standard`); `None` when any command does more.
fn lint_only(
    script: &str,
    scripts: &serde_json::Map<String, Value>,
    depth: u8,
) -> Option<Vec<String>> {
    let mut tools: Vec<String> = Vec::new();
    for command in script.split(['&', ';', '|']) {
        let mut words = command
            .split_whitespace()
            .skip_while(|w| w.contains('=') && !w.starts_with('-'))
            .peekable();
        let Some(mut program) = words.next() else {
            continue;
        };
        if program == "npx" || program == "exec" {
            program = words.find(|w| !w.starts_with('-'))?;
        }
        let program = program.rsplit('/').next().unwrap_or(program);
        // Another script of the package: what it runs.
        if matches!(program, "npm" | "yarn" | "pnpm" | "bun") {
            let rest: Vec<&str> = words.filter(|w| !w.starts_with('-')).collect();
            let name = match rest.as_slice() {
                ["run" | "run-script", name, ..] => *name,
                [name, ..] if program != "npm" => *name,
                _ => return None,
            };
            let inner = scripts.get(name).and_then(Value::as_str)?;
            if depth >= 3 {
                return None;
            }
            tools.extend(lint_only(inner, scripts, depth + 1)?);
            continue;
        }
        if !CHECKERS.contains(&program) {
            return None;
        }
        if !tools.iter().any(|t| t == program) {
            tools.push(program.to_string());
        }
    }
    (!tools.is_empty()).then_some(tools)
}
