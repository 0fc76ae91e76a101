//! Analysis of the fixture repositories under `tests/fixtures/repos`, field by field.

use super::*;
use reporunner_protocols::profile::{Component, ProjectProfile};
use std::path::PathBuf;

fn fixture(name: &str) -> ProjectProfile {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/repos")
        .join(name);
    analyze(&root).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn root(p: &ProjectProfile) -> &Component {
    p.component(".").expect("a root component")
}

fn v<T: Clone>(f: &Option<Fact<T>>) -> Option<T> {
    f.as_ref().map(|f| f.value.clone())
}

fn values(fs: &[Fact<String>]) -> Vec<&str> {
    fs.iter().map(|f| f.value.as_str()).collect()
}

#[test]
fn flask_reads_port_from_the_environment() {
    let p = fixture("py-flask-basic");
    let c = root(&p);
    assert_eq!(values(&c.languages), vec!["python"]);
    assert_eq!(v(&c.package_manager).as_deref(), Some("pip"));
    assert_eq!(
        v(&c.install_command).as_deref(),
        Some("pip install -r requirements.txt")
    );
    assert_eq!(values(&c.frameworks), vec!["flask"]);
    assert_eq!(
        v(&c.start_command).as_deref(),
        Some("FLASK_APP=app:app flask run --host $HOST --port $PORT")
    );
    let port = c.port.as_ref().unwrap();
    assert_eq!(port.value, 5000);
    assert_eq!(port.evidence[0].file, "app.py");
    assert_eq!(port.evidence[0].line, Some(14));
    assert_eq!(v(&c.reads_port_env), Some(true));
    assert_eq!(v(&c.bind_host).as_deref(), Some("0.0.0.0"));
    assert_eq!(v(&c.kind).as_deref(), Some("service"));
    assert!(
        c.dependencies
            .iter()
            .any(|d| d.name == "flask" && d.spec == "==3.0.3")
    );
    assert_eq!(p.web_component.as_deref(), Some("."));
}

#[test]
fn fastapi_app_object_is_found_in_a_package() {
    let p = fixture("py-fastapi");
    let c = root(&p);
    assert_eq!(values(&c.frameworks), vec!["fastapi"]);
    assert_eq!(
        v(&c.start_command).as_deref(),
        Some("uvicorn app.main:api --host $HOST --port $PORT")
    );
    let app = c.start_command.as_ref().unwrap();
    assert_eq!(
        (app.evidence[0].file.as_str(), app.evidence[0].line),
        ("app/main.py", Some(6))
    );
    assert_eq!(v(&c.port), Some(8000));
    assert_eq!(v(&c.reads_port_env), Some(false));
    assert_eq!(v(&c.test_command).as_deref(), Some("python -m pytest"));
    assert_eq!(values(&c.runtime_versions), vec!["python >=3.10"]);
    assert_eq!(values(&c.databases), vec!["postgresql"]);
    let db_url = c
        .env_vars
        .iter()
        .find(|e| e.name == "DATABASE_URL")
        .unwrap();
    assert!(db_url.required && !db_url.secret);
    assert_eq!(
        v(&c.install_command).as_deref(),
        Some("pip install 'fastapi>=0.110' 'uvicorn[standard]' 'sqlalchemy>=2' 'psycopg2-binary'")
    );
    assert!(c.dependencies.iter().any(|d| d.name == "pytest" && d.dev));
}

#[test]
fn django_with_sqlite() {
    let p = fixture("py-django-sqlite");
    let c = root(&p);
    assert_eq!(values(&c.frameworks), vec!["django"]);
    assert_eq!(
        v(&c.start_command).as_deref(),
        Some("python manage.py runserver $HOST:$PORT")
    );
    assert!(c.conflicts.iter().any(|k| {
        k.topic == "start_command"
            && k.candidates
                .iter()
                .any(|f| f.value == "gunicorn mysite.wsgi:application --bind $HOST:$PORT")
    }));
    assert_eq!(values(&c.databases), vec!["sqlite"]);
    assert_eq!(c.databases[0].evidence[0].file, "mysite/settings.py");
    assert_eq!(values(&c.migrations), vec!["django"]);
    assert_eq!(v(&c.test_command).as_deref(), Some("python manage.py test"));
    assert_eq!(v(&c.port), Some(8000));
    let secret = c
        .env_vars
        .iter()
        .find(|e| e.name == "DJANGO_SECRET_KEY")
        .unwrap();
    assert!(secret.secret && !secret.required);
    assert_eq!(secret.default.as_deref(), Some("dev-only"));
}

#[test]
fn poetry_project_with_a_lockfile() {
    let p = fixture("py-poetry");
    let c = root(&p);
    assert_eq!(v(&c.package_manager).as_deref(), Some("poetry"));
    assert_eq!(
        c.package_manager.as_ref().unwrap().evidence[0].file,
        "poetry.lock"
    );
    assert_eq!(
        v(&c.install_command).as_deref(),
        Some("poetry install --no-interaction")
    );
    assert_eq!(values(&c.runtime_versions), vec!["python ^3.11"]);
    assert_eq!(values(&c.databases), vec!["redis"]);
    assert_eq!(
        v(&c.start_command).as_deref(),
        Some("FLASK_APP=notes:app flask run --host $HOST --port $PORT")
    );
    assert!(c.dependencies.iter().any(|d| d.name == "pytest" && d.dev));
}

#[test]
fn uv_project_with_a_python_version_file() {
    let p = fixture("py-uv");
    let c = root(&p);
    assert_eq!(v(&c.package_manager).as_deref(), Some("uv"));
    assert_eq!(v(&c.install_command).as_deref(), Some("uv sync"));
    // .python-version wins over requires-python, and the disagreement is kept.
    assert_eq!(values(&c.runtime_versions), vec!["python 3.12"]);
    assert!(c.conflicts.iter().any(|k| k.topic == "python_version"));
    assert_eq!(values(&c.frameworks), vec!["starlette"]);
    assert_eq!(
        v(&c.start_command).as_deref(),
        Some("uvicorn main:app --host $HOST --port $PORT")
    );
}

#[test]
fn a_misspelled_requirements_file_is_read_with_a_warning() {
    let p = fixture("py-requirement-typo");
    let c = root(&p);
    assert_eq!(v(&c.package_manager).as_deref(), Some("pip"));
    assert_eq!(values(&c.frameworks), vec!["flask"]);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.file.as_deref() == Some("requirement.txt")
                && w.message.contains("requirements.txt"))
    );
}

