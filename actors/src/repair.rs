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

static MISSING_CONFIG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(~?[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.(?:conf|toml|ya?ml|json|ini|cfg))\b").unwrap()
});
static GO_UNDEFINED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\.go:\d+:\d+: undefined: [A-Za-z_]").unwrap());
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
/// A required variable named in the message of a program that stopped for it: a Rust
/// `expect("DATABASE_URL must be set")`, a thrown `Error('API_KEY is required')`.
/// Compiler errors of C extensions written against a Python API a release took away, and
/// the Python that still has it.
const C_API_GONE: &[(&str, &str)] = &[
    // The interpreter state became opaque in 3.8.
    ("incomplete typedef ‘PyInterpreterState’", "<3.8"),
    ("incomplete typedef 'PyInterpreterState'", "<3.8"),
    // `tp_print` went in 3.9.
    ("has no member named ‘tp_print’", "<3.9"),
    // Frames became opaque, and longintrepr.h moved, in 3.11.
    ("longintrepr.h: No such file or directory", "<3.11"),
    ("incomplete typedef ‘PyFrameObject’", "<3.11"),
    ("has no member named ‘f_lasti’", "<3.11"),
];

/// A type error located in a dependency's `.d.ts` (tsd's `path:line:col`, tsc's
/// `path(line,col): error`).
static TYPES_IN_DEPENDENCY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"node_modules/@types/[^\s:()]+\.d\.ts(?::\d+:\d+\s*$|\(\d+,\d+\): error TS)")
        .unwrap()
});

/// A public host name a build could not reach: `getaddrinfo ENOTFOUND fonts.googleapis.com`.
static PUBLIC_HOST_UNREACHABLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN) ([A-Za-z0-9.-]+)").unwrap());

/// The public host name (dotted, not `.local`) that one of `lines` says could not be
/// resolved, as Node reports it: what a service that needs the internet at start says
/// on a host without it.
pub fn unreachable_public_host(lines: &[String]) -> Option<String> {
    lines
        .iter()
        .find_map(|line| public_host(line))
        .map(str::to_string)
}

/// The public host `line` says could not be resolved (see [`unreachable_public_host`]).
fn public_host(line: &str) -> Option<&str> {
    let host = PUBLIC_HOST_UNREACHABLE.captures(line)?.get(1)?.as_str();
    (host.contains('.') && !host.ends_with(".local")).then_some(host)
}

/// A command spawned, arguments and all, as one program name: `Error: spawn tsx --test
/// ENOENT` (glob's `-c` without a shell, since 11.1). Words of plain characters only: the
/// shim is written from them.
static SPAWNED_WITH_ARGUMENTS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bspawn ((?:[A-Za-z0-9._/@+=:-]+ ){1,7}[A-Za-z0-9._/@+=:-]+) ENOENT").unwrap()
});

/// pytest's `ERROR collecting tests/test_x.py`.
static COLLECT_ERROR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"ERROR collecting (\S+\.py)\b").unwrap());
/// `No such file or directory: '/path'`.
static MISSING_FILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"No such file or directory: '([^']+)'").unwrap());

/// The git submodule (as `.gitmodules` names its path) that holds `missing`, when its
/// folder in `dir`'s copy is empty or absent.
fn empty_submodule(dir: &std::path::Path, missing: &str) -> Option<String> {
    let missing = std::path::Path::new(missing);
    for base in dir.ancestors().take(4) {
        let Ok(text) = std::fs::read_to_string(base.join(".gitmodules")) else {
            continue;
        };
        for line in text.lines() {
            let Some(path) = line.trim().strip_prefix("path").map(str::trim) else {
                continue;
            };
            let Some(path) = path.strip_prefix('=').map(str::trim) else {
                continue;
            };
            let folder = base.join(path);
            let inside = if missing.is_absolute() {
                missing.starts_with(&folder)
            } else {
                dir.join(missing).starts_with(&folder)
            };
            let empty = std::fs::read_dir(&folder).map_or(true, |mut d| d.next().is_none());
            if inside && empty {
                return Some(path.to_string());
            }
        }
    }
    None
}

