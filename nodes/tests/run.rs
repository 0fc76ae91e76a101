//! `reporunner run --check` end to end, as a user runs it: real installs from PyPI, npm
//! and crates.io, real services on loopback, a real PostgreSQL, on the fixture
//! repositories under `tests/fixtures/run`. Each run reaches its expected rung.
//!
//! These need the network (the package registries), Python 3 with venv, Node with npm,
//! and for the PostgreSQL test Debian's `postgresql` package, which `scripts/test.sh`
//! installs when it is missing.

use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/run")
        .join(name)
        .canonicalize()
        .unwrap()
}

fn data_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rr-e2e-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Every file under `dir`, with its length, to show the checkout is never written to.
fn listing(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), e.metadata().unwrap().len()));
            }
        }
    }
    out.sort();
    out
}

struct Outcome {
    code: i32,
    report: Value,
    stderr: String,
}

/// Runs `reporunner run FIXTURE --check --json` and returns its exit code and report.
fn check(name: &str, extra: &[&str]) -> Outcome {
    let data = data_dir(name);
    let o = check_in(name, extra, &data);
    let _ = std::fs::remove_dir_all(&data);
    o
}

/// As [`check`], with the data directory `data`, which is kept.
fn check_in(name: &str, extra: &[&str], data: &Path) -> Outcome {
    check_env(name, extra, data, &[])
}

/// As [`check_in`], with `env` set for the run.
fn check_env(name: &str, extra: &[&str], data: &Path, env: &[(&str, &str)]) -> Outcome {
    check_path(&fixture(name), extra, data, env)
}

/// As [`check_env`], on the repository at `src`.
fn check_path(src: &Path, extra: &[&str], data: &Path, env: &[(&str, &str)]) -> Outcome {
    let name = src.display().to_string();
    let src = src.to_path_buf();
    let before = listing(&src);
    let out = Command::new(env!("CARGO_BIN_EXE_reporunner"))
        .env_remove("REPORUNNER_LOG")
        .env_remove("REPORUNNER_MODEL")
        .envs(env.iter().copied())
        .arg("run")
        .arg(&src)
        .args(["--check", "--json", "--http-timeout", "120"])
        .args(extra)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{name}: no JSON report ({e}): {}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert_eq!(
        listing(&src),
        before,
        "{name}: the run wrote into the user's checkout"
    );
    Outcome {
        code: out.status.code().unwrap_or(-1),
        report,
        stderr,
    }
}

fn rung(o: &Outcome) -> &str {
    o.report["rung"].as_str().unwrap_or("?")
}

fn expect_rung(name: &str, o: &Outcome, want: &str) {
    assert_eq!(
        rung(o),
        want,
        "{name}: {}\n{}",
        serde_json::to_string_pretty(&o.report).unwrap(),
        o.stderr
    );
}