#[test]
fn an_app_that_binds_localhost_and_ignores_port() {
    let p = fixture("py-binds-localhost");
    let c = root(&p);
    assert_eq!(v(&c.bind_host).as_deref(), Some("127.0.0.1"));
    assert_eq!(v(&c.port), Some(8080));
    assert_eq!(v(&c.reads_port_env), Some(false));
    // The code's port beats Flask's default, and the default is kept as a candidate.
    assert_eq!(c.port.as_ref().unwrap().evidence[0].rule, "python.run-port");
}

#[test]
fn pipenv_with_a_python_version() {
    let p = fixture("py-pipenv");
    let c = root(&p);
    assert_eq!(v(&c.package_manager).as_deref(), Some("pipenv"));
    assert_eq!(values(&c.runtime_versions), vec!["python 3.10"]);
    assert_eq!(values(&c.frameworks), vec!["fastapi"]);
    assert_eq!(
        v(&c.start_command).as_deref(),
        Some("uvicorn api:app --host $HOST --port $PORT")
    );
}

#[test]
fn a_library_has_no_start_command() {
    let p = fixture("py-library");
    let c = root(&p);
    assert_eq!(v(&c.kind).as_deref(), Some("library"));
    assert!(c.start_command.is_none());
    assert_eq!(v(&c.test_command).as_deref(), Some("python -m pytest"));
    assert_eq!(v(&c.install_command).as_deref(), Some("pip install -e ."));
    assert!(p.web_component.is_none());
}

#[test]
fn invalid_toml_is_a_warning_and_the_rest_is_still_read() {
    let p = fixture("py-bad-toml");
    let c = root(&p);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.file.as_deref() == Some("pyproject.toml")
                && w.message.contains("invalid TOML"))
    );
    assert!(c.dependencies.iter().any(|d| d.name == "requests"));
}

#[test]
fn a_path_that_is_not_a_folder_is_refused() {
    let err = analyze(std::path::Path::new("/definitely/not/here")).unwrap_err();
    assert!(err.to_string().contains("not a folder"));
}

#[test]
fn express_with_a_lockfile_and_port_from_the_environment() {
    let p = fixture("node-express");
    let c = root(&p);
    assert_eq!(c.name, "todo-api");
    assert_eq!(values(&c.languages), vec!["javascript"]);
    assert_eq!(v(&c.package_manager).as_deref(), Some("npm"));
    assert_eq!(v(&c.install_command).as_deref(), Some("npm ci"));
    assert_eq!(values(&c.frameworks), vec!["express"]);
    assert_eq!(v(&c.start_command).as_deref(), Some("npm start"));
    assert_eq!(v(&c.test_command).as_deref(), Some("npm test"));
    let port = c.port.as_ref().unwrap();
    assert_eq!(
        (
            port.value,
            port.evidence[0].file.as_str(),
            port.evidence[0].line
        ),
        (3000, "server.js", Some(7))
    );
    assert_eq!(v(&c.reads_port_env), Some(true));
    assert_eq!(values(&c.runtime_versions), vec!["node >=18"]);
    assert_eq!(values(&c.databases), vec!["postgresql"]);
    assert!(
        c.env_vars
            .iter()
            .any(|e| e.name == "DATABASE_URL" && e.required)
    );
    assert_eq!(v(&c.kind).as_deref(), Some("service"));
}

