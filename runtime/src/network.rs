//! The narrowed network of a confined command: a network namespace of its own (bubblewrap's
//! `--unshare-net`, loopback only), with three ways out, each through a Unix socket that a
//! small bridge inside the namespace and this process outside it hold between them:
//!
//! - **the run's services**: the loopback addresses and ports of the databases the run
//!   started (`reach`), listened on inside the namespace at the same addresses, so
//!   `postgres://127.0.0.1:5433` works unchanged; no other port of the host can be reached
//!   (not Repo Runner's own API, not another run's service);
//! - **the registries**: an HTTP proxy (CONNECT for HTTPS, plain requests for HTTP),
//!   announced to the command with the tools' own variables (npm's, Yarn's, pip's, cargo's,
//!   the JVM's `JAVA_TOOL_OPTIONS`) and, unless `proxy_env` is off (a test suite, whose
//!   code may read them), `HTTP_PROXY`, `HTTPS_PROXY` and their kin, that lets
//!   through only the hosts of its allow-list (`allow_hosts`) and answers every other one
//!   with `403` and a sentence saying why (said in the command's output too);
//! - **its own listening sockets**: every TCP port the command's processes listen on inside
//!   the namespace is listened on at the same port on the host and forwarded in, as
//!   pasta's `-t auto` does, so the health check reaches the service where it would
//!   without the namespace.
//!
//! The bridge is this program itself, started inside the sandbox with [`BRIDGE_ARG`]
//! (the binary calls [`bridge_main`]); a program that has not registered itself with
//! [`set_bridge_program`] cannot narrow a command's network, and its commands share the
//! host's (see [`bridge_program`]).
//!
//! Nothing the command sends can widen this: the host side checks every request against
//! the policy (the command can write to the sockets directly), and a malformed one is
//! closed with a notice, never a crash.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

/// The first argument that makes the program a network bridge (see [`bridge_main`]).
pub const BRIDGE_ARG: &str = "__net-bridge";

/// The first argument of the bridge's serving half, started by its front.
const SERVE_ARG: &str = "__net-bridge-serve";

/// Where the bridge's files are inside the sandbox (its private `/tmp`).
const IN_NS: &str = "/tmp/.reporunner-net";

/// The most bytes of an HTTP request's head the proxy reads.
const MAX_HEAD: usize = 16 * 1024;

/// Registry hosts every narrowed command may reach, with their subdomains: the package
/// indexes of the ecosystems Repo Runner installs (PyPI, npm and Yarn, crates.io and
/// rustup's toolchains, the Go module proxy and checksum database, Maven Central and
/// Gradle's plugin portal and distributions) and Node.js's headers for node-gyp.
pub const REGISTRY_HOSTS: &[&str] = &[
    "pypi.org",
    "pythonhosted.org",
    "pypi.python.org",
    "registry.npmjs.org",
    "registry.yarnpkg.com",
    "repo.yarnpkg.com",
    "nodejs.org",
    "crates.io",
    "static.rust-lang.org",
    "proxy.golang.org",
    "sum.golang.org",
    "repo.maven.apache.org",
    "repo1.maven.org",
    "gradle.org",
];

/// What a confined command's network is narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetPolicy {
    /// The program that serves the bridge inside the sandbox ([`bridge_program`]).
    pub bridge: PathBuf,
    /// Loopback addresses of the host it may connect to (the run's databases).
    pub reach: Vec<SocketAddr>,
    /// Hosts its HTTP proxy lets through, each with its subdomains.
    pub allow_hosts: Vec<String>,
    /// Host names the proxy is not asked for (the names a private hosts file maps to the
    /// run's services): `NO_PROXY` on top of loopback's.
    pub no_proxy: Vec<String>,
    /// The HTTP proxy (`host:port`) this host reaches the internet through, when it has
    /// one: the allowed requests go on through it ([`upstream_from_env`]).
    pub upstream: Option<String>,
    /// Whether the generic proxy variables (`HTTP_PROXY`, `HTTPS_PROXY` and their
    /// lowercase kin) announce the proxy, besides npm's, Yarn's and the JVM's own. A test
    /// suite goes without them: its dependencies are installed, and tests that check how
    /// the code reads those variables would see the bridge's.
    pub proxy_env: bool,
}

