//! What a running component offers and needs, read from its code and README: the pages a
//! user would open (its route table's static `GET` paths, the URLs its README gives), its
//! own commands that create its database's tables, and the compose services its code may
//! reach by host name. The health check asks for the pages; the Fixer runs the commands
//! and starts the services when a run shows it needs them.

use super::text::line_at;
use super::{Analysis, Concerns, join};
use regex::Regex;
use reporunner_protocols::profile::{Component, Evidence, Fact};
use std::sync::LazyLock;

/// The most routes kept per component.
const MAX_ROUTES: usize = 12;

/// The most source files read for routes and commands.
const MAX_SOURCES: usize = 400;

/// Route declarations, by the extension of the files they are in; the first group is
/// the path. Only `GET` (and any-method) routes: a health check only reads.
static ROUTES: LazyLock<Vec<(&'static [&'static str], Regex)>> = LazyLock::new(|| {
    let r = |s: &str| Regex::new(s).unwrap();
    vec![
        (
            &["py"][..],
            // Flask and FastAPI decorators, Starlette's Route(...), Django's path(...).
            r(
                r#"(?m)(?:@\w+(?:\.\w+)*\.(?:route|get|api_route)\(\s*|\bRoute\(\s*|\b(?:re_)?path\(\s*r?)['"]([^'"]*)['"]"#,
            ),
        ),
        (
            &["js", "mjs", "cjs", "ts", "mts"][..],
            r(
                r#"(?m)\b(?:app|router|server|fastify|api|route|routes)\.(?:get|all)\(\s*['"`](/[^'"`]*)['"`]"#,
            ),
        ),
        (
            &["rs"][..],
            r(
                r#"(?m)(?:\.route\(\s*"(/[^"]*)"|#\[(?:get|route)\(\s*"(/[^"]*)"|web::resource\(\s*"(/[^"]*)"\))"#,
            ),
        ),
        (
            &["go"][..],
            r(r#"(?m)(?:HandleFunc|Handle|\.GET|\.Get|\.Any)\(\s*"(?:GET )?(/[^"]*)""#),
        ),
        (
            &["java", "kt"][..],
            r(
                r#"(?m)@(?:GetMapping|RequestMapping)\(\s*(?:value\s*=\s*|path\s*=\s*)?\{?\s*"(/[^"]*)""#,
            ),
        ),
    ]
});

/// URLs a README gives for the running app, on this machine.
static README_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"https?://(?:localhost|127\.0\.0\.1|0\.0\.0\.0)(?::\d+)?(/[^\s)\]"'`<>*]*)"#)
        .unwrap()
});

/// Command names and script names that create a database's tables.
static INIT_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:(?:init|create|setup|build|make)[-_]?(?:the[-_]?)?(?:db|database|tables?|schema)|initdb|createdb|db[-_]?(?:init|create|setup))$").unwrap()
});

/// A Flask command defined in code: `@app.cli.command("init-db")` or a bare
/// `@app.cli.command()` (named after its function), or a click command added to the app.
static FLASK_COMMAND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)@(?:\w+\.cli\.command|click\.command|\w+\.command)\(\s*(?:['"]([\w-]+)['"])?[^)]*\)\s*(?:@[^\n]*\n\s*)*def (\w+)"#).unwrap()
});

/// README commands that create tables or run the schema's migrations.
static README_INIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?:FLASK_APP=\S+ )?flask (?:--app \S+ )?(?:[\w-]+)|python3? \S+\.py(?: [\w-]+)?|python3? manage\.py (?:migrate|makemigrations|createcachetable)\b.*|(?:npm run|yarn|pnpm(?: run)?) [\w:-]+|npx (?:knex|sequelize(?:-cli)?|prisma) [\w:-]+(?: [\w:-]+)*|alembic upgrade head)$").unwrap()
});

/// Reads the component's pages, table-creating commands and compose services.
pub(crate) fn analyze(a: &mut Analysis<'_>, dir: &str, c: &mut Component, want: Concerns) {
    let sources: Vec<String> = a
        .snap
        .files_under(dir)
        .filter(|f| !is_test(&f.rel) && f.size < 512 * 1024)
        .filter(|f| {
            f.rel
                .rsplit_once('.')
                .is_some_and(|(_, e)| ROUTES.iter().any(|(exts, _)| exts.contains(&e)))
        })
        .map(|f| f.rel.clone())
        .take(MAX_SOURCES)
        .collect();
    let readme = [
        "README.md",
        "README.rst",
        "README.markdown",
        "readme.md",
        "README",
    ]
    .iter()
    .map(|n| join(dir, n))
    .find(|p| a.snap.exists(p))
    .and_then(|p| a.read(&p).map(|t| (p, t)));
    if want.detection {
        routes(a, &sources, readme.as_ref(), c);
    }
    if want.database {
        init_commands(a, dir, &sources, readme.as_ref(), c);
        compose_services(a, dir, c);
    }
}

