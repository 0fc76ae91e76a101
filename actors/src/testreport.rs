//! Per-test results from a project's own test run: JUnit XML (pytest `--junitxml`, jest and
//! vitest reporters, Maven's Surefire and Gradle's test task), `cargo test`'s output, and TAP (`node --test`, tap, ava). Where none
//! applies, the exit code decides.

use quick_xml::Reader;
use quick_xml::events::Event;

/// How one test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It passed.
    Passed,
    /// It failed or errored.
    Failed,
    /// It was skipped or ignored.
    Skipped,
}

/// One test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    /// Its name, with its class or module when the format gives one.
    pub name: String,
    /// How it ended.
    pub status: Status,
    /// The failure message, when it failed.
    pub message: Option<String>,
}

/// The tests of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestSummary {
    /// Every test, in the order reported.
    pub cases: Vec<TestCase>,
}

impl TestSummary {
    /// Counts the tests that ended with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.cases.iter().filter(|c| c.status == status).count()
    }
}

/// Why a report could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JUnit XML: {0}")]
pub struct ReportError(pub String);

/// Reads a JUnit XML report.
///
/// # Errors
/// [`ReportError`] if the XML is malformed.
pub fn parse_junit(xml: &str) -> Result<TestSummary, ReportError> {
    let mut reader = Reader::from_str(xml);
    let mut summary = TestSummary::default();
    let mut current: Option<TestCase> = None;
    let mut capture_message = false;
    loop {
        match reader
            .read_event()
            .map_err(|e| ReportError(e.to_string()))?
        {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testcase" => {
                if let Some(done) = current.take() {
                    summary.cases.push(done);
                }
                let mut name = String::new();
                let mut class = String::new();
                for a in e.attributes().flatten() {
                    let value = a
                        .unescape_value()
                        .map(|v| v.into_owned())
                        .unwrap_or_default();
                    match a.key.as_ref() {
                        b"name" => name = value,
                        b"classname" => class = value,
                        _ => {}
                    }
                }
                let full = if class.is_empty() {
                    name
                } else {
                    format!("{class}::{name}")
                };
                current = Some(TestCase {
                    name: full,
                    status: Status::Passed,
                    message: None,
                });
            }
            Event::Start(e) | Event::Empty(e) => {
                let tag = e.name().as_ref().to_vec();
                if let Some(case) = current.as_mut() {
                    match tag.as_slice() {
                        b"failure" | b"error" => {
                            case.status = Status::Failed;
                            case.message = e
                                .attributes()
                                .flatten()
                                .find(|a| a.key.as_ref() == b"message")
                                .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()));
                            capture_message = case.message.is_none();
                        }
                        b"skipped" => case.status = Status::Skipped,
                        _ => {}
                    }
                }
            }
            Event::Text(t) if capture_message => {
                if let Some(case) = current.as_mut() {
                    let text = t
                        .unescape()
                        .map(|s| s.trim().to_string())
                        .unwrap_or_default();
                    if !text.is_empty() {
                        case.message = Some(text.lines().next().unwrap_or("").to_string());
                        capture_message = false;
                    }
                }
            }
            Event::End(e) if e.name().as_ref() == b"testcase" => {
                if let Some(done) = current.take() {
                    summary.cases.push(done);
                }
                capture_message = false;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(done) = current.take() {
        summary.cases.push(done);
    }
    Ok(summary)
}

/// The folders JVM builds write JUnit XML to: Surefire's and Failsafe's under `target/`,
/// Gradle's under `build/test-results/<task>/`.
const JVM_REPORT_DIRS: &[&str] = &[
    "target/surefire-reports",
    "target/failsafe-reports",
    "build/test-results",
];

/// The JUnit XML report folders of a Maven or Gradle build in `root` and its modules (four
/// levels down at most).
pub fn jvm_report_dirs(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        for r in JVM_REPORT_DIRS {
            let d = dir.join(r);
            if d.is_dir() {
                found.push(d);
            }
        }
        if depth >= 4 {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if e.file_type().is_ok_and(|t| t.is_dir())
                && !name.starts_with('.')
                && !matches!(name.as_ref(), "target" | "build" | "src" | "node_modules")
            {
                stack.push((e.path(), depth + 1));
            }
        }
    }
    found.sort();
    found
}

