//! Files that state intent, read over whatever the ecosystems found: Procfile, Dockerfile,
//! compose files, env templates, CI workflows and Makefiles. What a person wrote down beats
//! what a rule inferred, and the inference is kept as a conflict.

use super::text::looks_secret;
use super::{Analysis, Concerns, join};
use regex::Regex;
use reporunner_protocols::profile::{Component, Conflict, EnvVar, Evidence, Fact};
use std::sync::LazyLock;

/// Env template names, in the order they are preferred.
pub(crate) const ENV_TEMPLATES: &[&str] = &[
    ".env.example",
    ".env.sample",
    ".env.template",
    ".env.dist",
    ".env.dev-sample",
];

static PORT_IN_COMMAND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:--port[ =]|-p |--bind[ =][^ :]*:|-b [^ :]*:|:)(\d{2,5})\b").unwrap()
});
static TEST_IN_CI: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*(?:-\s*)?run:\s*((?:(?:poetry|uv|pipenv|pdm) run )?(?:pytest|python3? -m pytest|python3? manage\.py test|tox|nox|npm (?:run )?test|pnpm (?:run )?test|yarn test|cargo test|cargo nextest run|go test|make test)\b.*)$").unwrap()
});

/// A Makefile recipe line that is one test runner, maybe in a folder of its own.
static TEST_IN_RECIPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:cd [\w./-]+ && )?(?:(?:poetry|uv|pipenv|pdm) run )?(?:pytest|python3? -m pytest|python3? -m unittest|python3? manage\.py test|npm test|npm run test|cargo test|go test)\b[^;|&]*(?: && cd \.\.)?$").unwrap()
});

/// Words that mark a CI step as a linter rather than the tests.
const LINTERS: &[&str] = &[
    "flake8",
    "lint",
    "ruff",
    "mypy",
    "black",
    "isort",
    "pylint",
    "prettier",
    "fmt",
    "clippy",
    "typecheck",
];

/// Offers a stated value for a single fact: it replaces an inferred one that is less
/// certain, and either way a disagreement is kept as a conflict.
fn offer<T: Clone + PartialEq + ToString>(
    slot: &mut Option<Fact<T>>,
    conflicts: &mut Vec<Conflict>,
    topic: &str,
    stated: Fact<T>,
    reason: &str,
) {
    match slot {
        None => *slot = Some(stated),
        Some(current) if current.value == stated.value => current.evidence.extend(stated.evidence),
        Some(current) => {
            let (winner, loser) = if stated.confidence >= current.confidence {
                (stated, current.clone())
            } else {
                (current.clone(), stated)
            };
            conflicts.push(Conflict {
                topic: topic.into(),
                chosen: Some(winner.value.to_string()),
                candidates: [&winner, &loser]
                    .iter()
                    .map(|f| Fact {
                        value: f.value.to_string(),
                        confidence: f.confidence,
                        evidence: f.evidence.clone(),
                    })
                    .collect(),
                reason: reason.into(),
            });
            *slot = Some(winner);
        }
    }
}

/// Reads the intent files of the component in `dir`.
pub(crate) fn analyze(a: &mut Analysis<'_>, dir: &str, c: &mut Component, want: Concerns) {
    // A Procfile holds the start command (detection) and the release step (migrations).
    if want.detection || want.database {
        procfile(a, dir, c);
    }
    if want.detection {
        readme(a, dir, c);
        devcontainer(a, dir, c);
        dockerfile(a, dir, c);
        ci_workflows(a, dir, c);
        makefile(a, dir, c);
    }
    // A compose file holds the database images (database) and the port (detection).
    if want.database || want.detection {
        compose(a, dir, c);
    }
    // Env templates speak to all three: variables, the port, and database URLs. The pass's
    // mask keeps what is its own.
    if want.config || want.detection || want.database {
        env_templates(a, dir, c);
    }
}

