//! The `.env` a run writes: from the project's template when it has one, with generated
//! values for secrets, safe placeholders for the rest, the URLs of the databases the run
//! started, and the run's `PORT` and `HOST`. An existing `.env` is kept; only what is
//! missing is added. Every line written is reported.

use reporunner_protocols::profile::Component;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The value given to a required variable that is neither a secret nor known.
pub const PLACEHOLDER: &str = "placeholder";

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The project's `.env` or template, as written there.
    Project,
    /// Generated: 32 random bytes, hex.
    Generated,
    /// A safe placeholder.
    Placeholder,
    /// Set by the run: `PORT`, `HOST`, a database URL.
    Run,
}

/// One variable written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Its name.
    pub name: String,
    /// Where its value came from.
    pub source: Source,
}

/// Writes `<dir>/.env` for a run.
///
/// * `dir` - the component's folder in the workspace
/// * `component` - its profile: env templates and the variables its code reads
/// * `run_values` - what the run decides: `PORT`, `HOST`, database URLs
///
/// # Errors
/// An I/O error reading the template or writing the file.
pub fn write_env(
    dir: &Path,
    component: &Component,
    run_values: &BTreeMap<String, String>,
) -> std::io::Result<Vec<Written>> {
    let target = dir.join(".env");
    let prefix = if component.path == "." {
        String::new()
    } else {
        format!("{}/", component.path)
    };
    let existing = std::fs::read_to_string(&target).ok();
    let base = match &existing {
        Some(text) => text.clone(),
        None => match component.env_files.first() {
            Some(template) => match template.strip_prefix(&prefix) {
                Some(name) => std::fs::read_to_string(dir.join(name))?,
                // The repository root's template, for a component in a folder.
                None => {
                    let depth = Path::new(&component.path).components().count();
                    let root = dir.ancestors().nth(depth).unwrap_or(dir);
                    std::fs::read_to_string(root.join(template))?
                }
            },
            None => String::new(),
        },
    };
    let mut out = String::new();
    let mut written: Vec<Written> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for line in base.lines() {
        let trimmed = line.trim_start().trim_start_matches("export ");
        let Some((key, value)) = trimmed
            .split_once('=')
            .filter(|_| !trimmed.starts_with('#'))
        else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let key = key.trim().to_string();
        let value = value.trim();
        let (value, source) = if let Some(v) = run_values.get(&key) {
            (v.clone(), Source::Run)
        } else if !value.is_empty() && !value.trim_matches(|c| c == '"' || c == '\'').is_empty() {
            (value.to_string(), Source::Project)
        } else if needs_value(&key, component) {
            fill(&key, component)
        } else {
            // Left empty in the template and read with a default (or not read at all): an
            // empty value is what the project means (`MAIL_PORT=` falls back to 25, and
            // `DISABLE_AUTH=` must stay off), so it stays empty.
            (value.to_string(), Source::Project)
        };
        let _ = writeln!(out, "{key}={value}");
        if source != Source::Project || existing.is_none() {
            written.push(Written {
                name: key.clone(),
                source,
            });
        }
        seen.push(key);
    }
    // Variables the code needs that the file does not name, then the run's own.
    let mut extra: Vec<(String, String, Source)> = component
        .env_vars
        .iter()
        .filter(|v| v.required && !seen.contains(&v.name) && !run_values.contains_key(&v.name))
        .map(|v| {
            let (value, source) = fill(&v.name, component);
            (v.name.clone(), value, source)
        })
        .collect();
    extra.extend(
        run_values
            .iter()
            .filter(|(k, _)| !seen.contains(k))
            .map(|(k, v)| (k.clone(), v.clone(), Source::Run)),
    );
    if !extra.is_empty() {
        out.push_str("# added by reporunner\n");
    }
    for (name, value, source) in extra {
        let _ = writeln!(out, "{name}={value}");
        written.push(Written { name, source });
    }
    std::fs::write(&target, out)?;
    Ok(written)
}

/// Whether an empty template variable gets a value: a secret always (a generated one is
/// never worse than none), anything else only when the code reads it without a default.
fn needs_value(name: &str, component: &Component) -> bool {
    match component.env_vars.iter().find(|v| v.name == name) {
        Some(v) => v.secret || v.required,
        None => crate::analysis::looks_secret(name),
    }
}