/// Whether a path is a test's, whose routes and commands are not the app's.
fn is_test(rel: &str) -> bool {
    rel.split('/').any(|p| {
        matches!(p, "test" | "tests" | "__tests__" | "spec" | "e2e")
            || p.starts_with("test_")
            || p.ends_with("_test.py")
            || p.contains(".test.")
            || p.contains(".spec.")
            || p.ends_with("_test.go")
    })
}

/// Whether a path can be asked for as it is: no parameters, globs or side effects.
fn plain_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    !path.is_empty()
        && path.len() < 100
        && !path.contains(['<', '{', ':', '*', '(', '$', '[', '\\', ' '])
        && ![
            "error", "crash", "fail", "logout", "signout", "delete", "remove", "shutdown", "exit",
            "kill", "reset", "raise", "panic", "boom", "500",
        ]
        .iter()
        .any(|w| lower.contains(w))
}

fn routes(
    a: &mut Analysis<'_>,
    sources: &[String],
    readme: Option<&(String, String)>,
    c: &mut Component,
) {
    let mut found: Vec<Fact<String>> = Vec::new();
    let push = |path: String, ev: Evidence, found: &mut Vec<Fact<String>>| {
        if plain_path(&path) && !found.iter().any(|f| f.value == path) {
            found.push(Fact::new(path, 0.7, ev));
        }
    };
    for rel in sources {
        let ext = rel.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        let Some((_, re)) = ROUTES.iter().find(|(exts, _)| exts.contains(&ext)) else {
            continue;
        };
        // Django's paths are relative and only meaningful in a URL conf.
        let django_conf = ext == "py" && rel.ends_with("urls.py");
        let Some(text) = a.read(rel) else { continue };
        for m in re.captures_iter(&text) {
            let Some(g) = (1..m.len()).find_map(|i| m.get(i)) else {
                continue;
            };
            let whole = m.get(0).map_or("", |x| x.as_str());
            let is_django = whole.contains("path(");
            if is_django && !django_conf {
                continue;
            }
            let mut path = g.as_str().to_string();
            if is_django {
                // `path("api/", ...)` in the root URL conf; a regex route is read plainly.
                path = format!("/{}", path.trim_start_matches('^').trim_end_matches('$'));
            }
            let at = line_at(&text, g.start());
            push(path, Evidence::line(rel, at, "routes.code"), &mut found);
        }
    }
    // Shallow paths first: `/api` before `/api/v1/items/stats`.
    found.sort_by_key(|f| (f.value.matches('/').count(), f.value.len()));
    if let Some((path, text)) = readme {
        let mut from_readme = Vec::new();
        for m in README_URL.captures_iter(text) {
            let p = m[1].trim_end_matches(['.', ',', ';', ':']).to_string();
            let at = line_at(text, m.get(1).map_or(0, |x| x.start()));
            if p != "/" {
                push(
                    p,
                    Evidence::line(path, at, "routes.readme"),
                    &mut from_readme,
                );
            }
        }
        // What the README says to open comes first.
        from_readme.append(&mut found);
        found = from_readme;
    }
    found.truncate(MAX_ROUTES);
    c.routes = found;
}

