//! Child processes for untrusted repositories: each in its own process group, with a clean
//! environment, no standard input, a deadline, a watchdog for silence, resource limits, and
//! output kept as a log file plus its head, its tail and its error lines.
//!
//! Installs and test suites run to completion with [`run`]; services start with [`spawn`]
//! and stop with [`Service::stop`], which signals the whole group, so a server's workers
//! go with it.
//!
//! A command given a [`Confinement`] runs under bubblewrap: the file system read-only but
//! for the folders it may write, the data directory and secrets out of sight, a private
//! `/tmp`, and a PID namespace of its own, so every process it starts (a daemon that left
//! the process group included) ends when it ends, or when this process dies; with a pids
//! cgroup where the host lets this process make one, a fork bomb stops at its limit.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// How many first lines of output are kept.
pub const HEAD_LINES: usize = 40;
/// How many last lines of output are kept.
pub const TAIL_LINES: usize = 200;
/// How many error-looking lines are kept.
pub const ERROR_LINES: usize = 100;

/// Variables passed through from the host when set: what tools need to find themselves
/// and to reach their registries through this host's network (proxies, certificate
/// bundles, package indexes), and nothing of Repo Runner's own (its tokens and secrets
/// never reach a repository).
pub const PASSTHROUGH_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TERM",
    "TMPDIR",
    "USER",
    "PYENV_ROOT",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "CARGO_HTTP_CAINFO",
    "PIP_CERT",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_DEFAULT_TIMEOUT",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "NPM_CONFIG_REGISTRY",
    "npm_config_registry",
];

/// Resource limits, applied with the shell's `ulimit` before the program starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// CPU seconds.
    pub cpu_secs: Option<u64>,
    /// Virtual memory, in KiB.
    pub address_space_kib: Option<u64>,
    /// Open files.
    pub open_files: Option<u64>,
}

/// What to run, and how.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// The program (looked up on the spec's PATH).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its working directory.
    pub cwd: PathBuf,
    /// Its environment on top of [`PASSTHROUGH_ENV`]. `CI=true` is always set, so tools
    /// never wait for a person.
    pub env: BTreeMap<String, String>,
    /// The most it may run.
    pub timeout: Option<Duration>,
    /// The longest it may stay silent before it is taken for hung.
    pub idle_timeout: Option<Duration>,
    /// Where its whole output goes, when it should be kept.
    pub log: Option<PathBuf>,
    /// Its resource limits.
    pub limits: Limits,
    /// A hosts file it sees as `/etc/hosts`, and nothing else does: it runs in a private
    /// mount namespace where the file is bind-mounted over `/etc/hosts` (see
    /// [`private_hosts`]), so a host name its code hard-codes (a compose service's)
    /// resolves for it alone.
    pub hosts_file: Option<PathBuf>,
    /// How it is confined; `None` runs it as this process's user sees the host.
    pub confine: Option<Confinement>,
}

/// What a confined command may see and do (see the module docs). Paths that do not
/// exist are left out, except `writable` folders, which are made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confinement {
    /// Folders it may write, at the same paths.
    pub writable: Vec<PathBuf>,
    /// Folders it sees empty (mounted before `writable`, so a writable folder inside a
    /// hidden one is seen again): the data directory, the user's checkout.
    pub hidden: Vec<PathBuf>,
    /// Files and folders it cannot read (mounted last, so they stay out of sight inside
    /// writable folders too): keys, credentials, the Docker socket.
    pub secrets: Vec<PathBuf>,
    /// Folders bound at another path (the folder, where it is seen), after `writable`: a
    /// cache seen inside the workspace as a real folder (cargo's `target`), so paths under
    /// it are inside the project and canonical at once. A link at the place is replaced by
    /// an empty folder.
    pub mounts: Vec<(PathBuf, PathBuf)>,
    /// Files it sees read-only at another place (the file, where it is seen): a
    /// configuration file the run wrote for a path outside the workspace (`~/app.conf`).
    /// A place in a folder the host shows read-only gets that folder as a private tmpfs
    /// with each of its entries bound back read-only: the folder's contents stay in
    /// sight, and what the command writes there is its own and goes with it.
    pub files: Vec<(PathBuf, PathBuf)>,
    /// The most processes it may have at once, when the host lets this process make a
    /// pids cgroup.
    pub max_pids: Option<u64>,
    /// The most memory its processes may use together, in bytes, when the host lets
    /// this process make a memory cgroup: past it the kernel's OOM killer ends one of them.
    pub max_memory_bytes: Option<u64>,
    /// What its network is narrowed to (see [`crate::network`]); `None` shares the host's.
    pub network: Option<crate::network::NetPolicy>,
}