/// Reads every JUnit XML file in `dirs` (and their subfolders, Gradle's per task), in name
/// order, as one summary; `None` when there is none. A malformed file is passed over.
pub fn parse_jvm_reports(dirs: &[std::path::PathBuf]) -> Option<TestSummary> {
    let mut files = Vec::new();
    let mut stack: Vec<std::path::PathBuf> = dirs.to_vec();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "xml")
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("TEST-"))
            {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut all = TestSummary::default();
    let mut read = false;
    for f in files {
        if let Ok(s) = std::fs::read_to_string(&f)
            .map_err(|e| e.to_string())
            .and_then(|x| parse_junit(&x).map_err(|e| e.0))
        {
            read = true;
            all.cases.extend(s.cases);
        }
    }
    read.then_some(all)
}

/// Reads `go test -json`'s events: one JSON object a line, whose `pass`, `fail` and `skip`
/// actions name a test (`Package` and `Test`); the package-level ones, without `Test`,
/// are not tests. A line that is not JSON (the go command's own errors) is passed over.
pub fn parse_go_test_json(output: &str) -> TestSummary {
    let mut cases = Vec::new();
    let mut failed_output: std::collections::HashMap<(String, String), Vec<String>> =
        std::collections::HashMap::new();
    for line in output.lines() {
        let Ok(ev) = serde_json::from_str::<serde_json::Value>(line.trim()) else {
            continue;
        };
        let Some(test) = ev.get("Test").and_then(|t| t.as_str()) else {
            continue;
        };
        let package = ev.get("Package").and_then(|p| p.as_str()).unwrap_or("");
        let key = (package.to_string(), test.to_string());
        let status = match ev.get("Action").and_then(|a| a.as_str()) {
            Some("pass") => Status::Passed,
            Some("fail") => Status::Failed,
            Some("skip") => Status::Skipped,
            Some("output") => {
                if let Some(o) = ev.get("Output").and_then(|o| o.as_str()) {
                    let kept = failed_output.entry(key).or_default();
                    if kept.len() < 20 {
                        kept.push(o.trim_end().to_string());
                    }
                }
                continue;
            }
            _ => continue,
        };
        let message = (status == Status::Failed)
            .then(|| failed_output.remove(&key))
            .flatten()
            .map(|lines| lines.join("\n"));
        cases.push(TestCase {
            name: if package.is_empty() {
                test.to_string()
            } else {
                format!("{package}.{test}")
            },
            status,
            message,
        });
    }
    TestSummary { cases }
}

/// The text `go test -json` would have printed without `-json`: each event's `Output`,
/// and the lines that were not JSON (the go command's own), in order, for reading
/// failures and summaries as from any other runner.
pub fn go_test_text(output: &str) -> String {
    let mut text = String::with_capacity(output.len() / 2);
    for line in output.lines() {
        match serde_json::from_str::<serde_json::Value>(line.trim()) {
            Ok(ev) if ev.is_object() => {
                if let Some(o) = ev.get("Output").and_then(|o| o.as_str()) {
                    text.push_str(o);
                    if !o.ends_with('\n') {
                        text.push('\n');
                    }
                }
            }
            _ => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    text
}

/// Reads `cargo test`'s lines: `test NAME ... ok|FAILED|ignored`.
pub fn parse_cargo_test(output: &str) -> TestSummary {
    let cases = output
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("test ")?;
            let (name, outcome) = rest.rsplit_once(" ... ")?;
            let status = match outcome.trim() {
                "ok" => Status::Passed,
                "FAILED" => Status::Failed,
                o if o.starts_with("ignored") => Status::Skipped,
                _ => return None,
            };
            Some(TestCase {
                name: name.trim().to_string(),
                status,
                message: None,
            })
        })
        .collect();
    TestSummary { cases }
}

/// Reads Python unittest's verbose lines (as `python -m unittest -v` and Django's
/// `manage.py test -v 2` print them): `test_name (module.Class.test_name) ... ok`, with
/// `FAIL`, `ERROR`, `skipped '...'` and `expected failure`.
pub fn parse_unittest(output: &str) -> TestSummary {
    let cases = output
        .lines()
        .filter_map(|l| {
            let (head, outcome) = l.trim().rsplit_once(" ... ")?;
            let (method, rest) = head.split_once(" (")?;
            let class = rest.strip_suffix(')')?;
            if method.contains(' ') || class.contains(' ') {
                return None;
            }
            let status = match outcome.trim() {
                "ok" | "expected failure" => Status::Passed,
                "FAIL" | "ERROR" | "unexpected success" => Status::Failed,
                o if o.starts_with("skipped") => Status::Skipped,
                _ => return None,
            };
            // Python 3.11+ prints the full dotted name in the parentheses.
            let name = if class.ends_with(&format!(".{method}")) {
                class.to_string()
            } else {
                format!("{class}.{method}")
            };
            Some(TestCase {
                name,
                status,
                message: None,
            })
        })
        .collect();
    TestSummary { cases }
}

