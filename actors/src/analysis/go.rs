//! Go rules: `go.mod` (module, `go` and `toolchain` lines, requirements), the `main`
//! packages and which of them serves, web frameworks, the address the code listens on
//! (`PORT`, a flag, a literal), environment variables, databases and tests.

use super::text::line_at;
use super::{Analysis, Concerns, choose, join, prefix_of};
use regex::Regex;
use reporunner_protocols::profile::{Component, Dependency, Evidence, Fact};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

/// Web frameworks by module path, with the port each listens on when the code names none.
const FRAMEWORKS: &[(&str, &str, Option<u16>)] = &[
    ("github.com/gin-gonic/gin", "gin", Some(8080)),
    ("github.com/go-chi/chi", "chi", None),
    ("github.com/labstack/echo", "echo", Some(1323)),
    ("github.com/gofiber/fiber", "fiber", Some(3000)),
    ("github.com/gorilla/mux", "gorilla-mux", None),
    ("github.com/julienschmidt/httprouter", "httprouter", None),
];

/// Database drivers by module path.
const DATABASES: &[(&str, &str)] = &[
    ("github.com/lib/pq", "postgresql"),
    ("github.com/jackc/pgx", "postgresql"),
    ("gorm.io/driver/postgres", "postgresql"),
    ("github.com/go-sql-driver/mysql", "mysql"),
    ("gorm.io/driver/mysql", "mysql"),
    ("github.com/mattn/go-sqlite3", "sqlite"),
    ("modernc.org/sqlite", "sqlite"),
    ("gorm.io/driver/sqlite", "sqlite"),
    ("github.com/glebarez/sqlite", "sqlite"),
    ("github.com/redis/go-redis", "redis"),
    ("github.com/go-redis/redis", "redis"),
    ("github.com/gomodule/redigo", "redis"),
    ("go.mongodb.org/mongo-driver", "mongodb"),
];

/// A call that listens for HTTP (or raw TCP) connections.
static LISTENS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b(?:ListenAndServe(?:TLS)?|http\.Serve|net\.Listen)\s*\(|\.(?:Run|Start|Listen|RunTLS)\(\s*(?:"[^"]*:\d+"|[a-zA-Z_][\w.]*\s*\)|fmt\.Sprintf)"#).unwrap()
});
/// An address literal the code listens on: `":8080"`, `"0.0.0.0:3000"`.
static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:ListenAndServe(?:TLS)?\(|\.Run\(|\.Start\(|\.Listen\(|Addr:)\s*"((?:\d{1,3}(?:\.\d{1,3}){3}|localhost|\[::\])?):(\d{2,5})""#).unwrap()
});
/// A port the code falls back to when `PORT` is empty: `port = "8080"` near a Getenv.
static PORT_DEFAULT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)\bport\s*:?=\s*"(\d{2,5})""#).unwrap());
/// A command-line flag of the standard library's `flag` or of pflag/cobra.
static FLAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b(?:flag|pflag|Flags\(\)|PersistentFlags\(\)|fs|flags)\.(String|Int|Uint)(?:Var)?(P)?\(\s*(?:&[\w.]+\s*,\s*)?"([\w.-]+)"\s*,\s*("[^"]*"|\d+)(?:\s*,\s*("[^"]*"|\d+))?"#).unwrap()
});
/// An environment variable the code reads.
static GETENV: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\bos\.(?:Getenv|LookupEnv)\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)"#).unwrap()
});
static PACKAGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^package\s+([A-Za-z_]\w*)").unwrap());
static IMPORT_ONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?m)^import\s+(?:[\w.]+\s+)?"([^"]+)""#).unwrap());
static IMPORT_BLOCK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?ms)^import\s*\((.*?)^\)").unwrap());
static QUOTED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#""([^"]+)""#).unwrap());

/// Flag names that set the address or port a server listens on.
const ADDRESS_FLAGS: &[&str] = &[
    "addr",
    "address",
    "listen",
    "listen-addr",
    "http",
    "http-addr",
    "http.addr",
    "bind",
    "port",
    "http-port",
    "p",
];

/// What `go.mod` says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct GoMod {
    /// The module path.
    pub(crate) module: String,
    /// The `go` line: the lowest Go the module builds with, and its language version.
    pub(crate) go: Option<String>,
    /// The `toolchain` line, without `go`: the toolchain the module prefers.
    pub(crate) toolchain: Option<String>,
    /// Each requirement: (module path, version, indirect, line).
    pub(crate) requires: Vec<(String, String, bool, u32)>,
}