/// Whether commands can be confined here: bubblewrap installed, and allowed to make its
/// namespaces (root, or unprivileged user namespaces). Checked once.
///
/// # Errors
/// Why not, and what is needed, in words.
pub fn sandbox() -> Result<(), String> {
    static CHECK: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    CHECK
        .get_or_init(|| {
            let mut probe = std::process::Command::new("bwrap");
            probe.args(BWRAP_BASE).args(["--", "/bin/true"]);
            try_once(probe).map_err(|failure| match failure {
                Ok(stderr) => format!(
                    "bubblewrap cannot make its namespaces here (it needs root or unprivileged user namespaces): {stderr}"
                ),
                Err(e) => format!(
                    "bubblewrap (bwrap) is not installed ({e}): install Debian's bubblewrap, or run with --no-sandbox"
                ),
            })
        })
        .clone()
}

/// Runs a probe of what this host allows, with no input or output but its error text:
/// `Ok` when it succeeded, else `Err(Ok(stderr))` when it ran and failed, or
/// `Err(Err(e))` when it could not be started.
pub(crate) fn try_once(
    mut probe: std::process::Command,
) -> Result<(), Result<String, std::io::Error>> {
    let out = probe
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(Err)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Ok(String::from_utf8_lossy(&out.stderr).trim().to_string()))
    }
}

/// The mounts every confined command gets: the host read-only, its devices, a /proc of
/// its own PID namespace, and a private /tmp; it dies with its parent.
const BWRAP_BASE: &[&str] = &[
    "--die-with-parent",
    "--unshare-pid",
    "--ro-bind",
    "/",
    "/",
    "--dev-bind",
    "/dev",
    "/dev",
    "--proc",
    "/proc",
    "--tmpfs",
    "/tmp",
];

/// The capabilities a confined command loses when Repo Runner runs as root (bubblewrap
/// keeps root's otherwise): file permissions then hold for it as for any user, so a test
/// that checks an unreadable folder sees one (many suites fail as root for that alone),
/// and it cannot mount, load modules, touch raw devices, set the clock or reconfigure the
/// network. Ownership changes stay allowed: package managers unpack archives as root.
pub const DROPPED_CAPABILITIES: &[&str] = &[
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_SYS_ADMIN",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_BOOT",
    "CAP_SYS_TIME",
    "CAP_NET_ADMIN",
    "CAP_MAC_ADMIN",
    "CAP_MAC_OVERRIDE",
    "CAP_SYSLOG",
];