/// Reads TAP lines: `ok N - name`, `not ok N - name`, with `# SKIP` and `# TODO`.
pub fn parse_tap(output: &str) -> TestSummary {
    let cases = output
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let (ok, rest) = if let Some(r) = l.strip_prefix("not ok ") {
                (false, r)
            } else if let Some(r) = l.strip_prefix("ok ") {
                (true, r)
            } else {
                return None;
            };
            let rest = rest
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start();
            let rest = rest.strip_prefix("- ").unwrap_or(rest);
            let (name, directive) = match rest.split_once(" # ") {
                Some((n, d)) => (n, d.to_ascii_uppercase()),
                None => (rest, String::new()),
            };
            let status = if directive.starts_with("SKIP") || directive.starts_with("TODO") {
                Status::Skipped
            } else if ok {
                Status::Passed
            } else {
                Status::Failed
            };
            Some(TestCase {
                name: name.trim().to_string(),
                status,
                message: None,
            })
        })
        .collect();
    TestSummary { cases }
}

/// What a runner's closing summary says when it lists no test one by one: the count per
/// status, the failing tests it names, and the runner that printed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Tests per status: `passed`, `failed`, `skipped`.
    pub counts: std::collections::BTreeMap<String, usize>,
    /// The tests it names as failing.
    pub failing: Vec<String>,
    /// The runner: `mocha`, `jest`, `vitest`, `ava`, `lab`, `pytest`.
    pub runner: &'static str,
}

fn number_before(line: &str, word: &str) -> Option<usize> {
    let words: Vec<&str> = line.split_whitespace().collect();
    words.windows(2).find_map(|w| {
        (w[1].trim_matches(|c: char| !c.is_alphanumeric()) == word)
            .then(|| {
                w[0].trim_matches(|c: char| !c.is_ascii_digit())
                    .parse()
                    .ok()
            })
            .flatten()
    })
}