fn init_commands(
    a: &mut Analysis<'_>,
    dir: &str,
    sources: &[String],
    readme: Option<&(String, String)>,
    c: &mut Component,
) {
    let mut found: Vec<Fact<String>> = Vec::new();
    let push = |cmd: String, ev: Evidence, found: &mut Vec<Fact<String>>| {
        if !found.iter().any(|f| f.value == cmd) {
            found.push(Fact::new(cmd, 0.7, ev));
        }
    };
    let python = c.languages.iter().any(|l| l.value == "python");
    // Flask commands the code defines, named as Click names them (`init_db` → `init-db`).
    if python {
        for rel in sources.iter().filter(|r| r.ends_with(".py")) {
            let Some(text) = a.read(rel) else { continue };
            if !text.contains("command(") {
                continue;
            }
            for m in FLASK_COMMAND.captures_iter(&text) {
                let name = m
                    .get(1)
                    .map(|g| g.as_str().to_string())
                    .unwrap_or_else(|| m[2].replace('_', "-"));
                if INIT_NAME.is_match(&name) || INIT_NAME.is_match(&m[2]) {
                    let at = line_at(&text, m.get(0).map_or(0, |x| x.start()));
                    push(
                        format!("flask {name}"),
                        Evidence::line(rel, at, "init.flask-command"),
                        &mut found,
                    );
                }
            }
        }
        // Scripts named for what they do.
        for f in a
            .snap
            .files_in(dir)
            .chain(a.snap.files_in(&join(dir, "scripts")))
        {
            let name = f.rel.rsplit('/').next().unwrap_or(&f.rel);
            if let Some(stem) = name.strip_suffix(".py")
                && INIT_NAME.is_match(stem)
            {
                let rel = f.rel.strip_prefix(&format!("{dir}/")).unwrap_or(&f.rel);
                let rel = if dir.is_empty() || dir == "." {
                    f.rel.as_str()
                } else {
                    rel
                };
                push(
                    format!("python {rel}"),
                    Evidence::file(&f.rel, "init.script"),
                    &mut found,
                );
            }
        }
        if c.frameworks.iter().any(|f| f.value == "django")
            && a.snap.exists(&join(dir, "manage.py"))
        {
            // Apps without migration files get their tables too.
            push(
                "python manage.py migrate --run-syncdb --noinput".into(),
                Evidence::file(join(dir, "manage.py"), "init.django-syncdb"),
                &mut found,
            );
        }
    }
    // The package's own database scripts.
    let pkg = join(dir, "package.json");
    if a.snap.exists(&pkg)
        && let Some(text) = a.read(&pkg)
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(scripts) = v.get("scripts").and_then(|s| s.as_object())
    {
        let pm = c
            .package_manager
            .as_ref()
            .map(|p| p.value.as_str())
            .unwrap_or("npm");
        for key in scripts.keys() {
            let k = key.to_ascii_lowercase();
            let db_script = matches!(
                k.as_str(),
                "migrate"
                    | "db:migrate"
                    | "db:init"
                    | "db:setup"
                    | "db:create"
                    | "db:push"
                    | "migrate:latest"
                    | "migration:run"
                    | "migrations:run"
                    | "initdb"
                    | "init-db"
            );
            if db_script {
                let at = text
                    .find(&format!("\"{key}\""))
                    .map_or(1, |i| line_at(&text, i));
                push(
                    format!("{pm} run {key}"),
                    Evidence::line(&pkg, at, "init.package-script"),
                    &mut found,
                );
            }
        }
    }
    // The README's steps: commands that make tables, or that come before its start
    // command in the same block (`flask forge` then `flask run`).
    if let Some((path, text)) = readme {
        for (cmd, at) in readme_setup_steps(text) {
            let first = cmd.split_whitespace().last().unwrap_or("");
            let names_init = INIT_NAME.is_match(first.trim_end_matches(".py"))
                || cmd.contains("migrate")
                || cmd.contains("upgrade head")
                || cmd.contains("db push");
            if names_init || cmd.starts_with("flask ") {
                push(cmd, Evidence::line(path, at, "init.readme"), &mut found);
            }
        }
    }
    c.init_commands = found;
}

/// The commands of a README's shell blocks that prepare the app: those before the block's
/// start command (`flask run`, `npm start`), and any that create or migrate a database.
fn readme_setup_steps(text: &str) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut in_block = false;
    let mut block: Vec<(String, u32)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with("```") {
            if in_block {
                let start = block.iter().position(|(c, _)| is_start(c));
                for (n, (cmd, at)) in block.iter().enumerate() {
                    let before_start = start.is_some_and(|s| n < s);
                    if README_INIT.is_match(cmd)
                        && !is_start(cmd)
                        && !is_install(cmd)
                        && (before_start || cmd.contains("migrate") || cmd.contains("init"))
                    {
                        out.push((cmd.clone(), *at));
                    }
                }
                block.clear();
            }
            in_block = !in_block;
            continue;
        }
        if in_block {
            let cmd = line
                .trim_start_matches("$ ")
                .trim_start_matches("> ")
                .trim()
                .to_string();
            if !cmd.is_empty() && !cmd.starts_with('#') {
                block.push((cmd, i as u32 + 1));
            }
        }
    }
    out
}