impl Confinement {
    /// bubblewrap's arguments for a command run in `cwd`, up to and including `--`.
    fn bwrap_args(&self, cwd: &std::path::Path, hosts: Option<&std::path::Path>) -> Vec<String> {
        let mut args: Vec<String> = BWRAP_BASE.iter().map(|a| a.to_string()).collect();
        if rustix::process::geteuid().is_root() {
            for cap in DROPPED_CAPABILITIES {
                args.extend(["--cap-drop".into(), cap.to_string()]);
            }
        }
        let text = |p: &std::path::Path| p.display().to_string();
        // Folders that receive a file of the run's own and are the host's read-only: a
        // tmpfs with their entries bound back, before anything mounted inside them.
        let mut private: Vec<PathBuf> = Vec::new();
        for (_, place) in &self.files {
            let Some(parent) = place.ancestors().skip(1).find(|a| a.is_dir()) else {
                continue;
            };
            let inside_writable = self.writable.iter().any(|w| parent.starts_with(w));
            if !inside_writable
                && parent != std::path::Path::new("/")
                && !private.iter().any(|p| p == parent)
            {
                private.push(parent.to_path_buf());
            }
        }
        for dir in &private {
            args.extend(["--tmpfs".into(), text(dir)]);
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if self.files.iter().any(|(_, place)| *place == path) {
                    continue;
                }
                match std::fs::read_link(&path) {
                    Ok(target) => args.extend(["--symlink".into(), text(&target), text(&path)]),
                    Err(_) => args.extend(["--ro-bind".into(), text(&path), text(&path)]),
                }
            }
        }
        for dir in self.hidden.iter().filter(|d| d.is_dir()) {
            args.extend(["--tmpfs".into(), text(dir)]);
        }
        for dir in &self.writable {
            let _ = std::fs::create_dir_all(dir);
            if dir.is_dir() {
                args.extend(["--bind".into(), text(dir), text(dir)]);
            }
        }
        for (source, place) in &self.mounts {
            let _ = std::fs::create_dir_all(source);
            if place.is_symlink() {
                let _ = std::fs::remove_file(place);
            }
            let _ = std::fs::create_dir_all(place);
            if source.is_dir() && place.is_dir() {
                args.extend(["--bind".into(), text(source), text(place)]);
            }
        }
        for (file, place) in &self.files {
            if file.is_file() {
                args.extend(["--ro-bind".into(), text(file), text(place)]);
            }
        }
        for secret in &self.secrets {
            if secret.is_dir() {
                args.extend(["--tmpfs".into(), text(secret)]);
            } else if secret.exists() {
                args.extend(["--ro-bind".into(), "/dev/null".into(), text(secret)]);
            }
        }
        if let Some(hosts) = hosts {
            args.extend(["--ro-bind".into(), text(hosts), "/etc/hosts".into()]);
        }
        args.extend(["--chdir".into(), text(cwd), "--".into()]);
        args
    }
}

/// A cgroup of its own for one command under `controller` (`pids`, `memory`), with
/// `limits` (file, value) written into it: cgroup v2 where this process may make children
/// of its cgroup with that controller, else v1's hierarchy of that controller. `None`
/// where the host allows neither.
fn limit_cgroup(controller: &str, limits: &[(&str, String)]) -> Option<PathBuf> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("reporunner-{}-{n}", std::process::id());
    let v2 = std::path::Path::new("/sys/fs/cgroup");
    let root = if std::fs::read_to_string(v2.join("cgroup.subtree_control"))
        .is_ok_and(|c| c.split_whitespace().any(|c| c == controller))
    {
        v2.to_path_buf()
    } else {
        v2.join(controller)
    };
    let dir = root.join(&name);
    std::fs::create_dir(&dir).ok()?;
    for (file, value) in limits {
        if std::fs::write(dir.join(file), value).is_err() {
            let _ = std::fs::remove_dir(&dir);
            return None;
        }
    }
    Some(dir)
}

/// A pids cgroup limited to `max` processes.
fn pids_cgroup(max: u64) -> Option<PathBuf> {
    limit_cgroup("pids", &[("pids.max", max.to_string())])
}

/// A memory cgroup limited to `max` bytes (v2's `memory.max`, v1's `memory.limit_in_bytes`).
fn memory_cgroup(max: u64) -> Option<PathBuf> {
    limit_cgroup("memory", &[("memory.max", max.to_string())])
        .or_else(|| limit_cgroup("memory", &[("memory.limit_in_bytes", max.to_string())]))
}