/// Reads the closing summary of mocha (`12 passing`, `1 failing`, `2 pending` and the
/// numbered failures), Jest and Vitest (`Tests: 1 failed, 30 passed, 31 total`), AVA
/// (`3 tests passed`, `1 test failed`, `✘ [fail]: name`), lab (`3 tests complete`,
/// `1 of 3 tests failed`), TAP's closing comments (`# pass 5`, `# fail 1`, from
/// `node --test` and tape), unittest (`Ran 4 tests`, `FAILED (failures=1)`, `NO TESTS RAN`), pytest
/// (`=== 1 failed, 10 passed in 0.3s ===`) and cargo (`test result: ok. 3 passed; …`, one per
/// test binary, added up). Otherwise the last summary printed wins: a script that chains lint
/// before its tests prints only one.
pub fn parse_counts(output: &str) -> Option<Counts> {
    let owned: Vec<String> = output.lines().map(strip_ansi).collect();
    let lines: Vec<&str> = owned.iter().map(String::as_str).collect();
    let mut found: Option<Counts> = None;
    let set = |runner: &'static str, pairs: Vec<(&str, usize)>, found: &mut Option<Counts>| {
        let mut c = Counts {
            runner,
            ..Counts::default()
        };
        for (k, v) in pairs {
            if v > 0 {
                *c.counts.entry(k.to_string()).or_default() += v;
            }
        }
        *found = Some(c);
    };
    for (i, raw) in lines.iter().enumerate() {
        let l = raw.trim();
        // Jest and Vitest.
        if let Some(rest) = l
            .strip_prefix("Tests:")
            .or_else(|| l.strip_prefix("Tests "))
        {
            let n = |w| number_before(rest, w).unwrap_or(0);
            if rest.contains("passed") || rest.contains("failed") {
                let runner = if l.starts_with("Tests:") {
                    "jest"
                } else {
                    "vitest"
                };
                set(
                    runner,
                    vec![
                        ("passed", n("passed")),
                        ("failed", n("failed")),
                        ("skipped", n("skipped") + n("todo")),
                    ],
                    &mut found,
                );
            }
            continue;
        }
        // mocha: `12 passing (30ms)`, then `1 failing`, `2 pending`.
        if let Some(p) = number_before(&format!("{l} "), "passing")
            .filter(|_| l.ends_with(')') || l.ends_with("passing"))
        {
            let mut failed = 0;
            let mut pending = 0;
            for next in lines[i + 1..].iter().take(4) {
                failed = failed.max(number_before(next, "failing").unwrap_or(0));
                pending = pending.max(number_before(next, "pending").unwrap_or(0));
            }
            set(
                "mocha",
                vec![("passed", p), ("failed", failed), ("skipped", pending)],
                &mut found,
            );
            continue;
        }
        // AVA.
        if l.ends_with("passed") && (l.contains(" tests passed") || l.contains(" test passed")) {
            let passed = number_before(l, "tests")
                .or(number_before(l, "test"))
                .unwrap_or(0);
            let mut failed = 0;
            let mut skipped = 0;
            for next in lines[i + 1..].iter().take(5) {
                if next.contains(" failed") {
                    failed += number_before(next, "tests")
                        .or(number_before(next, "test"))
                        .unwrap_or(0);
                }
                if next.contains(" skipped") || next.contains(" todo") {
                    skipped += number_before(next, "tests")
                        .or(number_before(next, "test"))
                        .unwrap_or(0);
                }
            }
            set(
                "ava",
                vec![("passed", passed), ("failed", failed), ("skipped", skipped)],
                &mut found,
            );
            continue;
        }
        // lab.
        if let Some(total) = number_before(l, "tests")
            .filter(|_| l.ends_with("tests complete") || l.ends_with("test complete"))
        {
            let failed = lines[i.saturating_sub(3)..(i + 4).min(lines.len())]
                .iter()
                .find_map(|x| {
                    x.trim()
                        .split_once(" of ")
                        .filter(|(_, r)| r.contains("failed"))
                        .and_then(|(a, _)| a.trim().parse::<usize>().ok())
                })
                .unwrap_or(0);
            set(
                "lab",
                vec![("passed", total.saturating_sub(failed)), ("failed", failed)],
                &mut found,
            );
            continue;
        }
        // TAP's closing comments (node --test, tape): `# pass 5`, `# fail 1`.
        if let Some(rest) = l.strip_prefix("# pass") {
            let count = |prefix: &str| {
                lines[i..(i + 6).min(lines.len())]
                    .iter()
                    .find_map(|x| x.trim().strip_prefix(prefix))
                    .and_then(|r| r.trim().parse::<usize>().ok())
                    .unwrap_or(0)
            };
            if let Ok(passed) = rest.trim().parse::<usize>() {
                set(
                    "tap",
                    vec![
                        ("passed", passed),
                        ("failed", count("# fail")),
                        ("skipped", count("# skipped") + count("# todo")),
                    ],
                    &mut found,
                );
            }
            continue;
        }
        // unittest: `Ran 12 tests in 0.01s`, then `OK` or `FAILED (failures=1, errors=2)`.
        if let Some(total) = l
            .strip_prefix("Ran ")
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|_| l.contains(" test"))
        {
            let verdict = lines[i + 1..].iter().map(|x| x.trim()).find(|x| {
                x.starts_with("OK") || x.starts_with("FAILED") || x.starts_with("NO TESTS RAN")
            });
            if let Some(v) = verdict {
                let n = |k: &str| {
                    v.split_once(&format!("{k}="))
                        .and_then(|(_, r)| {
                            r.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
                        })
                        .unwrap_or(0usize)
                };
                let failed = n("failures") + n("errors");
                let skipped = n("skipped") + n("expected failures");
                set(
                    "unittest",
                    vec![
                        ("passed", total.saturating_sub(failed + skipped)),
                        ("failed", failed),
                        ("skipped", skipped),
                    ],
                    &mut found,
                );
            }
            continue;
        }
        // cargo: one `test result: ok. 3 passed; 0 failed; 1 ignored; …` per test binary
        // (unit, integration, doc tests), so they add up.
        if let Some(rest) = l.strip_prefix("test result: ") {
            let n = |w| number_before(rest, w).unwrap_or(0);
            let mut c = match found.take() {
                Some(c) if c.runner == "cargo" => c,
                _ => Counts {
                    runner: "cargo",
                    ..Counts::default()
                },
            };
            for (k, v) in [
                ("passed", n("passed")),
                ("failed", n("failed")),
                ("skipped", n("ignored")),
            ] {
                if v > 0 {
                    *c.counts.entry(k.to_string()).or_default() += v;
                }
            }
            found = Some(c);
            continue;
        }
        // pytest's last line.
        if l.starts_with('=')
            && l.ends_with('=')
            && (l.contains(" passed")
                || l.contains(" failed")
                || l.contains(" error")
                || l.contains("no tests ran"))
            && l.contains(" in ")
        {
            let n = |w| number_before(l, w).unwrap_or(0);
            set(
                "pytest",
                vec![
                    ("passed", n("passed")),
                    ("failed", n("failed") + n("error") + n("errors")),
                    ("skipped", n("skipped") + n("xfailed")),
                ],
                &mut found,
            );
        }
    }
    let mut found = found?;
    // The failing tests, as each runner names them.
    for raw in &lines {
        let l = raw.trim_start();
        let name = match found.runner {
            "jest" => l
                .strip_prefix("● ")
                .filter(|n| !n.starts_with("Console") && n.contains(" › ")),
            "ava" => l
                .strip_prefix("✘ [fail]: ")
                .or_else(|| l.strip_prefix("✖ ")),
            "mocha" => l
                .split_once(") ")
                .filter(|(n, rest)| {
                    !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) && !rest.is_empty()
                })
                .map(|(_, rest)| rest),
            "pytest" => l
                .strip_prefix("FAILED ")
                .or_else(|| l.strip_prefix("ERROR ")),
            "vitest" => l.strip_prefix("FAIL ").or_else(|| l.strip_prefix("× ")),
            "tap" => l
                .strip_prefix("not ok ")
                .and_then(|r| r.split_once(' '))
                .map(|(_, n)| n.trim_start_matches("- ")),
            "cargo" => l
                .strip_prefix("test ")
                .and_then(|r| r.strip_suffix(" ... FAILED")),
            "unittest" => l
                .strip_prefix("FAIL: ")
                .or_else(|| l.strip_prefix("ERROR: ")),
            _ => None,
        };
        if let Some(n) = name {
            let n = n.split(" - ").next().unwrap_or(n).trim().to_string();
            if !n.is_empty() && !found.failing.contains(&n) && found.failing.len() < 100 {
                found.failing.push(n);
            }
        }
    }
    Some(found)
}