fn procfile(a: &mut Analysis<'_>, dir: &str, c: &mut Component) {
    let path = join(dir, "Procfile");
    if !a.snap.exists(&path) {
        return;
    }
    let Some(text) = a.read(&path) else { return };
    let mut entries: Vec<(u32, String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some((name, cmd)) = line.split_once(':')
            && !name.trim().is_empty()
            && !name.trim().starts_with('#')
        {
            entries.push((
                i as u32 + 1,
                name.trim().to_string(),
                cmd.trim().to_string(),
            ));
        }
    }
    // web beats worker; release is a pre-start step (migrations), not the service.
    let chosen = entries
        .iter()
        .find(|(_, n, _)| n == "web")
        .or_else(|| entries.iter().find(|(_, n, _)| n != "release"));
    if let Some((line, name, cmd)) = chosen {
        let ev = Evidence::line(&path, *line, format!("procfile.{name}"));
        let reason = "a Procfile states the start command; it beats the framework's";
        offer(
            &mut c.start_command,
            &mut c.conflicts,
            "start_command",
            Fact::new(cmd.clone(), 1.0, ev.clone()),
            reason,
        );
        // gunicorn binds 0.0.0.0:$PORT by itself when PORT is set and no --bind is given.
        let gunicorn_default = cmd.split_whitespace().next() == Some("gunicorn")
            && !cmd.contains("--bind")
            && !cmd.split_whitespace().any(|w| w == "-b");
        if cmd.contains("$PORT") || gunicorn_default {
            c.reads_port_env = Some(Fact::new(true, 1.0, ev.clone()));
        } else if let Some(m) = PORT_IN_COMMAND.captures(cmd)
            && let Ok(p) = m[1].parse::<u16>()
        {
            offer(
                &mut c.port,
                &mut c.conflicts,
                "port",
                Fact::new(p, 0.95, ev.clone()),
                reason,
            );
        }
        c.kind = Some(Fact::new(
            if name == "web" { "service" } else { "worker" }.into(),
            1.0,
            ev,
        ));
    }
    if let Some((line, _, cmd)) = entries.iter().find(|(_, n, _)| n == "release") {
        c.migrations.push(Fact::new(
            format!("release: {cmd}"),
            0.9,
            Evidence::line(&path, *line, "procfile.release"),
        ));
    }
}

/// Commands a README's shell blocks show, as candidates: READMEs go stale, so these rank
/// below what the manifests and the code say, and mostly show up as conflicts to look at.
fn readme(a: &mut Analysis<'_>, dir: &str, c: &mut Component) {
    let Some(path) = ["README.md", "README.rst", "README.markdown", "readme.md"]
        .iter()
        .map(|n| join(dir, n))
        .find(|p| a.snap.exists(p))
    else {
        return;
    };
    let Some(text) = a.read(&path) else { return };
    let mut in_block = false;
    let mut shell = false;
    let (mut start, mut test) = (None, None);
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(lang) = line.strip_prefix("```") {
            in_block = !in_block;
            shell = in_block
                && matches!(
                    lang.trim(),
                    "" | "sh" | "bash" | "shell" | "console" | "zsh"
                );
            continue;
        }
        if !(in_block && shell) {
            continue;
        }
        let cmd = line.trim_start_matches("$ ").trim();
        let ev = || Evidence::line(&path, i as u32 + 1, "readme.code-block");
        let first = cmd.split_whitespace().next().unwrap_or("");
        let starts = [
            "flask run",
            "uvicorn ",
            "gunicorn ",
            "npm start",
            "npm run dev",
            "yarn dev",
            "yarn start",
            "pnpm dev",
            "pnpm start",
            "cargo run",
            "streamlit run",
            "go run",
            "python manage.py runserver",
            "fastapi run",
            "fastapi dev",
        ];
        if start.is_none()
            && (starts.iter().any(|s| cmd.starts_with(s))
                || ((first == "python" || first == "python3")
                    && cmd.split_whitespace().nth(1).is_some_and(|f| {
                        // A script of this repository: an example the README writes out
                        // for the reader (`python hello.py`) is not the project's start.
                        f.ends_with(".py") && a.snap.exists(&join(dir, f))
                    })))
        {
            start = Some(Fact::new(cmd.to_string(), 0.45, ev()));
        }
        let tests = [
            "pytest",
            "python -m pytest",
            "npm test",
            "yarn test",
            "pnpm test",
            "cargo test",
            "python -m unittest",
            "tox",
            "go test",
        ];
        if test.is_none()
            && tests
                .iter()
                .any(|t| cmd == *t || cmd.starts_with(&format!("{t} ")))
        {
            test = Some(Fact::new(cmd.to_string(), 0.45, ev()));
        }
    }
    if let Some(s) = start {
        offer(
            &mut c.start_command,
            &mut c.conflicts,
            "start_command",
            s,
            "the README shows this command",
        );
    }
    if let Some(t) = test {
        offer(
            &mut c.test_command,
            &mut c.conflicts,
            "test_command",
            t,
            "the README shows this command",
        );
    }
}