/// Whether this host lets this process make pids and memory cgroups, so a confinement's
/// `max_pids` and `max_memory_bytes` are enforced. Checked once.
pub fn limits_available() -> (bool, bool) {
    static CHECK: std::sync::OnceLock<(bool, bool)> = std::sync::OnceLock::new();
    *CHECK.get_or_init(|| {
        let made = |dir: Option<PathBuf>| match dir {
            Some(dir) => {
                remove_cgroup(&dir);
                true
            }
            None => false,
        };
        (made(pids_cgroup(1024)), made(memory_cgroup(1 << 30)))
    })
}

/// Removes a command's pids cgroup once its processes are gone.
fn remove_cgroup(dir: &std::path::Path) {
    for _ in 0..20 {
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Whether this host can give a command its own `/etc/hosts`: `unshare` from util-linux,
/// and root (a mount namespace) or unprivileged user namespaces (a user and mount
/// namespace, where the command runs as root of its namespace). Checked once.
///
/// # Errors
/// Why not, and what is needed, in words.
pub fn private_hosts() -> Result<(), String> {
    static CHECK: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    CHECK
        .get_or_init(|| {
            let args = hosts_namespace_args();
            let mut probe = std::process::Command::new("unshare");
            probe
                .args(&args)
                .args(["/bin/sh", "-c", "mount --bind /etc/hosts /etc/hosts"]);
            try_once(probe).map_err(|failure| match failure {
                Ok(stderr) => format!(
                    "a private /etc/hosts needs root or unprivileged user namespaces: `unshare {}` failed: {stderr}",
                    args.join(" ")
                ),
                Err(e) => format!("a private /etc/hosts needs util-linux's unshare: {e}"),
            })
        })
        .clone()
}

/// The namespaces `unshare` makes for a private hosts file: a mount namespace as root, a
/// user namespace around it otherwise.
fn hosts_namespace_args() -> Vec<&'static str> {
    let mut args = Vec::new();
    if !rustix::process::geteuid().is_root() {
        args.extend(["--user", "--map-root-user"]);
    }
    args.extend(["--mount", "--propagation", "private"]);
    args
}

impl CommandSpec {
    /// A command with no deadline, no limits and no log file.
    pub fn new(program: impl Into<String>, args: &[&str], cwd: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            cwd: cwd.into(),
            env: BTreeMap::new(),
            timeout: None,
            idle_timeout: None,
            log: None,
            limits: Limits::default(),
            hosts_file: None,
            confine: None,
        }
    }

    /// This command, confined as `confine` says (or not, for `None`).
    pub fn confined(mut self, confine: Option<&Confinement>) -> Self {
        self.confine = confine.cloned();
        self
    }

    /// Returns the command as a person would type it.
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn command(&self, net: Option<&crate::network::HostSide>) -> (Command, Vec<PathBuf>) {
        if let Some(confine) = &self.confine {
            return self.bwrapped(confine, net);
        }
        (self.plain(), Vec::new())
    }

    /// The command under bubblewrap, moved first into its pids and memory cgroups when
    /// they can be made (by a shell that then execs bubblewrap, so nothing it starts is
    /// outside them).
    fn bwrapped(
        &self,
        confine: &Confinement,
        net: Option<&crate::network::HostSide>,
    ) -> (Command, Vec<PathBuf>) {
        let cgroups: Vec<PathBuf> = [
            confine.max_pids.and_then(pids_cgroup),
            confine.max_memory_bytes.and_then(memory_cgroup),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut cmd = if cgroups.is_empty() {
            Command::new("bwrap")
        } else {
            let enter: String = cgroups
                .iter()
                .map(|d| format!("echo $$ > '{}/cgroup.procs' && ", d.display()))
                .collect();
            let mut c = Command::new("/bin/sh");
            c.arg("-c")
                .arg(format!("{enter}exec bwrap \"$@\" || exit 96"))
                .arg("sh");
            c
        };
        let mut args = confine.bwrap_args(&self.cwd, self.hosts_file.as_deref());
        if let Some(net) = net {
            // Before `--chdir DIR --`, and the bridge's front before the program.
            let at = args.len() - 3;
            args.splice(at..at, net.bwrap_args());
            args.extend(net.prefix());
        }
        cmd.args(args);
        let script = self.limits_prelude();
        if script.is_empty() {
            cmd.arg(&self.program).args(&self.args);
        } else {
            cmd.arg("/bin/sh")
                .arg("-c")
                .arg(format!("{script}exec \"$0\" \"$@\""))
                .arg(&self.program)
                .args(&self.args);
        }
        self.finish_command(&mut cmd);
        (cmd, cgroups)
    }

    /// The shell's `ulimit` lines for the spec's limits.
    fn limits_prelude(&self) -> String {
        let mut script = String::new();
        if let Some(t) = self.limits.cpu_secs {
            script.push_str(&format!("ulimit -t {t}; "));
        }
        if let Some(v) = self.limits.address_space_kib {
            script.push_str(&format!("ulimit -v {v}; "));
        }
        if let Some(n) = self.limits.open_files {
            script.push_str(&format!("ulimit -n {n}; "));
        }
        script
    }

    fn plain(&self) -> Command {
        let has_limits = self.limits != Limits::default();
        let mut cmd = if has_limits || self.hosts_file.is_some() {
            // A prelude then `exec`: the limits bind the program, not just a wrapper, the
            // hosts file is mounted before it starts, and no unsafe pre-exec hook is
            // needed.
            let mut script = String::new();
            if self.hosts_file.is_some() {
                script.push_str("h=$1; shift; mount --bind \"$h\" /etc/hosts || exit 97; ");
            }
            script.push_str(&self.limits_prelude());
            script.push_str("exec \"$0\" \"$@\"");
            let mut c = match &self.hosts_file {
                Some(_) => {
                    let mut c = Command::new("unshare");
                    c.args(hosts_namespace_args()).arg("/bin/sh");
                    c
                }
                None => Command::new("/bin/sh"),
            };
            c.arg("-c").arg(script).arg(&self.program);
            if let Some(h) = &self.hosts_file {
                c.arg(h);
            }
            c.args(&self.args);
            c
        } else {
            let mut c = Command::new(&self.program);
            c.args(&self.args);
            c
        };
        self.finish_command(&mut cmd);
        cmd
    }

    /// The working directory, the clean environment, the pipes and the process group.
    fn finish_command(&self, cmd: &mut Command) {
        cmd.current_dir(&self.cwd)
            .env_clear()
            .envs(
                PASSTHROUGH_ENV
                    .iter()
                    .filter_map(|k| std::env::var(k).ok().map(|v| (*k, v))),
            )
            .env("CI", "true")
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
    }
}

/// Why a command did not finish on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cutoff {
    /// It ran past its deadline.
    Timeout,
    /// It was silent past its idle limit.
    Idle,
}