fn is_start(cmd: &str) -> bool {
    [
        "flask run",
        "runserver",
        "uvicorn ",
        "gunicorn ",
        "npm start",
        "npm run dev",
        "npm run start",
        "yarn dev",
        "yarn start",
        "pnpm dev",
        "pnpm start",
    ]
    .iter()
    .any(|s| cmd.contains(s))
        || cmd == "python app.py"
}

fn is_install(cmd: &str) -> bool {
    [
        "install",
        " i ",
        "venv",
        "activate",
        "shell",
        "--version",
        "test",
        "lint",
    ]
    .iter()
    .any(|w| cmd.contains(w))
        || cmd.ends_with(" i")
}

/// The services of the compose file that the code may reach by name: databases Repo
/// Runner can start, keyed by the service's name.
fn compose_services(a: &mut Analysis<'_>, dir: &str, c: &mut Component) {
    let mut dirs = vec![dir.to_string()];
    if !dir.is_empty() && dir != "." {
        dirs.push(String::new());
    }
    for d in dirs {
        for name in [
            "docker-compose.yml",
            "docker-compose.yaml",
            "compose.yml",
            "compose.yaml",
        ] {
            let path = join(&d, name);
            if !a.snap.exists(&path) {
                continue;
            }
            let Some(text) = a.read(&path) else { continue };
            let Ok(docs) = yaml_rust2::YamlLoader::load_from_str(&text) else {
                continue;
            };
            let Some(services) = docs.first().and_then(|d| d["services"].as_hash()) else {
                continue;
            };
            for (key, svc) in services {
                let (Some(service), Some(image)) = (key.as_str(), svc["image"].as_str()) else {
                    continue;
                };
                let base = image
                    .rsplit('/')
                    .next()
                    .unwrap_or(image)
                    .split(':')
                    .next()
                    .unwrap_or("");
                let kind = match base {
                    "postgres" | "postgis" => "postgresql",
                    "redis" | "valkey" => "redis",
                    "mysql" | "mariadb" => "mysql",
                    "mongo" => "mongodb",
                    _ => continue,
                };
                let value = format!("{service} {kind}");
                if !c.services.iter().any(|f| f.value == value) {
                    let at = text
                        .find(&format!("{service}:"))
                        .map_or(1, |i| line_at(&text, i));
                    c.services.push(Fact::new(
                        value,
                        0.9,
                        Evidence::line(&path, at, "compose.service"),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_are_asked_for() {
        assert!(plain_path("/api/items"));
        assert!(plain_path("/docs/"));
        assert!(!plain_path("/items/<int:id>"));
        assert!(!plain_path("/users/{id}"));
        assert!(!plain_path("/users/:id"));
        assert!(!plain_path("/error"));
        assert!(!plain_path("/logout"));
        assert!(!plain_path(""));
    }

    #[test]
    fn table_names_are_recognised() {
        for n in [
            "init-db",
            "initdb",
            "init_db",
            "create_db",
            "create-tables",
            "db-init",
            "setup_database",
        ] {
            assert!(INIT_NAME.is_match(n), "{n}");
        }
        for n in ["forge", "run", "seed", "initialize"] {
            assert!(!INIT_NAME.is_match(n), "{n}");
        }
    }

    #[test]
    fn readme_steps_are_those_before_the_start_and_the_migrations() {
        let text = "# App\n```\n$ pip install -r requirements.txt\n$ flask forge\n$ flask run\n```\n\n```sh\npython manage.py migrate\n```\n";
        let steps: Vec<String> = readme_setup_steps(text).into_iter().map(|s| s.0).collect();
        assert_eq!(steps, vec!["flask forge", "python manage.py migrate"]);
    }

    #[test]
    fn flask_commands_are_named_as_click_names_them() {
        let code = "@app.cli.command()\n@click.option('--drop')\ndef initdb(drop):\n    pass\n\n@click.command('init-db')\ndef init_db_command():\n    pass\n";
        let names: Vec<String> = FLASK_COMMAND
            .captures_iter(code)
            .map(|m| {
                m.get(1)
                    .map(|g| g.as_str().to_string())
                    .unwrap_or_else(|| m[2].replace('_', "-"))
            })
            .collect();
        assert_eq!(names, vec!["initdb", "init-db"]);
    }
}
