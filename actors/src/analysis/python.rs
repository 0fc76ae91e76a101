//! Python rules: manifests, package manager, version, dependencies, framework, app object,
//! start command, port, tests, environment variables and databases.

use super::text::{find_line, line_at, pep503};
use super::{Analysis, Concerns, add_env, choose, default_port_fact, join};
use regex::Regex;
use reporunner_protocols::profile::{Component, Conflict, Dependency, Evidence, Fact};
use std::sync::LazyLock;

/// Web frameworks by the dependency that names them, with their default port.
const FRAMEWORKS: &[(&str, &str, u16)] = &[
    ("django", "django", 8000),
    ("flask", "flask", 5000),
    ("fastapi", "fastapi", 8000),
    ("starlette", "starlette", 8000),
    ("streamlit", "streamlit", 8501),
    ("gradio", "gradio", 7860),
];

/// Database drivers by dependency.
const DATABASES: &[(&str, &str)] = &[
    ("psycopg", "postgresql"),
    ("psycopg2", "postgresql"),
    ("psycopg2-binary", "postgresql"),
    ("asyncpg", "postgresql"),
    ("pymysql", "mysql"),
    ("mysqlclient", "mysql"),
    ("redis", "redis"),
    ("pymongo", "mongodb"),
    ("motor", "mongodb"),
];

/// System packages that Python dependencies build against (Debian names).
const SYSTEM_PACKAGES: &[(&str, &str)] = &[
    ("psycopg2", "libpq-dev"),
    ("mysqlclient", "default-libmysqlclient-dev"),
    ("pycairo", "libcairo2-dev"),
    ("pdf2image", "poppler-utils"),
    ("pydub", "ffmpeg"),
];

static APP_OBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*[A-Za-z_.]+\s*)?=\s*(Flask|FastAPI|Starlette)\s*\(").unwrap()
});
/// An application factory: `def create_app(...) -> FastAPI:`, or any `def create_app(`.
static FACTORY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^def\s+(create_app|make_app|get_app|app_factory|[A-Za-z_][A-Za-z0-9_]*)\s*\([^)]*\)\s*(?:->\s*(Flask|FastAPI|Starlette)\b)?").unwrap()
});
/// A module-level call of a function: `app = create_app()`.
static MODULE_CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([A-Za-z_][A-Za-z0-9_]*)\(\s*\)").unwrap()
});
static RUN_PORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\.run\s*\([^)]*?\bport\s*=\s*(\d{2,5})").unwrap());
static RUN_HOST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\.run\s*\([^)]*?\bhost\s*=\s*["']([0-9.a-z]+)["']"#).unwrap());
/// A server from the standard library or a bare event loop: `HTTPServer(...)`,
/// `.serve_forever()`, `make_server(...)`, `web.run_app(...)`, `asyncio.start_server(...)`.
static STDLIB_SERVER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:(?:Threading)?(?:HTTP|TCP)Server\s*\(|serve_forever\s*\(|make_server\s*\(|web\.run_app\s*\(|asyncio\.start_server\s*\(|websockets\.serve\s*\()").unwrap()
});
static ENV_READ: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"os\.(?:environ\s*\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]|environ\.get\s*\(\s*["']([A-Z][A-Z0-9_]*)["']\s*(?:,\s*([^)]*))?\)|getenv\s*\(\s*["']([A-Z][A-Z0-9_]*)["']\s*(?:,\s*([^)]*))?\))"#).unwrap()
});
static REQ_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*)$").unwrap());
static ASGI: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^ASGI_APPLICATION\s*=\s*["']([A-Za-z0-9_.]+)["']"#).unwrap()
});
static WSGI: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^WSGI_APPLICATION\s*=\s*["']([A-Za-z0-9_.]+)["']"#).unwrap()
});