/// A message that names the value it wants: ``Set `CAN_SEED_DATABASE=1` environment
/// variable``.
static SET_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"[Ss]et [`'"]?([A-Z][A-Z0-9_]+)=([A-Za-z0-9_.-]+)[`'"]? (?:env(?:ironment)? var)"#)
        .unwrap()
});

/// Django's `ImproperlyConfigured: The SECRET_KEY setting must not be empty.`
static EMPTY_SETTING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"The ([A-Z][A-Z0-9_]+) setting must not be empty").unwrap());
static ENV_REQUIRED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b([A-Z][A-Z0-9]*_[A-Z0-9_]+|[A-Z]{3,}) (?:env(?:ironment)? var(?:iable)? )?(?:must be set|must be defined|must be provided|is required|is not set|is missing|is not defined|not set|not found in (?:the )?env)"#).unwrap()
});
/// A Rust panic's place: `panicked at src/main.rs:12:5`.
/// An upper-case name, as a variable is named in a panic's message.
static UPPER_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b([A-Z][A-Z0-9_]{2,})\b").unwrap());
/// A schema entry's `default:` value.
static SCHEMA_DEFAULT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"default\s*:\s*['"]?([^,'"\n}]+)"#).unwrap());
/// A schema entry's `type:` name.
static SCHEMA_TYPE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"type\s*:\s*['"](\w+)['"]"#).unwrap());
static PANIC_AT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"panicked at ([\w./-]+\.rs):(\d+):\d+").unwrap());
/// `env::var("NAME")` and its kin, in Rust, JavaScript, Python and Go.
static READS_ENV: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:env::var(?:_os)?|std::env::var|dotenv::var|dotenvy::var|process\.env\[|os\.environ\[|os\.getenv|os\.environ\.get|os\.Getenv|System\.getenv)\(?\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]"#).unwrap()
});
/// A Python version the code asks for at run time.
static PY_AT_LEAST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:requires?|needs?) (?:at least )?python (\d+\.\d+)(?:\.\d+)?(?:\+| or (?:higher|later|newer|above|greater))|python (\d+\.\d+)(?:\.\d+)?(?:\+| or (?:higher|later|newer|above|greater)) is required").unwrap()
});
/// A module, or a requirement of it, that needs a newer Go: `go.mod requires go >= 1.27
/// (running go 1.26.8; GOTOOLCHAIN=local)`, `requires go >= 1.27.1 (running go 1.26.8)`.
static GO_AT_LEAST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"requires go >= ?(\d+\.\d+(?:\.\d+)?) \(running go").unwrap());
/// A Java release newer than the JDK the build ran on: javac's and Maven's words, the
/// enforcer's, or a class compiled for a newer runtime (class file version 65 is Java 21).
static JAVA_AT_LEAST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:invalid (?:target|source) release:\s*(?:1\.)?(\d+)|release version (\d+) not supported|requires at least Java (\d+)|Detected JDK [Vv]ersion:? [^\n]*?is not in the allowed range \[(?:1\.)?(\d+)|compiled by a more recent version of the Java Runtime \(class file version (\d+))").unwrap()
});
/// A Maven older than the build asks for: the enforcer's rule, or a plugin's own.
static MAVEN_AT_LEAST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:Detected Maven Version: \S+ is not in the allowed range \[(\d+(?:\.\d+)*)|requires Maven version (\d+(?:\.\d+)*))").unwrap()
});
/// A Node option this Node does not know.
static NODE_BAD_OPTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"node: bad option: (--[\w-]+)").unwrap());
/// A host name that does not resolve, as each client says it.
static UNRESOLVED_HOST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:could not translate host name "([\w.-]+)" to address|Error -?\d+ connecting to ([\w.-]+):(\d+)\. (?:Name or service not known|Temporary failure in name resolution|nodename nor servname)|getaddrinfo (?:ENOTFOUND|EAI_AGAIN) ([\w.-]+)|Unknown (?:MySQL server )?host '([\w.-]+)'|dial tcp: lookup ([\w.-]+)|UnknownHostException: ([\w.-]+)|failed to lookup address information[^\n]*?host[= ]'?([\w.-]+))"#).unwrap()
});
/// A config schema refusing a value: Ajv (`env/PORT must be number`), envalid, pydantic.
static SCHEMA_REJECTS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:\benv/([A-Za-z_][A-Za-z0-9_]*) must be (number|integer|boolean|string|equal to one of the allowed values)|Invalid env var ([A-Z_][A-Z0-9_]*)|input should be a valid (integer|number|boolean)[^\n]*input_value='([^']*)')"#).unwrap()
});
/// A pytest fixture a plugin provides.
static FIXTURE_MISSING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"fixture '(\w+)' not found").unwrap());
/// A name a dependency no longer exports, or an attribute it lost.
static DRIFT_IMPORT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:cannot import name '(\w+)' from '([\w.]+)'|AttributeError: module '([\w.]+)' has no attribute '(\w+)')"#).unwrap()
});