/// The HTTP proxy this process is configured to go through (`HTTPS_PROXY`, `https_proxy`,
/// `HTTP_PROXY`, `http_proxy`, the first set, as `http://[user@]host:port`), as `host:port`.
pub fn upstream_from_env() -> Option<String> {
    ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.trim().is_empty())
        .and_then(|v| proxy_authority(&v))
}

/// `host:port` of a proxy URL: `http://proxy.corp:3128/` gives `proxy.corp:3128`, one
/// without a port gets 80; `None` for a scheme other than `http`.
fn proxy_authority(url: &str) -> Option<String> {
    let rest = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some(_) => return None,
        None => url,
    };
    let (host, port) = split_host_port(url_authority(rest), 80)?;
    Some(authority(&host, port))
}

/// The host of a URL, lowercased (`https://user@Mirror.Corp:8443/simple` gives
/// `mirror.corp`); `None` for text that is no URL (`direct`, `off`).
pub fn url_host(url: &str) -> Option<String> {
    let (host, _) = split_host_port(url_authority(url.split_once("://")?.1), 0)?;
    Some(host.to_ascii_lowercase())
}

/// The authority of what follows a URL's `scheme://`, without its user information.
fn url_authority(rest: &str) -> &str {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.rsplit_once('@').map_or(authority, |(_, h)| h)
}

impl NetPolicy {
    /// Whether `host` is on the allow-list: one of its hosts, or a subdomain of one.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allow_hosts.iter().any(|a| {
            let a = a.trim_start_matches('.').to_ascii_lowercase();
            host == a
                || host
                    .strip_suffix(a.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        })
    }
}