#[test]
fn next_with_pnpm_from_the_package_manager_field() {
    let p = fixture("node-next");
    let c = root(&p);
    assert_eq!(values(&c.languages), vec!["typescript"]);
    assert_eq!(v(&c.package_manager).as_deref(), Some("pnpm"));
    assert_eq!(
        c.package_manager.as_ref().unwrap().evidence[0].rule,
        "node.package-manager-field"
    );
    assert_eq!(
        v(&c.install_command).as_deref(),
        Some("pnpm install --frozen-lockfile")
    );
    assert_eq!(values(&c.frameworks), vec!["next"]);
    assert_eq!(v(&c.build_command).as_deref(), Some("pnpm run build"));
    assert_eq!(v(&c.start_command).as_deref(), Some("pnpm start"));
    // npm's placeholder is no test command.
    assert!(c.test_command.is_none());
    assert_eq!(values(&c.runtime_versions), vec!["node 20.11.1"]);
    assert_eq!(v(&c.port), Some(3000));
}

#[test]
fn a_vite_spa_takes_its_port_from_the_script() {
    let p = fixture("node-vite-spa");
    let c = root(&p);
    assert_eq!(v(&c.package_manager).as_deref(), Some("yarn"));
    assert_eq!(v(&c.kind).as_deref(), Some("static_site"));
    assert_eq!(v(&c.port), Some(4000));
    assert_eq!(
        c.port.as_ref().unwrap().evidence[0].rule,
        "node.script-port"
    );
    assert_eq!(v(&c.build_command).as_deref(), Some("yarn run build"));
}

#[test]
fn a_static_site_needs_no_build() {
    let p = fixture("static-site");
    let c = root(&p);
    assert_eq!(values(&c.languages), vec!["html"]);
    assert_eq!(v(&c.kind).as_deref(), Some("static_site"));
    assert!(c.build_command.is_none() && c.install_command.is_none());
}

#[test]
fn a_monorepo_has_one_component_per_app_and_picks_the_front_end() {
    let p = fixture("monorepo-api-web");
    let paths: Vec<&str> = p.components.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, vec!["api", "web"]);
    assert_eq!(
        values(&p.component("api").unwrap().frameworks),
        vec!["fastapi"]
    );
    assert_eq!(
        values(&p.component("web").unwrap().frameworks),
        vec!["vite"]
    );
    assert_eq!(p.web_component.as_deref(), Some("web"));
    assert!(
        p.web_component_reason
            .as_deref()
            .unwrap()
            .contains("front end")
    );
}

#[test]
fn python_and_node_in_one_folder_compose() {
    let p = fixture("py-and-node");
    let c = root(&p);
    assert_eq!(values(&c.languages), vec!["python", "javascript"]);
    assert_eq!(values(&c.frameworks), vec!["flask"]);
    assert_eq!(
        v(&c.start_command).as_deref(),
        Some("FLASK_APP=app:app flask run --host $HOST --port $PORT")
    );
    // Its package.json only lints: the app does not need it installed.
    assert_eq!(
        v(&c.install_command).as_deref(),
        Some("pip install -r requirements.txt")
    );
    assert!(c.conflicts.iter().any(|k| k.topic == "package_manager"
        && k.chosen.as_deref() == Some("pip")
        && k.candidates.iter().any(|f| f.value == "npm")));
}

#[test]
fn invalid_json_is_a_warning_not_a_crash() {
    let p = fixture("node-bad-json");
    assert!(
        p.warnings.iter().any(
            |w| w.file.as_deref() == Some("package.json") && w.message.contains("invalid JSON")
        )
    );
}