/// Pytest fixtures and the plugins that provide them.
const FIXTURE_PLUGINS: &[(&str, &str)] = &[
    ("mocker", "pytest-mock"),
    ("benchmark", "pytest-benchmark"),
    ("freezer", "pytest-freezer"),
    ("httpx_mock", "pytest-httpx"),
    ("httpserver", "pytest-httpserver"),
    ("requests_mock", "requests-mock"),
    ("respx_mock", "respx"),
    ("aiohttp_client", "pytest-aiohttp"),
    ("event_loop", "pytest-asyncio"),
    ("anyio_backend", "anyio"),
    ("snapshot", "syrupy"),
    ("time_machine", "time-machine"),
    ("faker", "Faker"),
    ("xprocess", "pytest-xprocess"),
    ("client", "pytest-flask"),
    ("db", "pytest-django"),
    ("rf", "pytest-django"),
    ("admin_client", "pytest-django"),
    ("django_user_model", "pytest-django"),
    ("settings", "pytest-django"),
    ("loop", "pytest-aiohttp"),
    ("celery_app", "celery[pytest]"),
    ("redis", "pytest-redis"),
    ("subtests", "pytest-subtests"),
    ("capture_logs", "structlog"),
];

/// Node options and the first Node that knows them.
const NODE_OPTIONS: &[(&str, &str)] = &[
    ("--experimental-strip-types", ">=22.6"),
    ("--experimental-transform-types", ">=22.7"),
    ("--experimental-require-module", ">=22.0"),
    ("--experimental-detect-module", ">=22.0"),
    ("--experimental-sqlite", ">=22.5"),
    ("--experimental-test-coverage", ">=20.0"),
    ("--experimental-test-module-mocks", ">=22.3"),
    ("--experimental-websocket", ">=22.0"),
    ("--env-file-if-exists", ">=22.9"),
    ("--watch-preserve-output", ">=20.0"),
];

/// Standard modules that are not dependencies, for the drift signature.
const STDLIB_TOPS: &[&str] = &[
    "collections",
    "typing",
    "os",
    "sys",
    "asyncio",
    "json",
    "re",
    "abc",
    "functools",
    "itertools",
    "importlib",
    "inspect",
    "dataclasses",
    "enum",
    "datetime",
    "pathlib",
];