static BRIDGE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Registers `program` (this process's executable, which calls [`bridge_main`] when its
/// first argument is [`BRIDGE_ARG`]) as the bridge that narrows confined commands'
/// networks. Only the first call counts.
pub fn set_bridge_program(program: PathBuf) {
    let _ = BRIDGE.set(program);
}

/// The registered bridge program, when this host can also give a command a network
/// namespace of its own (bubblewrap's `--unshare-net`, checked once); `None` otherwise,
/// and confined commands then share the host's network.
pub fn bridge_program() -> Option<PathBuf> {
    static CHECK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let program = BRIDGE.get()?;
    let ok = *CHECK.get_or_init(|| {
        let mut probe = std::process::Command::new("bwrap");
        probe.args(["--ro-bind", "/", "/", "--unshare-net", "--", "/bin/true"]);
        crate::process::sandbox().is_ok() && crate::process::try_once(probe).is_ok()
    });
    ok.then(|| program.clone())
}

/// Runs the bridge when `args` (the program's arguments, without its name) start with
/// [`BRIDGE_ARG`] or the serving half's own argument, and returns the exit code the
/// program should end with; `None` when they do not, and the program goes on as itself.
///
/// The front (`__net-bridge [--reach ADDR].. [--no-proxy HOST].. -- PROGRAM ARGS..`)
/// starts the serving half, waits until its sockets listen, sets the proxy variables and
/// becomes PROGRAM (`exec`), so the command keeps its process and its signals; the serving
/// half lives until the sandbox's PID namespace ends with the command.
pub fn bridge_main(args: &[String]) -> Option<i32> {
    match args.first().map(String::as_str) {
        Some(BRIDGE_ARG) => Some(front(&args[1..])),
        Some(SERVE_ARG) => Some(serve(&args[1..])),
        _ => None,
    }
}

/// The bridge's parsed arguments.
#[derive(Debug, Default)]
struct BridgeArgs {
    reach: Vec<SocketAddr>,
    no_proxy: Vec<String>,
    /// `--no-proxy-env`: the generic proxy variables are not set.
    quiet: bool,
    command: Vec<String>,
}

fn parse(args: &[String]) -> Result<BridgeArgs, String> {
    let mut parsed = BridgeArgs::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--reach" => {
                let v = it.next().ok_or("--reach needs an address")?;
                parsed
                    .reach
                    .push(v.parse().map_err(|e| format!("bad address {v}: {e}"))?);
            }
            "--no-proxy" => parsed
                .no_proxy
                .push(it.next().ok_or("--no-proxy needs a host")?.clone()),
            "--no-proxy-env" => parsed.quiet = true,
            "--" => {
                parsed.command = it.cloned().collect();
                break;
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(parsed)
}

fn front(args: &[String]) -> i32 {
    let parsed = match parse(args) {
        Ok(p) if !p.command.is_empty() => p,
        Ok(_) => {
            eprintln!("reporunner network bridge: no command to run");
            return 95;
        }
        Err(e) => {
            eprintln!("reporunner network bridge: {e}");
            return 95;
        }
    };
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from(IN_NS).join("bridge"));
    let mut serve = std::process::Command::new(exe);
    serve.arg(SERVE_ARG);
    for r in &parsed.reach {
        serve.arg("--reach").arg(r.to_string());
    }
    let child = serve
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("reporunner network bridge: cannot start its server: {e}");
            return 95;
        }
    };
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let Some(port) = line
        .strip_prefix("ready ")
        .and_then(|p| p.trim().parse::<u16>().ok())
    else {
        let _ = child.wait();
        eprintln!("reporunner network bridge: its server did not start");
        return 95;
    };
    let proxy = format!("http://127.0.0.1:{port}");
    let mut no_proxy = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    no_proxy.extend(parsed.no_proxy.iter().cloned());
    let no_proxy = no_proxy.join(",");
    let mut java = std::env::var("JAVA_TOOL_OPTIONS").unwrap_or_default();
    for scheme in ["http", "https"] {
        java.push_str(&format!(
            " -D{scheme}.proxyHost=127.0.0.1 -D{scheme}.proxyPort={port}"
        ));
    }
    java.push_str(&format!(
        " -Dhttp.nonProxyHosts={}",
        no_proxy.replace(',', "|").replace("::1", "[::1]")
    ));
    // Maven 3.9's resolver reads the proxy from these only when told to.
    java.push_str(" -Daether.connector.http.useSystemProperties=true");
    let mut cmd = std::process::Command::new(&parsed.command[0]);
    cmd.args(&parsed.command[1..]);
    let generic = ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"];
    // The tools' own variables, which the code under test does not read.
    for key in [
        "npm_config_proxy",
        "npm_config_https_proxy",
        "YARN_HTTP_PROXY",
        "YARN_HTTPS_PROXY",
        "PIP_PROXY",
        "CARGO_HTTP_PROXY",
    ] {
        cmd.env(key, &proxy);
    }
    for key in generic {
        if parsed.quiet {
            cmd.env_remove(key);
        } else {
            cmd.env(key, &proxy);
        }
    }
    cmd.env("NO_PROXY", &no_proxy)
        .env("no_proxy", &no_proxy)
        .env("npm_config_noproxy", &no_proxy)
        .env("JAVA_TOOL_OPTIONS", java.trim())
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy");
    use std::os::unix::process::CommandExt;
    let e = cmd.exec();
    eprintln!(
        "reporunner network bridge: cannot run {}: {e}",
        parsed.command[0]
    );
    127
}

