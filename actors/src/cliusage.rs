//! Reading a command-line program's usage text: whether a start command that exited
//! printed the usage of a program with subcommands, which of them serves, and the
//! command that serves from its `--help` (its directory argument and host and port
//! flags). Pure text; the Fixer runs the program.

use regex::Regex;
use std::path::Path;
use std::sync::LazyLock;

static USAGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*Usage:\s+(\S+)\s+(.*)$").unwrap());
static SUBCOMMAND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s{1,4}(serve|server)(?:,\s*\w+)?(?:\s{2,}|\s+-\s+)\S").unwrap()
});
static PORT_FLAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:(-[a-zA-Z]),\s*)?(--port)\b|^\s*(-[pP]),\s+--\S*port").unwrap()
});
static HOST_FLAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:-[a-zA-Z],\s*)?(--(?:hostname|host|bind|address|addr|interface|listen))\b")
        .unwrap()
});
static POSITIONAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\[<]([A-Za-z_-]+)[\]>]").unwrap());
static CONFIG_FILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b([A-Za-z0-9_-]+\.(?:toml|ya?ml|json))\b").unwrap());

/// What an exited start command's output says about the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// The usage line, as evidence.
    pub line: String,
    /// The subcommand that serves (`serve`), when it lists one.
    pub serve: Option<String>,
}

/// Interpreters whose first argument is the program.
const INTERPRETERS: &[&str] = &[
    "node", "python", "python3", "ruby", "deno", "bun", "sh", "bash", "perl", "php",
];

/// The program a start command runs, by its file name without extension:
/// `./target/release/mdbook serve` gives `mdbook`, `node bin/cli.js` gives `cli`.
pub fn program(start: &str) -> Option<String> {
    let mut words = start
        .split_whitespace()
        .skip_while(|w| w.contains('=') && !w.starts_with('.') && !w.starts_with('/'));
    let mut first = words.next()?;
    if INTERPRETERS.contains(&first) {
        first = words.find(|w| !w.starts_with('-'))?;
    }
    Some(stem(first)).filter(|s| !s.is_empty())
}