/// Adds the Python facts of the component in `dir`.
pub(crate) fn analyze(a: &mut Analysis<'_>, dir: &str, c: &mut Component, want: Concerns) {
    let names: Vec<String> = a.snap.files_in(dir).map(|f| f.rel.clone()).collect();
    let file = |n: &str| join(dir, n);
    let has = |n: &str| names.iter().any(|f| *f == file(n));
    let mut requirements: Vec<String> = names
        .iter()
        .filter(|f| {
            let n = f.rsplit('/').next().unwrap_or(f);
            n.starts_with("requirement") && n.ends_with(".txt")
        })
        .cloned()
        .collect();
    requirements.extend(
        a.snap
            .files_in(&file("requirements"))
            .filter(|f| f.rel.ends_with(".txt"))
            .map(|f| f.rel.clone()),
    );
    // The base file first: `requirements.txt`, then `requirements/base.txt` or a
    // production file; development and test files last. The install step uses the first.
    requirements.sort_by_key(|r| {
        let name = r.rsplit('/').next().unwrap_or(r);
        let rank = match name {
            "requirements.txt" => 0,
            "base.txt" | "common.txt" | "prod.txt" | "production.txt" | "requirements-prod.txt" => {
                1
            }
            n if ["dev", "test", "lint", "doc", "ci"]
                .iter()
                .any(|k| n.contains(k)) =>
            {
                3
            }
            _ => 2,
        };
        (rank, r.clone())
    });
    let manifests: Vec<String> = [
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "Pipfile",
        "environment.yml",
    ]
    .iter()
    .filter(|n| has(n))
    .map(|n| file(n))
    .chain(requirements.iter().cloned())
    .collect();
    if manifests.is_empty() && !has("manage.py") {
        return;
    }
    c.manifests.extend(manifests.iter().cloned());
    let first = manifests
        .first()
        .cloned()
        .unwrap_or_else(|| file("manage.py"));
    c.languages.push(Fact::new(
        "python".into(),
        1.0,
        Evidence::file(&first, "python.manifest"),
    ));

    // Dependencies, from every manifest.
    for r in &requirements {
        if r.ends_with("/requirement.txt") || r == "requirement.txt" {
            a.warn(r, "named requirement.txt: read as requirements.txt");
        }
        let dev = ["dev", "test", "lint", "doc"]
            .iter()
            .any(|k| r.rsplit('/').next().unwrap_or(r).contains(k));
        if let Some(text) = a.read(r) {
            parse_requirements(&text, r, dev, &mut c.dependencies);
        }
    }
    let pyproject = if has("pyproject.toml") {
        let p = file("pyproject.toml");
        a.read(&p).and_then(|t| match t.parse::<toml::Table>() {
            Ok(t) => Some((p, t)),
            Err(e) => {
                a.warn(&p, format!("invalid TOML: {}", e.message()));
                None
            }
        })
    } else {
        None
    };
    if let Some((p, t)) = &pyproject {
        pyproject_dependencies(t, p, &mut c.dependencies);
    }
    if has("environment.yml") {
        let p = file("environment.yml");
        if let Some(text) = a.read_yaml(&p) {
            conda_dependencies(&text, &p, &mut c.dependencies);
        }
    }
    if has("setup.cfg") {
        let p = file("setup.cfg");
        if let Some(text) = a.read(&p) {
            setup_cfg_dependencies(&text, &p, &mut c.dependencies);
        }
    }
    let pipfile = if has("Pipfile") {
        let p = file("Pipfile");
        a.read(&p).and_then(|t| match t.parse::<toml::Table>() {
            Ok(t) => Some((p, t)),
            Err(e) => {
                a.warn(&p, format!("invalid TOML: {}", e.message()));
                None
            }
        })
    } else {
        None
    };
    if let Some((p, t)) = &pipfile {
        for (section, dev) in [("packages", false), ("dev-packages", true)] {
            if let Some(pkgs) = t.get(section).and_then(|v| v.as_table()) {
                for (name, spec) in pkgs {
                    c.dependencies.push(Dependency {
                        name: pep503(name),
                        spec: spec.as_str().unwrap_or("").to_string(),
                        dev,
                        evidence: Evidence::file(p, "python.pipfile"),
                    });
                }
            }
        }
    }
    let dep = |c: &Component, name: &str| c.dependencies.iter().find(|d| d.name == name).cloned();

    if want.requirements {
        // The package manager: lockfiles decide; every candidate is kept.
        let mut pms: Vec<Fact<String>> = Vec::new();
        let add_pm = |pms: &mut Vec<Fact<String>>, value: &str, conf: f32, ev: Evidence| {
            pms.push(Fact::new(value.into(), conf, ev))
        };
        for (lock, pm) in [
            ("uv.lock", "uv"),
            ("poetry.lock", "poetry"),
            ("pdm.lock", "pdm"),
            ("Pipfile.lock", "pipenv"),
        ] {
            if has(lock) {
                add_pm(
                    &mut pms,
                    pm,
                    1.0,
                    Evidence::file(file(lock), "python.lockfile"),
                );
            }
        }
        if let Some((p, t)) = &pyproject {
            let tool = t.get("tool").and_then(|v| v.as_table());
            for (name, conf) in [("poetry", 0.8), ("uv", 0.7), ("pdm", 0.7)] {
                if tool.is_some_and(|t| t.contains_key(name)) {
                    let rule = format!("python.pyproject.tool.{name}");
                    add_pm(&mut pms, name, conf, Evidence::file(p, rule));
                }
            }
        }
        if pipfile.is_some() && !has("Pipfile.lock") {
            add_pm(
                &mut pms,
                "pipenv",
                0.7,
                Evidence::file(file("Pipfile"), "python.pipfile"),
            );
        }
        if let Some(r) = requirements.first() {
            add_pm(
                &mut pms,
                "pip",
                0.6,
                Evidence::file(r, "python.requirements"),
            );
        }
        if has("environment.yml") {
            add_pm(
                &mut pms,
                "conda",
                0.6,
                Evidence::file(file("environment.yml"), "python.conda"),
            );
        }
        if pms.is_empty() && (has("setup.py") || pyproject.is_some()) {
            let m = if has("setup.py") {
                file("setup.py")
            } else {
                file("pyproject.toml")
            };
            add_pm(&mut pms, "pip", 0.5, Evidence::file(m, "python.package"));
        }
        c.package_manager = choose(
            &mut c.conflicts,
            "package_manager",
            pms,
            "a lockfile beats a manifest; the most certain evidence wins",
        );
        let editable = has("setup.py")
            || pyproject
                .as_ref()
                .is_some_and(|(_, t)| t.contains_key("build-system"));
        c.install_command = c
            .package_manager
            .as_ref()
            .map(|pm| {
                let cmd = match pm.value.as_str() {
                    "uv" => "uv sync".to_string(),
                    "poetry" => "poetry install --no-interaction".to_string(),
                    "pdm" => "pdm install".to_string(),
                    "pipenv" => "pipenv install --dev".to_string(),
                    "conda" => "conda env update -f environment.yml".to_string(),
                    _ => {
                        let mut parts: Vec<String> = requirements
                            .iter()
                            .filter(|r| !r.contains("/requirements/") || r.ends_with("/base.txt"))
                            .take(1)
                            .map(|r| {
                                format!(
                                    "pip install -r {}",
                                    r.strip_prefix(&format!("{dir}/")).unwrap_or(r)
                                )
                            })
                            .collect();
                        if editable {
                            parts.push("pip install -e .".to_string());
                        } else if parts.is_empty() {
                            // A PEP 621 app with no build system: install what it lists, since
                            // building it as a package fails on flat layouts.
                            let listed: Vec<String> = c
                                .dependencies
                                .iter()
                                .filter(|d| {
                                    !d.dev && d.evidence.rule == "python.pyproject.dependencies"
                                })
                                .map(|d| format!("'{}{}'", d.name, d.spec))
                                .collect();
                            if !listed.is_empty() {
                                parts.push(format!("pip install {}", listed.join(" ")));
                            }
                        }
                        parts.join(" && ")
                    }
                };
                Fact {
                    value: cmd,
                    confidence: pm.confidence,
                    evidence: pm.evidence.clone(),
                }
            })
            .filter(|f| !f.value.is_empty());

        // The Python version, in the documented order.
        let mut versions: Vec<Fact<String>> = Vec::new();
        if has(".python-version") {
            let p = file(".python-version");
            // Its first version line: pyenv allows comments and several versions.
            if let Some((at, v)) = a.read(&p).and_then(|t| {
                t.lines().enumerate().find_map(|(i, l)| {
                    let v = l.split('#').next().unwrap_or("").trim();
                    let v = v.split_whitespace().next().unwrap_or("");
                    let v = v
                        .strip_prefix("python")
                        .or(v.strip_prefix("cpython-"))
                        .unwrap_or(v);
                    v.starts_with(|c: char| c.is_ascii_digit())
                        .then(|| (i as u32 + 1, v.to_string()))
                })
            }) {
                versions.push(Fact::new(
                    format!("python {v}"),
                    1.0,
                    Evidence::line(&p, at, "python.python-version"),
                ));
            }
        }
        if has("runtime.txt") {
            let p = file("runtime.txt");
            if let Some(v) = a
                .read(&p)
                .and_then(|t| t.trim().strip_prefix("python-").map(str::to_string))
            {
                versions.push(Fact::new(
                    format!("python {v}"),
                    0.9,
                    Evidence::line(&p, 1, "python.runtime-txt"),
                ));
            }
        }
        if let Some((p, t)) = &pyproject {
            let rp = t
                .get("project")
                .and_then(|v| v.get("requires-python"))
                .and_then(|v| v.as_str())
                .or_else(|| {
                    t.get("tool")?
                        .get("poetry")?
                        .get("dependencies")?
                        .get("python")?
                        .as_str()
                });
            if let Some(rp) = rp {
                versions.push(Fact::new(
                    format!("python {rp}"),
                    0.8,
                    Evidence::file(p, "python.requires-python"),
                ));
            }
        }
        if let Some((p, t)) = &pipfile
            && let Some(v) = t
                .get("requires")
                .and_then(|r| r.get("python_version"))
                .and_then(|v| v.as_str())
        {
            versions.push(Fact::new(
                format!("python {v}"),
                0.7,
                Evidence::file(p, "python.pipfile.requires"),
            ));
        }
        if let Some(v) = versions.first().cloned() {
            if versions.iter().any(|f| f.value != v.value) {
                c.conflicts.push(Conflict {
                    topic: "python_version".into(),
                    candidates: versions.clone(),
                    chosen: Some(v.value.clone()),
                    reason:
                        ".python-version, then runtime.txt, then requires-python, then the Pipfile"
                            .into(),
                });
            }
            c.runtime_versions.push(v);
        }
    }

    // Frameworks, from dependencies and from Django's manage.py.
    for (dep_name, framework, _) in FRAMEWORKS {
        if let Some(d) = dep(c, dep_name) {
            c.frameworks
                .push(Fact::new((*framework).into(), 0.9, d.evidence.clone()));
        }
    }
    if has("manage.py") && !c.frameworks.iter().any(|f| f.value == "django") {
        c.frameworks.push(Fact::new(
            "django".into(),
            0.8,
            Evidence::file(file("manage.py"), "python.django.manage-py"),
        ));
    }

    // Code: app objects, ports, hosts and environment variables.
    let sources: Vec<String> = a
        .snap
        .files_under(dir)
        .filter(|f| f.rel.ends_with(".py") && !is_test_path(&f.rel) && f.size <= 256 * 1024)
        .take(2000)
        .map(|f| f.rel.clone())
        .collect();
    let mut apps: Vec<Fact<String>> = Vec::new();
    let mut ports: Vec<Fact<u16>> = Vec::new();
    let mut serves: Option<Evidence> = None;
    for src in sources.iter().filter(|_| want.detection || want.config) {
        let Some(text) = a.read(src) else { continue };
        let module = module_name(dir, src);
        if want.detection {
            for m in APP_OBJECT.captures_iter(&text) {
                let at = line_at(&text, m.get(0).map_or(0, |x| x.start()));
                let kind = m[2].to_ascii_lowercase();
                apps.push(Fact::new(
                    format!("{kind} {module}:{}", &m[1]),
                    0.9,
                    Evidence::line(src, at, "python.app-object"),
                ));
            }
            // Factories: `app = create_app()` where create_app returns an app, or a bare
            // `create_app` that the framework's CLI can call itself.
            let kind_of_module = ["flask", "fastapi", "starlette"].into_iter().find(|k| {
                text.contains(&format!("from {k} import")) || text.contains(&format!("import {k}"))
            });
            let mut factories: Vec<(String, String, u32)> = Vec::new();
            for m in FACTORY.captures_iter(&text) {
                let name = m[1].to_string();
                let annotated = m.get(2).map(|k| k.as_str().to_ascii_lowercase());
                let conventional =
                    ["create_app", "make_app", "get_app", "app_factory"].contains(&name.as_str());
                if let Some(kind) = annotated.or_else(|| {
                    conventional
                        .then(|| kind_of_module.map(str::to_string))
                        .flatten()
                }) {
                    factories.push((
                        name,
                        kind,
                        line_at(&text, m.get(0).map_or(0, |x| x.start())),
                    ));
                }
            }
            let mut called = false;
            for m in MODULE_CALL.captures_iter(&text) {
                if let Some((_, kind, _)) = factories.iter().find(|(f, _, _)| *f == m[2]) {
                    let at = line_at(&text, m.get(0).map_or(0, |x| x.start()));
                    apps.push(Fact::new(
                        format!("{kind} {module}:{}", &m[1]),
                        0.85,
                        Evidence::line(src, at, "python.app-factory-call"),
                    ));
                    called = true;
                }
            }
            if !called {
                for (name, kind, at) in &factories {
                    let target = if kind == "flask" {
                        format!("{module}:{name}")
                    } else {
                        format!("--factory {module}:{name}")
                    };
                    apps.push(Fact::new(
                        format!("{kind} {target}"),
                        0.7,
                        Evidence::line(src, *at, "python.app-factory"),
                    ));
                }
            }
            for m in RUN_PORT.captures_iter(&text) {
                if let Ok(p) = m[1].parse::<u16>() {
                    let at = line_at(&text, m.get(0).map_or(0, |x| x.start()));
                    ports.push(Fact::new(
                        p,
                        0.8,
                        Evidence::line(src, at, "python.run-port"),
                    ));
                }
            }
            if serves.is_none()
                && let Some(m) = STDLIB_SERVER.find(&text)
            {
                serves = Some(Evidence::line(
                    src,
                    line_at(&text, m.start()),
                    "python.stdlib-server",
                ));
            }
            if let Some(m) = RUN_HOST.captures(&text) {
                let at = line_at(&text, m.get(0).map_or(0, |x| x.start()));
                c.bind_host.get_or_insert(Fact::new(
                    m[1].to_string(),
                    0.8,
                    Evidence::line(src, at, "python.run-host"),
                ));
            }
        }
        for m in ENV_READ.captures_iter(&text) {
            let at = line_at(&text, m.get(0).map_or(0, |x| x.start()));
            let (name, default) = if let Some(n) = m.get(1) {
                (n.as_str(), None)
            } else if let Some(n) = m.get(2) {
                (n.as_str(), m.get(3).map(|d| d.as_str().trim()))
            } else {
                (
                    m.get(4).map_or("", |n| n.as_str()),
                    m.get(5).map(|d| d.as_str().trim()),
                )
            };
            // Read with no default, or `.get("X").split(…)`: a method called on the value
            // means the program fails without it.
            let used_directly = text[m.get(0).map_or(0, |x| x.end())..].starts_with('.');
            let required = m.get(1).is_some() || (used_directly && m.get(3).or(m.get(5)).is_none());
            let default = default
                .filter(|d| !d.is_empty() && *d != "None")
                .map(|d| d.trim_matches(|ch| ch == '"' || ch == '\'').to_string());
            let ev = Evidence::line(src, at, "python.env-read");
            if name == "PORT" && want.detection {
                c.reads_port_env
                    .get_or_insert(Fact::new(true, 0.9, ev.clone()));
                if let Some(p) = default.as_deref().and_then(|d| d.parse::<u16>().ok()) {
                    ports.push(Fact::new(p, 0.7, ev.clone()));
                }
            }
            if want.config {
                add_env(&mut c.env_vars, name, required, default, ev);
            }
        }
    }

    // Django: the WSGI module from settings.
    let mut django_wsgi = None;
    let mut django_asgi: Option<Fact<String>> = None;
    if c.frameworks.iter().any(|f| f.value == "django") {
        for src in sources
            .iter()
            .filter(|s| s.ends_with("settings.py") || s.contains("/settings/"))
        {
            if let Some(text) = a.read(src)
                && let Some(m) = WSGI.captures(&text)
            {
                let at = line_at(&text, m.get(0).map_or(0, |x| x.start()));
                django_wsgi = Some(Fact::new(
                    m[1].trim_end_matches(".application").to_string(),
                    0.9,
                    Evidence::line(src, at, "python.django.wsgi"),
                ));
                if let Some(m) = ASGI.captures(&text) {
                    let at = line_at(&text, m.get(0).map_or(0, |x| x.start()));
                    django_asgi = Some(Fact::new(
                        m[1].trim_end_matches(".application").to_string(),
                        0.9,
                        Evidence::line(src, at, "python.django.asgi"),
                    ));
                }
                if want.database && text.contains("django.db.backends.sqlite3") {
                    let at = find_line(&text, "django.db.backends.sqlite3").unwrap_or(1);
                    c.databases.push(Fact::new(
                        "sqlite".into(),
                        0.9,
                        Evidence::line(src, at, "python.django.sqlite"),
                    ));
                }
                if want.database && text.contains("django.db.backends.postgresql") {
                    let at = find_line(&text, "django.db.backends.postgresql").unwrap_or(1);
                    c.databases.push(Fact::new(
                        "postgresql".into(),
                        0.9,
                        Evidence::line(src, at, "python.django.postgresql"),
                    ));
                }
                break;
            }
        }
        if want.database {
            c.migrations.push(Fact::new(
                "django".into(),
                0.9,
                Evidence::file(file("manage.py"), "python.django.migrate"),
            ));
        }
    }

    if want.detection {
        // The start command, from the framework and the app object.
        let framework = c.frameworks.first().map(|f| f.value.clone());
        let mut starts: Vec<Fact<String>> = Vec::new();
        for app in &apps {
            let (kind, target) = app.value.split_once(' ').unwrap_or(("", &app.value));
            let cmd = match kind {
                // FLASK_APP rather than `--app`, which Flask before 2.2 lacks.
                "flask" => format!("FLASK_APP={target} flask run --host $HOST --port $PORT"),
                _ => format!("uvicorn {target} --host $HOST --port $PORT"),
            };
            starts.push(Fact {
                value: cmd,
                confidence: app.confidence,
                evidence: app.evidence.clone(),
            });
        }
        if framework.as_deref() == Some("django") && has("manage.py") {
            starts.insert(
                0,
                Fact::new(
                    "python manage.py runserver $HOST:$PORT".into(),
                    0.9,
                    Evidence::file(file("manage.py"), "python.django.runserver"),
                ),
            );
            if let Some(asgi) = &django_asgi {
                starts.push(Fact {
                    value: format!(
                        "uvicorn {}:application --host $HOST --port $PORT",
                        asgi.value
                    ),
                    confidence: 0.6,
                    evidence: asgi.evidence.clone(),
                });
            }
            if let Some(w) = &django_wsgi {
                starts.push(Fact {
                    value: format!("gunicorn {}:application --bind $HOST:$PORT", w.value),
                    confidence: 0.6,
                    evidence: w.evidence.clone(),
                });
            }
        }
        for (fw, script) in [
            (
                "streamlit",
                "streamlit run {} --server.address $HOST --server.port $PORT",
            ),
            ("gradio", "python {}"),
        ] {
            if framework.as_deref() == Some(fw) {
                for main in ["app.py", "main.py", "streamlit_app.py"] {
                    if has(main) {
                        starts.push(Fact::new(
                            script.replace("{}", main),
                            0.7,
                            Evidence::file(file(main), "python.app-script"),
                        ));
                        break;
                    }
                }
            }
        }
        if starts.is_empty() {
            for main in [
                "main.py",
                "app.py",
                "server.py",
                "run.py",
                "start.py",
                "bot.py",
                "wsgi.py",
            ] {
                if has(main) {
                    starts.push(Fact::new(
                        format!("python {main}"),
                        0.4,
                        Evidence::file(file(main), "python.main-file"),
                    ));
                    break;
                }
            }
        }
        c.start_command = choose(
            &mut c.conflicts,
            "start_command",
            starts,
            "the framework's own runner with the app object found in the code",
        );

        // The port: the code, then the framework's default.
        let default_port = FRAMEWORKS
            .iter()
            .find(|(_, f, _)| Some(*f) == framework.as_deref())
            .map(|(_, _, p)| *p);
        if ports.is_empty() {
            ports.extend(default_port_fact("python", default_port, &c.frameworks));
        }
        c.port = choose(
            &mut c.conflicts,
            "port",
            ports,
            "a port in the code beats the framework's default",
        );
        c.reads_port_env.get_or_insert_with(|| {
            Fact::new(
                false,
                0.5,
                Evidence::file(first.clone(), "python.no-port-env"),
            )
        });

        // Tests.
        let mut tests: Vec<Fact<String>> = Vec::new();
        let setup_cfg = file("setup.cfg");
        let pytest_cfg = ["pytest.ini", "conftest.py"]
            .iter()
            .find(|n| has(n))
            .map(|n| file(n))
            .or_else(|| {
                (has("setup.cfg")
                    && a.read(&setup_cfg)
                        .is_some_and(|t| t.contains("[tool:pytest]")))
                .then(|| setup_cfg.clone())
            });
        if let Some(p) = pytest_cfg {
            tests.push(Fact::new(
                "python -m pytest".into(),
                0.9,
                Evidence::file(p, "python.pytest-config"),
            ));
        } else if let Some((p, t)) = &pyproject
            && t.get("tool").and_then(|t| t.get("pytest")).is_some()
        {
            tests.push(Fact::new(
                "python -m pytest".into(),
                0.9,
                Evidence::file(p, "python.pytest-config"),
            ));
        } else if let Some(d) = dep(c, "pytest") {
            tests.push(Fact::new("python -m pytest".into(), 0.8, d.evidence));
        }
        if has("tox.ini") {
            tests.push(Fact::new(
                "tox".into(),
                0.6,
                Evidence::file(file("tox.ini"), "python.tox"),
            ));
        }
        if framework.as_deref() == Some("django") && has("manage.py") {
            tests.push(Fact::new(
                "python manage.py test".into(),
                0.7,
                Evidence::file(file("manage.py"), "python.django.test"),
            ));
        }
        if tests.is_empty()
            && let Some(t) = a
                .snap
                .files_under(dir)
                .find(|f| is_test_path(&f.rel) && f.rel.ends_with(".py"))
        {
            tests.push(Fact::new(
                "python -m unittest discover".into(),
                0.5,
                Evidence::file(&t.rel, "python.unittest"),
            ));
        }
        c.test_command = choose(
            &mut c.conflicts,
            "test_command",
            tests,
            "pytest configuration, then tox, then the framework's runner",
        );
    }

    // Databases and migrations, from dependencies and files.
    if want.database {
        for (d, db) in DATABASES {
            if let Some(dep) = dep(c, d)
                && !c.databases.iter().any(|f| f.value == *db)
            {
                c.databases.push(Fact::new((*db).into(), 0.8, dep.evidence));
            }
        }
        if has("alembic.ini") {
            c.migrations.push(Fact::new(
                "alembic".into(),
                0.9,
                Evidence::file(file("alembic.ini"), "python.alembic"),
            ));
        } else if let Some(d) = dep(c, "flask-migrate") {
            c.migrations
                .push(Fact::new("flask-migrate".into(), 0.8, d.evidence));
        }
    }
    if want.requirements {
        for (d, pkg) in SYSTEM_PACKAGES {
            if let Some(dep) = dep(c, d) {
                c.system_packages
                    .push(Fact::new((*pkg).into(), 0.8, dep.evidence));
            }
        }
    }

    // What it is.
    if want.detection {
        c.kind = Some(if let Some(fw) = c.frameworks.first() {
            Fact::new("service".into(), fw.confidence, fw.evidence[0].clone())
        } else if let (Some(_), Some(ev)) = (&c.start_command, serves) {
            // A script that starts a server of its own (http.server, wsgiref, aiohttp).
            Fact::new("service".into(), 0.7, ev)
        } else if let Some(s) = &c.start_command {
            Fact::new("cli".into(), 0.5, s.evidence[0].clone())
        } else {
            Fact::new(
                "library".into(),
                0.6,
                Evidence::file(first, "python.no-entry-point"),
            )
        });
    }
}