/// The serving half, inside the namespace: it listens where the command will connect
/// (the reachable services, the proxy) and where the host connects in (`in.sock`), and
/// prints `ready PROXY_PORT` when all of them listen.
fn serve(args: &[String]) -> i32 {
    let parsed = match parse(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("reporunner network bridge: {e}");
            return 95;
        }
    };
    let host_sock = PathBuf::from(IN_NS).join("host/host.sock");
    let mut listeners = Vec::new();
    for addr in &parsed.reach {
        match std::net::TcpListener::bind(addr) {
            Ok(l) => listeners.push((l, format!("tcp {addr}"))),
            Err(e) => {
                eprintln!("reporunner network bridge: cannot listen on {addr}: {e}");
                return 95;
            }
        }
        // `localhost` may resolve to ::1 first: the same service there too, when it can.
        if addr.ip() == std::net::Ipv4Addr::LOCALHOST
            && let Ok(l) = std::net::TcpListener::bind((std::net::Ipv6Addr::LOCALHOST, addr.port()))
        {
            listeners.push((l, format!("tcp {addr}")));
        }
    }
    let proxy = match std::net::TcpListener::bind("127.0.0.1:0") {
        Ok(l) => l,
        Err(e) => {
            eprintln!("reporunner network bridge: cannot listen for its proxy: {e}");
            return 95;
        }
    };
    let proxy_port = proxy.local_addr().map(|a| a.port()).unwrap_or(0);
    listeners.push((proxy, "proxy".to_string()));
    let inbound_path = PathBuf::from(IN_NS).join("ns/in.sock");
    let _ = std::fs::remove_file(&inbound_path);
    let inbound = match std::os::unix::net::UnixListener::bind(&inbound_path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "reporunner network bridge: cannot listen on {}: {e}",
                inbound_path.display()
            );
            return 95;
        }
    };
    for (listener, header) in listeners {
        let host_sock = host_sock.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                // Bytes go on as they come: Nagle's wait on a relayed small write meets
                // the peer's delayed ACK (40 ms a round trip).
                let _ = conn.set_nodelay(true);
                let host_sock = host_sock.clone();
                let header = header.clone();
                std::thread::spawn(move || {
                    if let Ok(mut up) = std::os::unix::net::UnixStream::connect(&host_sock)
                        && up.write_all(format!("{header}\n").as_bytes()).is_ok()
                        && let Ok(up2) = up.try_clone()
                        && let Ok(conn2) = conn.try_clone()
                    {
                        splice_blocking(conn, conn2, up, up2);
                    }
                });
            }
        });
    }
    println!("ready {proxy_port}");
    let _ = std::io::stdout().flush();
    // The host connects in: one line naming the address inside, then the bytes.
    for conn in inbound.incoming().flatten() {
        std::thread::spawn(move || {
            let mut reader = BufReader::new(match conn.try_clone() {
                Ok(c) => c,
                Err(_) => return,
            });
            let mut line = String::new();
            if reader.by_ref().take(128).read_line(&mut line).is_err() {
                return;
            }
            let Ok(addr) = line.trim().parse::<SocketAddr>() else {
                return;
            };
            let other = match addr.ip() {
                std::net::IpAddr::V4(ip) if ip.is_loopback() => Some(SocketAddr::from((
                    std::net::Ipv6Addr::LOCALHOST,
                    addr.port(),
                ))),
                std::net::IpAddr::V6(ip) if ip.is_loopback() => Some(SocketAddr::from((
                    std::net::Ipv4Addr::LOCALHOST,
                    addr.port(),
                ))),
                _ => None,
            };
            let target = std::net::TcpStream::connect(addr)
                .or_else(|e| other.map_or(Err(e), std::net::TcpStream::connect))
                .inspect(|t| {
                    let _ = t.set_nodelay(true);
                });
            if let Ok(target) = target
                && let Ok(target2) = target.try_clone()
            {
                let buffered = reader.buffer().to_vec();
                let mut t = target;
                if t.write_all(&buffered).is_ok() {
                    splice_blocking(t, target2, conn, reader.into_inner());
                }
            }
        });
    }
    0
}

