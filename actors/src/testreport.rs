//! Per-test results from a project's own test run: JUnit XML (pytest `--junitxml`, jest and
//! vitest reporters), `cargo test`'s output, and TAP (`node --test`, tap, ava). Where none
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

#[cfg(test)]
mod tests {
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
}