/// What [`diagnose`] knows of the project, to tell its own modules from dependencies.
#[derive(Debug, Clone, Default)]
pub struct DiagnoseContext {
    /// The project's own top-level Python packages (from `src/` or the root).
    pub own_modules: Vec<String>,
    /// The Python (major, minor) that failed, when a Python install failed.
    pub python: Option<(u32, u32)>,
    /// When the component last changed in its history (RFC 3339): the date its
    /// dependencies are resolved as of when newer releases broke it.
    pub commit_date: Option<String>,
    /// The compose file's services Repo Runner can start: (host name, kind).
    pub compose_services: Vec<(String, String)>,
    /// The component's folder, to read the code a failure points at (the line a panic
    /// names, the schema that declares a variable).
    pub dir: Option<std::path::PathBuf>,
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
    let lines: Vec<&str> = lines.into_iter().collect();
    // Whether the innermost frame seen so far is a dependency's, for the drift rule.
    let mut in_dependency = false;
    for (i, &line) in lines.iter().enumerate() {
        let lower = line.to_ascii_lowercase();
        let frame = line.trim_start();
        if frame.starts_with("File \"") {
            in_dependency = frame.contains("/site-packages/") || frame.contains("/dist-packages/");
        }
        if let Some(found) = special(&lines, i, line, &lower, in_dependency, ctx) {
            for (class, fix) in found {
                push(class, fix, line);
            }
            continue;
        }
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
        // C code that uses a part of Python's API a release removed: the Python before it.
        if let Some(constraint) = C_API_GONE
            .iter()
            .find(|(sig, _)| line.contains(sig))
            .map(|(_, c)| *c)
        {
            push(
                FailureClass::RuntimeVersion,
                Fix::UseRuntime {
                    runtime: "python".into(),
                    constraint: constraint.into(),
                },
                line,
            );
            continue;
        }
        let c_api_named = || {
            lines
                .iter()
                .any(|l| C_API_GONE.iter().any(|(sig, _)| l.contains(sig)))
        };
        if let Some((major, minor)) = ctx.python
            && !c_api_named()
            && (line.contains("Failed building wheel for")
                || line.contains("Failed to build installable wheels")
                || line.contains("error: Failed to build `")
                || line.contains("PEP517 build of a dependency failed")
                || line.contains("You can verify this by running pip wheel"))
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
            push(
                FailureClass::MissingEnv,
                Fix::SetEnv { name, value: None },
                line,
            );
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
            // Go: go.sum lacks a checksum, or go.mod lacks a requirement the code imports.
            || lower.contains("missing go.sum entry")
            || lower.contains("go: updates to go.mod needed")
            || lower.contains("no required module provides package")
        {
            push(FailureClass::LockfileMismatch, Fix::UnfrozenInstall, line);
        }
    }
    out
}