/// How a command ended, and what it said.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The command, as typed.
    pub command: String,
    /// Its exit code, if it exited.
    pub code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// Set when it was stopped for running too long or too quietly.
    pub cutoff: Option<Cutoff>,
    /// How long it ran.
    pub duration: Duration,
    /// Its first lines.
    pub head: Vec<String>,
    /// Its last lines.
    pub tail: Vec<String>,
    /// Lines that look like errors.
    pub error_lines: Vec<String>,
    /// Where its whole output is, when it was kept.
    pub log: Option<PathBuf>,
}

impl Outcome {
    /// Returns whether it exited with code 0 on its own.
    pub fn success(&self) -> bool {
        self.code == Some(0) && self.cutoff.is_none()
    }
}

/// Why a command could not be run at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// It could not be started: the program is missing, say.
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        /// The command.
        command: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The log file could not be written.
    #[error("cannot write the log {path}: {source}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The kept parts of an output, shared by the stdout and stderr readers.
#[derive(Debug, Default)]
struct Capture {
    head: Vec<String>,
    tail: VecDeque<String>,
    errors: Vec<String>,
    last_output: Option<Instant>,
}

impl Capture {
    /// Keeps a line of Repo Runner's own about the command (its network's refusals) as if
    /// the command had said it.
    fn note(&mut self, line: String) {
        if self.errors.len() < ERROR_LINES {
            self.errors.push(line.clone());
        }
        self.tail.push_back(line);
        if self.tail.len() > TAIL_LINES {
            self.tail.pop_front();
        }
    }
}

