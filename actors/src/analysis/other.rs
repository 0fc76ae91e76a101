//! Ruby, PHP and .NET: detected and described, and, where this host lacks the
//! toolchain, reported as unsupported with the reason.

use super::{Analysis, Concerns, join};
use reporunner_protocols::profile::{Component, Evidence, Fact};

/// One ecosystem this module knows.
struct Ecosystem {
    language: &'static str,
    /// Manifests, any of which marks a component.
    manifests: &'static [&'static str],
    /// The tool this host needs, and the Debian package that provides it.
    tool: (&'static str, &'static str),
    package_manager: &'static str,
    install: &'static str,
    build: Option<&'static str>,
    test: &'static str,
    default_port: Option<u16>,
}

const ECOSYSTEMS: &[Ecosystem] = &[
    Ecosystem {
        language: "ruby",
        manifests: &["Gemfile"],
        tool: ("ruby", "ruby-full"),
        package_manager: "bundler",
        install: "bundle install",
        build: None,
        test: "bundle exec rake test",
        default_port: Some(3000),
    },
    Ecosystem {
        language: "php",
        manifests: &["composer.json"],
        tool: ("php", "php-cli"),
        package_manager: "composer",
        install: "composer install",
        build: None,
        test: "vendor/bin/phpunit",
        default_port: Some(8000),
    },
];

/// The file names that mark a component of one of these ecosystems.
pub(crate) fn manifests() -> impl Iterator<Item = &'static str> {
    ECOSYSTEMS.iter().flat_map(|e| e.manifests.iter().copied())
}

/// Returns whether `tool` is an executable on this host's PATH.
pub(crate) fn on_path(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| {
            std::fs::metadata(d.join(tool))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Adds the facts of whichever of these ecosystems the component in `dir` uses.
pub(crate) fn analyze(a: &mut Analysis<'_>, dir: &str, c: &mut Component, _want: Concerns) {
    let csproj = a
        .snap
        .files_in(dir)
        .find(|f| f.rel.ends_with(".csproj") || f.rel.ends_with(".fsproj"))
        .map(|f| f.rel.clone());
    if let Some(p) = csproj {
        let ev = Evidence::file(&p, "dotnet.project");
        c.manifests.push(p.clone());
        c.languages.push(Fact::new(
            if p.ends_with(".fsproj") {
                "fsharp"
            } else {
                "csharp"
            }
            .into(),
            1.0,
            ev.clone(),
        ));
        c.package_manager = Some(Fact::new("dotnet".into(), 1.0, ev.clone()));
        c.install_command = Some(Fact::new("dotnet restore".into(), 0.9, ev.clone()));
        c.build_command = Some(Fact::new(
            "dotnet publish -c Release -o out".into(),
            0.9,
            ev.clone(),
        ));
        c.test_command = Some(Fact::new("dotnet test".into(), 0.8, ev.clone()));
        c.kind = Some(Fact::new("service".into(), 0.5, ev));
        if !on_path("dotnet") {
            c.unsupported = Some("this host has no .NET SDK (`dotnet` is not on PATH, and Debian's archive does not carry it)".into());
        }
        return;
    }
    let Some((eco, manifest)) = ECOSYSTEMS.iter().find_map(|e| {
        e.manifests
            .iter()
            .map(|m| join(dir, m))
            .find(|m| a.snap.exists(m))
            .map(|m| (e, m))
    }) else {
        return;
    };
    let ev = Evidence::file(&manifest, format!("{}.manifest", eco.package_manager));
    c.manifests.push(manifest.clone());
    c.languages
        .push(Fact::new(eco.language.into(), 1.0, ev.clone()));
    c.package_manager = Some(Fact::new(eco.package_manager.into(), 1.0, ev.clone()));
    c.install_command = Some(Fact::new(eco.install.into(), 0.8, ev.clone()));
    c.build_command = eco.build.map(|b| Fact::new(b.into(), 0.8, ev.clone()));
    c.test_command = Some(Fact::new(eco.test.into(), 0.7, ev.clone()));
    let text = a.read(&manifest).unwrap_or_default();

    match eco.language {
        "ruby" => {
            if text.contains("'rails'") || text.contains("\"rails\"") {
                let at = super::text::find_line(&text, "rails").unwrap_or(1);
                c.frameworks.push(Fact::new(
                    "rails".into(),
                    0.9,
                    Evidence::line(&manifest, at, "ruby.rails"),
                ));
                c.start_command = Some(Fact::new(
                    "bundle exec rails server -b $HOST -p $PORT".into(),
                    0.8,
                    Evidence::line(&manifest, at, "ruby.rails"),
                ));
                c.test_command = Some(Fact::new(
                    "bundle exec rails test".into(),
                    0.7,
                    Evidence::line(&manifest, at, "ruby.rails"),
                ));
            } else if a.snap.exists(&join(dir, "config.ru")) {
                c.start_command = Some(Fact::new(
                    "bundle exec rackup -o $HOST -p $PORT".into(),
                    0.7,
                    Evidence::file(join(dir, "config.ru"), "ruby.rack"),
                ));
            }
        }
        "php" => {
            if a.snap.exists(&join(dir, "artisan")) {
                let ev = Evidence::file(join(dir, "artisan"), "php.laravel");
                c.frameworks
                    .push(Fact::new("laravel".into(), 0.9, ev.clone()));
                c.start_command = Some(Fact::new(
                    "php artisan serve --host $HOST --port $PORT".into(),
                    0.8,
                    ev.clone(),
                ));
                c.migrations.push(Fact::new("laravel".into(), 0.8, ev));
            } else if a.snap.exists(&join(dir, "index.php")) {
                c.start_command = Some(Fact::new(
                    "php -S $HOST:$PORT".into(),
                    0.6,
                    Evidence::file(join(dir, "index.php"), "php.builtin-server"),
                ));
            }
        }
        _ => {}
    }
    // None of these reads a port from its configuration: the ecosystem's default.
    c.port = eco
        .default_port
        .filter(|_| c.start_command.is_some())
        .map(|p| {
            Fact::new(
                p,
                0.4,
                Evidence::file(&manifest, format!("{}.default-port", eco.language)),
            )
        });
    c.kind = Some(if c.start_command.is_some() {
        Fact::new("service".into(), 0.6, ev)
    } else {
        Fact::new("library".into(), 0.5, ev)
    });
    let (tool, package) = eco.tool;
    if !on_path(tool) {
        c.unsupported = Some(format!(
            "this host cannot build {}: `{tool}` is not on PATH (Debian package `{package}`)",
            eco.language
        ));
    }
}