/// devcontainer.json (JSON with comments): `forwardPorts` states the port.
fn devcontainer(a: &mut Analysis<'_>, dir: &str, c: &mut Component) {
    for name in [".devcontainer/devcontainer.json", ".devcontainer.json"] {
        let path = join(dir, name);
        if !a.snap.exists(&path) {
            continue;
        }
        let Some(text) = a.read(&path) else { continue };
        // Strip // line comments, which the format allows and JSON does not.
        let json: String = text
            .lines()
            .map(|l| match l.trim_start().starts_with("//") {
                true => "",
                false => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let value: serde_json::Value = match serde_json::from_str(&json) {
            Ok(v) => v,
            Err(e) => {
                a.warn(&path, format!("invalid JSON: {e}"));
                continue;
            }
        };
        if let Some(p) = value
            .get("forwardPorts")
            .and_then(|v| v.as_array())
            .and_then(|ports| ports.first())
            .and_then(|p| p.as_u64())
            .and_then(|p| u16::try_from(p).ok())
        {
            let line = super::text::find_line(&text, "forwardPorts").unwrap_or(1);
            let ev = Evidence::line(&path, line, "devcontainer.forward-ports");
            offer(
                &mut c.port,
                &mut c.conflicts,
                "port",
                Fact::new(p, 0.9, ev),
                "the devcontainer forwards this port",
            );
        }
        return;
    }
}

fn dockerfile(a: &mut Analysis<'_>, dir: &str, c: &mut Component) {
    let path = join(dir, "Dockerfile");
    if !a.snap.exists(&path) {
        return;
    }
    let Some(text) = a.read(&path) else { return };
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        let upper = l.to_ascii_uppercase();
        if let Some(rest) = upper.strip_prefix("EXPOSE ") {
            if let Some(p) = rest
                .split_whitespace()
                .next()
                .and_then(|p| p.split('/').next())
                .and_then(|p| p.parse::<u16>().ok())
            {
                let ev = Evidence::line(&path, i as u32 + 1, "dockerfile.expose");
                offer(
                    &mut c.port,
                    &mut c.conflicts,
                    "port",
                    Fact::new(p, 0.9, ev),
                    "a Dockerfile EXPOSE states the port",
                );
            }
        } else if upper.starts_with("CMD ") {
            let raw = l[4..].trim();
            let cmd = match serde_json::from_str::<Vec<String>>(raw) {
                Ok(parts) => parts.join(" "),
                Err(_) => raw.to_string(),
            };
            let ev = Evidence::line(&path, i as u32 + 1, "dockerfile.cmd");
            // Inside an image paths differ: a candidate, below a Procfile or a framework rule.
            offer(
                &mut c.start_command,
                &mut c.conflicts,
                "start_command",
                Fact::new(cmd, 0.55, ev),
                "the Dockerfile's CMD is written for its image",
            );
        }
    }
}

fn compose(a: &mut Analysis<'_>, dir: &str, c: &mut Component) {
    for name in [
        "docker-compose.yml",
        "docker-compose.yaml",
        "compose.yml",
        "compose.yaml",
    ] {
        let path = join(dir, name);
        if !a.snap.exists(&path) {
            continue;
        }
        let Some(text) = a.read_yaml(&path) else {
            continue;
        };
        compose_port(&text, &path, c);
        for (i, line) in text.lines().enumerate() {
            let Some(image) = line.trim().strip_prefix("image:") else {
                continue;
            };
            let image = image.trim().trim_matches(|ch| ch == '"' || ch == '\'');
            let base = image
                .rsplit('/')
                .next()
                .unwrap_or(image)
                .split(':')
                .next()
                .unwrap_or("");
            let db = match base {
                "postgres" | "postgis" => "postgresql",
                "mysql" | "mariadb" => "mysql",
                "redis" | "valkey" => "redis",
                "mongo" => "mongodb",
                _ => continue,
            };
            if !c.databases.iter().any(|f| f.value == db) {
                c.databases.push(Fact::new(
                    db.into(),
                    0.95,
                    Evidence::line(&path, i as u32 + 1, "compose.image"),
                ));
            }
        }
    }
}

/// The port of the service a compose file builds from this folder (`build: .`): the
/// container side of its first `ports:` mapping.
fn compose_port(text: &str, path: &str, c: &mut Component) {
    let (mut builds_here, mut port): (bool, Option<(u16, u32)>) = (false, None);
    let mut in_ports = false;
    let mut service_indent = usize::MAX;
    for (i, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        // A new service: a key at the services' indentation.
        if t.ends_with(':') && !t.starts_with('-') && indent <= service_indent && indent > 0 {
            if builds_here && let Some((p, l)) = port {
                offer_compose(c, p, path, l);
                return;
            }
            service_indent = indent;
            builds_here = false;
            port = None;
            in_ports = false;
            continue;
        }
        if let Some(b) = t.strip_prefix("build:") {
            let b = b.trim().trim_matches(|ch| ch == '"' || ch == '\'');
            builds_here = b == "." || b == "./" || b.is_empty();
        } else if t.starts_with("ports:") {
            in_ports = true;
        } else if in_ports && let Some(entry) = t.strip_prefix('-') {
            let entry = entry.trim().trim_matches(|ch| ch == '"' || ch == '\'');
            let container = entry
                .rsplit(':')
                .next()
                .unwrap_or(entry)
                .split('/')
                .next()
                .unwrap_or("");
            if port.is_none()
                && let Ok(p) = container.parse::<u16>()
            {
                port = Some((p, i as u32 + 1));
            }
        } else if !t.starts_with('-') {
            in_ports = false;
        }
    }
    if builds_here && let Some((p, l)) = port {
        offer_compose(c, p, path, l);
    }
}

fn offer_compose(c: &mut Component, port: u16, path: &str, line: u32) {
    let ev = Evidence::line(path, line, "compose.ports");
    offer(
        &mut c.port,
        &mut c.conflicts,
        "port",
        Fact::new(port, 0.9, ev),
        "the compose file maps this port for the service it builds here",
    );
}

/// The env templates of a component: its own, else the repository root's (a compose
/// file at the root passes them to the service it builds in a folder).
fn env_templates(a: &mut Analysis<'_>, dir: &str, c: &mut Component) {
    let own = ENV_TEMPLATES.iter().any(|n| a.snap.exists(&join(dir, n)));
    let base = if own { dir } else { "." };
    for name in ENV_TEMPLATES {
        let path = join(base, name);
        if !a.snap.exists(&path) {
            continue;
        }
        let Some(text) = a.read(&path) else { continue };
        c.env_files.push(path.clone());
        for (i, line) in text.lines().enumerate() {
            let l = line.trim().trim_start_matches("export ");
            if l.starts_with('#') {
                continue;
            }
            let Some((key, value)) = l.split_once('=') else {
                continue;
            };
            let key = key.trim();
            if key.is_empty()
                || !key
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
            {
                continue;
            }
            let value = value
                .split(" #")
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches(|ch| ch == '"' || ch == '\'')
                .to_string();
            let ev = Evidence::line(&path, i as u32 + 1, "env.template");
            if key == "PORT" {
                // A project that documents PORT reads it.
                if !c.reads_port_env.as_ref().is_some_and(|f| f.value) {
                    c.reads_port_env = Some(Fact::new(true, 0.7, ev.clone()));
                }
                if let Ok(p) = value.parse::<u16>() {
                    offer(
                        &mut c.port,
                        &mut c.conflicts,
                        "port",
                        Fact::new(p, 0.95, ev.clone()),
                        "the env template sets PORT",
                    );
                }
            }
            let db = match value.split("://").next().unwrap_or("") {
                "postgres" | "postgresql" => Some("postgresql"),
                "mysql" => Some("mysql"),
                "redis" | "rediss" => Some("redis"),
                "mongodb" | "mongodb+srv" => Some("mongodb"),
                "sqlite" => Some("sqlite"),
                _ => None,
            };
            if let Some(db) = db
                && !c.databases.iter().any(|f| f.value == db)
            {
                c.databases.push(Fact::new(db.into(), 0.9, ev.clone()));
            }
            match c.env_vars.iter_mut().find(|v| v.name == key) {
                Some(v) => {
                    if v.default.is_none() && !value.is_empty() {
                        v.default = Some(value.clone());
                    }
                    v.evidence.push(ev);
                }
                None => c.env_vars.push(EnvVar {
                    name: key.to_string(),
                    // Documented with no value: the project expects it to be set.
                    required: value.is_empty(),
                    default: (!value.is_empty()).then_some(value),
                    secret: looks_secret(key),
                    evidence: vec![ev],
                }),
            }
        }
    }
}

fn ci_workflows(a: &mut Analysis<'_>, dir: &str, c: &mut Component) {
    let workflows: Vec<String> = a
        .snap
        .files_in(&join(dir, ".github/workflows"))
        .filter(|f| f.rel.ends_with(".yml") || f.rel.ends_with(".yaml"))
        .map(|f| f.rel.clone())
        .collect();
    for wf in workflows {
        let Some(text) = a.read_yaml(&wf) else {
            continue;
        };
        // The first test step that is not a linter: `tox -e flake8` and `npm run lint`
        // check style, not behaviour.
        // A step that names a GitHub Actions expression (`${{ matrix.go-version }}`) runs
        // only under Actions: no shell here can expand it.
        let step = TEST_IN_CI.captures_iter(&text).find(|m| {
            let cmd = m[1].to_ascii_lowercase();
            !LINTERS.iter().any(|l| cmd.contains(l)) && !cmd.contains("${{")
        });
        if let Some(m) = step {
            let line = super::text::line_at(&text, m.get(0).map_or(0, |x| x.start()));
            let cmd = m[1].trim().to_string();
            // CI is the best source of the test command, short of an explicit one.
            offer(
                &mut c.test_command,
                &mut c.conflicts,
                "test_command",
                Fact::new(cmd, 0.85, Evidence::line(&wf, line, "ci.test-step")),
                "the CI workflow runs this as its test step",
            );
            return;
        }
    }
}

fn makefile(a: &mut Analysis<'_>, dir: &str, c: &mut Component) {
    let Some(path) = ["Makefile", "makefile", "GNUmakefile"]
        .iter()
        .map(|n| join(dir, n))
        .find(|p| a.snap.exists(p))
    else {
        return;
    };
    let Some(text) = a.read(&path) else { return };
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(target) = line
            .split(':')
            .next()
            .filter(|_| line.contains(':') && !line.starts_with('\t') && !line.contains(":="))
        else {
            continue;
        };
        let ev = Evidence::line(&path, i as u32 + 1, "makefile.target");
        match target.trim() {
            "test" => {
                // The recipe's own test command, when it is one runner (in a folder of
                // its own, maybe): what the author runs beats what a rule infers.
                let recipe = lines[i + 1..]
                    .iter()
                    .take_while(|l| l.starts_with('\t'))
                    .map(|l| l.trim().trim_start_matches(['@', '-']).trim())
                    .enumerate()
                    .find(|(_, l)| TEST_IN_RECIPE.is_match(l));
                match recipe {
                    Some((n, cmd)) => {
                        let cmd = cmd.trim_end_matches(" && cd ..").to_string();
                        let confidence = if cmd.starts_with("cd ") { 0.95 } else { 0.6 };
                        let ev = Evidence::line(&path, (i + n) as u32 + 2, "makefile.test-recipe");
                        offer(
                            &mut c.test_command,
                            &mut c.conflicts,
                            "test_command",
                            Fact::new(cmd, confidence, ev),
                            "the Makefile's test recipe runs the tests where they are",
                        );
                    }
                    None if c.test_command.is_none() => {
                        c.test_command = Some(Fact::new("make test".into(), 0.6, ev))
                    }
                    None => {}
                }
            }
            "run" | "serve" if c.start_command.is_none() => {
                c.start_command = Some(Fact::new(format!("make {}", target.trim()), 0.5, ev))
            }
            _ => {}
        }
    }
}
