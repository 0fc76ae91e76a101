//! Databases that a project's own configuration files point at: a `dsn:` URL in
//! `config/local.yml`, or a `db:` block with `host:` and `port:` in `configs/config.yml`
//! (TOML's `[database]` and JSON's `"database": {` alike). The private instance Setup
//! starts takes their user and database names, and the workspace's copy of each file is
//! pointed at the instance's address, as a person following the README would edit it.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

/// Folders that hold a project's configuration files, besides its root.
const CONFIG_DIRS: &[&str] = &["config", "configs", "conf", "settings"];

/// At the root, only files with these stems are configuration.
const ROOT_STEMS: &[&str] = &["config", "app", "settings", "database", "db"];

/// Words in a file's name that mean another environment's file, left as it is.
const ELSEWHERE: &[&str] = &[
    "prod", "staging", "docker", "compose", "k8s", "kube", "helm",
];

static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b(postgres(?:ql)?|mysql|mariadb|redis)://[^\s"'<>`]+"#).unwrap()
});
static GO_MYSQL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"([A-Za-z0-9_.-]+)(?::([^@\s"'`]*))?@tcp\(([^)\s]*)\)/([A-Za-z0-9_-]+)"#).unwrap()
});
static KV_PAIR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\b(host|port|user|password|dbname)=([^\s"'`]+)"#).unwrap());
static KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^(\s*)"?([A-Za-z_][A-Za-z0-9_-]*)"?\s*([:=])\s*(.*?)\s*,?\s*$"#).unwrap()
});

/// One database a configuration file describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigDb {
    /// The file, relative to the component's folder.
    pub(crate) file: String,
    /// `postgresql`, `mysql` or `redis`; `None` for a generic `db:` block that names none.
    pub(crate) kind: Option<&'static str>,
    /// The user it connects as.
    pub(crate) user: Option<String>,
    /// Its password.
    pub(crate) password: Option<String>,
    /// The database's name.
    pub(crate) database: Option<String>,
    place: Place,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// A URL on line `line` (0-based).
    Url { line: usize, url: String },
    /// Go's MySQL DSN (`user:pass@tcp(localhost:3306)/app`) on line `line`: its address.
    GoMysql { line: usize, addr: String },
    /// libpq's key-value DSN (`host=localhost port=5432 dbname=app`) on line `line`.
    KeyValue { line: usize },
    /// A block of keys: the host's and the port's lines, where each is.
    Split {
        host: Option<usize>,
        port: Option<usize>,
        /// After which line a missing port goes, and the indentation and separator.
        anchor: usize,
        indent: String,
        sep: char,
    },
}

impl ConfigDb {
    /// Whether the run's instance of `kind` is the one this file means: its own kind,
    /// or for a generic block, the one SQL database the project wants.
    pub(crate) fn is_for(&self, kind: &str, sql: Option<&str>) -> bool {
        match self.kind {
            Some(k) => k == kind,
            None => sql == Some(kind),
        }
    }
}

fn kind_of_scheme(scheme: &str) -> &'static str {
    match scheme {
        "redis" => "redis",
        "mysql" | "mariadb" => "mysql",
        _ => "postgresql",
    }
}

fn kind_of_block(name: &str, port: Option<&str>) -> Option<&'static str> {
    let n = name.to_ascii_lowercase();
    if n.contains("redis") || port == Some("6379") {
        Some("redis")
    } else if n.contains("mysql") || n.contains("maria") || port == Some("3306") {
        Some("mysql")
    } else if n.contains("postgres") || n == "pg" || port == Some("5432") {
        Some("postgresql")
    } else {
        None
    }
}

fn is_db_block(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    if ["mongo", "elastic", "influx", "cassandra"]
        .iter()
        .any(|w| n.contains(w))
    {
        return false;
    }
    [
        "db",
        "database",
        "postgres",
        "pg",
        "mysql",
        "maria",
        "redis",
        "sql",
        "datasource",
    ]
    .iter()
    .any(|w| n == *w || n.starts_with(w) || n.ends_with(w))
}

