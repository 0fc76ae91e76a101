//! Crash recovery of the store: a writer process is killed with SIGKILL at random points,
//! at least 50 times. After each kill the store must open, hold every write that was
//! acknowledged, and hold no torn record.

#[path = "support/crash.rs"]
mod crash;

use crash::CrashRecord;
use reporunner_runtime::store::{SledStore, StoreExt, Tree};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const KILLS: usize = 50;
/// The loop is bounded in time as well as in count.
const BUDGET: Duration = Duration::from_secs(240);

#[test]
fn every_acknowledged_write_survives_sigkill() {
    let dir = std::env::temp_dir().join(format!("reporunner-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let began = Instant::now();
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    let mut kills = 0;
    // A simple LCG: reproducible kill points without a rand dependency here.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d ^ u64::from(std::process::id());
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        seed >> 33
    };

    while kills < KILLS {
        assert!(
            began.elapsed() < BUDGET,
            "only {kills} kills within {BUDGET:?}"
        );
        let start = (kills as u64 + 1) * 10_000_000;
        let mut child = Command::new(env!("CARGO_BIN_EXE_store-writer"))
            .arg(&dir)
            .arg(start.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait until it writes, then let it run a random 2–60 ms before the kill.
        let ready = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("writer ready");
        assert_eq!(ready, "ready");
        let first = rx.recv_timeout(Duration::from_secs(30)).expect("first ack");
        let mut lines = vec![first];
        std::thread::sleep(Duration::from_millis(2 + next() % 58));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());
        for line in lines {
            let n: u64 = line
                .strip_prefix("ack ")
                .unwrap_or_else(|| panic!("unexpected line {line:?}"))
                .parse()
                .unwrap();
            acked.insert(n);
        }
        kills += 1;

        // After the crash: the store opens, every acknowledged write is there and intact,
        // and every record in it decodes (none is torn).
        let store = SledStore::open(&dir).expect("the store opens after SIGKILL");
        for &n in &acked {
            let got = store
                .get_record::<CrashRecord>(Tree::RunEvents, &CrashRecord::key(n))
                .unwrap_or_else(|e| panic!("kill {kills}: acknowledged write {n} unreadable: {e}"));
            assert_eq!(
                got,
                Some(CrashRecord::new(n)),
                "kill {kills}: write {n} lost"
            );
        }
        for (key, rec) in store
            .scan_records::<CrashRecord>(Tree::RunEvents, "w-")
            .unwrap()
        {
            let rec = rec.unwrap_or_else(|e| panic!("kill {kills}: torn record {key}: {e}"));
            assert_eq!(
                rec,
                CrashRecord::new(rec.n),
                "kill {kills}: torn record {key}"
            );
        }
    }
    eprintln!(
        "{kills} SIGKILLs, {} acknowledged writes all recovered, in {:?}",
        acked.len(),
        began.elapsed()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_process_on_the_same_data_directory_is_refused_by_name() {
    let dir = std::env::temp_dir().join(format!("reporunner-lock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _held = SledStore::open(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_store-writer"))
        .arg(&dir)
        .arg("0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&dir.display().to_string()), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    assert!(err.contains("in use by another process"), "{err}");
    drop(_held);
    let _ = std::fs::remove_dir_all(&dir);
}
