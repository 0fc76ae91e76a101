//! A writer process for the crash test: writes records into a store as fast as it can and
//! prints `ack N` once write N is durable. The test kills it with SIGKILL at random points.
//!
//! Usage: store-writer DIR START

#[path = "../support/crash.rs"]
mod crash;

use crash::CrashRecord;
use reporunner_runtime::store::{SledStore, Store, StoreExt, Tree};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Concurrent writers, so flushes are grouped as in production.
const WRITERS: u64 = 3;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: store-writer DIR START");
    let start: u64 = args
        .next()
        .expect("START")
        .parse()
        .expect("START is a number");
    let store = match SledStore::open(std::path::Path::new(&dir)) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let out = Arc::new(Mutex::new(std::io::stdout()));
    println!("ready");
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        let out = out.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = start + w;
            loop {
                // A few writes in memory, then one durable flush acknowledges them all.
                let batch = 1 + n % 4;
                let mut written = Vec::new();
                for _ in 0..batch {
                    store
                        .put_record(Tree::RunEvents, &CrashRecord::key(n), &CrashRecord::new(n))
                        .expect("write");
                    written.push(n);
                    n += WRITERS;
                }
                store.flush().await.expect("flush");
                let mut out = out.lock().unwrap();
                for n in written {
                    writeln!(out, "ack {n}").unwrap();
                }
                out.flush().unwrap();
            }
        }));
    }
    // The writers never finish: the test ends this process with SIGKILL.
    let _writers = tasks;
    std::future::pending::<()>().await;
}