fn is_test_path(rel: &str) -> bool {
    rel.split('/').any(|p| p == "tests" || p == "test")
        || rel
            .rsplit('/')
            .next()
            .is_some_and(|n| n.starts_with("test_") || n.ends_with("_test.py"))
}

/// The dotted module of a source file, relative to its component.
fn module_name(dir: &str, rel: &str) -> String {
    let inside = if dir.is_empty() {
        rel
    } else {
        rel.strip_prefix(&format!("{dir}/")).unwrap_or(rel)
    };
    inside
        .trim_end_matches(".py")
        .trim_end_matches("/__init__")
        .replace('/', ".")
}

/// The extras and version of a requirement, without its environment marker:
/// `[standard]>=0.20` from `uvicorn[standard]>=0.20; python_version > "3.8"`.
fn spec_with_extras(m: &regex::Captures<'_>) -> String {
    let extras = m.get(2).map_or("", |e| e.as_str());
    format!("{extras}{}", m[3].split(';').next().unwrap_or("").trim())
}

fn parse_requirements(text: &str, file: &str, dev: bool, out: &mut Vec<Dependency>) {
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('-') || line.contains("://")
        {
            continue;
        }
        if let Some(m) = REQ_LINE.captures(line) {
            out.push(Dependency {
                name: pep503(&m[1]),
                spec: spec_with_extras(&m),
                dev,
                evidence: Evidence::line(file, i as u32 + 1, "python.requirements"),
            });
        }
    }
}

