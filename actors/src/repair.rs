//! Failure signatures and the fixes they call for: the Fixer's catalogue.
//!
//! [`diagnose`] reads a failed command's output (its error lines, head and tail) and names
//! each known failure class it recognises with the typed [`Fix`] it calls for and the line
//! that shows it. Classes follow the research catalogue (F1 to F17). Applying a fix, with a
//! budget per class and loop detection, is the run's business; this module only reads.

use regex::Regex;
use std::sync::LazyLock;

pub use reporunner_protocols::repair::{FailureClass, Fix};

/// One recognised failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// Its class.
    pub class: FailureClass,
    /// The fix it calls for.
    pub fix: Fix,
    /// The output line that shows it.
    pub evidence: String,
}

/// Standard modules that later Pythons removed, with the constraint that still has them
/// (PEP 594 and earlier removals): importing one means the code needs an older Python (F1).
const REMOVED_STDLIB: &[(&str, &str)] = &[
    ("imp", "<3.12"),
    ("distutils", "<3.12"),
    ("asynchat", "<3.12"),
    ("asyncore", "<3.12"),
    ("smtpd", "<3.12"),
    ("cgi", "<3.13"),
    ("cgitb", "<3.13"),
    ("pipes", "<3.13"),
    ("telnetlib", "<3.13"),
    ("crypt", "<3.13"),
    ("imghdr", "<3.13"),
    ("sndhdr", "<3.13"),
    ("nntplib", "<3.13"),
    ("audioop", "<3.13"),
    ("chunk", "<3.13"),
    ("mailcap", "<3.13"),
    ("msilib", "<3.13"),
    ("nis", "<3.13"),
    ("ossaudiodev", "<3.13"),
    ("spwd", "<3.13"),
    ("sunau", "<3.13"),
    ("uu", "<3.13"),
    ("xdrlib", "<3.13"),
];

/// Modules whose package has another name (F3).
const IMPORT_TO_PACKAGE: &[(&str, &str)] = &[
    ("cv2", "opencv-python"),
    ("PIL", "Pillow"),
    ("yaml", "PyYAML"),
    ("sklearn", "scikit-learn"),
    ("skimage", "scikit-image"),
    ("bs4", "beautifulsoup4"),
    ("dotenv", "python-dotenv"),
    ("jwt", "PyJWT"),
    ("dateutil", "python-dateutil"),
    ("Crypto", "pycryptodome"),
    ("magic", "python-magic"),
    ("serial", "pyserial"),
    ("attr", "attrs"),
    ("docx", "python-docx"),
    ("fitz", "PyMuPDF"),
    ("OpenSSL", "pyOpenSSL"),
    ("MySQLdb", "mysqlclient"),
    ("psycopg2", "psycopg2-binary"),
    ("jose", "python-jose"),
    ("multipart", "python-multipart"),
    ("google.protobuf", "protobuf"),
    ("git", "GitPython"),
    ("zmq", "pyzmq"),
    ("usb", "pyusb"),
];

/// Headers and libraries to Debian packages (F5).
const SYSTEM_LIBRARIES: &[(&str, &str)] = &[
    ("pg_config", "libpq-dev"),
    ("libpq-fe.h", "libpq-dev"),
    ("mysql_config", "default-libmysqlclient-dev"),
    ("Python.h", "python3-dev"),
    ("ffi.h", "libffi-dev"),
    ("openssl/ssl.h", "libssl-dev"),
    ("zlib.h", "zlib1g-dev"),
    ("jpeglib.h", "libjpeg-dev"),
    ("libxml/xmlversion.h", "libxml2-dev"),
    ("cairo", "libcairo2-dev"),
    ("libGL.so.1", "libgl1"),
    ("libnss3.so", "libnss3"),
    ("libstdc++.so.6", "libstdc++6"),
    ("cc: not found", "build-essential"),
    ("gcc: not found", "build-essential"),
    ("command 'gcc' failed", "build-essential"),
];