fn looks_like_error(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    [
        "error",
        "exception",
        "traceback",
        "failed",
        "fatal",
        "panicked",
        "cannot ",
        "not found",
        "refused",
    ]
    .iter()
    .any(|w| l.contains(w))
}

async fn pump<R: AsyncRead + Unpin>(
    reader: R,
    capture: Arc<Mutex<Capture>>,
    log: Option<Arc<tokio::sync::Mutex<tokio::fs::File>>>,
) {
    let mut lines = BufReader::new(reader).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(log) = &log {
            let mut f = log.lock().await;
            let _ = f.write_all(line.as_bytes()).await;
            let _ = f.write_all(b"\n").await;
        }
        let mut c = capture.lock().unwrap_or_else(|e| e.into_inner());
        c.last_output = Some(Instant::now());
        if c.head.len() < HEAD_LINES {
            c.head.push(line.clone());
        }
        if looks_like_error(&line) && c.errors.len() < ERROR_LINES {
            c.errors.push(line.clone());
        }
        c.tail.push_back(line);
        if c.tail.len() > TAIL_LINES {
            c.tail.pop_front();
        }
    }
}

/// Signals every process of the group led by `pid`.
fn signal_group(pid: u32, signal: rustix::process::Signal) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

/// A started child with its output being collected.
struct Running {
    child: Child,
    pid: u32,
    capture: Arc<Mutex<Capture>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
    started: Instant,
    command: String,
    log: Option<PathBuf>,
    /// Its limit cgroups, removed when it has finished.
    cgroups: Vec<PathBuf>,
    /// The host's side of its narrowed network, closed when it has finished.
    net: Option<crate::network::HostSide>,
}

async fn start(spec: &CommandSpec) -> Result<Running, ProcessError> {
    let log = match &spec.log {
        Some(path) => {
            if let Some(dir) = path.parent() {
                let _ = tokio::fs::create_dir_all(dir).await;
            }
            let f = tokio::fs::File::create(path)
                .await
                .map_err(|source| ProcessError::Log {
                    path: path.clone(),
                    source,
                })?;
            Some(Arc::new(tokio::sync::Mutex::new(f)))
        }
        None => None,
    };
    let capture = Arc::new(Mutex::new(Capture {
        last_output: Some(Instant::now()),
        ..Capture::default()
    }));
    let net = match spec.confine.as_ref().and_then(|c| c.network.as_ref()) {
        Some(policy) => {
            let noted = capture.clone();
            let notice: crate::network::Notice = Arc::new(move |line: String| {
                noted.lock().unwrap_or_else(|e| e.into_inner()).note(line);
            });
            Some(
                crate::network::HostSide::start(policy, notice).map_err(|source| {
                    ProcessError::Spawn {
                        command: spec.display(),
                        source,
                    }
                })?,
            )
        }
        None => None,
    };
    let (mut command, cgroups) = spec.command(net.as_ref());
    let mut child = command.spawn().map_err(|source| {
        for dir in &cgroups {
            remove_cgroup(dir);
        }
        ProcessError::Spawn {
            command: spec.display(),
            source,
        }
    })?;
    let pid = child.id().unwrap_or(0);
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(pump(out, capture.clone(), log.clone())));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(pump(err, capture.clone(), log.clone())));
    }
    Ok(Running {
        child,
        pid,
        capture,
        readers,
        started: Instant::now(),
        command: spec.display(),
        log: spec.log.clone(),
        cgroups,
        net,
    })
}