/// Its configuration files, the ones most likely loaded for local work first (`local`,
/// then `dev`, then the plain `config`).
fn candidates(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    let config_ext = |name: &str| {
        [".yml", ".yaml", ".toml", ".json"]
            .iter()
            .any(|e| name.ends_with(e))
    };
    let elsewhere = |name: &str| {
        let n = name.to_ascii_lowercase();
        ELSEWHERE.iter().any(|w| n.contains(w))
            // Spring's own files are given the database through SPRING_DATASOURCE_*.
            || n.starts_with("application")
    };
    for sub in std::iter::once("").chain(CONFIG_DIRS.iter().copied()) {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !e.file_type().is_ok_and(|t| t.is_file()) || !config_ext(&name) || elsewhere(&name) {
                continue;
            }
            let stem = name.split('.').next().unwrap_or("");
            if sub.is_empty() && !ROOT_STEMS.contains(&stem) {
                continue;
            }
            files.push(if sub.is_empty() {
                name
            } else {
                format!("{sub}/{name}")
            });
        }
    }
    let rank = |f: &String| {
        let n = f.rsplit('/').next().unwrap_or(f).to_ascii_lowercase();
        if n.contains("local") {
            0
        } else if n.contains("dev") {
            1
        } else if n.contains("test") || n.contains("qa") {
            3
        } else {
            2
        }
    };
    files.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    files
}

/// Every database the component's configuration files describe, the most likely loaded
/// first.
pub(crate) fn find(dir: &Path) -> Vec<ConfigDb> {
    let mut out = Vec::new();
    for file in candidates(dir) {
        let Ok(text) = std::fs::read_to_string(dir.join(&file)) else {
            continue;
        };
        if text.len() > 256 * 1024 {
            continue;
        }
        out.extend(read(&file, &text));
    }
    out
}

fn unquote(v: &str) -> &str {
    v.trim().trim_matches(|c| c == '"' || c == '\'')
}

/// The databases one file describes.
fn read(file: &str, text: &str) -> Vec<ConfigDb> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.trim_start().starts_with('#') || l.trim_start().starts_with("//") {
            continue;
        }
        if let Some(m) = URL.find(l) {
            let url = m.as_str().to_string();
            if let Some(parts) = parse_url(&url) {
                out.push(ConfigDb {
                    file: file.to_string(),
                    kind: Some(kind_of_scheme(&parts.scheme)),
                    user: parts.user,
                    password: parts.password,
                    database: parts.database,
                    place: Place::Url { line: i, url },
                });
            }
        } else if let Some(c) = GO_MYSQL.captures(l) {
            out.push(ConfigDb {
                file: file.to_string(),
                kind: Some("mysql"),
                user: Some(c[1].to_string()),
                password: c.get(2).map(|p| p.as_str().to_string()),
                database: Some(c[4].to_string()),
                place: Place::GoMysql {
                    line: i,
                    addr: c[3].to_string(),
                },
            });
        } else {
            let pairs: Vec<(String, String)> = KV_PAIR
                .captures_iter(l)
                .map(|c| (c[1].to_string(), c[2].to_string()))
                .collect();
            let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            if get("host").is_some() && get("dbname").is_some() {
                out.push(ConfigDb {
                    file: file.to_string(),
                    kind: Some("postgresql"),
                    user: get("user"),
                    password: get("password"),
                    database: get("dbname"),
                    place: Place::KeyValue { line: i },
                });
            }
        }
    }
    // Blocks: a header (`db:`, `[database]`, `"db": {`) and the keys under it.
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        let header =
            if let Some(name) = l.trim().strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                Some((name.rsplit('.').next().unwrap_or(name).to_string(), None))
            } else {
                KEY.captures(l).and_then(|c| {
                    let value = c[4].trim();
                    (value.is_empty() || value == "{").then(|| (c[2].to_string(), Some(c[1].len())))
                })
            };
        let Some((name, indent)) = header.filter(|(n, _)| is_db_block(n)) else {
            i += 1;
            continue;
        };
        let mut keys: Vec<(usize, String, String, String, char)> = Vec::new();
        let mut j = i + 1;
        while j < lines.len() {
            let inner = lines[j];
            if inner.trim().is_empty() || inner.trim_start().starts_with('#') {
                j += 1;
                continue;
            }
            let ends = match indent {
                // TOML: the next table.
                None => inner.trim_start().starts_with('['),
                Some(n) => {
                    let at = inner.len() - inner.trim_start().len();
                    at <= n
                }
            };
            if ends {
                break;
            }
            if let Some(c) = KEY.captures(inner) {
                let sep = c[3].chars().next().unwrap_or(':');
                keys.push((
                    j,
                    c[2].to_ascii_lowercase(),
                    unquote(&c[4]).to_string(),
                    c[1].to_string(),
                    sep,
                ));
            }
            j += 1;
        }
        let get = |names: &[&str]| {
            keys.iter()
                .find(|(_, k, ..)| names.contains(&k.as_str()))
                .map(|(line, _, v, ..)| (*line, v.clone()))
        };
        let host = get(&["host", "hostname", "server", "addr", "address"]);
        let port = get(&["port"]);
        if (host.is_some() || port.is_some()) && !keys.is_empty() {
            let (_, _, _, key_indent, sep) = keys[0].clone();
            let anchor = host.as_ref().map_or(keys[0].0, |(l, _)| *l);
            out.push(ConfigDb {
                file: file.to_string(),
                kind: kind_of_block(&name, port.as_ref().map(|(_, p)| p.as_str())),
                user: get(&["user", "username", "usr"]).map(|(_, v)| v),
                password: get(&["password", "pass", "passwd"]).map(|(_, v)| v),
                database: get(&["dbname", "database", "db", "name", "db_name"]).map(|(_, v)| v),
                place: Place::Split {
                    host: host.map(|(l, _)| l),
                    port: port.map(|(l, _)| l),
                    anchor,
                    indent: key_indent,
                    sep,
                },
            });
        }
        i = j.max(i + 1);
    }
    // A value the program fills in from its environment (`${DB_NAME}`) names nothing.
    for d in &mut out {
        for v in [&mut d.user, &mut d.password, &mut d.database] {
            if v.as_deref()
                .is_some_and(|x| x.is_empty() || x.contains('$'))
            {
                *v = None;
            }
        }
    }
    out
}

