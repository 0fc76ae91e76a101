//! Real child processes: exit codes, output capture, deadlines, the silence watchdog,
//! process groups, the clean environment, closed stdin and limits.

use super::*;
use crate::testsuite::wait_until;

fn sh(script: &str) -> CommandSpec {
    CommandSpec::new("/bin/sh", &["-c", script], std::env::temp_dir())
}

fn alive(pid: &str) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
}

#[tokio::test]
async fn output_is_kept_as_head_tail_errors_and_log() {
    let log = std::env::temp_dir().join(format!("reporunner-proc-{}.log", std::process::id()));
    let mut spec =
        sh("for i in $(seq 1 300); do echo line $i; done; echo 'Error: boom' >&2; exit 3");
    spec.log = Some(log.clone());
    let out = run(&spec).await.unwrap();
    assert_eq!(out.code, Some(3));
    assert!(!out.success());
    assert_eq!(out.head.len(), HEAD_LINES);
    assert_eq!(out.head[0], "line 1");
    assert_eq!(out.tail.len(), TAIL_LINES);
    assert!(out.tail.iter().any(|l| l == "line 300"));
    assert_eq!(out.error_lines, vec!["Error: boom"]);
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 301);
    let _ = std::fs::remove_file(log);
}

#[tokio::test]
async fn a_deadline_kills_the_whole_group() {
    let mut spec = sh("sleep 300 & echo $!; wait");
    spec.timeout = Some(Duration::from_millis(300));
    let out = run(&spec).await.unwrap();
    assert_eq!(out.cutoff, Some(Cutoff::Timeout));
    assert!(out.duration < Duration::from_secs(10));
    let grandchild = out.head[0].clone();
    wait_until(Duration::from_secs(5), "the grandchild to die", || {
        let g = grandchild.clone();
        async move { !alive(&g) }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn silence_past_the_idle_limit_is_a_hang() {
    let mut spec = sh("echo starting; sleep 300");
    spec.idle_timeout = Some(Duration::from_millis(300));
    let out = run(&spec).await.unwrap();
    assert_eq!(out.cutoff, Some(Cutoff::Idle));
    assert_eq!(out.head, vec!["starting"]);
}

#[tokio::test]
async fn the_environment_is_clean_and_stdin_is_closed() {
    let mut spec = sh("env; cat");
    spec.env.insert("APP_SETTING".into(), "1".into());
    spec.timeout = Some(Duration::from_secs(30));
    let out = run(&spec).await.unwrap();
    // `cat` returned at once: stdin is closed, so nothing waits for a person.
    assert!(out.success(), "{out:?}");
    for line in &out.head {
        let name = line.split('=').next().unwrap();
        assert!(
            PASSTHROUGH_ENV.contains(&name)
                || name == "CI"
                || name == "APP_SETTING"
                || name == "PWD"
                || name == "SHLVL"
                || name == "_",
            "{name} leaked into the child's environment"
        );
    }
    assert!(out.head.iter().any(|l| l == "CI=true"));
    assert!(out.head.iter().any(|l| l == "APP_SETTING=1"));
}

#[tokio::test]
async fn limits_bind_the_program() {
    let mut spec = sh("ulimit -n");
    spec.limits.open_files = Some(64);
    let out = run(&spec).await.unwrap();
    assert_eq!(out.head, vec!["64"]);
}

#[tokio::test]
async fn a_missing_program_is_a_clear_error() {
    let spec = CommandSpec::new("definitely-not-a-program", &[], std::env::temp_dir());
    let err = run(&spec).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot start `definitely-not-a-program`"),
        "{err}"
    );
}

#[tokio::test]
async fn a_service_stops_with_its_workers() {
    let mut service = spawn(&sh("trap '' TERM; sleep 300 & echo $!; wait"))
        .await
        .unwrap();
    assert!(service.is_running());
    wait_until(Duration::from_secs(5), "the worker pid", || {
        let has = !service.output().0.is_empty();
        async move { has }
    })
    .await
    .unwrap();
    let worker = service.output().0[0].clone();
    assert!(alive(&worker));
    // Both ignore SIGTERM (an ignored signal is inherited): they are killed after the
    // grace period, together.
    let out = service.stop(Duration::from_millis(300)).await;
    assert_eq!(out.cutoff, Some(Cutoff::Timeout));
    wait_until(Duration::from_secs(5), "the worker to die", || {
        let w = worker.clone();
        async move { !alive(&w) }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn the_ports_a_service_really_opened_are_found() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("python3 is not installed: skipped");
        return;
    }
    // A server that ignores any port it is given and picks its own, in a child process
    // of the group's leader.
    let script = "python3 -c 'import socket,time\ns=socket.socket()\ns.bind((\"127.0.0.1\",0))\ns.listen()\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)' & wait";
    let service = spawn(&sh(script)).await.unwrap();
    wait_until(
        Duration::from_secs(10),
        "the server to report its port",
        || {
            let ready = !service.output().0.is_empty();
            async move { ready }
        },
    )
    .await
    .unwrap();
    let port: u16 = service.output().0[0].parse().unwrap();
    let found = service.listening_ports();
    assert!(
        found
            .iter()
            .any(|l| l.port == port && l.address == "127.0.0.1"),
        "{found:?} lacks 127.0.0.1:{port}"
    );
    service.stop(Duration::from_millis(500)).await;
}

#[test]
fn proc_addresses_decode() {
    assert_eq!(decode_address("0100007F", false), "127.0.0.1");
    assert_eq!(decode_address("00000000", false), "0.0.0.0");
    assert_eq!(
        decode_address("00000000000000000000000000000000", true),
        "::"
    );
    assert_eq!(
        decode_address("00000000000000000000000001000000", true),
        "::1"
    );
}

#[tokio::test]
async fn a_private_hosts_file_resolves_for_the_command_alone() {
    if let Err(why) = private_hosts() {
        // A host without root or user namespaces says so; the run reports it the same way.
        eprintln!("skipped: {why}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("reporunner-hosts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n127.77.0.9 cachebox\n").unwrap();
    let mut spec = sh("getent hosts cachebox; cat /etc/hosts | wc -l");
    spec.hosts_file = Some(hosts.clone());
    spec.limits.open_files = Some(256);
    let out = run(&spec).await.unwrap();
    assert!(out.success(), "{out:?}");
    assert!(out.head[0].starts_with("127.77.0.9"), "{:?}", out.head);
    assert_eq!(out.head[1].trim(), "2");
    // Nothing outside the command sees it.
    let host = std::fs::read_to_string("/etc/hosts").unwrap();
    assert!(!host.contains("cachebox"));
    let _ = std::fs::remove_dir_all(&dir);
}