/// Reads the packages of a conda environment.yml, its `pip:` list included. Conda's own
/// `python=3.11` pin is a runtime version, not a package.
fn conda_dependencies(text: &str, file: &str, out: &mut Vec<Dependency>) {
    for (i, line) in text.lines().enumerate() {
        let Some(item) = line.trim().strip_prefix("- ") else {
            continue;
        };
        let item = item.trim();
        if item.ends_with(':')
            || item == "pip"
            || item.starts_with("python=")
            || item.starts_with("python ")
        {
            continue;
        }
        let name_end = item
            .find(|ch: char| "=<>! ".contains(ch))
            .unwrap_or(item.len());
        out.push(Dependency {
            name: pep503(&item[..name_end]),
            spec: item[name_end..].trim().to_string(),
            dev: false,
            evidence: Evidence::line(file, i as u32 + 1, "python.conda"),
        });
    }
}

/// Reads `install_requires` and `extras_require` from setup.cfg's `[options]` sections.
fn setup_cfg_dependencies(text: &str, file: &str, out: &mut Vec<Dependency>) {
    let mut section = String::new();
    let mut key = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if let Some(s) = line
            .trim()
            .strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
        {
            section = s.to_string();
            key.clear();
            continue;
        }
        let continuation = line.starts_with(' ') || line.starts_with('\t');
        let value = if continuation {
            line.trim()
        } else if let Some((k, v)) = line.split_once('=') {
            key = k.trim().to_string();
            v.trim()
        } else {
            continue;
        };
        let dev = match (section.as_str(), key.as_str()) {
            ("options", "install_requires") => false,
            ("options.extras_require", _) | ("options", "tests_require") => true,
            _ => continue,
        };
        if value.is_empty() || value.starts_with('#') {
            continue;
        }
        if let Some(m) = REQ_LINE.captures(value) {
            out.push(Dependency {
                name: pep503(&m[1]),
                spec: spec_with_extras(&m),
                dev,
                evidence: Evidence::line(file, i as u32 + 1, "python.setup-cfg"),
            });
        }
    }
}

