use super::*;

fn one(text: &str) -> Diagnosis {
    one_with(text, &DiagnoseContext::default())
}

fn one_with(text: &str, ctx: &DiagnoseContext) -> Diagnosis {
    let d = diagnose(text.lines(), ctx);
    assert_eq!(d.len(), 1, "{text}: {d:#?}");
    d.into_iter().next().unwrap()
}

#[test]
fn each_class_is_recognised_from_real_output() {
    let cases: Vec<(&str, FailureClass, Fix)> = vec![
        (
            "ERROR: Package 'shop' requires a different Python: 3.10.13 not in '>=3.11'",
            FailureClass::RuntimeVersion,
            Fix::UseRuntime {
                runtime: "python".into(),
                constraint: ">=3.11".into(),
            },
        ),
        (
            "error vite@5.2.0: The engine \"node\" is incompatible with this module. Expected version \"^18.0.0 || >=20.0.0\". Got \"16.20.2\"",
            FailureClass::RuntimeVersion,
            Fix::UseRuntime {
                runtime: "node".into(),
                constraint: "^18.0.0 || >=20.0.0".into(),
            },
        ),
        (
            "ModuleNotFoundError: No module named 'cv2'",
            FailureClass::UndeclaredDependency,
            Fix::InstallPackage {
                package: "opencv-python".into(),
            },
        ),
        (
            "ModuleNotFoundError: No module named 'requests'",
            FailureClass::UndeclaredDependency,
            Fix::InstallPackage {
                package: "requests".into(),
            },
        ),
        (
            "    Error: pg_config executable not found.",
            FailureClass::SystemLibrary,
            Fix::InstallSystemPackage {
                package: "libpq-dev".into(),
            },
        ),
        (
            "src/_cffi.c:15:10: fatal error: ffi.h: No such file or directory",
            FailureClass::SystemLibrary,
            Fix::InstallSystemPackage {
                package: "libffi-dev".into(),
            },
        ),
        (
            "bash: line 1: tox: command not found",
            FailureClass::TestTooling,
            Fix::InstallTestTool { tool: "tox".into() },
        ),
        (
            "/usr/bin/python3: No module named pytest",
            FailureClass::TestTooling,
            Fix::InstallTestTool {
                tool: "pytest".into(),
            },
        ),
        (
            "OSError: [Errno 98] Address already in use",
            FailureClass::PortInUse,
            Fix::NewPort,
        ),
        (
            "Error: listen EADDRINUSE: address already in use :::3000",
            FailureClass::PortInUse,
            Fix::NewPort,
        ),
        (
            "psycopg2.OperationalError: connection to server at \"localhost\" (127.0.0.1), port 5432 failed: Connection refused",
            FailureClass::Database,
            Fix::StartDatabase {
                kind: "postgresql".into(),
            },
        ),
        (
            "redis.exceptions.ConnectionError: Error 111 connecting to localhost:6379. Connection refused.",
            FailureClass::Database,
            Fix::StartDatabase {
                kind: "redis".into(),
            },
        ),
        (
            "django.db.utils.OperationalError: no such table: blog_post",
            FailureClass::Database,
            Fix::RunMigrations,
        ),
        (
            "KeyError: 'SECRET_KEY'",
            FailureClass::MissingEnv,
            Fix::SetEnv {
                name: "SECRET_KEY".into(),
            },
        ),
        (
            "django.core.exceptions.ImproperlyConfigured: Set the DATABASE_URL environment variable",
            FailureClass::MissingEnv,
            Fix::SetEnv {
                name: "DATABASE_URL".into(),
            },
        ),
        (
            "Error: Missing required env var: STRIPE_KEY",
            FailureClass::MissingEnv,
            Fix::SetEnv {
                name: "STRIPE_KEY".into(),
            },
        ),
        (
            " Waiting for file changes before starting...",
            FailureClass::Interactive,
            Fix::NonInteractive,
        ),
        (
            " ERR_PNPM_OUTDATED_LOCKFILE  Cannot install with \"frozen-lockfile\" because pnpm-lock.yaml is not up to date",
            FailureClass::LockfileMismatch,
            Fix::UnfrozenInstall,
        ),
        (
            "error Your lockfile needs to be updated, but yarn was run with `--frozen-lockfile`.",
            FailureClass::LockfileMismatch,
            Fix::UnfrozenInstall,
        ),
    ];
    for (text, class, fix) in cases {
        let d = one(text);
        assert_eq!((d.class, d.fix.clone()), (class, fix), "{text}");
        assert_eq!(d.evidence, text.trim());
    }
}

