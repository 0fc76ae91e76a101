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

/// Whether confinement can be tested here; scripts/test.sh installs bubblewrap and sets
/// REPORUNNER_REQUIRE_SANDBOX, so there these tests never skip.
fn sandboxed() -> bool {
    match sandbox() {
        Ok(()) => true,
        Err(why) if std::env::var_os("REPORUNNER_REQUIRE_SANDBOX").is_some() => {
            panic!("confinement is required here: {why}")
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            false
        }
    }
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("reporunner-confine-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_confined_command_writes_only_where_it_may_and_sees_no_hidden_or_secret_files() {
    if !sandboxed() {
        return;
    }
    let root = scratch("fs");
    let (work, store, secret) = (root.join("work"), root.join("data"), root.join("key"));
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(store.join("db")).unwrap();
    std::fs::write(store.join("db/tokens"), "rr_secret").unwrap();
    std::fs::write(&secret, "PRIVATE KEY").unwrap();
    let cache = store.join("cache");
    // Outside /tmp (which is private to the command anyway), on the read-only host.
    let escape = PathBuf::from(format!("/var/tmp/reporunner-escape-{}", std::process::id()));
    let script = format!(
        "echo ok > {w}/made && echo made; \
         (echo x > {r}) 2>/dev/null && echo wrote-outside || echo outside-refused; \
         ls {s}/db 2>/dev/null | wc -l; \
         echo c > {c}/entry && echo cache-written; \
         cat {k} 2>/dev/null | wc -c; \
         echo t > /tmp/mine && echo tmp-written",
        w = work.display(),
        r = escape.display(),
        s = store.display(),
        c = cache.display(),
        k = secret.display(),
    );
    let mut spec = CommandSpec::new("/bin/sh", &["-c", &script], &work);
    spec.confine = Some(Confinement {
        writable: vec![work.clone(), cache.clone()],
        hidden: vec![store.clone()],
        secrets: vec![secret.clone()],
        ..Confinement::default()
    });
    let out = run(&spec).await.unwrap();
    assert!(out.success(), "{out:?}");
    assert_eq!(
        out.head,
        [
            "made",
            "outside-refused",
            "0",
            "cache-written",
            "0",
            "tmp-written"
        ],
        "{out:?}"
    );
    assert!(work.join("made").exists());
    assert!(!escape.exists());
    // The cache inside the hidden data directory was written through to the host.
    assert!(cache.join("entry").exists());
    // Its private /tmp is gone with it.
    assert!(!std::path::Path::new("/tmp/mine").exists());
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn file_permissions_hold_for_a_confined_command_even_as_root() {
    if !sandboxed() {
        return;
    }
    let work = scratch("perm");
    // A folder no one may read, as a test suite makes one to check its error path; root
    // reads it anyway unless its capabilities are gone.
    let script = "mkdir locked && chmod 000 locked && \
         (ls locked >/dev/null 2>&1 && echo read || echo refused); \
         (touch locked/x 2>/dev/null && echo wrote || echo refused); \
         chmod 700 locked && grep CapEff /proc/self/status";
    let mut spec = CommandSpec::new("/bin/sh", &["-c", script], &work);
    spec.confine = Some(Confinement {
        writable: vec![work.clone()],
        ..Confinement::default()
    });
    let out = run(&spec).await.unwrap();
    assert!(out.success(), "{out:?}");
    assert_eq!(out.head[..2], ["refused", "refused"], "{out:?}");
    if rustix::process::geteuid().is_root() {
        // CAP_DAC_OVERRIDE (bit 1), CAP_DAC_READ_SEARCH (2) and CAP_SYS_ADMIN (21) are gone.
        let caps = out.head[2].split_whitespace().last().unwrap();
        let caps = u64::from_str_radix(caps, 16).unwrap();
        assert_eq!(caps & (1 << 1 | 1 << 2 | 1 << 21), 0, "{caps:x}");
    }
    let _ = std::fs::remove_dir_all(&work);
}

#[tokio::test]
async fn a_mounted_cache_is_a_real_folder_at_its_place_and_writes_through() {
    if !sandboxed() {
        return;
    }
    let root = scratch("mount");
    let (work, cache) = (root.join("work"), root.join("cache/cargo/k"));
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&cache).unwrap();
    // A link left by an unconfined run is replaced by the mount point.
    std::os::unix::fs::symlink(&cache, work.join("target")).unwrap();
    let script = "echo built > target/out && realpath target/out";
    let mut spec = CommandSpec::new("/bin/sh", &["-c", script], &work);
    spec.confine = Some(Confinement {
        writable: vec![work.clone()],
        mounts: vec![(cache.clone(), work.join("target"))],
        ..Confinement::default()
    });
    let out = run(&spec).await.unwrap();
    assert!(out.success(), "{out:?}");
    // Canonical, and inside the project.
    assert_eq!(
        out.head[0],
        work.join("target/out").display().to_string(),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(cache.join("out")).unwrap(),
        "built\n"
    );
    assert!(work.join("target").is_dir() && !work.join("target").is_symlink());
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn a_daemon_that_left_the_process_group_ends_with_the_service() {
    if !sandboxed() {
        return;
    }
    let root = scratch("daemon");
    let pidfile = root.join("daemon.pid");
    // The daemon makes a session of its own (setsid), so signalling the service's
    // process group does not reach it: only the PID namespace does.
    let script = format!(
        "setsid sh -c 'echo $$ > {p}; exec sleep 300' & sleep 300",
        p = pidfile.display()
    );
    let mut spec = CommandSpec::new("/bin/sh", &["-c", &script], &root);
    spec.confine = Some(Confinement {
        writable: vec![root.clone()],
        ..Confinement::default()
    });
    let service = spawn(&spec).await.unwrap();
    wait_until(Duration::from_secs(10), "the daemon's pid file", || {
        let p = pidfile.clone();
        async move { std::fs::read_to_string(&p).is_ok_and(|s| !s.trim().is_empty()) }
    })
    .await
    .unwrap();
    // The pid it wrote is its pid inside the namespace; find it on the host by its
    // command line instead.
    let host_pid = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|p| p.chars().all(|c| c.is_ascii_digit()))
            .find(|p| {
                std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == b"sleep\x00300\x00")
                    && std::fs::read_to_string(format!("/proc/{p}/stat"))
                        .is_ok_and(|s| s.split_whitespace().nth(5) != Some(&service_sid()))
            })
    };
    let daemon = host_pid().expect("the daemon runs");
    assert!(alive(&daemon));
    service.stop(Duration::from_millis(500)).await;
    wait_until(
        Duration::from_secs(10),
        "the daemon to end with the service",
        || {
            let d = daemon.clone();
            async move { !alive(&d) }
        },
    )
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(&root);
}