fn pyproject_dependencies(t: &toml::Table, file: &str, out: &mut Vec<Dependency>) {
    let mut push = |spec: &str, dev: bool, rule: &str| {
        if let Some(m) = REQ_LINE.captures(spec.trim()) {
            out.push(Dependency {
                name: pep503(&m[1]),
                spec: spec_with_extras(&m),
                dev,
                evidence: Evidence::file(file, rule),
            });
        }
    };
    if let Some(project) = t.get("project") {
        for d in project
            .get("dependencies")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(s) = d.as_str() {
                push(s, false, "python.pyproject.dependencies");
            }
        }
        for (_, deps) in project
            .get("optional-dependencies")
            .and_then(|v| v.as_table())
            .into_iter()
            .flatten()
        {
            for d in deps.as_array().into_iter().flatten() {
                if let Some(s) = d.as_str() {
                    push(s, true, "python.pyproject.optional-dependencies");
                }
            }
        }
    }
    for (_, deps) in t
        .get("dependency-groups")
        .and_then(|v| v.as_table())
        .into_iter()
        .flatten()
    {
        for d in deps.as_array().into_iter().flatten() {
            if let Some(s) = d.as_str() {
                push(s, true, "python.pyproject.dependency-groups");
            }
        }
    }
    if let Some(poetry) = t.get("tool").and_then(|t| t.get("poetry")) {
        let mut tables: Vec<(&toml::Value, bool)> = Vec::new();
        if let Some(d) = poetry.get("dependencies") {
            tables.push((d, false));
        }
        if let Some(d) = poetry.get("dev-dependencies") {
            tables.push((d, true));
        }
        for (_, g) in poetry
            .get("group")
            .and_then(|v| v.as_table())
            .into_iter()
            .flatten()
        {
            if let Some(d) = g.get("dependencies") {
                tables.push((d, true));
            }
        }
        for (deps, dev) in tables {
            for (name, spec) in deps.as_table().into_iter().flatten() {
                if name == "python" {
                    continue;
                }
                out.push(Dependency {
                    name: pep503(name),
                    spec: spec.as_str().unwrap_or("").to_string(),
                    dev,
                    evidence: Evidence::file(file, "python.poetry.dependencies"),
                });
            }
        }
    }
}