/// Copies both ways between two connections (each given twice: one end to read, one to
/// write), half-closing each direction at its end, on two threads.
fn splice_blocking<A, B>(a_read: A, a_write: A, b_read: B, b_write: B)
where
    A: Read + Write + Shutdown + Send + 'static,
    B: Read + Write + Shutdown + Send + 'static,
{
    let forward = std::thread::spawn(move || {
        let (mut r, mut w) = (a_read, b_write);
        copy_plain(&mut r, &mut w);
        w.shut_write();
    });
    let (mut r, mut w) = (b_read, a_write);
    copy_plain(&mut r, &mut w);
    w.shut_write();
    let _ = forward.join();
}

/// Copies until the end or an error with plain reads and writes: `std::io::copy` would
/// try the kernel's `sendfile` and `splice` between two sockets, which some kernels
/// (gVisor's) do not carry through.
fn copy_plain(r: &mut impl Read, w: &mut impl Write) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if w.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// A connection whose writing half can be closed.
trait Shutdown {
    fn shut_write(&self);
}

impl Shutdown for std::net::TcpStream {
    fn shut_write(&self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

impl Shutdown for std::os::unix::net::UnixStream {
    fn shut_write(&self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

/// Says something about the command's network in its output (a refused host, a port that
/// could not be forwarded).
pub(crate) type Notice = Arc<dyn Fn(String) + Send + Sync>;

/// The host's side of one command's narrowed network: the socket the bridge connects out
/// through, and the ports forwarded in. Dropping it closes them and removes its folder.
pub(crate) struct HostSide {
    dir: PathBuf,
    policy: Arc<NetPolicy>,
    notice: Notice,
    tasks: Vec<JoinHandle<()>>,
    /// The tasks that forward the command's listening ports from the host's.
    mirrors: Vec<JoinHandle<()>>,
    /// Tells the forwarding tasks to close their listeners and end ([`HostSide::close`]).
    closing: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for HostSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostSide").field("dir", &self.dir).finish()
    }
}

impl HostSide {
    /// Makes the folder and listens on its host socket.
    pub(crate) fn start(policy: &NetPolicy, notice: Notice) -> std::io::Result<Self> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("reporunner-net.{}.{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("host"))?;
        std::fs::create_dir_all(dir.join("ns"))?;
        let listener = tokio::net::UnixListener::bind(dir.join("host/host.sock"))?;
        let policy = Arc::new(policy.clone());
        let mut side = Self {
            dir,
            policy: policy.clone(),
            notice: notice.clone(),
            tasks: Vec::new(),
            mirrors: Vec::new(),
            closing: tokio::sync::watch::channel(false).0,
        };
        side.tasks.push(tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(outbound(conn, policy.clone(), notice.clone()));
            }
        }));
        Ok(side)
    }

    /// bubblewrap's arguments for the namespace and the bridge's files.
    pub(crate) fn bwrap_args(&self) -> Vec<String> {
        let text = |p: &Path| p.display().to_string();
        vec![
            "--unshare-net".into(),
            "--ro-bind".into(),
            text(&self.dir.join("host")),
            format!("{IN_NS}/host"),
            "--bind".into(),
            text(&self.dir.join("ns")),
            format!("{IN_NS}/ns"),
            "--ro-bind".into(),
            text(&self.policy.bridge),
            format!("{IN_NS}/bridge"),
        ]
    }

    /// The bridge's front, with its arguments, that the command runs under.
    pub(crate) fn prefix(&self) -> Vec<String> {
        let mut args = vec![format!("{IN_NS}/bridge"), BRIDGE_ARG.to_string()];
        for r in &self.policy.reach {
            args.extend(["--reach".into(), r.to_string()]);
        }
        for h in &self.policy.no_proxy {
            args.extend(["--no-proxy".into(), h.clone()]);
        }
        if !self.policy.proxy_env {
            args.push("--no-proxy-env".into());
        }
        args.push("--".into());
        args
    }

