//! Analysis of a generated repository of 10,000 files, beside a raw `ignore` walk of the
//! same tree (the floor: listing the files without reading any).
//!
//! Run with: cargo bench -p reporunner-benches --bench analysis

use criterion::Criterion;
use reporunner_actors::analysis::analyze;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const FILES: usize = 10_000;

/// Writes a monorepo-shaped tree: a Flask API, an Express web app and a Rust service, with
/// sources, tests, docs and assets; 10,000 files in all.
fn generate(root: &Path) {
    let _ = std::fs::remove_dir_all(root);
    let write = |rel: &str, body: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    };
    write("api/requirements.txt", "flask\npsycopg2-binary\nredis\n");
    write(
        "api/app.py",
        "import os\nfrom flask import Flask\napp = Flask(__name__)\nDB = os.environ['DATABASE_URL']\n",
    );
    write(
        "api/.env.example",
        "DATABASE_URL=postgres://u:p@localhost/db\nSECRET_KEY=\n",
    );
    write(
        "web/package.json",
        r#"{"name":"web","scripts":{"start":"node server.js","test":"jest"},"dependencies":{"express":"^4"}}"#,
    );
    write(
        "web/server.js",
        "const app=require('express')();app.listen(process.env.PORT||3000);\n",
    );
    write(
        "svc/Cargo.toml",
        "[package]\nname=\"svc\"\nversion=\"0.1.0\"\n[dependencies]\naxum=\"0.7\"\n",
    );
    write(
        "svc/src/main.rs",
        "fn main() { let _ = \"0.0.0.0:8080\"; }\n",
    );
    write("Procfile", "web: cd api && gunicorn app:app\n");
    let mut n = 8;
    let mut i = 0;
    while n < FILES {
        let (rel, body) = match i % 5 {
            0 => (
                format!("api/pkg{}/mod{i}.py", i % 40),
                format!(
                    "import os\nVALUE_{i} = os.getenv('OPT_{}', '1')\ndef f{i}():\n    return {i}\n",
                    i % 50
                ),
            ),
            1 => (
                format!("web/src/c{}/file{i}.js", i % 40),
                format!("export const v{i} = process.env.FLAG_{} || 'x';\n", i % 50),
            ),
            2 => (
                format!("svc/src/m{}/file{i}.rs", i % 40),
                format!("pub fn f{i}() -> u32 {{ {i} }}\n"),
            ),
            3 => (
                format!("docs/section{}/page{i}.md", i % 40),
                format!("# Page {i}\n\nSome text.\n"),
            ),
            _ => (
                format!("web/public/img{}/a{i}.svg", i % 40),
                "<svg/>".to_string(),
            ),
        };
        write(&rel, &body);
        n += 1;
        i += 1;
    }
}

fn main() {
    let root: PathBuf =
        std::env::temp_dir().join(format!("reporunner-bench-repo-{}", std::process::id()));
    generate(&root);
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    let mut g = c.benchmark_group("analyze_10k_files");
    g.bench_function("raw_ignore_walk", |b| {
        b.iter(|| {
            ignore::WalkBuilder::new(&root)
                .hidden(false)
                .build()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
                .count()
        })
    });
    g.bench_function("analyze", |b| b.iter(|| analyze(&root).unwrap()));
    g.finish();

    let full = std::env::args().any(|a| a == "--bench");
    let mut times: Vec<Duration> = (0..if full { 15 } else { 2 })
        .map(|_| {
            let t = Instant::now();
            let p = analyze(&root).unwrap();
            assert_eq!(p.files_seen as usize, FILES);
            t.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "analyze_10k_files: median {:?} over {} runs (min {:?}, max {:?})",
        times[times.len() / 2],
        times.len(),
        times[0],
        times[times.len() - 1]
    );
    c.final_summary();
    let _ = std::fs::remove_dir_all(&root);
}