impl Running {
    async fn finish(mut self, cutoff: Option<Cutoff>) -> Outcome {
        if cutoff.is_some() {
            signal_group(self.pid, rustix::process::Signal::KILL);
        }
        let status = self.child.wait().await.ok();
        // The readers end when every process holding the pipes is gone; a daemonised
        // grandchild may hold them longer, so they get a moment and no more.
        for r in self.readers {
            let _ = tokio::time::timeout(Duration::from_secs(2), r).await;
        }
        for dir in &self.cgroups {
            remove_cgroup(dir);
        }
        if let Some(net) = self.net.take() {
            net.close().await;
        }
        let c = self.capture.lock().unwrap_or_else(|e| e.into_inner());
        use std::os::unix::process::ExitStatusExt;
        Outcome {
            command: self.command,
            code: status.and_then(|s| s.code()),
            signal: status.and_then(|s| s.signal()),
            cutoff,
            duration: self.started.elapsed(),
            head: c.head.clone(),
            tail: c.tail.iter().cloned().collect(),
            error_lines: c.errors.clone(),
            log: self.log,
        }
    }
}

/// Runs a command to its end, its deadline, or its idle limit, whichever comes first. A
/// command cut off is killed with its whole process group.
///
/// # Errors
/// [`ProcessError`] if it cannot be started or its log cannot be written. A command that
/// runs and fails is an [`Outcome`], not an error.
pub async fn run(spec: &CommandSpec) -> Result<Outcome, ProcessError> {
    let mut running = start(spec).await?;
    let deadline = spec.timeout.map(|t| running.started + t);
    let tick = Duration::from_millis(50);
    let cutoff = loop {
        tokio::select! {
            status = running.child.wait() => {
                let _ = status;
                break None;
            }
            _ = tokio::time::sleep(tick) => {
                let now = Instant::now();
                if deadline.is_some_and(|d| now >= d) {
                    break Some(Cutoff::Timeout);
                }
                if let Some(idle) = spec.idle_timeout {
                    let last = running.capture.lock().unwrap_or_else(|e| e.into_inner()).last_output;
                    if last.is_some_and(|l| now.duration_since(l) >= idle) {
                        break Some(Cutoff::Idle);
                    }
                }
            }
        }
    };
    Ok(running.finish(cutoff).await)
}

/// A TCP socket a process listens on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listening {
    /// The port.
    pub port: u16,
    /// The address it is bound to, such as `127.0.0.1`, `0.0.0.0` or `::`.
    pub address: String,
    /// The process that holds it.
    pub pid: u32,
}