    /// Forwards, from now on, every port that the processes of group `pgid` listen on
    /// inside the namespace to the same port on the host (on the address family's
    /// loopback for a loopback listener, on every address for a wildcard one).
    pub(crate) fn mirror(&mut self, pgid: u32) {
        let inbound = self.dir.join("ns/in.sock");
        let notice = self.notice.clone();
        let mut closing = self.closing.subscribe();
        self.mirrors.push(tokio::spawn(async move {
            let mut seen: BTreeSet<(String, u16)> = BTreeSet::new();
            let mut ports: BTreeSet<u16> = BTreeSet::new();
            // Dropped with this task, which aborts every forward.
            let mut forwards = tokio::task::JoinSet::new();
            loop {
                for l in crate::process::listening_ports(pgid) {
                    // The bridge's own (the proxy, the services it reaches) stay inside.
                    if !seen.insert((l.address.clone(), l.port)) || is_bridge(l.pid) {
                        continue;
                    }
                    let Ok(ip) = l.address.parse::<std::net::IpAddr>() else {
                        continue;
                    };
                    // A JVM's IPv4 listener shows as IPv6's mapped form.
                    let ip = match ip {
                        std::net::IpAddr::V6(v6) => v6
                            .to_ipv4_mapped()
                            .map_or(ip, std::net::IpAddr::V4),
                        v4 => v4,
                    };
                    // A wildcard listener is reached inside at IPv4's loopback (a
                    // dual-stack one takes it too; the bridge tries the other family); a
                    // loopback one where it listens, from the loopback of its family.
                    let (host, inside): (std::net::IpAddr, std::net::IpAddr) = match ip {
                        std::net::IpAddr::V4(v4) if v4.is_unspecified() => {
                            (ip, std::net::Ipv4Addr::LOCALHOST.into())
                        }
                        std::net::IpAddr::V6(v6) if v6.is_unspecified() => {
                            (ip, std::net::Ipv4Addr::LOCALHOST.into())
                        }
                        std::net::IpAddr::V4(_) => (std::net::Ipv4Addr::LOCALHOST.into(), ip),
                        std::net::IpAddr::V6(_) => (std::net::Ipv6Addr::LOCALHOST.into(), ip),
                    };
                    let target = SocketAddr::new(inside, l.port);
                    let mut bound = tokio::net::TcpListener::bind(SocketAddr::new(host, l.port)).await;
                    if bound.is_err() && host.is_ipv6() && host.is_unspecified() {
                        // A host without IPv6: its IPv4 wildcard.
                        bound = tokio::net::TcpListener::bind(("0.0.0.0", l.port)).await;
                    }
                    match bound {
                        Ok(listener) => {
                            ports.insert(l.port);
                            let inbound = inbound.clone();
                            forwards.spawn(async move {
                                while let Ok((conn, _)) = listener.accept().await {
                                    let _ = conn.set_nodelay(true);
                                    tokio::spawn(inward(conn, inbound.clone(), target));
                                }
                            });
                        }
                        // Listening on two addresses of one port: the first forward
                        // serves both.
                        Err(_) if ports.contains(&l.port) => {}
                        Err(e) => notice(format!(
                            "reporunner: the service listens on port {} inside its network namespace, but the host cannot open that port ({e}): it is not reachable there",
                            l.port
                        )),
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    // Closed: every forwarded port is free again before `close` returns.
                    _ = closing.changed() => {
                        forwards.shutdown().await;
                        return;
                    }
                }
            }
        }));
    }

    /// Closes it: the host's ports it forwarded are free again when this returns (a
    /// service started again at once finds its port free), then the folder goes.
    pub(crate) async fn close(mut self) {
        let _ = self.closing.send(true);
        // The forwarding tasks end by themselves, their listeners closed.
        for m in std::mem::take(&mut self.mirrors) {
            let abort = m.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), m)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        for t in std::mem::take(&mut self.tasks) {
            t.abort();
            let _ = t.await;
        }
    }
}