/// Parses the lines of `go.mod` that matter here; anything else is passed over, as the
/// go command would report it itself.
pub(crate) fn parse_go_mod(text: &str) -> GoMod {
    let mut m = GoMod::default();
    let mut in_require = false;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i as u32 + 1;
        let (code, comment) = match raw.split_once("//") {
            Some((c, rest)) => (c.trim(), rest.trim()),
            None => (raw.trim(), ""),
        };
        if in_require {
            if code == ")" {
                in_require = false;
                continue;
            }
            let mut words = code.split_whitespace();
            if let (Some(path), Some(version)) = (words.next(), words.next()) {
                m.requires.push((
                    path.to_string(),
                    version.to_string(),
                    comment == "indirect",
                    line_no,
                ));
            }
            continue;
        }
        let mut words = code.split_whitespace();
        match words.next() {
            Some("module") => m.module = words.next().unwrap_or_default().trim_matches('"').into(),
            Some("go") => m.go = words.next().map(str::to_string),
            Some("toolchain") => {
                m.toolchain = words.next().map(|t| t.trim_start_matches("go").to_string())
            }
            Some("require") => match words.next() {
                Some("(") => in_require = true,
                Some(path) => {
                    if let Some(version) = words.next() {
                        m.requires.push((
                            path.to_string(),
                            version.to_string(),
                            comment == "indirect",
                            line_no,
                        ));
                    }
                }
                None => {}
            },
            _ => {}
        }
    }
    m
}

/// The packages `start` reaches through the module's own imports, itself included.
fn reach(packages: &BTreeMap<String, Package>, start: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut queue = vec![start.to_string()];
    while let Some(p) = queue.pop() {
        if seen.insert(p.clone())
            && let Some(k) = packages.get(&p)
        {
            queue.extend(k.imports.iter().cloned());
        }
    }
    seen
}

/// Where the Go build writes the command it builds, in the run's workspace.
pub(crate) const BIN_DIR: &str = ".reporunner/bin";

/// The name of the command a build command of these rules writes into [`BIN_DIR`].
pub(crate) fn built_binary(build: &str) -> Option<&str> {
    build
        .strip_prefix("go build -o ")?
        .strip_prefix(BIN_DIR)?
        .strip_prefix('/')?
        .split_whitespace()
        .next()
}

/// One package of the module, as its source files say.
#[derive(Debug, Default)]
struct Package {
    /// Whether it is a `main` package with a `func main`.
    main: bool,
    /// Whether its code listens for connections itself.
    listens: bool,
    /// The module's own packages it imports, by folder relative to the component.
    imports: BTreeSet<String>,
    /// The first file that listens, and the line.
    listen_at: Option<(String, u32)>,
}

