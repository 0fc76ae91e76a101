//! A run killed with SIGKILL in the middle of a phase is resumed by a new process, which
//! finishes it without repeating the phases that had finished.

use reporunner_actors::runs::RunBook;
use reporunner_protocols::ids::RunId;
use reporunner_protocols::run::{PhaseStatus, RunEventKind, RunStatus};
use reporunner_runtime::store::SledStore;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn executions(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_run_killed_mid_phase_resumes_without_repeating_finished_phases() {
    let base = std::env::temp_dir().join(format!("reporunner-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let (dir, log) = (base.join("data"), base.join("executions.log"));

    let mut child = Command::new(env!("CARGO_BIN_EXE_run-driver"))
        .args([dir.to_str().unwrap(), log.to_str().unwrap(), "start"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let id = RunId::new(first.trim().strip_prefix("run ").expect("run <id>"));

    // Kill it once `build` has started: fetch is done, build is cut off.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !executions(&log).contains(&"build".to_string()) {
        assert!(Instant::now() < deadline, "build never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    {
        let store = SledStore::open(&dir).expect("the store opens after SIGKILL");
        let run = RunBook::new(Arc::new(store)).load(&id).unwrap().unwrap();
        assert_eq!(
            run.status,
            RunStatus::Running,
            "the dead process left it running"
        );
        assert_eq!(run.phase("fetch").unwrap().status, PhaseStatus::Succeeded);
        assert_eq!(run.phase("build").unwrap().status, PhaseStatus::Running);
    }

    let out = Command::new(env!("CARGO_BIN_EXE_run-driver"))
        .args([
            dir.to_str().unwrap(),
            log.to_str().unwrap(),
            "resume",
            id.as_str(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("done succeeded"), "{stdout}");

    // Counted outside the store: fetch ran once, build twice (cut off, then again), report once.
    assert_eq!(executions(&log), vec!["fetch", "build", "build", "report"]);
    let store = SledStore::open(&dir).unwrap();
    let book = RunBook::new(Arc::new(store));
    let run = book.load(&id).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(run.resumes, 1);
    let attempts: Vec<u32> = run.phases.iter().map(|p| p.attempts).collect();
    assert_eq!(attempts, vec![1, 2, 1]);
    // The events agree: two starts of build, one of the others.
    let starts: Vec<String> = book
        .events(&id)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.kind {
            RunEventKind::PhaseStarted { phase, .. } => Some(phase),
            _ => None,
        })
        .collect();
    assert_eq!(starts, vec!["fetch", "build", "build", "report"]);
    let _ = std::fs::remove_dir_all(&base);
}