/// A program's name as a usage line or a start command gives it, without folder or
/// extension.
fn stem(name: &str) -> String {
    Path::new(name)
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The usage of the program `start` runs, when its output is one: a `Usage: NAME ...`
/// line naming that program and a list of commands. A usage of another program (a
/// wrapper's, a script's argparse line) is not the program's own and gives `None`.
pub fn usage(start: &str, output: &[String]) -> Option<Usage> {
    let name = program(start)?;
    // `Usage: NAME ...` on one line, or a `USAGE:` heading over an indented `NAME ...`
    // (urfave/cli's, cobra's `Usage:` over `NAME [command]`).
    let headed = output.windows(2).find_map(|w| {
        let heading = w[0].trim().to_ascii_lowercase();
        let first = w[1].split_whitespace().next()?;
        (heading == "usage:" && w[1].starts_with(char::is_whitespace) && stem(first) == name)
            .then_some(&w[1])
    });
    let line = output
        .iter()
        .find(|l| USAGE.captures(l).is_some_and(|c| stem(&c[1]) == name))
        .or(headed)?;
    let lists_commands = output.iter().any(|l| {
        let t = l.trim().to_ascii_lowercase();
        t == "commands:" || t == "subcommands:" || t == "available commands:"
    });
    if !lists_commands {
        return None;
    }
    let serve = output
        .iter()
        .find_map(|l| SUBCOMMAND.captures(l).map(|c| c[1].to_string()));
    Some(Usage {
        line: line.trim().to_string(),
        serve,
    })
}

/// The command that serves, from the subcommand's `--help`: its port flag with `$PORT`,
/// its host flag with `$HOST` (or one address flag with both), and the directory
/// argument when its usage takes one: the shallowest folder under `dir` that holds a
/// configuration file the help names (`book.toml`). `None` when the help names no port
/// flag, for then the leased port cannot be given.
pub fn serve_command(start: &str, sub: &str, help: &str, dir: &Path) -> Option<String> {
    let lines: Vec<&str> = help.lines().collect();
    let port = lines.iter().find_map(|l| {
        PORT_FLAG
            .captures(l)
            .and_then(|c| c.get(2).or(c.get(3)).map(|m| m.as_str().to_string()))
    });
    let host = lines
        .iter()
        .find_map(|l| HOST_FLAG.captures(l).map(|c| c[1].to_string()));
    let address = match (&port, &host) {
        (Some(p), Some(h)) => format!("{p} \"$PORT\" {h} \"$HOST\""),
        (Some(p), None) => format!("{p} \"$PORT\""),
        (None, Some(h)) if matches!(h.as_str(), "--bind" | "--address" | "--addr" | "--listen") => {
            format!("{h} \"$HOST:$PORT\"")
        }
        _ => return None,
    };
    let takes_dir = lines
        .iter()
        .find_map(|l| USAGE.captures(l).map(|c| c[2].to_string()))
        .is_some_and(|rest| {
            POSITIONAL.captures_iter(&rest).any(|c| {
                matches!(
                    c[1].to_ascii_lowercase().as_str(),
                    "dir" | "directory" | "path" | "root" | "folder" | "source" | "src" | "input"
                )
            })
        });
    let folder = if takes_dir {
        CONFIG_FILE
            .captures_iter(help)
            .filter_map(|c| config_folder(dir, &c[1]))
            .min_by_key(|f| (f.matches('/').count(), f.clone()))
    } else {
        None
    };
    let mut command = format!("{start} {sub}");
    if let Some(f) = folder.filter(|f| f != ".") {
        command.push(' ');
        command.push_str(&f);
    }
    command.push(' ');
    command.push_str(&address);
    Some(command)
}

/// The folder under `dir`, two levels deep at most and relative to it, that holds
/// `file`; the shallowest first, `.` for `dir` itself.
fn config_folder(dir: &Path, file: &str) -> Option<String> {
    if dir.join(file).is_file() {
        return Some(".".into());
    }
    let skip = |n: &str| n.starts_with('.') || matches!(n, "target" | "node_modules" | "tests");
    let mut found: Vec<String> = Vec::new();
    for first in std::fs::read_dir(dir).ok()?.flatten() {
        let name = first.file_name().to_string_lossy().into_owned();
        if skip(&name) || !first.path().is_dir() {
            continue;
        }
        if first.path().join(file).is_file() {
            found.push(name.clone());
            continue;
        }
        for second in std::fs::read_dir(first.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let inner = second.file_name().to_string_lossy().into_owned();
            if !skip(&inner) && second.path().join(file).is_file() {
                found.push(format!("{name}/{inner}"));
            }
        }
    }
    found.sort_by_key(|f| (f.matches('/').count(), f.clone()));
    found.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    const TOP: &str = "Creates a book from markdown files\n\nUsage: mdbook [COMMAND]\n\nCommands:\n  init         Creates the boilerplate\n  build        Builds a book\n  serve        Serves a book at http://localhost:3000\n  help         Print this message\n";

    const SERVE: &str = "Serves a book\n\nUsage: mdbook serve [OPTIONS] [dir]\n\nArguments:\n  [dir]  Root directory for the book\n\nOptions:\n  -d, --dest-dir <dest-dir>  Output directory; defaults to build.build-dir from book.toml\n  -n, --hostname <hostname>  Hostname to listen on [default: localhost]\n  -p, --port <port>          Port to use [default: 3000]\n  -o, --open                 Opens the book\n";

    #[test]
    fn a_usage_with_commands_names_its_serve_subcommand() {
        let u = usage("./target/release/mdbook", &lines(TOP)).unwrap();
        assert_eq!(u.serve.as_deref(), Some("serve"));
        assert_eq!(u.line, "Usage: mdbook [COMMAND]");
        // Another program's usage, or one without commands, is not the program's.
        assert_eq!(usage("./target/release/other", &lines(TOP)), None);
        assert_eq!(
            program("node bin/mdbook.js serve").as_deref(),
            Some("mdbook")
        );
        assert_eq!(
            program("RUST_LOG=info ./target/release/mdbook").as_deref(),
            Some("mdbook")
        );
        assert_eq!(
            usage("python app.py", &lines("usage: app.py [-h]\nerror: bad")),
            None
        );
        let plain = "Usage: tool [OPTIONS] <FILE>\n\nOptions:\n  -h, --help\n";
        assert_eq!(usage("./tool", &lines(plain)), None);
    }

    #[test]
    fn a_usage_heading_over_the_program_line_is_read_as_urfave_cli_prints_it() {
        let top = "NAME:\n   memo - Memo Life For You\n\nUSAGE:\n   memo [global options] command [command options]\n\nCOMMANDS:\n   new, n     create memo\n   serve, s   start http server\n   help, h    Shows a list of commands\n";
        let u = usage("./.reporunner/bin/memo", &lines(top)).unwrap();
        assert_eq!(u.serve.as_deref(), Some("serve"));
        assert_eq!(u.line, "memo [global options] command [command options]");
        assert_eq!(usage("./.reporunner/bin/other", &lines(top)), None);
        // A `name - description` command list (jpillora/opts).
        let dashed = "  Usage: chisel [command] [--help]\n\n  Commands:\n    server - runs chisel in server mode\n    client - runs chisel in client mode\n";
        let u = usage("./.reporunner/bin/chisel", &lines(dashed)).unwrap();
        assert_eq!(u.serve.as_deref(), Some("server"));
        let help = "NAME:\n   memo serve - start http server\n\nUSAGE:\n   memo serve [command options] [arguments...]\n\nOPTIONS:\n   --addr value  server address (default: \":8080\")\n";
        let dir = std::env::temp_dir();
        assert_eq!(
            serve_command("./.reporunner/bin/memo", "serve", help, &dir).as_deref(),
            Some("./.reporunner/bin/memo serve --addr \"$HOST:$PORT\"")
        );
    }

    #[test]
    fn the_serve_command_gets_the_folder_holding_the_named_config_and_the_address() {
        let root = std::env::temp_dir().join(format!("rr-cliusage-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("guide/src")).unwrap();
        let dir = &root.as_path();
        std::fs::write(dir.join("guide/book.toml"), "[book]\n").unwrap();
        let c = serve_command("./target/release/mdbook", "serve", SERVE, dir).unwrap();
        assert_eq!(
            c,
            "./target/release/mdbook serve guide --port \"$PORT\" --hostname \"$HOST\""
        );
        // At the root, no folder is given; without a port flag, no command.
        std::fs::write(dir.join("book.toml"), "").unwrap();
        let c = serve_command("./mdbook", "serve", SERVE, dir).unwrap();
        assert_eq!(c, "./mdbook serve --port \"$PORT\" --hostname \"$HOST\"");
        assert_eq!(
            serve_command("./x", "serve", "Usage: x serve\n  -v, --verbose\n", dir),
            None
        );
        let bind = "Usage: x serve\n  -b, --bind <ADDR>  Address to listen on\n";
        assert_eq!(
            serve_command("./x", "serve", bind, dir).as_deref(),
            Some("./x serve --bind \"$HOST:$PORT\"")
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