static MISSING_PROGRAM: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(concat!(
        r#"exec: "([^"\s]+)": executable file not found"#,
        r#"|spawn ([^\s'"]+) ENOENT"#,
        r#"|Cannot run program "([^"\s]+)""#,
        r#"|(?:^|\s|/)([A-Za-z0-9_.+-]+): (?:command )?not found$"#,
        r#"|FileNotFoundError: \[Errno 2\] No such file or directory: '([^'\s/]+)'"#,
    ))
    .unwrap()
});

/// The programs `output` says could not be run because they are not installed (Go's
/// `exec: "google-chrome": executable file not found`, Node's `spawn X ENOENT`, Java's
/// `Cannot run program "X"`, the shell's `X: not found`, Python's `FileNotFoundError`,
/// Testcontainers' `Could not find a valid Docker environment`), each once, at most five.
pub fn missing_programs(output: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in output.lines() {
        let line = strip_ansi(line);
        // Testcontainers and Docker clients name the daemon, not a program.
        if (line.contains("Could not find a valid Docker environment")
            || line.contains("Cannot connect to the Docker daemon"))
            && !out.iter().any(|p| p == "docker")
            && out.len() < 5
        {
            out.push("docker".into());
        }
        for c in MISSING_PROGRAM.captures_iter(line.trim_end()) {
            let Some(name) = (1..c.len()).find_map(|g| c.get(g)).map(|m| m.as_str()) else {
                continue;
            };
            let name = name.rsplit('/').next().unwrap_or(name).to_string();
            if !name.is_empty() && !out.contains(&name) && out.len() < 5 {
                out.push(name);
            }
        }
    }
    out
}