struct UrlParts {
    scheme: String,
    user: Option<String>,
    password: Option<String>,
    database: Option<String>,
    /// What follows the address: the path and the query.
    rest: String,
    /// `user:password@`, kept as written.
    auth: String,
}

fn parse_url(url: &str) -> Option<UrlParts> {
    let (scheme, after) = url.split_once("://")?;
    let (auth, hostpart) = match after.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, after),
    };
    let cut = hostpart.find(['/', '?']).unwrap_or(hostpart.len());
    let rest = &hostpart[cut..];
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let param = |k: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
    };
    let (user, password) = match auth.map(|a| a.split_once(':').unwrap_or((a, ""))) {
        Some((u, p)) => (
            Some(u.to_string()).filter(|u| !u.is_empty()),
            Some(p.to_string()).filter(|p| !p.is_empty()),
        ),
        None => (param("user"), param("password")),
    };
    let database = Some(path.trim_start_matches('/').to_string())
        .filter(|d| !d.is_empty() && !d.chars().all(|c| c.is_ascii_digit()));
    Some(UrlParts {
        scheme: scheme.to_string(),
        user,
        password,
        database,
        rest: rest.to_string(),
        auth: auth.map(|a| format!("{a}@")).unwrap_or_default(),
    })
}

/// A value written as the old one was: quoted alike.
fn like(old: &str, new: &str) -> String {
    let t = old.trim().trim_end_matches(',');
    match t.chars().next() {
        Some(q @ ('"' | '\'')) => format!("{q}{new}{q}"),
        _ => new.to_string(),
    }
}