/// The signatures of run-time failures that need more than the line: what the code at a
/// panic reads, the date dependencies are resolved as of, the compose file's services.
fn special(
    lines: &[&str],
    i: usize,
    line: &str,
    lower: &str,
    in_dependency: bool,
    ctx: &DiagnoseContext,
) -> Option<Vec<(FailureClass, Fix)>> {
    let one = |class, fix| Some(vec![(class, fix)]);
    if let Some(m) = COLLECT_ERROR.captures(line)
        && let Some(dir) = ctx.dir.as_deref()
        && let Some((submodule, _)) = lines[i..]
            .iter()
            .take(40)
            .find_map(|l| MISSING_FILE.captures(l).map(|c| c[1].to_string()))
            .and_then(|missing| empty_submodule(dir, &missing).map(|s| (s, missing)))
    {
        return one(
            FailureClass::MissingSubmodule,
            Fix::IgnoreTests {
                path: m[1].to_string(),
                reason: format!(
                    "it reads the git submodule {submodule}, which is empty in this copy (`git submodule update --init` fills it)"
                ),
            },
        );
    }
    if line.contains("prisma generate")
        && (line.contains("did not initialize yet") || line.contains("Please run"))
    {
        return one(
            FailureClass::BuildStep,
            Fix::Prepare {
                command: "npx --no-install prisma generate".into(),
            },
        );
    }
    if public_host(line).is_some() {
        return one(FailureClass::OfflineBuild, Fix::DevServer);
    }
    if let Some(m) = SPAWNED_WITH_ARGUMENTS.captures(line) {
        return one(
            FailureClass::TestTooling,
            Fix::CommandShim {
                command: m[1].to_string(),
            },
        );
    }
    // A configuration file the program could not find, which the README shows.
    if [
        "not found",
        "no such file",
        "does not exist",
        "cannot find",
        "could not find",
    ]
    .iter()
    .any(|w| lower.contains(w))
        && let Some(dir) = ctx.dir.as_deref()
        && let Some((path, from)) = MISSING_CONFIG
            .captures_iter(line)
            .map(|c| c[1].to_string())
            .filter(|p| !p.contains("node_modules") && !p.contains("site-packages"))
            .find_map(|p| readme_block(dir, &p).map(|from| (p, from)))
    {
        return one(FailureClass::MissingEnv, Fix::WriteConfig { path, from });
    }
    // Go code that names what the project generates (ego templates, stringers, mocks)
    // before it is generated: the project's own generation command, then the build. A
    // build names many; the sources are read for the first.
    if GO_UNDEFINED.is_match(line)
        && lines.iter().position(|l| GO_UNDEFINED.is_match(l)) == Some(i)
        && let Some(command) = ctx.dir.as_deref().and_then(go_generate_command)
    {
        return one(FailureClass::BuildStep, Fix::Generate { command });
    }
    // JPMS tests in a Maven reactor that cannot find a sibling's module: its module
    // descriptor is in the packaged jar only.
    if line.contains("java.lang.module.FindException: Module")
        && line.contains("not found, required by")
        && ctx
            .dir
            .as_deref()
            .is_some_and(|d| d.join("pom.xml").is_file())
    {
        return one(FailureClass::TestTooling, Fix::TestPackaged);
    }
    if line.contains("Missing staticfiles manifest entry") {
        return one(FailureClass::BuildStep, Fix::CollectStatic);
    }
    if let Some(m) = UNRESOLVED_HOST.captures(line) {
        let host = (1..m.len())
            .filter(|g| *g != 3)
            .find_map(|g| m.get(g))
            .map(|g| g.as_str().to_string())?;
        let port = m.get(3).map(|p| p.as_str());
        let kind = ctx
            .compose_services
            .iter()
            .find(|(name, _)| *name == host)
            .map(|(_, k)| k.clone())
            .or_else(|| match (port, host.as_str()) {
                (Some("6379"), _) | (_, "redis" | "cache") => Some("redis".into()),
                (Some("5432"), _) | (_, "postgres" | "postgresql" | "pg") => {
                    Some("postgresql".into())
                }
                _ => None,
            })?;
        if host.contains('.') || host == "localhost" {
            return None;
        }
        return one(FailureClass::HostName, Fix::ServiceHost { host, kind });
    }
    if let Some(m) = FIXTURE_MISSING.captures(line)
        && let Some((_, plugin)) = FIXTURE_PLUGINS.iter().find(|(f, _)| *f == &m[1])
    {
        return one(
            FailureClass::TestTooling,
            Fix::InstallTestTool {
                tool: (*plugin).to_string(),
            },
        );
    }
    if line.contains("unrecognized arguments: --cov")
        || line.contains("unrecognized arguments: --cov-")
    {
        return one(
            FailureClass::TestTooling,
            Fix::InstallTestTool {
                tool: "pytest-cov".into(),
            },
        );
    }
    if let Some(m) = PY_AT_LEAST.captures(line) {
        let v = m.get(1).or(m.get(2))?.as_str();
        return one(
            FailureClass::RuntimeVersion,
            Fix::UseRuntime {
                runtime: "python".into(),
                constraint: format!(">={v}"),
            },
        );
    }
    if let Some(m) = MAVEN_AT_LEAST.captures(line) {
        return one(
            FailureClass::RuntimeVersion,
            Fix::UseRuntime {
                runtime: "maven".into(),
                constraint: format!(">={}", m.get(1).or(m.get(2))?.as_str()),
            },
        );
    }
    if let Some(m) = JAVA_AT_LEAST.captures(line) {
        let major = match m.get(5) {
            Some(class_file) => class_file.as_str().parse::<u32>().ok()?.checked_sub(44)?,
            None => (1..5).find_map(|g| m.get(g))?.as_str().parse().ok()?,
        };
        return one(
            FailureClass::RuntimeVersion,
            Fix::UseRuntime {
                runtime: "java".into(),
                constraint: format!(">={major}"),
            },
        );
    }
    if let Some(m) = GO_AT_LEAST.captures(line) {
        return one(
            FailureClass::RuntimeVersion,
            Fix::UseRuntime {
                runtime: "go".into(),
                constraint: format!(">={}", &m[1]),
            },
        );
    }
    if let Some(m) = NODE_BAD_OPTION.captures(line) {
        let constraint = NODE_OPTIONS
            .iter()
            .find(|(o, _)| *o == &m[1])
            .map(|(_, c)| c.to_string())
            .unwrap_or_else(|| ">=22".into());
        return one(
            FailureClass::RuntimeVersion,
            Fix::UseRuntime {
                runtime: "node".into(),
                constraint,
            },
        );
    }
    if line.contains("ERR_UNKNOWN_FILE_EXTENSION") && line.contains(".ts") {
        // Node runs TypeScript itself from 23.6 on.
        return one(
            FailureClass::RuntimeVersion,
            Fix::UseRuntime {
                runtime: "node".into(),
                constraint: ">=23.6".into(),
            },
        );
    }
    if let Some(m) = SCHEMA_REJECTS.captures(line) {
        let (name, kind) = if let Some(n) = m.get(1) {
            (
                n.as_str().to_string(),
                m.get(2).map_or("", |k| k.as_str()).to_string(),
            )
        } else if let Some(n) = m.get(3) {
            (n.as_str().to_string(), String::new())
        } else {
            // pydantic names the field on the line before its error.
            let field = lines[..i].iter().rev().map(|l| l.trim()).find(|l| {
                !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })?;
            (
                field.to_ascii_uppercase(),
                m.get(4).map_or("", |k| k.as_str()).to_string(),
            )
        };
        let value = schema_value(ctx.dir.as_deref(), &name, &kind);
        return one(
            FailureClass::MissingEnv,
            Fix::SetEnv {
                name,
                value: Some(value),
            },
        );
    }
    if line.contains("NotPresent")
        && let Some(name) = env_at_panic(lines, i, ctx)
    {
        return one(FailureClass::MissingEnv, Fix::SetEnv { name, value: None });
    }
    if line.contains("refused the host name (Django's ALLOWED_HOSTS)")
        || line.contains("Invalid HTTP_HOST header")
    {
        let name = env_for_setting(ctx.dir.as_deref(), "ALLOWED_HOSTS");
        if name != "ALLOWED_HOSTS" {
            let sep = split_of(ctx.dir.as_deref(), "ALLOWED_HOSTS").unwrap_or_else(|| ",".into());
            return one(
                FailureClass::MissingEnv,
                Fix::SetEnv {
                    name,
                    value: Some(["localhost", "127.0.0.1", "[::1]"].join(&sep)),
                },
            );
        }
    }
    if let Some(m) = SET_VALUE.captures(line) {
        return one(
            FailureClass::MissingEnv,
            Fix::SetEnv {
                name: m[1].to_string(),
                value: Some(m[2].to_string()),
            },
        );
    }
    if let Some(m) = EMPTY_SETTING.captures(line) {
        let name = env_for_setting(ctx.dir.as_deref(), &m[1]);
        return one(FailureClass::MissingEnv, Fix::SetEnv { name, value: None });
    }
    if let Some(m) = ENV_REQUIRED.captures(line)
        && !line.contains("ModuleNotFoundError")
    {
        let name = m[1].to_string();
        if !["PATH", "HOME", "NODE"].contains(&name.as_str()) {
            return one(FailureClass::MissingEnv, Fix::SetEnv { name, value: None });
        }
    }
    // Drift: code written against older releases meets newer ones.
    let date = ctx.commit_date.clone();
    let drift = |date: Option<String>| {
        date.map(|date| vec![(FailureClass::DependencyDrift, Fix::ResolveAsOf { date })])
    };
    if let Some(m) = DRIFT_IMPORT.captures(line) {
        let module = m.get(2).or(m.get(3)).map_or("", |g| g.as_str());
        let top = module.split('.').next().unwrap_or(module);
        let own = ctx.own_modules.iter().any(|o| o == top);
        if !own
            && !STDLIB_TOPS.contains(&top)
            && !line.contains("partially initialized")
            && !module.is_empty()
        {
            return drift(date);
        }
    }
    let exception = !line.starts_with(' ')
        && (line.starts_with("TypeError: ") || line.starts_with("AttributeError: "));
    if exception && in_dependency {
        return drift(date);
    }
    if line.contains("ERR_REQUIRE_ESM") && line.contains("node_modules") {
        return drift(date);
    }
    // The type checker fails inside a dependency's own type definitions: definitions
    // newer than the TypeScript the project pins.
    if TYPES_IN_DEPENDENCY.is_match(line) {
        return drift(date);
    }
    None
}