/// Returns the TCP sockets that the processes of group `pgid` listen on, read from /proc:
/// each process's socket inodes (`/proc/PID/fd`) matched against the listening sockets of
/// its network namespace (`/proc/PID/net/tcp` and `tcp6`: a confined command's own, when
/// its network is narrowed). This is how an app that ignored `PORT` is found out.
pub fn listening_ports(pgid: u32) -> Vec<Listening> {
    let mut inodes: BTreeMap<u64, u32> = BTreeMap::new();
    // One process of each network namespace the group's processes are in.
    let mut namespaces: BTreeMap<PathBuf, u32> = BTreeMap::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // Field 5 of stat is the process group; the command name before it may hold
        // spaces, so fields are counted after its closing parenthesis.
        let in_group = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                let rest = s.rsplit_once(')')?.1.to_string();
                rest.split_whitespace().nth(2)?.parse::<u32>().ok()
            })
            == Some(pgid);
        if !in_group {
            continue;
        }
        if let Ok(ns) = std::fs::read_link(format!("/proc/{pid}/ns/net")) {
            namespaces.entry(ns).or_insert(pid);
        }
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path())
                && let Some(inode) = target
                    .to_str()
                    .and_then(|t| t.strip_prefix("socket:["))
                    .and_then(|t| t.strip_suffix(']'))
                    .and_then(|t| t.parse::<u64>().ok())
            {
                inodes.insert(inode, pid);
            }
        }
    }
    let mut found = Vec::new();
    let mut tables: Vec<(String, bool)> = Vec::new();
    if namespaces.is_empty() {
        tables.extend([
            ("/proc/net/tcp".into(), false),
            ("/proc/net/tcp6".into(), true),
        ]);
    }
    for pid in namespaces.values() {
        tables.push((format!("/proc/{pid}/net/tcp"), false));
        tables.push((format!("/proc/{pid}/net/tcp6"), true));
    }
    for (table, v6) in tables {
        let Ok(text) = std::fs::read_to_string(&table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st ... inode (field 9); 0A is LISTEN.
            if f.len() < 10 || f[3] != "0A" {
                continue;
            }
            let Some(pid) = f[9].parse::<u64>().ok().and_then(|i| inodes.get(&i)) else {
                continue;
            };
            let Some((addr, port)) = f[1].split_once(':') else {
                continue;
            };
            let Ok(port) = u16::from_str_radix(port, 16) else {
                continue;
            };
            found.push(Listening {
                port,
                address: decode_address(addr, v6),
                pid: *pid,
            });
        }
    }
    found.sort();
    found.dedup();
    found
}

/// Decodes /proc/net's hex address: IPv4 as one little-endian word, IPv6 as four.
fn decode_address(hex: &str, v6: bool) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    if !v6 && bytes.len() == 4 {
        std::net::Ipv4Addr::new(bytes[3], bytes[2], bytes[1], bytes[0]).to_string()
    } else if v6 && bytes.len() == 16 {
        let mut b = [0u8; 16];
        for word in 0..4 {
            for i in 0..4 {
                b[word * 4 + i] = bytes[word * 4 + 3 - i];
            }
        }
        std::net::Ipv6Addr::from(b).to_string()
    } else {
        hex.to_string()
    }
}

/// A long-running command: a service.
pub struct Service {
    running: Running,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("command", &self.running.command)
            .field("pid", &self.running.pid)
            .finish()
    }
}

/// Starts a service in its own process group. Its output goes to its log as it comes.
///
/// # Errors
/// As [`run`].
pub async fn spawn(spec: &CommandSpec) -> Result<Service, ProcessError> {
    let mut running = start(spec).await?;
    let pid = running.pid;
    if let Some(net) = running.net.as_mut() {
        net.mirror(pid);
    }
    Ok(Service { running })
}

impl Service {
    /// Returns the process id of the group's leader.
    pub fn pid(&self) -> u32 {
        self.running.pid
    }

    /// Returns the TCP sockets the service's processes listen on.
    pub fn listening_ports(&self) -> Vec<Listening> {
        listening_ports(self.running.pid)
    }

    /// Returns whether the leader still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.running.child.try_wait(), Ok(None))
    }

    /// Returns the output so far: head, tail and error lines.
    pub fn output(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let c = self
            .running
            .capture
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        (
            c.head.clone(),
            c.tail.iter().cloned().collect(),
            c.errors.clone(),
        )
    }

    /// Stops the whole group: SIGTERM, then SIGKILL after `grace`.
    pub async fn stop(mut self, grace: Duration) -> Outcome {
        signal_group(self.running.pid, rustix::process::Signal::TERM);
        let ended = tokio::time::timeout(grace, self.running.child.wait())
            .await
            .is_ok();
        let cutoff = (!ended).then_some(Cutoff::Timeout);
        // Kill whatever of the group is left, even when the leader went quietly.
        signal_group(self.running.pid, rustix::process::Signal::KILL);
        self.running.finish(cutoff).await
    }
}

#[cfg(test)]
mod tests;