#[test]
fn bad_input_becomes_warnings() {
    use std::os::unix::fs::symlink;
    let dir = std::env::temp_dir().join(format!("reporunner-bad-input-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("requirements.txt"), "flask\n").unwrap();
    // A symlink loop, a symlink out of the repository, and a broken one.
    symlink(dir.join("loop-b"), dir.join("loop-a")).unwrap();
    symlink(dir.join("loop-a"), dir.join("loop-b")).unwrap();
    symlink("/etc", dir.join("outside")).unwrap();
    symlink(dir.join("nowhere"), dir.join("broken")).unwrap();
    // A sparse file of several GB, and binary bytes where code is expected.
    let huge = std::fs::File::create(dir.join("src/huge.py")).unwrap();
    huge.set_len(4 << 30).unwrap();
    std::fs::write(dir.join("src/blob.py"), [0u8, 159, 146, 150, 0, 1, 2]).unwrap();
    std::fs::write(dir.join("src/latin1.py"), [b'x', b'=', 0xe9, b'\n']).unwrap();

    let p = analyze(&dir).unwrap();
    let said = |file: &str, what: &str| {
        p.warnings
            .iter()
            .any(|w| w.file.as_deref() == Some(file) && w.message.contains(what))
    };
    assert!(said("loop-a", "symlink loop"), "{:#?}", p.warnings);
    assert!(
        said("outside", "outside the repository"),
        "{:#?}",
        p.warnings
    );
    assert!(said("broken", "broken symlink"), "{:#?}", p.warnings);
    assert!(said("src/blob.py", "binary"), "{:#?}", p.warnings);
    assert!(said("src/latin1.py", "UTF-8"), "{:#?}", p.warnings);
    // The huge file is too large to be a source worth scanning: skipped before reading.
    assert_eq!(values(&root(&p).frameworks), vec!["flask"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rust_axum_service() {
    let p = fixture("rust-axum");
    let c = root(&p);
    assert_eq!(c.name, "hello-axum");
    assert_eq!(values(&c.languages), vec!["rust"]);
    assert_eq!(values(&c.frameworks), vec!["axum"]);
    assert_eq!(
        v(&c.build_command).as_deref(),
        Some("cargo build --release")
    );
    assert_eq!(
        v(&c.start_command).as_deref(),
        Some("./target/release/hello-axum")
    );
    assert_eq!(v(&c.test_command).as_deref(), Some("cargo test"));
    assert_eq!(values(&c.runtime_versions), vec!["rust 1.75"]);
    assert_eq!(v(&c.reads_port_env), Some(true));
    let port = c.port.as_ref().unwrap();
    assert_eq!(
        (port.value, port.evidence[0].file.as_str()),
        (3000, "src/main.rs")
    );
    assert_eq!(values(&c.databases), vec!["postgresql"]);
    assert_eq!(v(&c.kind).as_deref(), Some("service"));
}

#[test]
fn a_procfile_beats_the_framework_default() {
    let p = fixture("procfile-beats-default");
    let c = root(&p);
    let start = c.start_command.as_ref().unwrap();
    assert_eq!(start.value, "gunicorn wsgi:app --bind 0.0.0.0:$PORT");
    assert_eq!(
        (start.evidence[0].file.as_str(), start.evidence[0].line),
        ("Procfile", Some(2))
    );
    assert_eq!(start.evidence[0].rule, "procfile.web");
    assert!(c.conflicts.iter().any(|k| {
        k.topic == "start_command"
            && k.chosen.as_deref() == Some("gunicorn wsgi:app --bind 0.0.0.0:$PORT")
            && k.candidates
                .iter()
                .any(|f| f.value.starts_with("FLASK_APP=wsgi:app flask"))
    }));
    assert_eq!(v(&c.reads_port_env), Some(true));
    assert!(
        c.migrations
            .iter()
            .any(|m| m.value == "release: flask db upgrade")
    );
}

#[test]
fn an_env_example_with_required_secrets() {
    let p = fixture("env-example-secrets");
    let c = root(&p);
    assert_eq!(c.env_files, vec![".env.example"]);
    let var = |n: &str| {
        c.env_vars
            .iter()
            .find(|e| e.name == n)
            .unwrap_or_else(|| panic!("{n}"))
    };
    let session = var("SESSION_SECRET");
    assert!(session.required && session.secret);
    assert_eq!(
        session.evidence.len(),
        2,
        "read in code and documented in the template"
    );
    let stripe = var("STRIPE_API_KEY");
    assert!(stripe.required && stripe.secret);
    assert!(!var("LOG_LEVEL").required && !var("LOG_LEVEL").secret);
    assert_eq!(var("LOG_LEVEL").default.as_deref(), Some("info"));
    assert_eq!(v(&c.port), Some(8080));
    assert_eq!(values(&c.databases), vec!["postgresql"]);
    assert_eq!(c.databases[0].evidence[0].file, ".env.example");
}

#[test]
fn a_test_command_found_only_in_ci() {
    let p = fixture("ci-only-tests");
    let c = root(&p);
    let t = c.test_command.as_ref().unwrap();
    assert_eq!(t.value, "pytest -q tests");
    assert_eq!(
        (t.evidence[0].file.as_str(), t.evidence[0].line),
        (".github/workflows/ci.yml", Some(9))
    );
    assert_eq!(v(&c.install_command).as_deref(), Some("pip install -e ."));
}

#[test]
fn a_dockerfile_states_the_port() {
    let p = fixture("dockerfile-expose");
    let c = root(&p);
    assert_eq!(values(&c.frameworks), vec!["fastify"]);
    assert_eq!(v(&c.port), Some(8080));
    assert!(
        c.port
            .as_ref()
            .unwrap()
            .evidence
            .iter()
            .any(|e| e.rule == "dockerfile.expose")
    );
    assert_eq!(v(&c.start_command).as_deref(), Some("node server.js"));
}

#[test]
fn compose_images_name_the_databases() {
    let p = fixture("compose-postgres");
    let c = root(&p);
    assert_eq!(values(&c.frameworks), vec!["django"]);
    assert_eq!(values(&c.databases), vec!["postgresql", "redis"]);
    assert!(
        c.databases
            .iter()
            .all(|d| d.evidence[0].file == "docker-compose.yml")
    );
}

/// Checks that `unsupported` says why exactly when this host lacks `tool`.
fn unsupported_iff_missing(c: &Component, tool: &str) {
    let missing = !super::other::on_path(tool);
    assert_eq!(c.unsupported.is_some(), missing, "{:?}", c.unsupported);
    if let Some(why) = &c.unsupported {
        assert!(why.contains(tool), "{why}");
    }
}

#[test]
fn go_service_with_its_port() {
    let p = fixture("go-http");
    let c = root(&p);
    assert_eq!(values(&c.languages), vec!["go"]);
    // The go line is the lowest Go the module builds with.
    assert_eq!(values(&c.runtime_versions), vec!["go >=1.22"]);
    assert_eq!(v(&c.port), Some(8090));
    assert_eq!(c.port.as_ref().unwrap().evidence[0].line, Some(9));
    // No _test.go file: nothing for `go test` to run; and the CI step that names an
    // Actions expression cannot run outside Actions.
    assert_eq!(v(&c.test_command), None);
    // The root's main package, built into the run's workspace.
    assert_eq!(
        v(&c.build_command).as_deref(),
        Some("go build -o .reporunner/bin/hello .")
    );
    assert_eq!(
        v(&c.start_command).as_deref(),
        Some("./.reporunner/bin/hello")
    );
    assert_eq!(v(&c.kind).as_deref(), Some("service"));
    unsupported_iff_missing(c, "go");
}

#[test]
fn a_gin_command_that_runs_without_an_address_listens_on_port() {
    let p = fixture("go-gin");
    let c = root(&p);
    assert_eq!(values(&c.frameworks), vec!["gin"]);
    // Of two mains, the one whose bare `r.Run()` is gin's (which reads PORT), not the
    // one whose `cmd.Run()` runs a process.
    assert_eq!(
        v(&c.build_command).as_deref(),
        Some("go build -o .reporunner/bin/api ./cmd/api")
    );
    assert_eq!(v(&c.kind).as_deref(), Some("service"));
    assert_eq!(v(&c.reads_port_env), Some(true));
    assert_eq!(v(&c.port), Some(8080));
}

#[test]
fn spring_boot_port_from_application_properties() {
    let p = fixture("java-spring");
    let c = root(&p);
    assert_eq!(values(&c.languages), vec!["java"]);
    assert_eq!(v(&c.package_manager).as_deref(), Some("maven"));
    assert_eq!(values(&c.frameworks), vec!["spring-boot"]);
    assert_eq!(v(&c.port), Some(9090));
    unsupported_iff_missing(c, "mvn");
}

#[test]
fn a_spring_boot_web_service_is_started_from_the_jar_maven_writes() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/run/java-spring");
    let p = analyze(&dir).unwrap();
    let c = root(&p);
    assert_eq!(v(&c.kind).as_deref(), Some("service"));
    assert_eq!(
        v(&c.build_command).as_deref(),
        Some("mvn -B -DskipTests -Dmaven.javadoc.skip=true package")
    );
    assert_eq!(
        v(&c.start_command).as_deref(),
        Some(
            "java -XX:TieredStopAtLevel=1 -jar target/greet-0.1.0.jar --server.port=$PORT --server.address=$HOST"
        )
    );
    assert_eq!(v(&c.port), Some(8081));
    assert_eq!(v(&c.test_command).as_deref(), Some("mvn -B test"));
    assert_eq!(values(&c.runtime_versions), vec!["java >=17"]);
}

#[test]
fn a_gradle_spring_service_names_its_wrapper_toolchain_port_and_database() {
    let p = fixture("java-gradle");
    let c = root(&p);
    assert_eq!(v(&c.package_manager).as_deref(), Some("gradle"));
    assert_eq!(c.name, "shop");
    assert_eq!(
        v(&c.build_command).as_deref(),
        Some("./gradlew bootJar -x test")
    );
    assert_eq!(v(&c.test_command).as_deref(), Some("./gradlew test"));
    assert_eq!(values(&c.runtime_versions), vec!["java >=21"]);
    assert_eq!(values(&c.databases), vec!["postgresql"]);
    // `${PORT:8085}`: the default behind the variable.
    assert_eq!(v(&c.port), Some(8085));
    assert_eq!(v(&c.kind).as_deref(), Some("service"));
    assert!(c.unsupported.is_none(), "{:?}", c.unsupported);
}

/// H2 on the classpath and no server URL in the default configuration: the PostgreSQL
/// driver beside it serves an optional profile, and the run starts no database.
#[test]
fn a_server_driver_beside_an_embedded_database_is_not_a_database_to_start() {
    let p = fixture("java-embedded-db");
    let c = root(&p);
    assert_eq!(v(&c.kind).as_deref(), Some("service"));
    assert!(c.databases.is_empty(), "{:?}", c.databases);
}

#[test]
fn rails_php_and_dotnet_are_recognised() {
    let rails = fixture("ruby-rails");
    let c = root(&rails);
    assert_eq!(values(&c.frameworks), vec!["rails"]);
    assert_eq!(v(&c.port), Some(3000));
    unsupported_iff_missing(c, "ruby");

    let laravel = fixture("php-laravel");
    let c = root(&laravel);
    assert_eq!(values(&c.frameworks), vec!["laravel"]);
    assert_eq!(v(&c.package_manager).as_deref(), Some("composer"));
    unsupported_iff_missing(c, "php");

    let dotnet = fixture("dotnet-api");
    let c = root(&dotnet);
    assert_eq!(values(&c.languages), vec!["csharp"]);
    assert_eq!(
        v(&c.build_command).as_deref(),
        Some("dotnet publish -c Release -o out")
    );
    unsupported_iff_missing(c, "dotnet");
}

/// The four agents' passes, assembled, say exactly what one pass over every concern says.
#[test]
fn four_passes_assemble_to_the_single_pass_profile() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/repos");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let normalise = |mut p: ProjectProfile| {
        p.analyze_ms = 0;
        for c in &mut p.components {
            c.conflicts
                .sort_by(|a, b| (&a.topic, &a.chosen).cmp(&(&b.topic, &b.chosen)));
        }
        p.warnings
            .sort_by(|a, b| (&a.file, &a.message).cmp(&(&b.file, &b.message)));
        p
    };
    for root in names {
        let whole = normalise(analyze(&root).unwrap());
        let started = std::time::Instant::now();
        let snap = RepoSnapshot::scan(&root).unwrap();
        let dirs = component_dirs(&snap);
        let passes = [
            Concerns::REQUIREMENTS,
            Concerns::DETECTION,
            Concerns::CONFIG,
            Concerns::DATABASE,
        ]
        .into_iter()
        .map(|want| (want, run_pass(&snap, &dirs, want)))
        .collect();
        let split = normalise(assemble(&root, &snap, passes, started));
        assert_eq!(split, whole, "{}", root.display());
    }
}

/// The key facts of the remaining fixtures, one row each: component path, package manager,
/// framework, start command, port, test command, databases.
#[test]
fn fixture_table() {
    type Row = (
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<u16>,
        Option<&'static str>,
        &'static [&'static str],
    );
    let rows: &[Row] = &[
        (
            "node-yarn-berry",
            ".",
            Some("yarn"),
            Some("koa"),
            Some("yarn start"),
            Some(4000),
            None,
            &[],
        ),
        (
            "node-bun",
            ".",
            Some("bun"),
            None,
            Some("bun run dev"),
            Some(3001),
            None,
            &[],
        ),
        (
            "node-nestjs",
            ".",
            Some("npm"),
            Some("nestjs"),
            Some("npm run start:prod"),
            Some(3000),
            Some("npm test"),
            &[],
        ),
        (
            "node-workspaces",
            "packages/server",
            Some("npm"),
            Some("express"),
            Some("npm start"),
            Some(3100),
            None,
            &[],
        ),
        (
            "node-prisma",
            ".",
            Some("npm"),
            Some("express"),
            Some("npm start"),
            Some(3000),
            None,
            &["postgresql"],
        ),
        (
            "py-streamlit",
            ".",
            Some("pip"),
            Some("streamlit"),
            Some("streamlit run app.py --server.address $HOST --server.port $PORT"),
            Some(8501),
            None,
            &[],
        ),
        (
            "py-gradio",
            ".",
            Some("pip"),
            Some("gradio"),
            Some("python app.py"),
            Some(7860),
            None,
            &[],
        ),
        (
            "py-setup-cfg",
            ".",
            Some("pip"),
            None,
            None,
            None,
            Some("python -m pytest"),
            &[],
        ),
        (
            "py-conda",
            ".",
            Some("conda"),
            Some("flask"),
            Some("FLASK_APP=app:app flask run --host $HOST --port $PORT"),
            Some(5000),
            None,
            &[],
        ),
        (
            "py-tox",
            ".",
            Some("pip"),
            None,
            None,
            None,
            Some("tox"),
            &[],
        ),
        (
            "py-alembic",
            ".",
            Some("pip"),
            Some("fastapi"),
            Some("uvicorn main:app --host $HOST --port $PORT"),
            Some(8000),
            None,
            &["postgresql"],
        ),
        (
            "py-runtime-txt",
            ".",
            Some("pip"),
            Some("django"),
            Some("python manage.py runserver $HOST:$PORT"),
            Some(8000),
            Some("python manage.py test"),
            &[],
        ),
        (
            "rust-workspace",
            "crates/server",
            Some("cargo"),
            Some("actix-web"),
            Some("./target/release/server"),
            Some(8088),
            Some("cargo test --workspace"),
            &[],
        ),
        (
            "devcontainer-ports",
            ".",
            Some("npm"),
            Some("express"),
            Some("npm start"),
            Some(7000),
            None,
            &[],
        ),
    ];
    for (name, path, pm, fw, start, port, test, dbs) in rows {
        let p = fixture(name);
        let c = p.component(path).unwrap_or_else(|| {
            panic!(
                "{name}: no component {path}: {:?}",
                p.components.iter().map(|c| &c.path).collect::<Vec<_>>()
            )
        });
        assert_eq!(
            v(&c.package_manager).as_deref(),
            *pm,
            "{name} package manager"
        );
        assert_eq!(
            c.frameworks.first().map(|f| f.value.as_str()),
            *fw,
            "{name} framework"
        );
        assert_eq!(v(&c.start_command).as_deref(), *start, "{name} start");
        assert_eq!(v(&c.port), *port, "{name} port");
        assert_eq!(v(&c.test_command).as_deref(), *test, "{name} test");
        let got: Vec<&str> = c.databases.iter().map(|d| d.value.as_str()).collect();
        assert_eq!(got, *dbs, "{name} databases");
    }
}

#[test]
fn details_of_the_remaining_fixtures() {
    // setup.cfg's install_requires and extras are read.
    let p = fixture("py-setup-cfg");
    let c = root(&p);
    assert!(
        c.dependencies
            .iter()
            .any(|d| d.name == "click" && d.spec == ">=8" && !d.dev)
    );
    assert!(c.dependencies.iter().any(|d| d.name == "pytest" && d.dev));
    // The alembic migrations and the DATABASE_URL read without default.
    let p = fixture("py-alembic");
    let c = root(&p);
    assert_eq!(values(&c.migrations), vec!["alembic"]);
    assert!(
        c.env_vars
            .iter()
            .any(|e| e.name == "DATABASE_URL" && !e.required)
    );
    // runtime.txt gives the Python version.
    assert_eq!(
        values(&root(&fixture("py-runtime-txt")).runtime_versions),
        vec!["python 3.11.4"]
    );
    // A workspace: the shared package is a library, the server is the web component.
    let p = fixture("node-workspaces");
    assert_eq!(
        v(&p.component("packages/shared").unwrap().kind).as_deref(),
        Some("library")
    );
    assert_eq!(p.web_component.as_deref(), Some("packages/server"));
    // The actix server binds 127.0.0.1 in its code.
    let p = fixture("rust-workspace");
    assert_eq!(
        v(&p.component("crates/server").unwrap().bind_host).as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        v(&p.component("crates/core").unwrap().kind).as_deref(),
        Some("library")
    );
    // A virtual workspace's build tooling (`cargo xtask`) is not what it offers.
    let root_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/run");
    let p = analyze(&root_dir.join("rust-workspace-cli")).unwrap();
    assert_eq!(p.web_component.as_deref(), Some("cli"));
    let xtask = p.component("xtask").unwrap();
    assert_eq!(
        xtask.start_command.as_ref().unwrap().evidence[0].rule,
        "rust.cargo-alias"
    );
    assert_eq!(
        v(&p.component("cli").unwrap().test_command).as_deref(),
        Some("cargo test --workspace")
    );
    // The devcontainer's forwarded port beats the framework default, and the app reads PORT.
    let p = fixture("devcontainer-ports");
    let c = root(&p);
    assert_eq!(
        c.port.as_ref().unwrap().evidence[0].rule,
        "devcontainer.forward-ports"
    );
    assert_eq!(v(&c.reads_port_env), Some(true));
    // A repository with nothing to run has no component, and says nothing false.
    let p = fixture("readme-only");
    assert!(p.components.is_empty() && p.web_component.is_none());
    // A binary lockfile is never read, only seen.
    let p = fixture("node-bun");
    assert!(
        !p.warnings
            .iter()
            .any(|w| w.file.as_deref() == Some("bun.lockb"))
    );
}

/// Lessons from real repositories (microblog-api, django-on-docker, example-voting-app).
#[test]
fn real_world_traps() {
    let p = fixture("py-real-world-traps");
    // Only one component: the templates folder's index.html belongs to the app.
    assert_eq!(p.components.len(), 1);
    let c = root(&p);
    // The base requirements file installs; the dev file does not lead.
    assert_eq!(
        v(&c.install_command).as_deref(),
        Some("pip install -r requirements.txt")
    );
    // gunicorn with no --bind binds $PORT by itself.
    assert_eq!(v(&c.reads_port_env), Some(true));
    // The CI's lint step is not its test step.
    assert_eq!(v(&c.test_command).as_deref(), Some("pytest -q"));
    let var = |n: &str| c.env_vars.iter().find(|e| e.name == n).unwrap();
    // `.get("X").split(…)` fails without X.
    assert!(var("ALLOWED_HOSTS").required);
    // Secrets by their last word only.
    assert!(var("JWT_SECRET").secret && var("JWT_SECRET").required);
    assert!(!var("ACCESS_TOKEN_MINUTES").secret && !var("PASSWORD_RESET_URL").secret);
}

#[test]
fn invalid_yaml_is_a_warning_and_readme_blocks_are_candidates() {
    let p = fixture("yaml-and-readme");
    assert!(
        p.warnings
            .iter()
            .any(|w| w.file.as_deref() == Some("docker-compose.yml")
                && w.message.contains("invalid YAML")),
        "{:#?}",
        p.warnings
    );
    let c = root(&p);
    // The broken compose file is not half-read.
    assert!(c.databases.is_empty());
    let start = c.start_command.as_ref().unwrap();
    assert_eq!(start.value, "python server.py --port 8000");
    assert_eq!(
        (start.evidence[0].file.as_str(), start.evidence[0].line),
        ("README.md", Some(5))
    );
    assert_eq!(v(&c.test_command).as_deref(), Some("pytest"));
}

#[test]
fn compose_ports_and_django_asgi() {
    // compose-postgres builds `web` from this folder and maps 8000.
    let p = fixture("compose-postgres");
    let c = root(&p);
    let port = c.port.as_ref().unwrap();
    assert_eq!(port.value, 8000);
    assert!(
        port.evidence.iter().any(|e| e.rule == "compose.ports"),
        "{port:?}"
    );
    // Django's ASGI module is a start candidate beside runserver and gunicorn.
    let p = fixture("py-django-sqlite");
    let c = root(&p);
    assert!(c.conflicts.iter().any(|k| {
        k.topic == "start_command"
            && k.candidates
                .iter()
                .any(|f| f.value == "uvicorn mysite.asgi:application --host $HOST --port $PORT")
    }));
}

#[test]
fn a_package_the_workspace_excludes_runs_its_own_tests() {
    let root = std::env::temp_dir().join(format!("rr-ws-exclude-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (f, t) in [
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"app\"]\nexclude = [\"tools/gen\"]\n",
        ),
        (
            "app/Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\n",
        ),
        ("app/src/main.rs", "fn main() {}\n"),
        (
            "tools/gen/Cargo.toml",
            "[package]\nname = \"gen\"\nversion = \"0.1.0\"\n",
        ),
        ("tools/gen/src/main.rs", "fn main() {}\n"),
    ] {
        let p = root.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, t).unwrap();
    }
    let p = analyze(&root).unwrap();
    assert_eq!(
        v(&p.component("app").unwrap().test_command).as_deref(),
        Some("cargo test --workspace")
    );
    assert_eq!(
        v(&p.component("tools/gen").unwrap().test_command).as_deref(),
        Some("cargo test")
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_test_script_that_only_lints_is_no_test_command() {
    let base = std::env::temp_dir().join(format!("rr-lint-only-{}", std::process::id()));
    for (name, scripts, tests) in [
        (
            "lints",
            r#"{"test": "npm run lint && tsc --noEmit", "lint": "eslint . --ext .js"}"#,
            None,
        ),
        (
            "tests-too",
            r#"{"test": "npm run lint && jest", "lint": "standard"}"#,
            Some("npm test"),
        ),
        ("plain", r#"{"test": "mocha"}"#, Some("npm test")),
    ] {
        let dir = base.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("package.json"),
            format!(r#"{{"name": "{name}", "version": "1.0.0", "scripts": {scripts}}}"#),
        )
        .unwrap();
        let p = analyze(&dir).unwrap();
        assert_eq!(v(&root(&p).test_command).as_deref(), tests, "{name}");
        if tests.is_none() {
            assert!(
                p.warnings.iter().any(|w| w
                    .message
                    .contains("only lints or type-checks (eslint, tsc)")),
                "{:?}",
                p.warnings
            );
        }
    }
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn what_the_system_sets_is_no_variable_of_the_projects() {
    let dir = std::env::temp_dir().join(format!("rr-system-env-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("requirements.txt"), "flask==3.0.3\n").unwrap();
    std::fs::write(
        dir.join("app.py"),
        "import os\nfrom flask import Flask\n\nhome = os.environ[\"HOME\"]\nkey = os.environ[\"API_KEY\"]\napp = Flask(__name__)\n",
    )
    .unwrap();
    let p = analyze(&dir).unwrap();
    let names: Vec<&str> = root(&p).env_vars.iter().map(|v| v.name.as_str()).collect();
    assert!(names.contains(&"API_KEY"), "{names:?}");
    assert!(!names.contains(&"HOME"), "{names:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