fn fixes(o: &Outcome) -> Vec<String> {
    o.report["repairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["class"].as_str().unwrap().to_string())
        .collect()
}

/// The service's whole log, from the report's list of logs.
fn service_log(o: &Outcome) -> String {
    let log = o.report["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str())
        .find(|l| l.ends_with("service.log"))
        .unwrap_or_else(|| panic!("no service log: {:#}", o.report));
    std::fs::read_to_string(log).unwrap()
}

fn url_port(o: &Outcome) -> u16 {
    let url = o.report["url"].as_str().expect("a url");
    url.trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn flask_answers_http_and_a_second_run_reuses_the_install() {
    let data = data_dir("flask");
    let o = check_in("flask", &[], &data);
    expect_rung("flask", &o, "http_answers");
    assert_eq!(o.code, 0);
    assert!(
        o.report["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert!(o.report["logs"].as_array().unwrap().len() >= 2);
    assert_eq!(o.report["installs_cached"], false);
    // Unchanged manifests: the venv comes from the cache, and no install runs.
    let again = check_in("flask", &[], &data);
    expect_rung("flask", &again, "http_answers");
    assert_eq!(again.report["installs_cached"], true);
    assert_eq!(again.report["tool_ms"], 0, "{}", again.report);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn fastapi_answers_http() {
    let o = check("fastapi", &[]);
    expect_rung("fastapi", &o, "http_answers");
}

#[test]
fn django_with_sqlite_migrates_answers_and_passes_its_tests() {
    let o = check("django-sqlite", &[]);
    // The index view counts rows: it answers only once the migrations ran.
    expect_rung("django-sqlite", &o, "tests_pass");
    assert_eq!(o.report["tests"]["passed"], true);
    assert_eq!(o.report["tests"]["parsed_from"], "unittest");
    assert_eq!(o.report["tests"]["counts"]["passed"], 1);
}

#[test]
fn express_answers_and_its_node_tests_are_read_one_by_one() {
    let o = check("express", &[]);
    expect_rung("express", &o, "tests_pass");
    assert_eq!(o.report["tests"]["parsed_from"], "junit");
    assert_eq!(o.report["tests"]["counts"]["passed"], 2);
}

#[test]
fn a_static_site_is_served_by_the_builtin_server() {
    let o = check("static", &[]);
    expect_rung("static", &o, "http_answers");
}

#[test]
fn rust_axum_builds_in_release_answers_and_passes_cargo_test() {
    let o = check("rust-axum", &[]);
    expect_rung("rust-axum", &o, "tests_pass");
    assert_eq!(o.report["tests"]["parsed_from"], "cargo");
}

#[test]
fn a_go_module_builds_its_serving_command_answers_and_reports_each_go_test() {
    let data = data_dir("go-service");
    let o = check_in("go-service", &[], &data);
    expect_rung("go-service", &o, "tests_pass");
    assert_eq!(o.code, 0);
    assert_eq!(o.report["tests"]["parsed_from"], "go test -json");
    assert_eq!(o.report["tests"]["counts"]["passed"], 2, "{}", o.report);
    assert_eq!(o.report["tests"]["counts"]["skipped"], 1);
    // Of two main packages, the one that listens (through its own package) is started.
    let start = o.report["started"].as_str().unwrap_or_default();
    assert!(start.ends_with("/bin/server"), "{start}");
    // The step's tail reads as go test's text, not its JSON events.
    let tail = o.report["tests"]["step"]["tail"].to_string();
    assert!(
        tail.contains("ok  \\texample.com/notes/internal/notes"),
        "{tail}"
    );
    // Unchanged, the second run reuses the module and build caches.
    let again = check_in("go-service", &["--no-tests"], &data);
    expect_rung("go-service", &again, "http_answers");
    assert_eq!(again.report["installs_cached"], true, "{}", again.report);
    let _ = std::fs::remove_dir_all(&data);
}

/// A Go service whose database address is a `dsn:` in `config/local.yml` and whose
/// schema is golang-migrate's files: the private PostgreSQL takes the file's user and
/// database, the workspace's copy of the file is pointed at it (another environment's
/// file left alone), the migrations are applied in order, and the page and the test that
/// read the seeded table pass.
#[test]
fn a_config_files_database_is_started_pointed_at_and_migrated() {
    let o = check("go-config-db", &[]);
    expect_rung("go-config-db", &o, "tests_pass");
    assert_eq!(o.report["http"]["status"], 200, "{}", o.report["http"]);
    let db = &o.report["databases"][0];
    let url = db["url"].as_str().expect("a database url");
    assert!(
        url.starts_with("postgresql://notes:notes@127.0.0.1:"),
        "{url}"
    );
    assert!(url.ends_with("/notes_dev"), "{url}");
    let state = db["state"].as_str().unwrap_or_default();
    assert!(
        state.contains("config/local.yml:2 pointed at it"),
        "{state}"
    );
    assert!(!state.contains("prod.yml"), "{state}");
    assert_eq!(o.report["tests"]["counts"]["passed"], 1);
}

/// Go code that names a generated constant builds once the Makefile's `generate`
/// target ran; the program then wants `~/.greeter.conf`, which only the README shows: it
/// is written from that block and seen at its place (the user's home untouched), and the
/// page answers.
#[test]
fn generated_code_and_a_config_file_from_the_readme_are_made_for_the_run() {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let o = check("go-generated", &[]);
    expect_rung("go-generated", &o, "tests_pass");
    let generate = fix_of(&o, "build_step");
    assert_eq!(generate["fix"]["action"], "generate", "{generate}");
    assert_eq!(generate["fix"]["command"], "make generate");
    let config = fix_of(&o, "missing_env");
    assert_eq!(config["fix"]["action"], "write_config", "{config}");
    assert_eq!(config["fix"]["path"], "~/.greeter.conf");
    assert_eq!(config["fix"]["from"], "README.md:12");
    // Without the file it exits at start: its page answering is the file read.
    assert_eq!(o.report["http"]["status"], 200, "{}", o.report["http"]);
    if let Some(home) = home {
        assert!(
            !home.join(".greeter.conf").exists(),
            "the user's home was written"
        );
    }
}

#[test]
fn a_go_service_listening_on_its_addr_flag_is_given_the_leased_address() {
    let o = check("go-chi", &[]);
    expect_rung("go-chi", &o, "tests_pass");
    let start = o.report["started"].as_str().unwrap_or_default();
    assert!(start.ends_with("--addr $HOST:$PORT"), "{start}");
    assert_eq!(o.report["tests"]["counts"]["passed"], 1);
}

#[test]
fn a_spring_boot_service_starts_from_its_jar_on_the_leased_port_and_reports_each_junit_test() {
    let data = data_dir("java-spring");
    let o = check_in("java-spring", &[], &data);
    expect_rung("java-spring", &o, "tests_pass");
    assert_eq!(o.code, 0);
    // The jar Maven's package phase wrote, told the leased address on its command line.
    let start = o.report["started"].as_str().unwrap_or_default();
    assert!(
        start.contains("-jar target/greet-0.1.0.jar --server.port=$PORT"),
        "{start}"
    );
    assert_eq!(o.report["http"]["status"], 200, "{}", o.report);
    // Surefire's XML, read test by test.
    assert_eq!(o.report["tests"]["parsed_from"], "junit");
    assert_eq!(o.report["tests"]["counts"]["passed"], 2, "{}", o.report);
    let names = o.report["tests"]["tests"].to_string();
    assert!(
        names.contains("com.example.greet.GreetingTest::greetsTheNameGiven"),
        "{names}"
    );
    // Unchanged, the second run starts from the jar it kept: no Maven build at all.
    let again = check_in("java-spring", &["--no-tests"], &data);
    expect_rung("java-spring", &again, "http_answers");
    assert_eq!(again.report["installs_cached"], true, "{}", again.report);
    let logs = again.report["logs"].to_string();
    assert!(!logs.contains("build.log"), "{logs}");
    let _ = std::fs::remove_dir_all(&data);
}

/// A reactor whose web module needs a sibling: the module is built from the root with the
/// modules it needs (`-pl web -am`) and started from its own jar.
#[test]
fn a_maven_reactors_web_module_is_built_with_its_siblings_and_serves() {
    let o = check("java-reactor", &["--no-tests"]);
    expect_rung("java-reactor", &o, "http_answers");
    let start = o.report["started"].as_str().unwrap_or_default();
    assert!(start.contains("-jar target/shop-web-1.0.0.jar"), "{start}");
    assert_eq!(o.report["http"]["status"], 200, "{}", o.report);
}

#[test]
fn a_maven_library_is_built_and_its_junit5_tests_counted_with_the_skipped_one() {
    let o = check("java-library", &[]);
    expect_rung("java-library", &o, "tests_pass");
    assert!(o.report["started"].is_null(), "{}", o.report);
    assert_eq!(o.report["tests"]["command"], "mvn -B test");
    assert_eq!(o.report["tests"]["counts"]["passed"], 2, "{}", o.report);
    assert_eq!(o.report["tests"]["counts"]["skipped"], 1);
}

/// The host's Maven from before 3.9 (Debian's 3.8.7) is refused by the build's enforcer: a
/// Maven 3.9 from Maven Central, kept in the data directory, builds and tests it.
#[test]
fn a_build_that_wants_a_newer_maven_gets_one_from_maven_central() {
    let host = std::process::Command::new("mvn")
        .arg("-v")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let old = host.contains("Apache Maven 3.") && !host.contains("Apache Maven 3.9");
    let o = check("java-newer-maven", &[]);
    expect_rung("java-newer-maven", &o, "tests_pass");
    assert_eq!(o.report["tests"]["counts"]["passed"], 2, "{}", o.report);
    if old {
        let repairs = o.report["repairs"].to_string();
        assert!(
            repairs.contains("\"runtime\":\"maven\"") && repairs.contains("helped"),
            "{repairs}"
        );
    }
}

/// A Spring app whose `spring.datasource.url` names a server on localhost:5432 reaches
/// the private PostgreSQL instead: it prints the port the server it reached listens on.
#[test]
fn a_spring_datasource_is_pointed_at_the_private_postgresql() {
    let data = data_dir("java-spring-postgres");
    let o = check_in("java-spring-postgres", &["--no-tests"], &data);
    expect_rung("java-spring-postgres", &o, "http_answers");
    let db = &o.report["databases"][0];
    assert_eq!(db["kind"], "postgresql", "{}", o.report);
    let port = db["port"].as_u64().expect("a database port");
    let text = service_log(&o);
    assert!(
        text.contains(&format!("notes: database port {port}")),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_missing_env_is_written_from_the_example_with_a_generated_secret() {
    let o = check("missing-env", &[]);
    expect_rung("missing-env", &o, "http_answers");
    let written: Vec<(String, String)> =
        serde_json::from_value(o.report["env_written"].clone()).unwrap();
    assert!(
        written.contains(&("SECRET_KEY".into(), "generated".into())),
        "{written:?}"
    );
    assert!(
        written.contains(&("GREETING".into(), "project".into())),
        "{written:?}"
    );
}

#[test]
fn an_app_that_ignores_port_is_found_on_the_port_it_opened() {
    let o = check("ignores-port", &[]);
    expect_rung("ignores-port", &o, "http_answers");
    assert_eq!(o.report["port_mismatch"]["actual"], 18765);
    assert_ne!(o.report["port_mismatch"]["leased"], 18765);
    assert_eq!(url_port(&o), 18765);
}

#[test]
fn a_taken_default_port_gets_another_lease() {
    // The app's default port is busy: the lease must be another one, passed as PORT.
    let _busy = TcpListener::bind("127.0.0.1:18766");
    let o = check("port-taken", &[]);
    expect_rung("port-taken", &o, "http_answers");
    assert_ne!(url_port(&o), 18766);
    assert!(o.report["port_mismatch"].is_null());
}

#[test]
fn an_undeclared_import_is_installed_by_the_fixer_f3() {
    let o = check("undeclared-dep", &[]);
    expect_rung("undeclared-dep", &o, "http_answers");
    assert_eq!(fixes(&o), vec!["undeclared_dependency"]);
    assert_eq!(o.report["repairs"][0]["fix"]["package"], "six");
}

/// The service exits at start-up asking for `npm run seed`, which the catalogue does not
/// know. With SmolLM2 configured, the Fixer asks it; its command passes the allow-list,
/// runs, and the service answers. (Greedy decoding: the same answer on every run.)
#[test]
fn a_failure_the_catalogue_does_not_know_is_fixed_by_the_models_command() {
    let python = reporunner_runtime::testsuite::models_python();
    let data = data_dir("needs-seed-model");
    let o = check_env(
        "needs-seed",
        &["--model", "smollm2", "--no-tests"],
        &data,
        &[("REPORUNNER_MODELS_PYTHON", python.as_str())],
    );
    let _ = std::fs::remove_dir_all(&data);
    expect_rung("needs-seed", &o, "http_answers");
    let r = &o.report;
    assert_eq!(r["model"], "smollm2");
    assert_eq!(r["model_took_part"], true);
    assert_eq!(fixes(&o), vec!["unclassified"]);
    let fix = &r["repairs"][0];
    assert_eq!(fix["fix"]["action"], "run_command");
    assert_eq!(
        fix["fix"]["command"],
        serde_json::json!(["npm", "run", "seed"])
    );
    assert_eq!(fix["model"], "smollm2");
    assert_eq!(fix["command"]["exit_code"], 0);
    assert_eq!(fix["redo_from"], "start");
    let asked = r["consultations"].as_array().unwrap();
    assert_eq!(asked.len(), 1, "{r:#}");
    assert_eq!(asked[0]["purpose"], "fix");
    assert_eq!(asked[0]["phase"], "health");
    assert_eq!(asked[0]["backend"], "cpu");
    assert_eq!(asked[0]["verdict"]["verdict"], "applied");
    assert!(asked[0]["tokens"].as_u64().unwrap() > 0);
}

/// Without a model the same failure stops the run, and the report says no model took
/// part; with a model that is not there, the report says why none answered.
#[test]
fn without_a_model_the_unknown_failure_stops_the_run() {
    let o = check("needs-seed", &["--no-tests"]);
    expect_rung("needs-seed", &o, "imports_resolve");
    assert_eq!(o.report["model"], Value::Null);
    assert_eq!(o.report["model_took_part"], false);
    assert_eq!(o.report["consultations"], serde_json::json!([]));
    assert!(fixes(&o).is_empty());

    let o = check(
        "needs-seed",
        &["--no-tests", "--model", "/nonexistent/m.gguf"],
    );
    expect_rung("needs-seed", &o, "imports_resolve");
    assert_eq!(o.report["model_took_part"], false);
    let asked = &o.report["consultations"][0];
    assert_eq!(asked["verdict"]["verdict"], "unavailable");
    assert!(
        asked["verdict"]["reason"]
            .as_str()
            .unwrap()
            .contains("no node serves /nonexistent/m.gguf"),
        "{asked:#}"
    );
}

#[test]
fn a_project_that_must_be_installed_gets_pip_install_e_f4() {
    let o = check("editable", &[]);
    expect_rung("editable", &o, "http_answers");
    assert_eq!(fixes(&o), vec!["project_not_installed"]);
}

#[test]
fn postgresql_is_started_privately_with_the_user_and_database_env_names() {
    let o = check("postgres", &[]);
    expect_rung("postgres", &o, "http_answers");
    let db = &o.report["databases"][0];
    assert_eq!(db["kind"], "postgresql");
    let url = db["url"].as_str().expect("a database url");
    assert!(
        url.starts_with("postgresql://shop:secret@127.0.0.1:"),
        "{url}"
    );
    assert!(url.ends_with("/shopdb"), "{url}");
    // Stopped with the run: nothing listens on its port any more.
    let port = db["port"].as_u64().unwrap() as u16;
    assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());
}

/// A project that wants MySQL gets a private MariaDB with the user, password and
/// database its template's `MYSQL_*` variables name, and those variables get its address.
#[test]
fn mysql_is_started_privately_as_mariadb_with_the_templates_names() {
    let o = check("mysql-app", &[]);
    expect_rung("mysql-app", &o, "http_answers");
    let db = &o.report["databases"][0];
    assert_eq!(db["kind"], "mysql", "{db}");
    let url = db["url"].as_str().expect("a database url");
    assert!(
        url.starts_with("mysql://visitor:visitor_password@127.0.0.1:") && url.ends_with("/visits"),
        "{url}"
    );
    let port = db["port"].as_u64().unwrap() as u16;
    let env: Vec<&str> = o.report["env_written"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p[0].as_str())
        .collect();
    assert!(
        env.contains(&"MYSQL_PORT") && env.contains(&"MYSQL_HOST"),
        "{env:?}"
    );
    // Stopped with the run.
    assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());
}

#[test]
fn a_failing_suite_is_reported_failing_with_each_test() {
    let o = check("failing-tests", &[]);
    expect_rung("failing-tests", &o, "imports_resolve");
    assert_eq!(o.report["target"], "tests_pass");
    // 10 + the rung reached (3, imports resolve).
    assert_eq!(o.code, 13);
    let tests = &o.report["tests"];
    assert_eq!(tests["passed"], false);
    assert_eq!(tests["parsed_from"], "junit");
    assert_eq!(tests["counts"]["failed"], 2);
    assert_eq!(tests["counts"]["passed"], 1);
    assert!(
        tests["tests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["status"] == "failed" && t["name"].as_str().unwrap().contains("test_sub"))
    );
    // The program a test could not run is named as this host's lack.
    assert_eq!(
        tests["missing_programs"][0], "reporunner-absent-renderer",
        "{tests}"
    );
    let why = o.report["stopped_because"].as_str().unwrap_or_default();
    assert!(
        why.contains("they tried to run reporunner-absent-renderer, not installed here"),
        "{why}"
    );
}

#[test]
fn a_folder_that_is_not_a_repository_stops_at_the_plan_with_a_reason() {
    let empty = data_dir("empty-src");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "nothing to run\n").unwrap();
    let data = data_dir("empty");
    let out = Command::new(env!("CARGO_BIN_EXE_reporunner"))
        .arg("run")
        .arg(&empty)
        .args(["--check", "--json", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["rung"], "none");
    assert_eq!(out.status.code(), Some(10));
    assert!(
        report["stopped_because"]
            .as_str()
            .unwrap()
            .contains("no component"),
        "{report}"
    );
    // What the folder holds instead, for the user to see what was looked at.
    assert!(
        report["stopped_because"]
            .as_str()
            .unwrap()
            .contains("its top level holds notes.txt"),
        "{report}"
    );
    let _ = std::fs::remove_dir_all(&empty);
    let _ = std::fs::remove_dir_all(&data);
}

/// A path that does not exist, a file and an empty folder: each error names the problem
/// and the next step, and nothing runs.
#[test]
fn a_path_that_does_not_exist_is_a_clear_error() {
    let run = |path: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_reporunner"))
            .arg("run")
            .arg(path)
            .arg("--check")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", path.display());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = run(Path::new("/no/such/repository"));
    assert!(
        err.contains("does not exist") && err.contains("a clone or a checkout"),
        "{err}"
    );
    let dir = std::env::temp_dir().join(format!("rr-bad-paths-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    std::fs::write(dir.join("notes.txt"), "x").unwrap();
    let err = run(&dir.join("notes.txt"));
    assert!(err.contains("is a file, not a folder"), "{err}");
    let err = run(&dir.join("empty"));
    assert!(
        err.contains("is empty") && err.contains("manifest"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- Truthful health and repair at run time (issue 16) ----

fn fix_of<'a>(o: &'a Outcome, class: &str) -> &'a Value {
    o.report["repairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["class"] == class)
        .unwrap_or_else(|| {
            panic!(
                "no {class} repair: {}\n{}",
                serde_json::to_string_pretty(&o.report).unwrap(),
                o.stderr
            )
        })
}

/// A copy of fixture `name` as a git repository whose only commit is dated `date`.
fn git_copy(name: &str, date: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rr-e2e-git-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(fixture(name)).unwrap().flatten() {
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args([
                "-c",
                "user.name=Fixture",
                "-c",
                "user.email=fixture@example.invalid",
            ])
            .args(args)
            .current_dir(&dir)
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "as it was"]);
    dir
}

#[test]
fn a_page_that_answers_500_is_never_reported_healthy() {
    let o = check("server-error", &[]);
    // The process started and its port opened, but the page a user opens fails.
    expect_rung("server-error", &o, "port_open");
    assert_ne!(o.code, 0, "--check exited 0 on a 500");
    assert_eq!(o.report["http"]["status"], 500);
    assert_eq!(o.report["http"]["path"], "/");
    assert_eq!(o.report["http"]["ok"], false);
    let traceback = o.report["traceback"].to_string();
    assert!(traceback.contains("KeyError"), "{traceback}");
    assert!(
        o.report["stopped_because"]
            .as_str()
            .unwrap()
            .contains("500"),
        "{}",
        o.report["stopped_because"]
    );
}

#[test]
fn no_such_table_runs_the_apps_init_db_command_and_restarts() {
    let o = check("no-table", &[]);
    expect_rung("no-table", &o, "http_answers");
    let r = fix_of(&o, "database");
    assert_eq!(r["fix"]["action"], "init_database", "{r}");
    assert!(
        r["fix"]["command"].as_str().unwrap().contains("init-db"),
        "{r}"
    );
    assert!(
        r["evidence"].as_str().unwrap().contains("no such table"),
        "{r}"
    );
    assert_eq!(r["outcome"], "helped");
    assert_eq!(o.report["http"]["status"], 200);
}

/// The start command is a CLI that prints its usage; its `serve` subcommand's help names
/// a `[dir]` argument, the site.toml it wants there, and host and port flags.
#[test]
fn a_cli_that_serves_is_started_with_its_folder_host_and_port() {
    let o = check("cli-serve", &[]);
    expect_rung("cli-serve", &o, "http_answers");
    let r = fix_of(&o, "cli_usage");
    assert_eq!(
        r["fix"]["command"], "node cli.js serve docs --port \"$PORT\" --hostname \"$HOST\"",
        "{r}"
    );
    assert_eq!(r["outcome"], "helped");
    assert!(
        r["evidence"].as_str().unwrap().contains("Usage: cli"),
        "{r}"
    );
    assert_eq!(o.report["http"]["status"], 200);
}

/// A CLI with commands and no server: no service, and its tests are what it aims for.
#[test]
fn a_cli_without_a_server_is_run_for_its_tests() {
    let o = check("cli-tool", &[]);
    expect_rung("cli-tool", &o, "tests_pass");
    let r = fix_of(&o, "cli_usage");
    assert_eq!(r["fix"]["action"], "run_as_cli", "{r}");
    assert_eq!(o.report["target"], "tests_pass");
    assert!(o.report["http"].is_null(), "{}", o.report["http"]);
    assert_eq!(o.report["tests"]["counts"]["passed"], 2);
}

/// A virtual Cargo workspace: its tests are every member's (not only the member it
/// builds), counted over each test binary.
#[test]
fn a_cargo_workspaces_tests_are_every_members() {
    let o = check("rust-workspace-cli", &[]);
    expect_rung("rust-workspace-cli", &o, "tests_pass");
    assert_eq!(o.report["tests"]["command"], "cargo test --workspace");
    // core's 2 unit tests, cli's integration test, xtask's unit test.
    assert_eq!(
        o.report["tests"]["counts"]["passed"], 4,
        "{}",
        o.report["tests"]
    );
}

/// The Django project has no test: `Ran 0 tests` is no proof, so the run aims for HTTP.
#[test]
fn a_missing_static_manifest_entry_runs_collectstatic() {
    let o = check("django-static", &[]);
    expect_rung("django-static", &o, "http_answers");
    assert_eq!(o.report["target"], "http_answers");
    let r = fix_of(&o, "build_step");
    assert_eq!(r["fix"]["action"], "collect_static", "{r}");
    assert!(
        r["evidence"]
            .as_str()
            .unwrap()
            .contains("Missing staticfiles manifest entry"),
        "{r}"
    );
}

/// The app imports a name Werkzeug 3 (2023) removed; its last commit is from 2022, so
/// the Fixer resolves the unpinned requirements again as of that day.
#[test]
fn dependency_drift_is_resolved_as_of_the_last_commit() {
    let src = git_copy("drift", "2022-06-01T12:00:00+00:00");
    let data = data_dir("drift");
    let o = check_path(&src, &[], &data, &[]);
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(&src);
    expect_rung("drift", &o, "http_answers");
    let r = fix_of(&o, "dependency_drift");
    assert_eq!(r["fix"]["action"], "resolve_as_of", "{r}");
    assert!(
        r["fix"]["date"].as_str().unwrap().starts_with("2022-06-01"),
        "{r}"
    );
    assert!(r["evidence"].as_str().unwrap().contains("url_quote"), "{r}");
}

/// The app reaches Redis by its compose service name; Redis starts on a private address
/// that the name resolves to for the app's processes only.
#[test]
fn a_compose_host_name_is_started_and_resolved_for_the_app_alone() {
    let o = check("compose-host", &[]);
    expect_rung("compose-host", &o, "http_answers");
    let r = fix_of(&o, "host_name");
    assert_eq!(r["fix"]["action"], "service_host", "{r}");
    assert_eq!(r["fix"]["host"], "redis");
    assert_eq!(r["fix"]["kind"], "redis");
    // The host itself still does not know the name.
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap();
    assert!(!hosts.split_whitespace().any(|w| w == "redis"), "{hosts}");
}

#[test]
fn a_schema_that_rejects_the_templates_value_gets_its_typed_default() {
    let o = check("schema-env", &[]);
    expect_rung("schema-env", &o, "http_answers");
    let r = fix_of(&o, "missing_env");
    assert_eq!(r["fix"]["action"], "set_env", "{r}");
    assert_eq!(r["fix"]["name"], "RATE_LIMIT_MAX");
    assert_eq!(r["fix"]["value"], "100");
}

#[test]
fn a_required_variable_named_only_in_a_thrown_error_gets_a_safe_value() {
    let o = check("required-env", &[]);
    expect_rung("required-env", &o, "http_answers");
    // Written before the start from the README's mention, or by the Fixer from the
    // thrown error: either way a generated value, and the report says so.
    let written = o.report["env_written"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e[0] == "WEATHER_API_KEY" && e[1] == "generated");
    let fixed = o.report["repairs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["class"] == "missing_env" && r["fix"]["name"] == "WEATHER_API_KEY");
    assert!(written || fixed, "{}", o.report);
}

/// Node 20 does not know `--experimental-strip-types`; a Node that does comes from the
/// npm registry's `node` package into the data directory.
#[test]
fn a_node_option_this_node_lacks_brings_a_newer_node() {
    let o = check("node-version", &[]);
    let node_knows = Command::new("node")
        .args(["--experimental-strip-types", "-e", "0"])
        .output()
        .is_ok_and(|o| o.status.success());
    expect_rung("node-version", &o, "http_answers");
    if !node_knows {
        let r = fix_of(&o, "runtime_version");
        assert_eq!(r["fix"]["runtime"], "node", "{r}");
        assert!(
            r["evidence"]
                .as_str()
                .unwrap()
                .contains("--experimental-strip-types")
        );
    }
}

/// The code asks for Python 3.12 at run time; the next interpreter that satisfies it is
/// used where the host has one (pyenv's), else the report says what is needed.
#[test]
fn a_python_version_the_code_asks_for_is_found_or_named() {
    let o = check("python-version", &[]);
    let r = fix_of(&o, "runtime_version");
    assert_eq!(r["fix"]["runtime"], "python", "{r}");
    assert_eq!(r["fix"]["constraint"], ">=3.12");
    let newer = ["python3.12", "python3.13", "python3.14"].iter().any(|p| {
        Command::new(p)
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }) || std::env::var_os("HOME").is_some_and(|h| {
        std::fs::read_dir(Path::new(&h).join(".pyenv/versions")).is_ok_and(|d| {
            d.flatten().any(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                let mut parts = n.split('.');
                parts.next() == Some("3")
                    && parts
                        .next()
                        .and_then(|m| m.parse::<u32>().ok())
                        .is_some_and(|m| m >= 12)
            })
        })
    });
    if newer {
        expect_rung("python-version", &o, "http_answers");
        assert_eq!(r["outcome"], "helped");
    } else {
        assert_ne!(rung(&o), "http_answers");
        assert!(
            o.report["stopped_because"]
                .as_str()
                .unwrap()
                .contains("3.12")
        );
    }
}

/// The production build downloads web fonts from a host that does not resolve; the dev
/// script serves without them. (Confined, the build has no name server at all, and
/// getaddrinfo says EAI_AGAIN; with the host's network, ENOTFOUND.)
#[test]
fn a_build_that_needs_the_network_is_served_by_the_dev_script() {
    let o = check("offline-build", &[]);
    expect_rung("offline-build", &o, "http_answers");
    let r = fix_of(&o, "offline_build");
    assert_eq!(r["fix"]["action"], "dev_server", "{r}");
    let evidence = r["evidence"].as_str().unwrap();
    assert!(
        ["ENOTFOUND", "EAI_AGAIN"]
            .iter()
            .any(|e| evidence.contains(&format!("{e} fonts.assets.invalid"))),
        "{r}"
    );
    assert_eq!(r["outcome"], "helped");
    assert_eq!(o.report["http"]["status"], 200);
}

/// One test module reads a git submodule's files at import; the copy has no submodule.
#[test]
fn a_test_module_that_needs_an_empty_submodule_is_left_out_and_named() {
    let o = check("submodule-tests", &[]);
    expect_rung("submodule-tests", &o, "tests_pass");
    let r = fix_of(&o, "missing_submodule");
    assert_eq!(r["fix"]["action"], "ignore_tests", "{r}");
    assert_eq!(r["fix"]["path"], "tests/test_corpus.py", "{r}");
    assert!(
        r["fix"]["reason"].as_str().unwrap().contains("tests/cases"),
        "{r}"
    );
    assert_eq!(r["outcome"], "helped");
    assert_eq!(o.report["tests"]["counts"]["passed"], 2);
    assert!(
        o.report["tests"]["command"]
            .as_str()
            .unwrap()
            .contains("--ignore='tests/test_corpus.py'")
    );
}

#[test]
fn a_missing_pytest_fixture_installs_its_plugin() {
    let o = check("pytest-plugin", &[]);
    expect_rung("pytest-plugin", &o, "tests_pass");
    let r = fix_of(&o, "test_tooling");
    assert_eq!(r["fix"]["tool"], "pytest-mock", "{r}");
    assert!(
        r["evidence"]
            .as_str()
            .unwrap()
            .contains("fixture 'mocker' not found")
    );
    assert_eq!(o.report["tests"]["counts"]["passed"], 2);
}

/// A middleware with only a test script is a test suite, not a service without a start
/// command; mocha's spec summary gives the counts.
#[test]
fn a_library_whose_tests_are_its_point_is_a_test_suite_with_counts() {
    let o = check("mocha-library", &[]);
    expect_rung("mocha-library", &o, "tests_pass");
    assert_eq!(o.report["target"], "tests_pass");
    assert_eq!(o.code, 0);
    assert_eq!(
        o.report["tests"]["counts"]["passed"], 3,
        "{}",
        o.report["tests"]
    );
}

/// The processes whose command line is `sleep 613`: the hostile fixture's daemon.
fn hostile_daemons() -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|p| p.chars().all(|c| c.is_ascii_digit()))
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == b"sleep\x00613\x00")
        })
        .collect()
}

/// A hostile repository, confined: it cannot see the store (users, tokens) or the user's
/// checkout, cannot write outside its workspace and caches, cannot reach a port of the
/// host that is none of the run's or a host on the internet that is no registry (the
/// proxy answers 403 and says why), and the daemon it starts in a session of its own is
/// gone when the run ends. The same repository run with --no-sandbox sees and does all of
/// it, which is what shows the probes are real.
#[test]
fn a_hostile_repository_is_confined_and_leaves_no_process_behind() {
    let sandbox = std::process::Command::new("bwrap")
        .args(["--ro-bind", "/", "/", "--", "/bin/true"])
        .status()
        .is_ok_and(|s| s.success());
    if !sandbox && std::env::var_os("REPORUNNER_REQUIRE_SANDBOX").is_none() {
        eprintln!("skipped: bubblewrap cannot run here");
        return;
    }
    let src = std::env::temp_dir().join(format!("rr-e2e-hostile-src-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).unwrap();
    for f in ["Procfile", "requirements.txt", "server.py"] {
        std::fs::copy(fixture("hostile").join(f), src.join(f)).unwrap();
    }
    let home = PathBuf::from(std::env::var("HOME").unwrap());
    let targets = [
        home.join(format!(".reporunner-hostile-{}", std::process::id())),
        PathBuf::from(format!(
            "/usr/local/reporunner-hostile-{}",
            std::process::id()
        )),
    ];
    std::fs::write(src.join("checkout.txt"), src.display().to_string()).unwrap();
    // A service of the host's that is none of the run's: Repo Runner's own API, say.
    let private = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let private_port = private.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in private.incoming().flatten() {
            let mut conn = conn;
            let _ = std::io::Write::write_all(&mut conn, b"host secret\n");
        }
    });
    std::fs::write(src.join("hostport.txt"), private_port.to_string()).unwrap();
    std::fs::write(
        src.join("targets.txt"),
        targets
            .iter()
            .map(|t| format!("{}\n", t.display()))
            .collect::<String>(),
    )
    .unwrap();
    assert!(
        hostile_daemons().is_empty(),
        "a daemon of an earlier run is left"
    );

    let data = data_dir("hostile");
    let o = check_path(&src, &["--no-tests"], &data, &[]);
    expect_rung("hostile", &o, "http_answers");
    let confinement = o.report["confinement"].as_str().unwrap_or_default();
    assert!(
        confinement.starts_with("confined with bubblewrap"),
        "{confinement}"
    );
    assert!(
        confinement.contains("network narrowed to the package registries"),
        "{confinement}"
    );
    let log = service_log(&o);
    for want in [
        "store: hidden",
        "checkout: hidden",
        "daemon: started",
        "host port: refused",
        "egress example.com: 403 reporunner: example.com is not on this run's allow-list",
    ] {
        assert!(
            log.contains(want),
            "{want:?} not in the service's log:\n{log}"
        );
    }
    for t in &targets {
        assert!(
            log.contains(&format!("write {}: refused", t.display())),
            "{log}"
        );
        assert!(!t.exists(), "{} was written", t.display());
    }
    assert!(
        hostile_daemons().is_empty(),
        "the daemon outlived the confined run"
    );
    let _ = std::fs::remove_dir_all(&data);

    // The control: unconfined, the same probes succeed.
    let data = data_dir("hostile-unconfined");
    let o = check_path(&src, &["--no-tests", "--no-sandbox"], &data, &[]);
    expect_rung("hostile unconfined", &o, "http_answers");
    assert!(
        o.report["confinement"]
            .as_str()
            .is_some_and(|c| c.starts_with("not confined: --no-sandbox")),
        "{:#}",
        o.report
    );
    let log = service_log(&o);
    let left: Vec<String> = hostile_daemons();
    for pid in &left {
        let _ = std::process::Command::new("kill").arg(pid).status();
    }
    for t in &targets {
        let _ = std::fs::remove_file(t);
    }
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(&src);
    assert!(log.contains("store: VISIBLE"), "{log}");
    assert!(log.contains("checkout: VISIBLE"), "{log}");
    assert!(log.contains("host port: REACHED (host secret)"), "{log}");
    assert!(
        log.contains(&format!("write {}: WRITTEN", targets[0].display())),
        "{log}"
    );
    assert!(
        !left.is_empty(),
        "unconfined, the daemon outlives the run: {log}"
    );
}

/// A test script that hands a command with its arguments, as one word, to a runner that
/// spawns it without a shell (`spawn node --test ENOENT`, as with glob 11.1's `-c`): the
/// Fixer puts a program of that name on the tests' PATH, and the suite runs and is
/// counted.
#[test]
fn a_command_spawned_with_its_arguments_as_one_name_gets_a_shim() {
    let o = check("spawned-command", &[]);
    expect_rung("spawned-command", &o, "tests_pass");
    let repair = &o.report["repairs"][0];
    assert_eq!(
        repair["fix"]["action"], "command_shim",
        "{}",
        o.report["repairs"]
    );
    assert_eq!(repair["fix"]["command"], "node --test");
    assert_eq!(repair["outcome"], "helped");
    assert!(
        repair["evidence"]
            .as_str()
            .is_some_and(|e| e.contains("spawn node --test ENOENT")),
        "{repair}"
    );
    assert_eq!(
        o.report["tests"]["counts"]["passed"], 3,
        "{}",
        o.report["tests"]
    );
}

/// The same for a service: its launcher spawns `node server.js` as one program name; the
/// shim is put on the service's PATH and the run starts it again.
#[test]
fn a_service_spawned_with_its_arguments_as_one_name_gets_a_shim_at_the_start() {
    let o = check("spawned-server", &[]);
    expect_rung("spawned-server", &o, "http_answers");
    let shim = fix_of(&o, "test_tooling");
    assert_eq!(shim["fix"]["action"], "command_shim", "{shim}");
    assert_eq!(shim["fix"]["command"], "node server.js");
    assert_eq!(shim["redo_from"], "start", "{shim}");
    assert_eq!(shim["outcome"], "helped");
    assert_eq!(o.report["http"]["status"], 200);
}