/// Adds the Go facts of the component in `dir`.
pub(crate) fn analyze(a: &mut Analysis<'_>, dir: &str, c: &mut Component, want: Concerns) {
    let manifest = join(dir, "go.mod");
    if !a.snap.exists(&manifest) {
        return;
    }
    let Some(text) = a.read(&manifest) else {
        return;
    };
    let gomod = parse_go_mod(&text);
    if gomod.module.is_empty() {
        a.warn(&manifest, "go.mod has no module line");
    }
    let ev_line = |needle: &str, rule: &str| match super::text::find_line(&text, needle) {
        Some(l) => Evidence::line(&manifest, l, rule),
        None => Evidence::file(&manifest, rule),
    };
    c.manifests.push(manifest.clone());
    c.languages.push(Fact::new(
        "go".into(),
        1.0,
        Evidence::file(&manifest, "go.go-mod"),
    ));
    if let Some(last) = gomod.module.rsplit('/').next().filter(|s| !s.is_empty()) {
        c.name = last.to_string();
    }
    let sum = join(dir, "go.sum");
    c.package_manager = Some(Fact::new(
        "go".into(),
        1.0,
        if a.snap.exists(&sum) {
            Evidence::file(&sum, "go.go-sum")
        } else {
            Evidence::file(&manifest, "go.go-mod")
        },
    ));
    if !super::other::on_path("go") {
        c.unsupported = Some(
            "this host cannot build go: `go` is not on PATH (Debian package `golang-go`)".into(),
        );
    }
    let vendored = a.snap.exists(&join(dir, "vendor/modules.txt"));
    // Vendored modules are the install: the go command builds from vendor/ by itself.
    if !vendored {
        c.install_command = Some(Fact::new(
            "go mod download".into(),
            0.9,
            Evidence::file(&manifest, "go.go-mod"),
        ));
    }
    if let Some(v) = &gomod.go {
        c.runtime_versions.push(Fact::new(
            format!("go >={v}"),
            0.9,
            ev_line(&format!("go {v}"), "go.go-line"),
        ));
    }
    for (path, version, indirect, line) in &gomod.requires {
        c.dependencies.push(Dependency {
            name: path.clone(),
            spec: version.clone(),
            dev: *indirect,
            evidence: Evidence::line(&manifest, *line, "go.require"),
        });
    }
    let direct = |prefix: &str| {
        c.dependencies
            .iter()
            .find(|d| d.name == prefix || d.name.starts_with(&format!("{prefix}/")))
            .map(|d| d.evidence.clone())
    };
    let mut default_port = None;
    let mut frameworks = Vec::new();
    for (module, fw, port) in FRAMEWORKS {
        if let Some(ev) = direct(module) {
            frameworks.push(Fact::new((*fw).to_string(), 0.9, ev));
            if default_port.is_none() {
                default_port = *port;
            }
        }
    }
    let mut databases: Vec<Fact<String>> = Vec::new();
    for (module, db) in DATABASES {
        if let Some(ev) = direct(module)
            && !databases.iter().any(|d| d.value == *db)
        {
            databases.push(Fact::new((*db).to_string(), 0.8, ev));
        }
    }
    c.databases = databases;
    // golang-migrate's files (`000001_init.up.sql`), applied with its CLI in the README or
    // the Makefile: the Setup agent applies them in order unless the code runs them itself.
    if !c.databases.is_empty()
        && let Some(folder) = MIGRATION_DIRS.iter().find(|d| {
            a.snap
                .files_in(&join(dir, d))
                .any(|f| is_up_migration(f.rel.rsplit('/').next().unwrap_or(&f.rel)))
        })
    {
        let file = a
            .snap
            .files_in(&join(dir, folder))
            .find(|f| is_up_migration(f.rel.rsplit('/').next().unwrap_or(&f.rel)))
            .map(|f| f.rel.clone())
            .unwrap_or_default();
        c.migrations.push(Fact::new(
            "golang-migrate".into(),
            0.7,
            Evidence::file(file, "go.migrate-files"),
        ));
    }
    // The Database agent's pass reads no code: the drivers are in go.mod. Every other
    // pass reads it, for the build command names the main package.
    if !(want.requirements || want.detection || want.config) {
        return;
    }

    // The code: packages, which are main, which listen, what they read.
    let files: Vec<String> = a
        .snap
        .files_under(dir)
        .filter(|f| f.rel.ends_with(".go") && f.size <= 512 * 1024)
        .map(|f| f.rel.clone())
        .filter(|rel| {
            let inner = rel.strip_prefix(&prefix_of(dir)).unwrap_or(rel);
            !inner
                .split('/')
                .any(|p| p == "vendor" || p == "testdata" || p.starts_with('_'))
        })
        .take(3000)
        .collect();
    let has_tests = files.iter().any(|f| f.ends_with("_test.go"));
    if has_tests {
        c.test_command = Some(Fact::new(
            "go test ./...".into(),
            0.9,
            files
                .iter()
                .find(|f| f.ends_with("_test.go"))
                .map(|f| Evidence::file(f, "go.test-file"))
                .unwrap_or_else(|| Evidence::file(&manifest, "go.test-file")),
        ));
    }
    let prefix = prefix_of(dir);
    let mut packages: BTreeMap<String, Package> = BTreeMap::new();
    // What each package says about the address, by its folder: only the packages the
    // chosen command reaches count.
    let mut found_ports: Vec<(String, Fact<u16>)> = Vec::new();
    let mut flags: Vec<(String, String, bool, String, u32, String)> = Vec::new();
    let mut port_env: Vec<(String, Evidence)> = Vec::new();
    let mut hosts: Vec<(String, Fact<String>)> = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("_test.go")) {
        let Some(code) = a.read(file) else { continue };
        let rel = file.strip_prefix(&prefix).unwrap_or(file);
        let pkg_dir = rel.rsplit_once('/').map_or("", |(d, _)| d).to_string();
        let name = PACKAGE
            .captures(&code)
            .map(|m| m[1].to_string())
            .unwrap_or_default();
        let pkg = packages.entry(pkg_dir.clone()).or_default();
        if name == "main" && code.contains("func main()") {
            pkg.main = true;
        }
        let mut imports: Vec<String> = IMPORT_ONE
            .captures_iter(&code)
            .map(|m| m[1].to_string())
            .collect();
        for block in IMPORT_BLOCK.captures_iter(&code) {
            imports.extend(QUOTED.captures_iter(&block[1]).map(|m| m[1].to_string()));
        }
        for imp in &imports {
            if !gomod.module.is_empty()
                && let Some(rest) = imp.strip_prefix(&gomod.module)
                && (rest.is_empty() || rest.starts_with('/'))
            {
                pkg.imports.insert(rest.trim_start_matches('/').to_string());
            }
        }
        // gin's `r.Run()` without an address listens on `PORT`, else :8080.
        if imports.iter().any(|i| i == "github.com/gin-gonic/gin")
            && let Some(at) = code.find(".Run()")
        {
            let line = line_at(&code, at);
            pkg.listens = true;
            pkg.listen_at.get_or_insert((file.clone(), line));
            port_env.push((pkg_dir.clone(), Evidence::line(file, line, "go.gin-run")));
        }
        if let Some(m) = LISTENS.find(&code) {
            pkg.listens = true;
            pkg.listen_at
                .get_or_insert((file.clone(), line_at(&code, m.start())));
        }
        for m in ADDRESS.captures_iter(&code) {
            if let Ok(p) = m[2].parse::<u16>() {
                let at = line_at(&code, m.get(0).map_or(0, |x| x.start()));
                found_ports.push((
                    pkg_dir.clone(),
                    Fact::new(p, 0.8, Evidence::line(file, at, "go.listen-address")),
                ));
                let host = match &m[1] {
                    "" | "[::]" => "0.0.0.0",
                    "localhost" => "127.0.0.1",
                    h => h,
                };
                hosts.push((
                    pkg_dir.clone(),
                    Fact::new(
                        host.to_string(),
                        0.8,
                        Evidence::line(file, at, "go.listen-address"),
                    ),
                ));
            }
        }
        for m in FLAG.captures_iter(&code) {
            let flag = m[3].to_string();
            if !ADDRESS_FLAGS.contains(&flag.as_str()) || (m.get(2).is_none() && flag == "p") {
                continue;
            }
            let at = line_at(&code, m.get(0).map_or(0, |x| x.start()));
            // The P variants take a shorthand before the default.
            let default = match (m.get(2), m.get(5)) {
                (Some(_), Some(d)) => d.as_str(),
                _ => &m[4],
            }
            .trim_matches('"')
            .to_string();
            let numeric = &m[1] != "String";
            flags.push((flag, default, numeric, file.clone(), at, pkg_dir.clone()));
        }
        for m in GETENV.captures_iter(&code) {
            let var = &m[1];
            let at = line_at(&code, m.get(0).map_or(0, |x| x.start()));
            let ev = Evidence::line(file, at, "go.env-var");
            if var == "PORT" {
                port_env.push((pkg_dir.clone(), ev.clone()));
                if let Some(p) = PORT_DEFAULT
                    .captures(&code)
                    .and_then(|d| d[1].parse::<u16>().ok())
                {
                    found_ports.push((pkg_dir.clone(), Fact::new(p, 0.7, ev.clone())));
                }
            }
            super::add_env(&mut c.env_vars, var, var != "PORT", None, ev);
        }
    }
    // A package serves when it listens, or imports (through the module's own packages) one
    // that does: its own listener first.
    let serves = |start: &str| -> Option<(String, u32)> {
        let own = packages.get(start).and_then(|p| p.listen_at.clone());
        own.or_else(|| {
            reach(&packages, start)
                .iter()
                .find_map(|d| packages.get(d)?.listen_at.clone())
        })
    };
    let mains: Vec<&String> = packages
        .iter()
        .filter(|(_, p)| p.main)
        .map(|(d, _)| d)
        .collect();
    // The command that serves: among the mains that listen, the root's, then one whose
    // folder says it serves, then the shallowest.
    // A main's folder name says it serves (`server`, `api`), or it is the daemon of a
    // sibling command (`wtfd` beside `wtf`).
    let names: BTreeSet<&str> = mains
        .iter()
        .map(|d| d.rsplit('/').next().unwrap_or(d))
        .collect();
    let rank = |d: &str| {
        let last = d.rsplit('/').next().unwrap_or(d);
        let says = ["server", "serve", "api", "web", "http", "app", "service"]
            .iter()
            .any(|w| last.contains(w))
            || last
                .strip_suffix('d')
                .is_some_and(|client| names.contains(client));
        // One that listens in its own code beats one that reaches a listener through
        // the module's packages (a client of the same module's HTTP package).
        let direct = packages.get(d).is_some_and(|p| p.listens);
        (
            !d.is_empty(),
            !direct,
            !says,
            d.matches('/').count(),
            d.to_string(),
        )
    };
    let mut serving: Vec<(&String, (String, u32))> = mains
        .iter()
        .filter_map(|d| serves(d).map(|at| (*d, at)))
        .collect();
    serving.sort_by_key(|(d, _)| rank(d));
    let chosen = serving
        .first()
        .map(|(d, at)| ((*d).clone(), Some(at.clone())))
        .or_else(|| {
            let mut all = mains.clone();
            all.sort_by_key(|d| rank(d));
            all.first().map(|d| ((*d).clone(), None))
        });
    if serving.len() > 1 {
        a.warn(
            &manifest,
            format!(
                "{} commands listen ({}): the run starts {}",
                serving.len(),
                serving
                    .iter()
                    .map(|(d, _)| if d.is_empty() { "." } else { d.as_str() })
                    .collect::<Vec<_>>()
                    .join(", "),
                serving
                    .first()
                    .map(|(d, _)| if d.is_empty() { "." } else { d.as_str() })
                    .unwrap_or(".")
            ),
        );
    }
    if let Some((pkg, listen_at)) = chosen {
        let bin = match pkg.rsplit('/').next().filter(|s| !s.is_empty()) {
            Some(last) => last.to_string(),
            None => c.name.clone(),
        };
        let bin = bin
            .chars()
            .filter(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'))
            .collect::<String>();
        let bin = if bin.is_empty() { "app".into() } else { bin };
        let target = if pkg.is_empty() {
            ".".to_string()
        } else {
            format!("./{pkg}")
        };
        let main_file = files
            .iter()
            .find(|f| {
                let rel = f.strip_prefix(&prefix).unwrap_or(f);
                rel.rsplit_once('/').map_or("", |(d, _)| d) == pkg && !f.ends_with("_test.go")
            })
            .cloned()
            .unwrap_or_else(|| manifest.clone());
        let ev = Evidence::file(&main_file, "go.main-package");
        c.build_command = Some(Fact::new(
            format!("go build -o {BIN_DIR}/{bin} {target}"),
            0.9,
            ev.clone(),
        ));
        // What the packages the command reaches say about its address.
        let reach = reach(&packages, &pkg);
        let mut ports: Vec<Fact<u16>> = found_ports
            .iter()
            .filter(|(d, _)| reach.contains(d))
            .map(|(_, f)| f.clone())
            .collect();
        if let Some((_, ev)) = port_env.iter().find(|(d, _)| reach.contains(d)) {
            c.reads_port_env = Some(Fact::new(true, 0.9, ev.clone()));
        }
        if let Some((_, h)) = hosts.iter().find(|(d, _)| reach.contains(d)) {
            c.bind_host = Some(h.clone());
        }
        let mut start = format!("./{BIN_DIR}/{bin}");
        // The address flag the command defines, given the leased address, unless it reads
        // PORT already.
        if listen_at.is_some() && c.reads_port_env.is_none() {
            let best = flags
                .iter()
                .filter(|f| reach.contains(&f.5))
                .min_by_key(|(name, ..)| {
                    ADDRESS_FLAGS.iter().position(|f| f == name).unwrap_or(99)
                });
            if let Some((name, default, numeric, file, at, _)) = best {
                let port_only = *numeric
                    || default.chars().all(|ch| ch.is_ascii_digit()) && !default.is_empty()
                    || (default.is_empty() && name.contains("port"));
                let value = if port_only { "$PORT" } else { "$HOST:$PORT" };
                let dash = if name.len() == 1 { "-" } else { "--" };
                start.push_str(&format!(" {dash}{name} {value}"));
                let fev = Evidence::line(file, *at, "go.address-flag");
                c.reads_port_env = Some(Fact::new(true, 0.8, fev.clone()));
                let p = default
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse::<u16>().ok());
                if let Some(p) = p {
                    ports.push(Fact::new(p, 0.8, fev));
                }
            }
        }
        c.start_command = Some(Fact::new(start, 0.8, ev.clone()));
        c.frameworks = frameworks;
        if ports.is_empty() {
            ports.extend(super::default_port_fact("go", default_port, &c.frameworks));
        }
        c.port = choose(
            &mut c.conflicts,
            "port",
            ports,
            "an address in the code beats the framework's default",
        );
        if c.reads_port_env.is_none() {
            c.reads_port_env = Some(Fact::new(
                false,
                0.5,
                Evidence::file(&main_file, "go.no-port-env"),
            ));
        }
        c.kind = Some(match listen_at {
            Some((file, line)) => Fact::new(
                "service".into(),
                0.9,
                Evidence::line(&file, line, "go.listens"),
            ),
            None => Fact::new("cli".into(), 0.7, ev),
        });
    } else {
        c.frameworks = frameworks;
        c.build_command = Some(Fact::new(
            "go build ./...".into(),
            0.8,
            Evidence::file(&manifest, "go.library"),
        ));
        c.kind = Some(Fact::new(
            "library".into(),
            0.7,
            Evidence::file(&manifest, "go.no-main-package"),
        ));
    }
}