/// The variable a Rust program panicked for: named in the panic's message, else read on
/// the line the panic points at.
fn env_at_panic(lines: &[&str], i: usize, ctx: &DiagnoseContext) -> Option<String> {
    // The message is on the panic line or the one after it.
    let window: Vec<&str> = lines[i.saturating_sub(2)..(i + 1).min(lines.len())].to_vec();
    for l in window.iter().rev() {
        if let Some(m) = UPPER_NAME
            .captures_iter(l)
            .map(|m| m[1].to_string())
            .find(|n| n != "NOT" && n != "ENV" && !n.starts_with("RUST"))
        {
            return Some(m);
        }
    }
    let at = window.iter().rev().find_map(|l| PANIC_AT.captures(l))?;
    let text = std::fs::read_to_string(ctx.dir.as_ref()?.join(&at[1])).ok()?;
    let n: usize = at[2].parse().ok()?;
    let line = text.lines().nth(n.checked_sub(1)?)?;
    READS_ENV.captures(line).map(|m| m[1].to_string())
}

/// The variable a settings module reads a setting from (`SECRET_KEY =
/// os.environ.get("DJANGO_SECRET_KEY")`), else the setting's own name.
fn env_for_setting(dir: Option<&std::path::Path>, setting: &str) -> String {
    let read = Regex::new(&format!(
        r#"(?m)^\s*{}\s*=.*?(?:environ\.get|getenv|environ\[|env\.str|env|config)\(?\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]"#,
        regex::escape(setting)
    ));
    let found = dir
        .zip(read.ok())
        .and_then(|(dir, read)| crate::sources::first_capture(dir, &["py"], &read));
    found.unwrap_or_else(|| setting.to_string())
}