/// A line without its terminal colour codes.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ ... final byte in @..~
            if chars.peek() == Some(&'[') {
                chars.next();
                for n in chars.by_ref() {
                    if ('@'..='~').contains(&n) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn surefire_and_gradle_reports_of_every_module_are_read_as_one_summary() {
        let root = std::env::temp_dir().join(format!("rr-jvm-reports-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let surefire = root.join("core/target/surefire-reports");
        let gradle = root.join("web/build/test-results/test");
        std::fs::create_dir_all(&surefire).unwrap();
        std::fs::create_dir_all(&gradle).unwrap();
        std::fs::write(
            surefire.join("TEST-org.acme.MathTest.xml"),
            r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="org.acme.MathTest" tests="2" failures="1" skipped="0">
  <testcase name="adds" classname="org.acme.MathTest" time="0.001"/>
  <testcase name="divides" classname="org.acme.MathTest" time="0.002">
    <failure message="expected: &lt;2&gt; but was: &lt;3&gt;" type="org.opentest4j.AssertionFailedError">trace</failure>
  </testcase>
</testsuite>"#,
        )
        .unwrap();
        // Surefire's plain-text summaries and a broken file are passed over.
        std::fs::write(surefire.join("org.acme.MathTest.txt"), "Tests run: 2").unwrap();
        std::fs::write(surefire.join("TEST-broken.xml"), "<testsuite><testcase").unwrap();
        std::fs::write(
            gradle.join("TEST-org.acme.WebTest.xml"),
            r#"<testsuite name="org.acme.WebTest"><testcase name="serves()" classname="org.acme.WebTest"><skipped/></testcase></testsuite>"#,
        )
        .unwrap();
        let dirs = super::jvm_report_dirs(&root);
        assert_eq!(dirs.len(), 2, "{dirs:?}");
        let s = super::parse_jvm_reports(&dirs).unwrap();
        assert_eq!(s.count(super::Status::Passed), 1);
        assert_eq!(s.count(super::Status::Failed), 1);
        assert_eq!(s.count(super::Status::Skipped), 1);
        let failed = s
            .cases
            .iter()
            .find(|c| c.status == super::Status::Failed)
            .unwrap();
        assert_eq!(failed.name, "org.acme.MathTest::divides");
        assert_eq!(
            failed.message.as_deref(),
            Some("expected: <2> but was: <3>")
        );
        assert!(super::parse_jvm_reports(&[root.join("none")]).is_none());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn go_test_json_events_name_each_test_and_read_back_as_text() {
        let out = r#"{"Action":"start","Package":"example.com/notes/cmd/seed"}
{"Action":"skip","Package":"example.com/notes/cmd/seed","Elapsed":0}
{"Action":"run","Package":"example.com/notes/store","Test":"TestAdd"}
{"Action":"output","Package":"example.com/notes/store","Test":"TestAdd","Output":"=== RUN   TestAdd\n"}
{"Action":"pass","Package":"example.com/notes/store","Test":"TestAdd","Elapsed":0}
{"Action":"output","Package":"example.com/notes/store","Test":"TestLoad","Output":"    store_test.go:12: want 2, got 3\n"}
{"Action":"fail","Package":"example.com/notes/store","Test":"TestLoad","Elapsed":0}
{"Action":"skip","Package":"example.com/notes/store","Test":"TestNet","Elapsed":0}
# example.com/notes/broken
broken/x.go:3:2: undefined: y
{"Action":"output","Package":"example.com/notes/store","Output":"FAIL\texample.com/notes/store\t0.01s\n"}
{"Action":"fail","Package":"example.com/notes/store","Elapsed":0.01}"#;
        let s = super::parse_go_test_json(out);
        let got: Vec<(&str, super::Status)> = s
            .cases
            .iter()
            .map(|c| (c.name.as_str(), c.status))
            .collect();
        assert_eq!(
            got,
            vec![
                ("example.com/notes/store.TestAdd", super::Status::Passed),
                ("example.com/notes/store.TestLoad", super::Status::Failed),
                ("example.com/notes/store.TestNet", super::Status::Skipped),
            ]
        );
        assert_eq!(
            s.cases[1].message.as_deref(),
            Some("    store_test.go:12: want 2, got 3")
        );
        let text = super::go_test_text(out);
        assert!(text.contains("=== RUN   TestAdd\n"));
        assert!(text.contains("broken/x.go:3:2: undefined: y\n"), "{text}");
        assert!(text.contains("FAIL\texample.com/notes/store\t0.01s\n"));
    }

    #[test]
    fn unittest_verbose_lines_name_each_test() {
        let out = "test_add (calc.tests.CalcTests.test_add) ... ok\n\
test_sub (calc.tests.CalcTests.test_sub) ... FAIL\n\
test_old (tests.OldStyle) ... skipped 'not today'\n\
Ran 3 tests in 0.001s\n\
FAILED (failures=1, skipped=1)\n";
        let s = super::parse_unittest(out);
        assert_eq!(s.cases.len(), 3);
        assert_eq!(s.cases[0].name, "calc.tests.CalcTests.test_add");
        assert_eq!(s.cases[1].status, super::Status::Failed);
        assert_eq!(s.cases[2].name, "tests.OldStyle.test_old");
        assert_eq!(s.count(super::Status::Skipped), 1);
    }

    use super::*;

    #[test]
    fn pytest_junit_xml() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="1" skipped="1" tests="3">
<testcase classname="tests.test_app" name="test_index" time="0.01" />
<testcase classname="tests.test_app" name="test_login" time="0.02"><failure message="assert 401 == 200">def test_login(): ...</failure></testcase>
<testcase classname="tests.test_app" name="test_slow" time="0"><skipped type="pytest.skip" message="slow" /></testcase>
</testsuite></testsuites>"#;
        let s = parse_junit(xml).unwrap();
        assert_eq!(
            (
                s.count(Status::Passed),
                s.count(Status::Failed),
                s.count(Status::Skipped)
            ),
            (1, 1, 1)
        );
        assert_eq!(s.cases[1].name, "tests.test_app::test_login");
        assert_eq!(s.cases[1].message.as_deref(), Some("assert 401 == 200"));
        assert!(parse_junit("<testsuite><testcase name=\"x\"></testsuite").is_err());
    }

    #[test]
    fn cargo_test_output() {
        let out = "running 3 tests\ntest a::works ... ok\ntest b::breaks ... FAILED\ntest c::later ... ignored, slow\n\ntest result: FAILED. 1 passed; 1 failed; 1 ignored";
        let s = parse_cargo_test(out);
        let got: Vec<(&str, Status)> = s
            .cases
            .iter()
            .map(|c| (c.name.as_str(), c.status))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a::works", Status::Passed),
                ("b::breaks", Status::Failed),
                ("c::later", Status::Skipped)
            ]
        );
    }

    #[test]
    fn tap_output() {
        let out = "TAP version 13\nok 1 - adds\nnot ok 2 - subtracts\n  ---\n  ...\nok 3 - later # SKIP not yet\n1..3\n";
        let s = parse_tap(out);
        assert_eq!(
            (
                s.count(Status::Passed),
                s.count(Status::Failed),
                s.count(Status::Skipped)
            ),
            (1, 1, 1)
        );
        assert_eq!(s.cases[1].name, "subtracts");
    }

    #[test]
    fn closing_summaries_are_counted() {
        let mocha = "  express\n    ✔ works\n  1) fails here\n\n\n  12 passing (30ms)\n  1 failing\n  2 pending\n\n  1) express\n       fails here:\n     Error: boom\n";
        let c = parse_counts(mocha).unwrap();
        assert_eq!(c.runner, "mocha");
        assert_eq!(
            (c.counts["passed"], c.counts["failed"], c.counts["skipped"]),
            (12, 1, 2)
        );
        assert!(
            c.failing.contains(&"fails here".to_string()),
            "{:?}",
            c.failing
        );
        let jest = "FAIL src/a.test.js\n  ● math › adds\n\nTests:       1 failed, 2 skipped, 30 passed, 33 total\n";
        let c = parse_counts(jest).unwrap();
        assert_eq!(c.runner, "jest");
        assert_eq!(
            (c.counts["passed"], c.counts["failed"], c.counts["skipped"]),
            (30, 1, 2)
        );
        assert_eq!(c.failing, vec!["math › adds"]);
        let ava = "\u{1b}[32m  ✔ slugifies\u{1b}[39m\n  ✘ [fail]: handles emoji\n  ─\n\n  10 tests passed\n  1 test failed\n";
        let c = parse_counts(ava).unwrap();
        assert_eq!(
            (c.runner, c.counts["passed"], c.counts["failed"]),
            ("ava", 10, 1)
        );
        assert_eq!(c.failing, vec!["handles emoji"]);
        let lab = "  ..........\n\n  10 tests complete\n  Test duration: 300 ms\n";
        assert_eq!(parse_counts(lab).unwrap().counts["passed"], 10);
        let pytest = "FAILED tests/test_a.py::test_x - assert 1 == 2\n========= 1 failed, 10 passed, 2 skipped in 0.31s =========\n";
        let c = parse_counts(pytest).unwrap();
        assert_eq!(
            (c.counts["passed"], c.counts["failed"], c.counts["skipped"]),
            (10, 1, 2)
        );
        assert_eq!(c.failing, vec!["tests/test_a.py::test_x"]);
        let vitest = " Test Files  1 passed (1)\n      Tests  3 passed (3)\n";
        assert_eq!(parse_counts(vitest).unwrap().counts["passed"], 3);
        assert_eq!(parse_counts("eslint found 3 problems"), None);
        let tap = "not ok 2 - subtracts\n# tests 5\n# suites 0\n# pass 4\n# fail 1\n# cancelled 0\n# skipped 0\n# todo 0\n";
        let c = parse_counts(tap).unwrap();
        assert_eq!((c.counts["passed"], c.counts["failed"]), (4, 1));
        assert_eq!(c.failing, vec!["subtracts"]);
        let unittest = "FAIL: test_b (tests.test_app.AppTest.test_b)\n----\nRan 6 tests in 0.020s\n\nFAILED (failures=1, errors=1, skipped=1)\n";
        let c = parse_counts(unittest).unwrap();
        assert_eq!(
            (c.counts["passed"], c.counts["failed"], c.counts["skipped"]),
            (3, 2, 1)
        );
        assert_eq!(c.failing, vec!["test_b (tests.test_app.AppTest.test_b)"]);
        let ok = "Ran 4 tests in 0.1s\n\nOK\n";
        assert_eq!(parse_counts(ok).unwrap().counts["passed"], 4);
    }

    #[test]
    fn a_suite_that_ran_no_test_is_read_as_such() {
        // Python 3.12's unittest (and Django's runner on it) ends an empty run this way.
        let none = "Found 0 test(s).\n\nRan 0 tests in 0.000s\n\nNO TESTS RAN\n";
        let c = parse_counts(none).unwrap();
        assert_eq!((c.runner, c.counts.len()), ("unittest", 0));
        let cargo = "running 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n";
        let c = parse_counts(cargo).unwrap();
        assert_eq!((c.runner, c.counts.len()), ("cargo", 0));
        let pytest = "collected 0 items\n\n============================ no tests ran in 0.01s =============================\n";
        let c = parse_counts(pytest).unwrap();
        assert_eq!((c.runner, c.counts.len()), ("pytest", 0));
    }

    #[test]
    fn programs_the_tests_could_not_run_are_named() {
        let out = "    auth_test.go:31: exec: \"google-chrome\": executable file not found in $PATH\n\
            Error: spawn chromium ENOENT\n\
            java.io.IOException: Cannot run program \"docker\": error=2, No such file or directory\n\
            sh: 1: wkhtmltopdf: not found\n\
            /bin/sh: ffmpeg: command not found\n\
            FileNotFoundError: [Errno 2] No such file or directory: 'convert'\n\
            exec: \"google-chrome\": executable file not found in $PATH\n";
        assert_eq!(
            missing_programs(out),
            [
                "google-chrome",
                "chromium",
                "docker",
                "wkhtmltopdf",
                "ffmpeg"
            ]
        );
        assert!(missing_programs("test result: ok. 3 passed\nmodule not found\n").is_empty());
        let testcontainers = "java.lang.IllegalStateException: Could not find a valid Docker environment. Please see logs and check configuration\n";
        assert_eq!(missing_programs(testcontainers), ["docker"]);
    }

    #[test]
    fn cargo_results_add_up_over_its_test_binaries() {
        let out = "     Running unittests src/lib.rs\n\nrunning 2 tests\ntest result: ok. 2 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out\n\n     Running tests/cli.rs\n\nrunning 5 tests\ntest cli::replaces ... FAILED\ntest result: FAILED. 4 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n\n   Doc-tests sd\n\nrunning 0 tests\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n";
        let c = parse_counts(out).unwrap();
        assert_eq!(c.runner, "cargo");
        assert_eq!(
            (c.counts["passed"], c.counts["failed"], c.counts["skipped"]),
            (6, 1, 1)
        );
        assert_eq!(c.failing, vec!["cli::replaces"]);
    }
}
