//! `reporunner console` in a real terminal: tmux runs it against a real `reporunner serve`,
//! the test sends keys and reads the screen.

use reporunner::api::client::ApiClient;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn reporunner() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reporunner"));
    cmd.env_remove("REPORUNNER_LOG");
    cmd
}

/// A user of `tier` in the store at `data`; returns its token (the last line printed).
fn user(data: &Path, name: &str, tier: &str) -> String {
    let mut add = reporunner()
        .args([
            "users",
            "add",
            name,
            "--tier",
            tier,
            "--password-stdin",
            "--data-dir",
        ])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"a long password\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    let out = reporunner()
        .args(["users", "token", name, "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string()
}

/// A child process killed when the test ends, passed or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `reporunner serve` on a free port; returns it with its URL.
fn serve(data: &Path, root: &Path) -> (Killed, String) {
    let mut child = reporunner()
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(data)
        .arg("--repo-root")
        .arg(root)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(rest) = line.split("serving the API on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (Killed(child), url)
}

/// A tmux server of this test's own, so nothing of the user's is touched.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    fn start(&self, session: &str, command: &str) {
        let ok = self
            .cmd()
            .args([
                "new-session",
                "-d",
                "-s",
                session,
                "-x",
                "160",
                "-y",
                "45",
                command,
            ])
            .status()
            .expect("tmux is installed (scripts/test.sh installs it)");
        assert!(ok.success());
    }

    fn screen(&self, session: &str) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, session: &str, keys: &[&str]) {
        assert!(
            self.cmd()
                .args(["send-keys", "-t", session])
                .args(keys)
                .status()
                .unwrap()
                .success()
        );
    }

    fn text(&self, session: &str, text: &str) {
        assert!(
            self.cmd()
                .args(["send-keys", "-t", session, "-l", text])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Waits until the screen shows every one of `wanted`; returns the screen.
    fn wait_for(&self, session: &str, wanted: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let screen = self.screen(session);
            if wanted.iter().all(|w| screen.contains(w)) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the console never showed {wanted:?}; it shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn alive(&self, session: &str) -> bool {
        self.cmd()
            .args(["has-session", "-t", session])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").stderr(Stdio::null()).status();
    }
}

/// The screen row of the tree line that names `actor`, counted from the tree's first line.
fn tree_row(screen: &str, actor: &str) -> usize {
    let tree: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.contains("Actor tree"))
        .skip(1)
        .collect();
    tree.iter()
        .position(|l| l.contains(actor))
        .unwrap_or_else(|| panic!("{actor} not in the tree:\n{screen}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_node_and_offers_admin_actions_only_to_the_developer() {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("reporunner-console-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data");
    let root = dir.join("repos");
    let site = root.join("site");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/run/static");
    reporunner_runtime::workspace::copy_repository(&fixture, &site).unwrap();
    let developer = user(&data, "dev", "developer");
    let free = user(&data, "fred", "free");
    let (mut server, url) = serve(&data, &root);

    // A run of the developer's, finished before the console attaches.
    let api = ApiClient::new(&url, Some(developer.clone())).unwrap();
    let started: serde_json::Value = api
        .post(
            "/v1/runs",
            &serde_json::json!({"path": "site", "index": false}),
        )
        .await
        .unwrap();
    let run = started["id"].as_str().unwrap().to_string();
    let mut events = api
        .events(&format!("/v1/runs/{run}/events"), None)
        .await
        .unwrap();
    while events.next().await.unwrap().is_some() {}

    let tmux = Tmux {
        socket: format!("reporunner-test-{}", std::process::id()),
    };
    let console = env!("CARGO_BIN_EXE_reporunner");
    tmux.start(
        "dev",
        &format!("{console} console --url {url} --token {developer}"),
    );
    let screen = tmux.wait_for(
        "dev",
        &[
            "Repo Runner console",
            "dev (developer)",
            "(head)",
            "reporunner.admin [admin] running ↻0",
            "reporunner.agents [agent-supervisor]",
            "reporunner.agent.node-host [node-host]",
            &run,
            "phase health succeeded",
            "every phase succeeded",
            "n spawn · r restart · s stop agent · c checkpoint",
        ],
    );
    assert!(screen.contains("Audit log"), "{screen}");

    // Spawn an agent through the prompt; it shows in the tree and the audit log.
    tmux.keys("dev", &["n"]);
    tmux.wait_for("dev", &["spawn (KIND NAME"]);
    tmux.text("dev", "env-detector probe");
    tmux.keys("dev", &["Enter"]);
    let screen = tmux.wait_for(
        "dev",
        &[
            "reporunner.agent.probe [env-detector] running",
            "spawned probe (env-detector)",
            "dev admin.spawn probe (env-detector) ok",
        ],
    );
    // Select it and restart it.
    let row = tree_row(&screen, "reporunner.agent.probe");
    for _ in 0..row {
        tmux.keys("dev", &["j"]);
        std::thread::sleep(Duration::from_millis(50));
    }
    tmux.wait_for("dev", &["▶ ", "reporunner.agent.probe"]);
    let screen = tmux.screen("dev");
    assert!(
        screen
            .lines()
            .any(|l| l.contains("▶") && l.contains("reporunner.agent.probe")),
        "the probe is selected:\n{screen}"
    );
    tmux.keys("dev", &["r"]);
    tmux.wait_for("dev", &["restarted probe", "dev admin.restart probe ok"]);
    tmux.keys("dev", &["c"]);
    tmux.wait_for("dev", &["checkpoint written", "dev admin.checkpoint  ok"]);
    tmux.keys("dev", &["q"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux.alive("dev") {
        assert!(Instant::now() < deadline, "q quits the console");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The free tier: no tree, no nodes, no audit, no admin actions; not the developer's run.
    tmux.start(
        "free",
        &format!("{console} console --url {url} --token {free}"),
    );
    let screen = tmux.wait_for(
        "free",
        &[
            "fred (free)",
            "the actor tree is for the admin and developer tiers",
            "the audit log is for the admin and developer tiers",
            "no runs",
        ],
    );
    assert!(!screen.contains("c checkpoint"), "{screen}");
    assert!(!screen.contains(&run), "{screen}");
    tmux.keys("free", &["c"]);
    tmux.wait_for("free", &["the free tier may not control the Admin agent"]);
    tmux.keys("free", &["q"]);

    // `reporunner users` over the API: the developer manages, the free tier may not.
    let remote = |token: &str, args: &[&str]| {
        reporunner()
            .args(args)
            .args(["--url", &url])
            .env("REPORUNNER_TOKEN", token)
            .output()
            .unwrap()
    };
    let out = remote(&developer, &["users", "set-tier", "fred", "advanced"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = remote(&developer, &["users", "list", "--json"]);
    let users: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        users
            .iter()
            .any(|u| u["name"] == "fred" && u["tier"] == "advanced")
    );
    let out = remote(&developer, &["users", "token", "fred"]);
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap();
    assert!(token.lines().last().unwrap().starts_with("rr_"), "{token}");
    let out = remote(&free, &["users", "list"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("forbidden"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = remote(&developer, &["users", "audit", "-n", "500"]);
    let audit = String::from_utf8_lossy(&out.stdout);
    assert!(
        audit.contains("fred") && audit.contains("refused"),
        "{audit}"
    );

    // A wrong token does not attach.
    let out = reporunner()
        .args(["console", "--url", &url, "--token", "rr_wrong"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unauthorized"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    terminate(&server.0);
    assert!(
        server.0.wait().unwrap().success(),
        "serve stops cleanly on SIGTERM"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends SIGTERM, as an operator's service manager does.
fn terminate(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}