/// Test tools (F6).
const TEST_TOOLS: &[&str] = &["pytest", "tox", "nox", "jest", "vitest", "mocha"];

static NO_MODULE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"No module named ['"]?([A-Za-z0-9_.]+)['"]?"#).unwrap());
static PY_VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:requires a different Python: [0-9.]+ not in|Requires-Python) ['"]?([<>=!~^0-9., *]+)['"]?"#).unwrap()
});
static NODE_ENGINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"engine "node" is incompatible with this module\. Expected version "([^"]+)""#)
        .unwrap()
});
static ENV_MISSING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:KeyError: ['"]([A-Z][A-Z0-9_]+)['"]|(?:[Mm]issing|[Rr]equired) (?:required )?(?:env(?:ironment)? var(?:iable)?)[: ]+['"`]?([A-Z][A-Z0-9_]+)|[Ss]et the ([A-Z][A-Z0-9_]+) environment variable|environment variable ['"`]?([A-Z][A-Z0-9_]+)['"`]? (?:is not set|not set|is required))"#).unwrap()
});
static PORT_IN_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?::|port )(\d{4,5})\b").unwrap());

/// What [`diagnose`] knows of the project, to tell its own modules from dependencies.
#[derive(Debug, Clone, Default)]
pub struct DiagnoseContext {
    /// The project's own top-level Python packages (from `src/` or the root).
    pub own_modules: Vec<String>,
    /// The Python (major, minor) that failed, when a Python install failed.
    pub python: Option<(u32, u32)>,
}