impl Drop for HostSide {
    fn drop(&mut self) {
        for t in self.tasks.iter().chain(&self.mirrors) {
            t.abort();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One connection from the command outwards: `tcp ADDR` to a reachable service, or
/// `proxy` for the HTTP proxy.
async fn outbound(conn: tokio::net::UnixStream, policy: Arc<NetPolicy>, notice: Notice) {
    let mut reader = tokio::io::BufReader::new(conn);
    let mut line = Vec::new();
    match tokio::time::timeout(
        Duration::from_secs(10),
        (&mut reader).take(256).read_until(b'\n', &mut line),
    )
    .await
    {
        Ok(Ok(n)) if n > 0 => {}
        _ => return,
    }
    let line = String::from_utf8_lossy(&line);
    let line = line.trim();
    if line == "proxy" {
        proxy(reader, &policy, &notice).await;
        return;
    }
    let Some(addr) = line
        .strip_prefix("tcp ")
        .and_then(|a| a.parse::<SocketAddr>().ok())
    else {
        notice(format!(
            "reporunner: a malformed request on the network bridge was refused: {line:?}"
        ));
        return;
    };
    if !policy.reach.contains(&addr) {
        notice(format!(
            "reporunner: a connection to {addr} on the host was refused: the run's network reaches only its own services"
        ));
        return;
    }
    if let Ok(mut up) = tokio::net::TcpStream::connect(addr).await {
        let _ = up.set_nodelay(true);
        let mut conn = reader;
        let _ = tokio::io::copy_bidirectional(&mut conn, &mut up).await;
    }
}

/// Whether process `pid` is a bridge's serving half.
fn is_bridge(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
        c.split(|b| *b == 0)
            .nth(1)
            .is_some_and(|arg| arg == SERVE_ARG.as_bytes())
    })
}

/// One connection from the host inwards, to `target` inside the namespace.
async fn inward(mut conn: tokio::net::TcpStream, inbound: PathBuf, target: SocketAddr) {
    if let Ok(mut inside) = tokio::net::UnixStream::connect(&inbound).await
        && inside
            .write_all(format!("{target}\n").as_bytes())
            .await
            .is_ok()
    {
        let _ = tokio::io::copy_bidirectional(&mut conn, &mut inside).await;
    }
}

/// Why an HTTP head could not be read.
enum Head {
    /// The peer closed, or sent nothing for 30 s.
    Closed,
    /// It is longer than [`MAX_HEAD`].
    TooLarge,
}

/// Reads an HTTP head (request or response) up to and including its blank line.
async fn read_head<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Result<Vec<u8>, Head> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        let read = tokio::time::timeout(
            Duration::from_secs(30),
            (&mut *r).take(MAX_HEAD as u64).read_until(b'\n', &mut line),
        )
        .await;
        match read {
            Ok(Ok(n)) if n > 0 => {}
            _ => return Err(Head::Closed),
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" || line == b"\n" {
            return Ok(head);
        }
        if head.len() > MAX_HEAD {
            return Err(Head::TooLarge);
        }
    }
}