/// The separator a settings module splits a setting's variable with
/// (`os.environ.get("HOSTS").split(" ")`).
fn split_of(dir: Option<&std::path::Path>, setting: &str) -> Option<String> {
    let re = Regex::new(&format!(
        r#"(?m)^\s*{}\s*=.*?\.split\(\s*['"]([^'"]+)['"]"#,
        regex::escape(setting)
    ))
    .ok()?;
    crate::sources::first_capture(dir?, &["py"], &re)
}

/// A value of the type a config schema declares for `name`: the schema's default when it
/// gives one, else a plain value of the type.
fn schema_value(dir: Option<&std::path::Path>, name: &str, kind: &str) -> String {
    let by_type = |t: &str| match t {
        "number" | "integer" | "int" | "float" => "0".to_string(),
        "boolean" | "bool" => "false".to_string(),
        _ => crate::envfile::PLACEHOLDER.to_string(),
    };
    let Some(dir) = dir else {
        return by_type(kind);
    };
    let decl = Regex::new(&format!(
        r#"(?s)\b{name}['"]?\s*:\s*\{{([^}}]{{0,400}})\}}|(?im)^\s*{name}\s*:\s*(\w+)\s*=\s*([^\n#]+)"#,
        name = regex::escape(name)
    ));
    let Ok(decl) = decl else {
        return by_type(kind);
    };
    let walker = reporunner_runtime::index::files::walker(dir, true).build();
    for entry in walker.flatten().take(2000) {
        let path = entry.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !["js", "mjs", "cjs", "ts", "mts", "py", "json"].contains(&ext) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let Some(m) = decl.captures(&text) else {
            continue;
        };
        if let Some(body) = m.get(1) {
            let body = body.as_str();
            let default = SCHEMA_DEFAULT
                .captures(body)
                .map(|c| c[1].trim().to_string());
            let ty = SCHEMA_TYPE
                .captures(body)
                .map(|c| c[1].to_string())
                .unwrap_or_else(|| kind.to_string());
            return default.unwrap_or_else(|| by_type(&ty));
        }
        if let (Some(ty), Some(default)) = (m.get(2), m.get(3)) {
            let d = default
                .as_str()
                .trim()
                .trim_matches(|c| c == '"' || c == '\'');
            return match d {
                "True" => "true".into(),
                "False" => "false".into(),
                d if !d.contains('(') => d.to_string(),
                _ => by_type(ty.as_str()),
            };
        }
    }
    by_type(kind)
}

