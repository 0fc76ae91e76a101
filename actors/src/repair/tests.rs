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
            "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-compiler-plugin:3.13.0:compile (default-compile) on project notes: Fatal error compiling: error: release version 21 not supported",
            FailureClass::RuntimeVersion,
            Fix::UseRuntime {
                runtime: "java".into(),
                constraint: ">=21".into(),
            },
        ),
        (
            "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-compiler-plugin:3.1:compile (default-compile) on project x: Fatal error compiling: invalid target release: 1.8.1",
            FailureClass::RuntimeVersion,
            Fix::UseRuntime {
                runtime: "java".into(),
                constraint: ">=8".into(),
            },
        ),
        (
            "Exception in thread \"main\" java.lang.UnsupportedClassVersionError: com/acme/App has been compiled by a more recent version of the Java Runtime (class file version 65.0), this version of the Java Runtime only recognizes class file versions up to 61.0",
            FailureClass::RuntimeVersion,
            Fix::UseRuntime {
                runtime: "java".into(),
                constraint: ">=21".into(),
            },
        ),
        (
            "[ERROR] Detected Maven Version: 3.8.7 is not in the allowed range [3.9,).",
            FailureClass::RuntimeVersion,
            Fix::UseRuntime {
                runtime: "maven".into(),
                constraint: ">=3.9".into(),
            },
        ),
        (
            "[ERROR] Failed to execute goal io.github.ascopes:protobuf-maven-plugin:5.1.7:generate-test (default) on project proto: The plugin io.github.ascopes:protobuf-maven-plugin:5.1.7 requires Maven version 3.9.6 -> [Help 1]",
            FailureClass::RuntimeVersion,
            Fix::UseRuntime {
                runtime: "maven".into(),
                constraint: ">=3.9.6".into(),
            },
        ),
        (
            "[ERROR] Rule 1: org.apache.maven.enforcer.rules.version.RequireJavaVersion failed with message: Detected JDK version 17.0.15 (JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64) is not in the allowed range [21,).",
            FailureClass::RuntimeVersion,
            Fix::UseRuntime {
                runtime: "java".into(),
                constraint: ">=21".into(),
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
                value: None,
            },
        ),
        (
            "django.core.exceptions.ImproperlyConfigured: Set the DATABASE_URL environment variable",
            FailureClass::MissingEnv,
            Fix::SetEnv {
                name: "DATABASE_URL".into(),
                value: None,
            },
        ),
        (
            "Error: Missing required env var: STRIPE_KEY",
            FailureClass::MissingEnv,
            Fix::SetEnv {
                name: "STRIPE_KEY".into(),
                value: None,
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
        (
            "ValueError: Missing staticfiles manifest entry for 'css/styles.css'",
            FailureClass::BuildStep,
            Fix::CollectStatic,
        ),
        (
            "E       fixture 'mocker' not found",
            FailureClass::TestTooling,
            Fix::InstallTestTool {
                tool: "pytest-mock".into(),
            },
        ),
        (
            "pytest: error: unrecognized arguments: --cov=src --cov-report=term",
            FailureClass::TestTooling,
            Fix::InstallTestTool {
                tool: "pytest-cov".into(),
            },
        ),
        (
            "RuntimeError: This project requires Python 3.12 or higher",
            FailureClass::RuntimeVersion,
            Fix::UseRuntime {
                runtime: "python".into(),
                constraint: ">=3.12".into(),
            },
        ),
        (
            "node: bad option: --experimental-strip-types",
            FailureClass::RuntimeVersion,
            Fix::UseRuntime {
                runtime: "node".into(),
                constraint: ">=22.6".into(),
            },
        ),
        (
            "redis.exceptions.ConnectionError: Error -2 connecting to redis:6379. Name or service not known.",
            FailureClass::HostName,
            Fix::ServiceHost {
                host: "redis".into(),
                kind: "redis".into(),
            },
        ),
        (
            "psycopg2.OperationalError: could not translate host name \"postgres\" to address: Name or service not known",
            FailureClass::HostName,
            Fix::ServiceHost {
                host: "postgres".into(),
                kind: "postgresql".into(),
            },
        ),
        (
            "Error: DATABASE_URL must be set",
            FailureClass::MissingEnv,
            Fix::SetEnv {
                name: "DATABASE_URL".into(),
                value: None,
            },
        ),
        (
            "Error: env/RATE_LIMIT_MAX must be number",
            FailureClass::MissingEnv,
            Fix::SetEnv {
                name: "RATE_LIMIT_MAX".into(),
                value: Some("0".into()),
            },
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
        ..DiagnoseContext::default()
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

#[test]
fn drift_needs_a_date_and_a_dependency() {
    let dated = DiagnoseContext {
        commit_date: Some("2022-11-10T10:40:46+00:00".into()),
        own_modules: vec!["app".into()],
        ..DiagnoseContext::default()
    };
    let fix = Fix::ResolveAsOf {
        date: "2022-11-10T10:40:46+00:00".into(),
    };
    let d = one_with(
        "ImportError: cannot import name 'escape' from 'jinja2' (/v/lib/python3.11/site-packages/jinja2/__init__.py)",
        &dated,
    );
    assert_eq!(
        (d.class, d.fix),
        (FailureClass::DependencyDrift, fix.clone())
    );
    // Raised inside a dependency, called from the project: drift.
    let trace = "Traceback (most recent call last):\n  File \"/w/app.py\", line 16, in homepage\n    return templates.TemplateResponse(template, context)\n  File \"/v/lib/python3.11/site-packages/jinja2/utils.py\", line 515, in __getitem__\n    rv = self._mapping[key]\nTypeError: unhashable type: 'dict'";
    assert_eq!(one_with(trace, &dated).fix, fix);
    // Raised in the project's own code: its bug.
    let own = "Traceback (most recent call last):\n  File \"/v/lib/python3.11/site-packages/flask/app.py\", line 1, in dispatch\n    return view()\n  File \"/w/app.py\", line 3, in index\n    return 1 + 'a'\nTypeError: unsupported operand type(s) for +: 'int' and 'str'";
    assert!(diagnose(own.lines(), &dated).is_empty());
    // The project's own module, or no date: nothing.
    assert!(
        diagnose(
            ["ImportError: cannot import name 'x' from 'app.models'"],
            &dated
        )
        .is_empty()
    );
    assert!(diagnose(trace.lines(), &DiagnoseContext::default()).is_empty());
}

#[test]
fn a_panic_names_the_variable_it_wanted() {
    let dir = std::env::temp_dir().join(format!("rr-panic-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        "fn main() {\n    let url = std::env::var(\"APP_DATABASE\").unwrap();\n}\n",
    )
    .unwrap();
    let ctx = DiagnoseContext {
        dir: Some(dir.clone()),
        ..DiagnoseContext::default()
    };
    let lines = [
        "thread 'main' panicked at src/main.rs:2:50:",
        "called `Result::unwrap()` on an `Err` value: NotPresent",
    ];
    let d = diagnose(lines, &ctx);
    assert_eq!(
        d.first().map(|d| d.fix.clone()),
        Some(Fix::SetEnv {
            name: "APP_DATABASE".into(),
            value: None
        })
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_schema_gives_the_value_it_wants() {
    let dir = std::env::temp_dir().join(format!("rr-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("env.ts"),
        "const schema = { properties: { RATE_LIMIT_MAX: { type: 'number', default: 100 }, LOG_LEVEL: { type: 'string' } } }",
    )
    .unwrap();
    let ctx = DiagnoseContext {
        dir: Some(dir.clone()),
        ..DiagnoseContext::default()
    };
    let d = one_with("Error: env/RATE_LIMIT_MAX must be number", &ctx);
    assert_eq!(
        d.fix,
        Fix::SetEnv {
            name: "RATE_LIMIT_MAX".into(),
            value: Some("100".into())
        }
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_empty_django_setting_sets_the_variable_its_settings_read() {
    let dir = std::env::temp_dir().join(format!("rr-setting-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("site")).unwrap();
    std::fs::write(
        dir.join("site/settings.py"),
        "import os\nSECRET_KEY = os.environ.get(\"DJANGO_SECRET\")\n",
    )
    .unwrap();
    let ctx = DiagnoseContext {
        dir: Some(dir.clone()),
        ..DiagnoseContext::default()
    };
    let line =
        "django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty.";
    let d = one_with(line, &ctx);
    assert_eq!(
        d.fix,
        Fix::SetEnv {
            name: "DJANGO_SECRET".into(),
            value: None
        }
    );
    // Without the code, the setting's own name.
    let d = one_with(line, &DiagnoseContext::default());
    assert_eq!(
        d.fix,
        Fix::SetEnv {
            name: "SECRET_KEY".into(),
            value: None
        }
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn c_code_written_for_an_older_python_api_asks_for_that_python() {
    let d = one_with(
        "psycopg/psycopgmodule.c:685:18: error: invalid use of incomplete typedef ‘PyInterpreterState’ {aka ‘struct _is’}",
        &DiagnoseContext::default(),
    );
    assert_eq!(
        d.fix,
        Fix::UseRuntime {
            runtime: "python".into(),
            constraint: "<3.8".into()
        }
    );
}

#[test]
fn a_collection_error_on_an_empty_submodule_leaves_the_module_out() {
    let dir = std::env::temp_dir().join(format!("rr-submodule-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("tests/cases")).unwrap();
    std::fs::write(
        dir.join(".gitmodules"),
        "[submodule \"tests/cases\"]\n\tpath = tests/cases\n\turl = https://example.invalid/c.git\n",
    )
    .unwrap();
    let ctx = DiagnoseContext {
        dir: Some(dir.clone()),
        ..DiagnoseContext::default()
    };
    let missing = format!(
        "E   FileNotFoundError: [Errno 2] No such file or directory: '{}/tests/cases/list'",
        dir.display()
    );
    let lines = [
        "__________ ERROR collecting tests/test_cases.py __________",
        "tests/test_cases.py:5: in <module>",
        missing.as_str(),
    ];
    let d = diagnose(lines, &ctx);
    assert_eq!(
        d.first().map(|d| d.fix.clone()),
        Some(Fix::IgnoreTests {
            path: "tests/test_cases.py".into(),
            reason: "it reads the git submodule tests/cases, which is empty in this copy (`git submodule update --init` fills it)".into()
        })
    );
    // A submodule with files: the error is the test's own.
    std::fs::write(dir.join("tests/cases/other"), "x").unwrap();
    assert!(diagnose(lines, &ctx).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_ungenerated_prisma_client_runs_prisma_generate() {
    let d = one_with(
        "    @prisma/client did not initialize yet. Please run \"prisma generate\" and try to import it again.",
        &DiagnoseContext::default(),
    );
    assert_eq!(d.class, FailureClass::BuildStep);
    assert_eq!(
        d.fix,
        Fix::Prepare {
            command: "npx --no-install prisma generate".into()
        }
    );
}

#[test]
fn type_errors_in_a_dependencys_definitions_are_drift() {
    let ctx = DiagnoseContext {
        commit_date: Some("2021-03-01T00:00:00Z".into()),
        ..DiagnoseContext::default()
    };
    for line in [
        "  ../../../cache/node/d5c3/node_modules/@types/node/http2.d.ts:952:8",
        "node_modules/@types/node/globals.d.ts(72,13): error TS1005: ';' expected.",
    ] {
        assert_eq!(
            one_with(line, &ctx).fix,
            Fix::ResolveAsOf {
                date: "2021-03-01T00:00:00Z".into()
            },
            "{line}"
        );
    }
    // The project's own type error is not.
    assert!(diagnose(["src/index.d.ts:3:1"], &ctx).is_empty());
}

#[test]
fn a_public_host_a_build_cannot_reach_calls_for_the_dev_server() {
    let d = one_with(
        "    [cause]: Error: getaddrinfo ENOTFOUND fonts.googleapis.com",
        &DiagnoseContext::default(),
    );
    assert_eq!(
        (d.class, d.fix),
        (FailureClass::OfflineBuild, Fix::DevServer)
    );
    // A compose service's bare name is F24's.
    let d = diagnose(
        ["Error: getaddrinfo ENOTFOUND redis"],
        &DiagnoseContext::default(),
    );
    assert!(d.iter().all(|d| d.fix != Fix::DevServer), "{d:?}");
}

#[test]
fn a_disallowed_host_sets_the_variable_the_settings_split_into_allowed_hosts() {
    let dir = std::env::temp_dir().join(format!("rr-hosts-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("site")).unwrap();
    std::fs::write(
        dir.join("site/settings.py"),
        "import os\nALLOWED_HOSTS = os.environ.get(\"DJANGO_ALLOWED_HOSTS\").split(\" \")\n",
    )
    .unwrap();
    let ctx = DiagnoseContext {
        dir: Some(dir.clone()),
        ..DiagnoseContext::default()
    };
    let d = one_with(
        "GET / answered 400: the framework refused the host name (Django's ALLOWED_HOSTS)",
        &ctx,
    );
    assert_eq!(
        d.fix,
        Fix::SetEnv {
            name: "DJANGO_ALLOWED_HOSTS".into(),
            value: Some("localhost 127.0.0.1 [::1]".into())
        }
    );
    // A list written in the settings: no variable to set.
    std::fs::write(
        dir.join("site/settings.py"),
        "ALLOWED_HOSTS = ['example.com']\n",
    )
    .unwrap();
    assert!(
        diagnose(
            ["GET / answered 400: the framework refused the host name (Django's ALLOWED_HOSTS)"],
            &ctx
        )
        .is_empty()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_message_that_names_the_value_it_wants_gets_it() {
    let d = one_with(
        "Error: You can't seed the database. Set `CAN_SEED_DATABASE=1` environment variable to allow this operation.",
        &DiagnoseContext::default(),
    );
    assert_eq!(
        d.fix,
        Fix::SetEnv {
            name: "CAN_SEED_DATABASE".into(),
            value: Some("1".into())
        }
    );
}

#[test]
fn a_public_host_the_output_could_not_resolve_is_named() {
    let lines: Vec<String> = [
        "Failed to fetch web fonts",
        "    [cause]: Error: getaddrinfo ENOTFOUND fonts.googleapis.com",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(
        unreachable_public_host(&lines).as_deref(),
        Some("fonts.googleapis.com")
    );
    // A compose service's bare name, or a .local one, is not a public host.
    for line in [
        "getaddrinfo ENOTFOUND redis",
        "getaddrinfo EAI_AGAIN printer.local",
    ] {
        assert_eq!(unreachable_public_host(&[line.to_string()]), None, "{line}");
    }
}

#[test]
fn jpms_tests_missing_a_sibling_module_run_through_package() {
    let dir = std::env::temp_dir().join(format!("rr-jpms-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pom.xml"), "<project/>").unwrap();
    let line = "[ERROR] java.lang.module.FindException: Module com.google.gson not found, required by com.google.gson.jpms_test";
    let ctx = DiagnoseContext {
        dir: Some(dir.clone()),
        ..DiagnoseContext::default()
    };
    let d = one_with(line, &ctx);
    assert_eq!(
        (d.class, d.fix),
        (FailureClass::TestTooling, Fix::TestPackaged)
    );
    // Outside a Maven build it is not this failure.
    assert!(diagnose([line], &DiagnoseContext::default()).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn go_code_naming_what_is_generated_runs_the_generation_first() {
    let dir = std::env::temp_dir().join(format!("rr-go-generate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("go.mod"), "module example.com/x\n").unwrap();
    std::fs::write(
        dir.join("Makefile"),
        "default: generate\n\ngenerate: html/*.ego\n\t@go run github.com/benbjohnson/ego/cmd/ego ./html\n",
    )
    .unwrap();
    let line = "http/dial.go:50:12: undefined: html.DialIndexTemplate";
    let ctx = DiagnoseContext {
        dir: Some(dir.clone()),
        ..DiagnoseContext::default()
    };
    let d = one_with(line, &ctx);
    assert_eq!(
        (d.class, d.fix),
        (
            FailureClass::BuildStep,
            Fix::Generate {
                command: "make generate".into()
            }
        )
    );
    // `//go:generate` directives are the module's own way.
    std::fs::write(
        dir.join("kind.go"),
        "package x\n\n//go:generate stringer -type=Kind\ntype Kind int\n",
    )
    .unwrap();
    assert_eq!(
        one_with(line, &ctx).fix,
        Fix::Generate {
            command: "go generate ./...".into()
        }
    );
    // Without a way to generate it, an undefined name is the code's own error.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("go.mod"), "module example.com/x\n").unwrap();
    assert!(diagnose([line], &ctx).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_config_file_the_program_cannot_find_is_written_from_the_readme() {
    let dir = std::env::temp_dir().join(format!("rr-readme-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("README.md"),
        "# wtf\n\nInstall it:\n\n```sh\n$ go install ./cmd/...\n```\n\nNext, set up a configuration file in `~/wtfd.conf`:\n\n```toml\n[http]\naddr = \":3000\"\n```\n",
    )
    .unwrap();
    let ctx = DiagnoseContext {
        dir: Some(dir.clone()),
        ..DiagnoseContext::default()
    };
    let d = one_with("config file not found: ~/wtfd.conf", &ctx);
    assert_eq!(d.class, FailureClass::MissingEnv);
    assert_eq!(
        d.fix,
        Fix::WriteConfig {
            path: "~/wtfd.conf".into(),
            from: "README.md:11".into()
        }
    );
    // A file the README does not show is no such fix.
    assert!(
        diagnose(["open settings.yaml: no such file or directory"], &ctx)
            .iter()
            .all(|d| !matches!(d.fix, Fix::WriteConfig { .. }))
    );
    let _ = std::fs::remove_dir_all(&dir);
}