/// This test process's session id, which the service shares and the daemon does not.
fn service_sid() -> String {
    std::fs::read_to_string("/proc/self/stat")
        .unwrap()
        .rsplit(") ")
        .next()
        .unwrap()
        .split_whitespace()
        .nth(3)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_fork_bomb_stops_at_its_pids_limit() {
    if !sandboxed() {
        return;
    }
    let root = scratch("pids");
    // Forks until the kernel refuses, then says how many children it got.
    let bomb = "import os, time\nn = 0\nfor _ in range(200):\n    try:\n        pid = os.fork()\n    except OSError:\n        break\n    if pid == 0:\n        time.sleep(30)\n        os._exit(0)\n    n += 1\nprint('started', n, flush=True)\n";
    let mut spec = CommandSpec::new("python3", &["-c", bomb], &root);
    spec.confine = Some(Confinement {
        writable: vec![root.clone()],
        max_pids: Some(32),
        ..Confinement::default()
    });
    spec.timeout = Some(Duration::from_secs(60));
    let probe = pids_cgroup(1);
    let Some(probe) = probe else {
        eprintln!("skipped: this host lets this process make no pids cgroup");
        return;
    };
    remove_cgroup(&probe);
    let started = Instant::now();
    let out = run(&spec).await.unwrap();
    // Forks past the limit fail; the shell and its children end together (the namespace
    // goes with its first process), well before the sleeps would.
    let text = format!("{:?}", out.head);
    let n: usize = out
        .head
        .iter()
        .find_map(|l| l.strip_prefix("started "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(n < 32, "{n} children under a limit of 32: {text}");
    assert!(started.elapsed() < Duration::from_secs(30), "{out:?}");
}

#[tokio::test]
async fn a_memory_hog_is_stopped_at_its_memory_limit() {
    if !sandboxed() {
        return;
    }
    if !limits_available().1 {
        eprintln!("skipped: this host lets this process make no memory cgroup");
        return;
    }
    let root = scratch("memory");
    // Asks for 1 GiB, a MiB at a time, touching each.
    let hog = "chunks = []\nfor i in range(1024):\n    chunks.append(bytearray(1 << 20))\n    if i % 64 == 0:\n        print('MiB', i, flush=True)\nprint('survived', flush=True)\n";
    let mut spec = CommandSpec::new("python3", &["-c", hog], &root);
    spec.confine = Some(Confinement {
        writable: vec![root.clone()],
        max_memory_bytes: Some(64 << 20),
        ..Confinement::default()
    });
    spec.timeout = Some(Duration::from_secs(60));
    let out = run(&spec).await.unwrap();
    assert!(!out.success(), "{out:?}");
    assert!(!out.tail.iter().any(|l| l == "survived"), "{out:?}");
    // It got going before the limit stopped it.
    assert!(out.head.iter().any(|l| l.starts_with("MiB")), "{out:?}");
}

#[tokio::test]
async fn a_file_of_the_runs_own_is_seen_in_a_read_only_folder_without_writing_on_the_host() {
    if !sandboxed() {
        return;
    }
    let root = scratch("files");
    let (work, home, src) = (root.join("work"), root.join("home"), root.join("src"));
    for d in [&work, &home, &src] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(home.join("existing.txt"), "kept\n").unwrap();
    std::fs::write(src.join("app.conf"), "[http]\n").unwrap();
    let script = format!(
        "cat '{h}/app.conf'; cat '{h}/existing.txt'; (touch '{h}/new' 2>/dev/null && echo wrote-privately || echo refused)",
        h = home.display()
    );
    let mut spec = CommandSpec::new("/bin/sh", &["-c", &script], &work);
    spec.confine = Some(Confinement {
        writable: vec![work.clone()],
        files: vec![(src.join("app.conf"), home.join("app.conf"))],
        ..Confinement::default()
    });
    let out = run(&spec).await.unwrap();
    assert!(out.success(), "{out:?}");
    assert_eq!(out.head, ["[http]", "kept", "wrote-privately"], "{out:?}");
    // Nothing was written on the host's side: the folder is a tmpfs of its own.
    assert!(!home.join("app.conf").exists());
    assert!(!home.join("new").exists());
    let _ = std::fs::remove_dir_all(&root);
}
