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
    let src = fixture(name);
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
    assert_eq!(tests["counts"]["failed"], 1);
    assert_eq!(tests["counts"]["passed"], 1);
    assert!(
        tests["tests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["status"] == "failed" && t["name"].as_str().unwrap().contains("test_sub"))
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
    let _ = std::fs::remove_dir_all(&empty);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_path_that_does_not_exist_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_reporunner"))
        .args(["run", "/no/such/repository", "--check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a folder"));
}