/// Points the entries of `dbs` at `host:port` in the workspace's copies of their files;
/// the places rewritten (`config/local.yml:1`), or why a file could not be.
pub(crate) fn point_at(
    dir: &Path,
    dbs: &[&ConfigDb],
    host: &str,
    port: u16,
) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    let mut files: Vec<&str> = dbs.iter().map(|d| d.file.as_str()).collect();
    files.sort_unstable();
    files.dedup();
    for file in files {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{file}: {e}"))?;
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut inserted: Vec<usize> = Vec::new();
        for d in dbs.iter().filter(|d| d.file == file) {
            let shift = |l: usize| l + inserted.iter().filter(|&&at| at <= l).count();
            match &d.place {
                Place::Url { line, url } => {
                    let Some(parts) = parse_url(url) else {
                        continue;
                    };
                    let new = format!(
                        "{}://{}{host}:{port}{}",
                        parts.scheme, parts.auth, parts.rest
                    );
                    let at = shift(*line);
                    lines[at] = lines[at].replacen(url.as_str(), &new, 1);
                    done.push(format!("{file}:{}", at + 1));
                }
                Place::GoMysql { line, addr } => {
                    let at = shift(*line);
                    lines[at] = lines[at].replacen(
                        &format!("@tcp({addr})"),
                        &format!("@tcp({host}:{port})"),
                        1,
                    );
                    done.push(format!("{file}:{}", at + 1));
                }
                Place::KeyValue { line } => {
                    let at = shift(*line);
                    let old = lines[at].clone();
                    let mut new = KV_PAIR
                        .replace_all(&old, |c: &regex::Captures<'_>| match &c[1] {
                            "host" => format!("host={host}"),
                            "port" => format!("port={port}"),
                            _ => c[0].to_string(),
                        })
                        .into_owned();
                    if !old.contains("port=") {
                        new = new.replacen(
                            &format!("host={host}"),
                            &format!("host={host} port={port}"),
                            1,
                        );
                    }
                    lines[at] = new;
                    done.push(format!("{file}:{}", at + 1));
                }
                Place::Split {
                    host: h,
                    port: p,
                    anchor,
                    indent,
                    sep,
                } => {
                    let anchor_at = shift(*anchor);
                    for (line, value) in [(h, host.to_string()), (p, port.to_string())] {
                        let Some(at) = line.map(shift) else { continue };
                        let old = lines[at].clone();
                        if let Some(v) = KEY.captures(&old).and_then(|c| c.get(4)) {
                            lines[at] = format!(
                                "{}{}{}",
                                &old[..v.start()],
                                like(v.as_str(), &value),
                                &old[v.end()..]
                            );
                        }
                    }
                    if p.is_none() {
                        let at = anchor_at + 1;
                        let line = if *sep == '=' {
                            format!("{indent}port = {port}")
                        } else {
                            format!("{indent}port: {port}")
                        };
                        lines.insert(at, line);
                        inserted.push(at);
                    }
                    done.push(format!("{file}:{}", anchor_at + 1));
                }
            }
        }
        let mut out = lines.join("\n");
        if text.ends_with('\n') {
            out.push('\n');
        }
        std::fs::write(&path, out).map_err(|e| format!("{file}: {e}"))?;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(files: &[(&str, &str)]) -> tempdir::Dir {
        let d = tempdir::Dir::new();
        for (f, t) in files {
            let p = d.0.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        }
        d
    }

    mod tempdir {
        pub(super) struct Dir(pub(super) std::path::PathBuf);
        impl Dir {
            pub(super) fn new() -> Self {
                let p = std::env::temp_dir().join(format!(
                    "rr-config-files-{}-{}",
                    std::process::id(),
                    rand::random::<u64>()
                ));
                std::fs::create_dir_all(&p).unwrap();
                Self(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn a_dsn_url_gives_its_names_and_is_pointed_at_the_instance() {
        let d = tmp(&[
            (
                "config/local.yml",
                "dsn: \"postgres://127.0.0.1/go_restful?sslmode=disable&user=postgres&password=secret\"\njwt_signing_key: \"k\"\n",
            ),
            (
                "config/prod.yml",
                "dsn: \"postgres://db.example.com/prod\"\n",
            ),
        ]);
        let found = find(&d.0);
        assert_eq!(found.len(), 1, "{found:?}");
        let db = &found[0];
        assert_eq!(db.kind, Some("postgresql"));
        assert_eq!(
            (
                db.user.as_deref(),
                db.password.as_deref(),
                db.database.as_deref()
            ),
            (Some("postgres"), Some("secret"), Some("go_restful"))
        );
        let done = point_at(&d.0, &[db], "127.0.0.1", 54321).unwrap();
        assert_eq!(done, vec!["config/local.yml:1"]);
        assert_eq!(
            std::fs::read_to_string(d.0.join("config/local.yml")).unwrap(),
            "dsn: \"postgres://127.0.0.1:54321/go_restful?sslmode=disable&user=postgres&password=secret\"\njwt_signing_key: \"k\"\n"
        );
        // Another environment's file is left as it is.
        assert_eq!(
            std::fs::read_to_string(d.0.join("config/prod.yml")).unwrap(),
            "dsn: \"postgres://db.example.com/prod\"\n"
        );
    }

    #[test]
    fn a_db_block_gets_the_instances_host_and_port_quoted_as_before() {
        let d = tmp(&[(
            "configs/config.yml",
            "port: \"8000\"\n\ndb:\n    username: \"postgres\"\n    host: \"localhost\"\n    port: \"5432\"\n    dbname: \"todo\"\n    sslmode: \"disable\"\n",
        )]);
        let found = find(&d.0);
        assert_eq!(found.len(), 1, "{found:?}");
        let db = &found[0];
        assert_eq!(db.kind, Some("postgresql"));
        assert_eq!(db.database.as_deref(), Some("todo"));
        assert_eq!(db.user.as_deref(), Some("postgres"));
        assert!(db.is_for("postgresql", None));
        point_at(&d.0, &[db], "127.0.0.1", 40001).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.0.join("configs/config.yml")).unwrap(),
            "port: \"8000\"\n\ndb:\n    username: \"postgres\"\n    host: \"127.0.0.1\"\n    port: \"40001\"\n    dbname: \"todo\"\n    sslmode: \"disable\"\n"
        );
    }

    #[test]
    fn a_toml_table_without_a_port_gets_one() {
        let d = tmp(&[(
            "config.toml",
            "[server]\nport = 8080\n\n[database]\nhost = \"localhost\"\nuser = \"app\"\nname = \"shop\"\n",
        )]);
        let found = find(&d.0);
        assert_eq!(found.len(), 1, "{found:?}");
        // A generic block is the SQL database the project wants.
        assert_eq!(found[0].kind, None);
        assert!(found[0].is_for("mysql", Some("mysql")));
        assert!(!found[0].is_for("redis", Some("mysql")));
        point_at(&d.0, &[&found[0]], "127.0.0.1", 40002).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.0.join("config.toml")).unwrap(),
            "[server]\nport = 8080\n\n[database]\nhost = \"127.0.0.1\"\nport = 40002\nuser = \"app\"\nname = \"shop\"\n"
        );
    }

    #[test]
    fn go_mysql_and_libpq_key_value_dsns_are_read_and_pointed() {
        let d = tmp(&[(
            "config/config.yaml",
            "mysql:\n  dsn: \"root:secret@tcp(localhost:3306)/shop?parseTime=true\"\npg: \"host=localhost user=app password=pw dbname=orders sslmode=disable\"\n",
        )]);
        let found = find(&d.0);
        let mysql = found.iter().find(|d| d.kind == Some("mysql")).unwrap();
        assert_eq!(
            (
                mysql.user.as_deref(),
                mysql.password.as_deref(),
                mysql.database.as_deref()
            ),
            (Some("root"), Some("secret"), Some("shop"))
        );
        let pg = found.iter().find(|d| d.kind == Some("postgresql")).unwrap();
        assert_eq!(
            (pg.user.as_deref(), pg.database.as_deref()),
            (Some("app"), Some("orders"))
        );
        point_at(&d.0, &[mysql], "127.0.0.1", 40003).unwrap();
        point_at(&d.0, &[pg], "127.0.0.1", 40004).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.0.join("config/config.yaml")).unwrap(),
            "mysql:\n  dsn: \"root:secret@tcp(127.0.0.1:40003)/shop?parseTime=true\"\npg: \"host=127.0.0.1 port=40004 user=app password=pw dbname=orders sslmode=disable\"\n"
        );
    }

    #[test]
    fn a_name_filled_in_from_the_environment_names_nothing() {
        let d = tmp(&[(
            "configs/app.yml",
            "db:\n  host: ${DB_HOST}\n  port: 5432\n  dbname: ${DB_NAME}\n  user: app\n",
        )]);
        let found = find(&d.0);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].database, None);
        assert_eq!(found[0].user.as_deref(), Some("app"));
    }

    #[test]
    fn files_that_are_not_configuration_are_not_read() {
        let d = tmp(&[
            ("notes.yml", "db:\n  host: localhost\n  port: 5432\n"),
            (
                "config/application.yml",
                "db:\n  host: localhost\n  port: 5432\n",
            ),
            ("config/docker.yml", "dsn: postgres://db/app\n"),
        ]);
        assert!(find(&d.0).is_empty());
    }
}
