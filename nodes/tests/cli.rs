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