/// A value for `name`: generated if it looks like a secret, else the placeholder.
fn fill(name: &str, component: &Component) -> (String, Source) {
    let secret = component
        .env_vars
        .iter()
        .find(|v| v.name == name)
        .map(|v| v.secret)
        .unwrap_or_else(|| crate::analysis::looks_secret(name));
    if secret {
        let bytes: [u8; 32] = rand::random();
        (
            bytes.iter().map(|b| format!("{b:02x}")).collect(),
            Source::Generated,
        )
    } else {
        (PLACEHOLDER.to_string(), Source::Placeholder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reporunner_protocols::profile::{EnvVar, Evidence};

    fn var(name: &str, required: bool, secret: bool) -> EnvVar {
        EnvVar {
            name: name.into(),
            required,
            default: None,
            secret,
            evidence: vec![Evidence::file("app.py", "test")],
        }
    }

    fn dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("reporunner-env-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn parse(text: &str) -> BTreeMap<String, String> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_template_becomes_an_env_with_secrets_placeholders_and_the_runs_values() {
        let d = dir("template");
        std::fs::write(
            d.join(".env.example"),
            "# settings\nSECRET_KEY=\nSTRIPE_API_KEY=\nLOG_LEVEL=info\nCALLBACK_URL=\nPORT=3000\n",
        )
        .unwrap();
        let c = Component {
            path: ".".into(),
            env_files: vec![".env.example".into()],
            env_vars: vec![
                var("SECRET_KEY", true, true),
                var("REDIS_HOST", true, false),
            ],
            ..Component::default()
        };
        let run: BTreeMap<String, String> = [
            ("PORT", "20001"),
            ("HOST", "127.0.0.1"),
            ("DATABASE_URL", "postgresql://u@127.0.0.1:20002/app"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let written = write_env(&d, &c, &run).unwrap();
        let env = parse(&std::fs::read_to_string(d.join(".env")).unwrap());
        assert_eq!(env["SECRET_KEY"].len(), 64);
        assert_eq!(
            env["STRIPE_API_KEY"].len(),
            64,
            "a key is a secret, generated"
        );
        assert_eq!(env["LOG_LEVEL"], "info");
        // Empty in the template and not read without a default: it stays empty.
        assert_eq!(env["CALLBACK_URL"], "");
        assert_eq!(env["PORT"], "20001");
        assert_eq!(env["HOST"], "127.0.0.1");
        assert_eq!(env["REDIS_HOST"], PLACEHOLDER);
        assert!(env["DATABASE_URL"].starts_with("postgresql://"));
        let source = |n: &str| written.iter().find(|w| w.name == n).map(|w| w.source);
        assert_eq!(source("SECRET_KEY"), Some(Source::Generated));
        assert_eq!(source("PORT"), Some(Source::Run));
        assert_eq!(source("REDIS_HOST"), Some(Source::Placeholder));
        // Two runs never share a generated secret.
        let d2 = dir("template2");
        std::fs::copy(d.join(".env.example"), d2.join(".env.example")).unwrap();
        write_env(&d2, &c, &run).unwrap();
        let env2 = parse(&std::fs::read_to_string(d2.join(".env")).unwrap());
        assert_ne!(env2["SECRET_KEY"], env["SECRET_KEY"]);
        let _ = std::fs::remove_dir_all(d);
        let _ = std::fs::remove_dir_all(d2);
    }

    #[test]
    fn an_existing_env_is_kept_and_only_completed() {
        let d = dir("existing");
        std::fs::write(d.join(".env"), "SECRET_KEY=mine\nDEBUG=1\n").unwrap();
        let c = Component {
            path: ".".into(),
            env_vars: vec![var("SECRET_KEY", true, true), var("API_TOKEN", true, true)],
            ..Component::default()
        };
        let run: BTreeMap<String, String> = [("PORT".to_string(), "20003".to_string())]
            .into_iter()
            .collect();
        let written = write_env(&d, &c, &run).unwrap();
        let env = parse(&std::fs::read_to_string(d.join(".env")).unwrap());
        assert_eq!(env["SECRET_KEY"], "mine");
        assert_eq!(env["DEBUG"], "1");
        assert_eq!(env["API_TOKEN"].len(), 64);
        assert_eq!(env["PORT"], "20003");
        let names: Vec<&str> = written.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(
            names,
            vec!["API_TOKEN", "PORT"],
            "only what was added is reported"
        );
        let _ = std::fs::remove_dir_all(d);
    }
}