/// Folders that hold golang-migrate's files, relative to the module.
pub(crate) const MIGRATION_DIRS: &[&str] = &[
    "migrations",
    "schema",
    "db/migrations",
    "database/migrations",
    "sql/migrations",
    "migrate",
];

/// A golang-migrate up file: `VERSION_TITLE.up.sql`.
pub(crate) fn is_up_migration(name: &str) -> bool {
    name.ends_with(".up.sql")
        && name
            .split_once('_')
            .is_some_and(|(v, _)| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_mod_lines_are_read_with_blocks_comments_and_indirect_requirements() {
        let m = parse_go_mod(
            "module github.com/acme/notes // the notes service\n\ngo 1.22\ntoolchain go1.22.4\n\nrequire github.com/go-chi/chi/v5 v5.0.12\nrequire (\n\tgithub.com/lib/pq v1.10.9\n\tgolang.org/x/sys v0.20.0 // indirect\n)\n",
        );
        assert_eq!(m.module, "github.com/acme/notes");
        assert_eq!(m.go.as_deref(), Some("1.22"));
        assert_eq!(m.toolchain.as_deref(), Some("1.22.4"));
        assert_eq!(
            m.requires,
            vec![
                (
                    "github.com/go-chi/chi/v5".into(),
                    "v5.0.12".into(),
                    false,
                    6
                ),
                ("github.com/lib/pq".into(), "v1.10.9".into(), false, 8),
                ("golang.org/x/sys".into(), "v0.20.0".into(), true, 9),
            ]
        );
    }

    #[test]
    fn address_flags_and_listen_calls_are_recognised() {
        let code = r#"addr := flag.String("addr", ":3333", "listen address")
port := flag.Int("port", 8080, "port")
cmd.Flags().StringVarP(&listen, "listen", "l", "127.0.0.1:9000", "where")
http.ListenAndServe(*addr, r)"#;
        let found: Vec<(String, String)> = FLAG
            .captures_iter(code)
            .map(|m| {
                let d = if m.get(2).is_some() { &m[5] } else { &m[4] };
                (m[3].to_string(), d.to_string())
            })
            .collect();
        assert_eq!(
            found,
            vec![
                ("addr".into(), "\":3333\"".into()),
                ("port".into(), "8080".into()),
                ("listen".into(), "\"127.0.0.1:9000\"".into()),
            ]
        );
        assert!(LISTENS.is_match(code));
        assert!(LISTENS.is_match("r.Run(\":8080\")"));
        assert!(LISTENS.is_match("log.Fatal(e.Start(addr))"));
        assert!(
            !LISTENS.is_match("cmd.Run()"),
            "a bare Run() is not a listener"
        );
        let a = ADDRESS
            .captures(r#"srv := &http.Server{Addr: "0.0.0.0:4000"}"#)
            .unwrap();
        assert_eq!((&a[1], &a[2]), ("0.0.0.0", "4000"));
    }
}