/// `host:port`, with an IPv6 host in brackets.
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The proxy's side of one client connection: one request, then the tunnel or the reply.
async fn proxy(
    mut client: tokio::io::BufReader<tokio::net::UnixStream>,
    policy: &NetPolicy,
    notice: &Notice,
) {
    let head = match read_head(&mut client).await {
        Ok(head) => head,
        Err(Head::TooLarge) => {
            let _ = reply(&mut client, 431, "the request's head is too large").await;
            return;
        }
        Err(Head::Closed) => return,
    };
    let text = String::from_utf8_lossy(&head).to_string();
    let mut first = text.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    let (host, port, tunnel) = if method.eq_ignore_ascii_case("CONNECT") {
        match split_host_port(target, 443) {
            Some((h, p)) => (h, p, true),
            None => {
                let _ = reply(&mut client, 400, "CONNECT needs host:port").await;
                return;
            }
        }
    } else if let Some(rest) = target.strip_prefix("http://") {
        let authority = rest.split('/').next().unwrap_or("");
        match split_host_port(authority, 80) {
            Some((h, p)) => (h, p, false),
            None => {
                let _ = reply(&mut client, 400, "the request names no host").await;
                return;
            }
        }
    } else {
        let _ = reply(
            &mut client,
            400,
            "not a proxy request (CONNECT host:port, or an absolute http:// URL)",
        )
        .await;
        return;
    };
    if !policy.allows(&host) {
        notice(format!(
            "reporunner: the run's network refused a connection to {host}:{port}: only package registries are reachable from a confined run ({}); --allow-host {host} lets it through",
            policy.allow_hosts.join(", ")
        ));
        let _ = reply(
            &mut client,
            403,
            &format!("{host} is not on this run's allow-list: a confined run reaches package registries only (reporunner run --allow-host {host} lets it through)"),
        )
        .await;
        return;
    }
    let connected = match &policy.upstream {
        Some(upstream) => tokio::net::TcpStream::connect(upstream.as_str()).await,
        None => tokio::net::TcpStream::connect((host.as_str(), port)).await,
    };
    let mut up = match connected {
        Ok(up) => {
            let _ = up.set_nodelay(true);
            up
        }
        Err(e) => {
            let _ = reply(
                &mut client,
                502,
                &format!("cannot reach {host}:{port}: {e}"),
            )
            .await;
            return;
        }
    };
    // What the host's proxy sent past its answer's head: the tunnel's first bytes.
    let mut early = Vec::new();
    if tunnel && policy.upstream.is_some() {
        // The host's own proxy opens the tunnel; its answer decides.
        let authority = authority(&host, port);
        let ask = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        if up.write_all(ask.as_bytes()).await.is_err() {
            return;
        }
        let mut answer = tokio::io::BufReader::new(&mut up);
        let Ok(head) = read_head(&mut answer).await else {
            let _ = reply(&mut client, 502, "the host's proxy closed the tunnel").await;
            return;
        };
        let status = String::from_utf8_lossy(&head)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        early = answer.buffer().to_vec();
        if status.split_whitespace().nth(1) != Some("200") {
            let _ = reply(
                &mut client,
                502,
                &format!("the host's proxy refused {authority}: {status}"),
            )
            .await;
            return;
        }
    }
    if tunnel {
        let mut established = b"HTTP/1.1 200 Connection Established\r\n\r\n".to_vec();
        established.extend_from_slice(&early);
        if client.get_mut().write_all(&established).await.is_err() {
            return;
        }
    } else {
        // One request per connection, so a reused connection cannot reach another host.
        let mut forwarded = String::new();
        for (i, line) in text.split("\r\n").enumerate() {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("connection:")
                || lower.starts_with("proxy-connection:")
                || line.is_empty()
            {
                continue;
            }
            if i == 0 {
                forwarded.push_str(line);
            } else {
                forwarded.push_str("\r\n");
                forwarded.push_str(line);
            }
        }
        forwarded.push_str("\r\nConnection: close\r\n\r\n");
        if up.write_all(forwarded.as_bytes()).await.is_err() {
            return;
        }
    }
    let buffered = client.buffer().to_vec();
    if !buffered.is_empty() && up.write_all(&buffered).await.is_err() {
        return;
    }
    let mut client = client.into_inner();
    let _ = tokio::io::copy_bidirectional(&mut client, &mut up).await;
}

fn split_host_port(authority: &str, default: u16) -> Option<(String, u16)> {
    if authority.is_empty() {
        return None;
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default,
        };
        return Some((h.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => Some((h.to_string(), p.parse().ok()?)),
        Some(_) => None,
        None => Some((authority.to_string(), default)),
    }
}

async fn reply(
    client: &mut tokio::io::BufReader<tokio::net::UnixStream>,
    status: u16,
    why: &str,
) -> std::io::Result<()> {
    let reason = match status {
        400 => "Bad Request",
        403 => "Forbidden",
        431 => "Request Header Fields Too Large",
        _ => "Bad Gateway",
    };
    let body = format!("reporunner: {why}\n");
    let msg = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.get_mut().write_all(msg.as_bytes()).await
}

#[cfg(test)]
mod tests;