/// Names every known failure in `lines`, in the order first seen, each class once.
pub fn diagnose<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    ctx: &DiagnoseContext,
) -> Vec<Diagnosis> {
    let mut out: Vec<Diagnosis> = Vec::new();
    let mut push = |class, fix, line: &str| {
        if !out
            .iter()
            .any(|d: &Diagnosis| d.class == class && d.fix == fix)
        {
            out.push(Diagnosis {
                class,
                fix,
                evidence: line.trim().to_string(),
            });
        }
    };
    for line in lines {
        let lower = line.to_ascii_lowercase();
        if let Some(m) = NO_MODULE.captures(line) {
            let module = &m[1];
            let top = module.split('.').next().unwrap_or(module);
            if let Some((_, before)) = REMOVED_STDLIB.iter().find(|(m, _)| *m == top) {
                // A standard module newer Pythons dropped: the code wants an older one.
                push(
                    FailureClass::RuntimeVersion,
                    Fix::UseRuntime {
                        runtime: "python".into(),
                        constraint: (*before).to_string(),
                    },
                    line,
                );
            } else if TEST_TOOLS.contains(&top) {
                push(
                    FailureClass::TestTooling,
                    Fix::InstallTestTool {
                        tool: top.to_string(),
                    },
                    line,
                );
            } else if ctx.own_modules.iter().any(|o| o == top) {
                // The project's package is not importable: install it. A module missing
                // inside it is the project's own bug, which no install fixes.
                if module == top {
                    push(FailureClass::ProjectNotInstalled, Fix::InstallProject, line);
                }
            } else {
                let package = IMPORT_TO_PACKAGE
                    .iter()
                    .find(|(m, _)| *m == module || *m == top)
                    .map(|(_, p)| p.to_string())
                    .unwrap_or_else(|| top.to_string());
                push(
                    FailureClass::UndeclaredDependency,
                    Fix::InstallPackage { package },
                    line,
                );
            }
            continue;
        }
        if let Some((major, minor)) = ctx.python
            && (line.contains("Failed building wheel for")
                || line.contains("Failed to build installable wheels")
                || line.contains("error: Failed to build `"))
        {
            // A pinned package whose C code predates this Python's API: an older Python,
            // one minor version at a time.
            push(
                FailureClass::RuntimeVersion,
                Fix::UseRuntime {
                    runtime: "python".into(),
                    constraint: format!("<{major}.{minor}"),
                },
                line,
            );
            continue;
        }
        if line.contains("cannot import name") && line.contains("from 'collections'") {
            // The ABC aliases (`collections.Mapping`, ...) went away in Python 3.10.
            push(
                FailureClass::RuntimeVersion,
                Fix::UseRuntime {
                    runtime: "python".into(),
                    constraint: "<3.10".into(),
                },
                line,
            );
            continue;
        }
        if let Some(m) = PY_VERSION.captures(line) {
            push(
                FailureClass::RuntimeVersion,
                Fix::UseRuntime {
                    runtime: "python".into(),
                    constraint: m[1].trim().to_string(),
                },
                line,
            );
            continue;
        }
        if let Some(m) = NODE_ENGINE.captures(line) {
            push(
                FailureClass::RuntimeVersion,
                Fix::UseRuntime {
                    runtime: "node".into(),
                    constraint: m[1].to_string(),
                },
                line,
            );
            continue;
        }
        if let Some((_, pkg)) = SYSTEM_LIBRARIES.iter().find(|(sig, _)| {
            line.contains(sig)
                && (lower.contains("not found")
                    || lower.contains("no such file")
                    || lower.contains("cannot open")
                    || lower.contains("failed")
                    || lower.contains("fatal error"))
        }) {
            push(
                FailureClass::SystemLibrary,
                Fix::InstallSystemPackage {
                    package: pkg.to_string(),
                },
                line,
            );
            continue;
        }
        if let Some(tool) = TEST_TOOLS.iter().find(|t| {
            lower.contains(&format!("{t}: command not found"))
                || lower.contains(&format!("{t}: not found"))
        }) {
            push(
                FailureClass::TestTooling,
                Fix::InstallTestTool {
                    tool: tool.to_string(),
                },
                line,
            );
            continue;
        }
        if lower.contains("address already in use") || line.contains("EADDRINUSE") {
            push(FailureClass::PortInUse, Fix::NewPort, line);
            continue;
        }
        let refused = [
            "connection refused",
            "could not connect",
            "econnrefused",
            "error 111",
        ]
        .iter()
        .any(|s| lower.contains(s));
        if refused
            && let Some(m) = PORT_IN_LINE
                .captures_iter(line)
                .find(|m| matches!(&m[1], "5432" | "6379" | "3306" | "27017"))
        {
            let kind = match &m[1] {
                "5432" => "postgresql",
                "6379" => "redis",
                "3306" => "mysql",
                "27017" => "mongodb",
                _ => "",
            };
            if !kind.is_empty() {
                push(
                    FailureClass::Database,
                    Fix::StartDatabase { kind: kind.into() },
                    line,
                );
                continue;
            }
        }
        if (lower.contains("relation") && lower.contains("does not exist"))
            || lower.contains("no such table")
            || lower.contains("unapplied migration")
        {
            push(FailureClass::Database, Fix::RunMigrations, line);
            continue;
        }
        if let Some(m) = ENV_MISSING.captures(line) {
            let name = (1..=4)
                .find_map(|i| m.get(i))
                .map(|g| g.as_str().to_string())
                .unwrap_or_default();
            push(FailureClass::MissingEnv, Fix::SetEnv { name }, line);
            continue;
        }
        if lower.contains("[y/n]")
            || lower.contains("(y/n)")
            || lower.contains("press q to quit")
            || lower.contains("watching for file changes")
            || lower.contains("waiting for file changes")
        {
            push(FailureClass::Interactive, Fix::NonInteractive, line);
            continue;
        }
        if lower.contains("lockfile is frozen")
            || line.contains("ERR_PNPM_OUTDATED_LOCKFILE")
            || lower.contains("lockfile needs to be updated")
            || (lower.contains("npm ci") && lower.contains("in sync"))
            || lower.contains("package.json and package-lock.json")
            || lower.contains("unable to find installation candidates")
            || lower.contains("changed significantly since poetry.lock")
            || lower.contains("the lockfile at `uv.lock` needs to be updated")
        {
            push(FailureClass::LockfileMismatch, Fix::UnfrozenInstall, line);
        }
    }
    out
}

#[cfg(test)]
mod tests;