#[test]
fn the_projects_own_module_is_not_a_dependency() {
    let ctx = DiagnoseContext {
        own_modules: vec!["shop".into()],
        python: None,
    };
    let d = one_with("ModuleNotFoundError: No module named 'shop'", &ctx);
    assert_eq!(
        (d.class, d.fix),
        (FailureClass::ProjectNotInstalled, Fix::InstallProject)
    );
    // The package is found but a module inside it is not: the project's own bug, which
    // no install fixes.
    assert!(diagnose(["ModuleNotFoundError: No module named 'shop.models'"], &ctx).is_empty());
    assert_eq!(FailureClass::ProjectNotInstalled.code(), "F4");
}

#[test]
fn a_traceback_gives_each_failure_once_and_ordinary_output_none() {
    let log = "Traceback (most recent call last):\n  File \"app.py\", line 3, in <module>\n    import yaml\nModuleNotFoundError: No module named 'yaml'\nModuleNotFoundError: No module named 'yaml'\n";
    let d = diagnose(log.lines(), &DiagnoseContext::default());
    assert_eq!(d.len(), 1);
    assert_eq!(
        d[0].fix,
        Fix::InstallPackage {
            package: "PyYAML".into()
        }
    );
    let quiet = "Collecting flask\nInstalling collected packages: flask\nSuccessfully installed flask-3.0.3\n";
    assert!(diagnose(quiet.lines(), &DiagnoseContext::default()).is_empty());
}

#[test]
fn a_removed_standard_module_asks_for_an_older_python() {
    let d = diagnose(
        ["ModuleNotFoundError: No module named 'imp'"],
        &DiagnoseContext::default(),
    );
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].class, FailureClass::RuntimeVersion);
    assert_eq!(
        d[0].fix,
        Fix::UseRuntime {
            runtime: "python".into(),
            constraint: "<3.12".into()
        }
    );
}

#[test]
fn a_wheel_that_fails_to_build_asks_for_the_python_before() {
    let ctx = DiagnoseContext {
        python: Some((3, 11)),
        ..DiagnoseContext::default()
    };
    let d = one_with("  Failed building wheel for psycopg2", &ctx);
    assert_eq!(
        d.fix,
        Fix::UseRuntime {
            runtime: "python".into(),
            constraint: "<3.11".into()
        }
    );
    // Without knowing the Python, nothing is decided.
    assert!(
        diagnose(
            ["  Failed building wheel for psycopg2"],
            &DiagnoseContext::default()
        )
        .is_empty()
    );
}

#[test]
fn a_stale_poetry_lock_is_installed_unfrozen() {
    let d = one("    | Unable to find installation candidates for smmap (5.0.0)");
    assert_eq!(
        (d.class, d.fix),
        (FailureClass::LockfileMismatch, Fix::UnfrozenInstall)
    );
}

#[test]
fn collections_aliases_ask_for_a_python_before_3_10() {
    let d = one(
        "ImportError: cannot import name 'Mapping' from 'collections' (/usr/lib/python3.11/collections/__init__.py)",
    );
    assert_eq!(
        d.fix,
        Fix::UseRuntime {
            runtime: "python".into(),
            constraint: "<3.10".into()
        }
    );
}