/// Where the README shows the contents of the file `path` names: the first fenced block
/// opening within a few lines after a line that names the file (`README.md:133`).
pub(crate) fn readme_block(dir: &std::path::Path, path: &str) -> Option<String> {
    let name = path.rsplit('/').next().filter(|n| n.contains('.'))?;
    for readme in ["README.md", "readme.md", "Readme.md", "README.markdown"] {
        let Ok(text) = std::fs::read_to_string(dir.join(readme)) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if !l.contains(name) || l.trim_start().starts_with("```") {
                continue;
            }
            let Some(open) = (i + 1..(i + 6).min(lines.len()))
                .find(|&j| lines[j].trim_start().starts_with("```"))
            else {
                continue;
            };
            if readme_fence(&lines, open).is_some_and(|b| !b.is_empty()) {
                return Some(format!("{readme}:{}", open + 1));
            }
        }
    }
    None
}

/// The lines of the fenced block that opens on line `open` (0-based), without its fences.
pub(crate) fn readme_fence<'a>(lines: &[&'a str], open: usize) -> Option<Vec<&'a str>> {
    if !lines.get(open)?.trim_start().starts_with("```") {
        return None;
    }
    let close = (open + 1..lines.len()).find(|&j| lines[j].trim_start().starts_with("```"))?;
    // A shell session is not a file's contents.
    let body: Vec<&str> = lines[open + 1..close].to_vec();
    (!body.iter().any(|l| l.trim_start().starts_with("$ "))).then_some(body)
}

/// How a Go module generates code: `go generate ./...` where its sources carry
/// `//go:generate` directives, else its Makefile's `generate` target.
fn go_generate_command(dir: &std::path::Path) -> Option<String> {
    if !dir.join("go.mod").is_file() {
        return None;
    }
    if crate::sources::texts(dir, &["go"])
        .any(|(_, t)| t.lines().any(|l| l.starts_with("//go:generate ")))
    {
        return Some("go generate ./...".into());
    }
    let makefile = ["Makefile", "makefile", "GNUmakefile"]
        .iter()
        .find_map(|m| std::fs::read_to_string(dir.join(m)).ok())?;
    makefile
        .lines()
        .any(|l| l.starts_with("generate:"))
        .then(|| "make generate".into())
}

#[cfg(test)]
mod tests;
