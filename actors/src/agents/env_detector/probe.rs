//! Host detection: reads /proc, /sys and os-release under a root, consults the
//! environment, and runs the tools on PATH for their versions.
//!
//! Everything is read through a [`ProbeContext`], so tests point it at a fake root and a
//! PATH of small scripts: real files and real processes, not mocks.

use reporunner_protocols::host::{
    CloudInfo, CloudProvider, ContainerInfo, CpuInfo, GpuInfo, HostProfile, IndexerKind,
    MemoryInfo, OsInfo, Recommendation, ToolInfo,
};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

/// The tools looked for on PATH.
pub(crate) const TOOLS: &[&str] = &[
    "python3",
    "python",
    "pip3",
    "node",
    "npm",
    "pnpm",
    "yarn",
    "cargo",
    "rustc",
    "go",
    "java",
    "uv",
    "poetry",
    "docker",
    "psql",
    "pg_ctl",
    "redis-server",
    "git",
];

/// Azure gives every VM this chassis asset tag.
const AZURE_ASSET_TAG: &str = "7783-7084-3265-9085";

/// cgroup v1 reports "no limit" as a huge number near `i64::MAX`, rounded to pages.
const CGROUP_NO_LIMIT: u64 = 1 << 60;

const GIB: u64 = 1 << 30;

/// Where detection reads from. `Default` is the real machine.
#[derive(Debug, Clone)]
pub struct ProbeContext {
    /// Root under which /proc, /sys, /etc, /.dockerenv and /run are read ("/" on the real
    /// machine).
    pub root: PathBuf,
    /// Environment variables to consult (the process environment on the real machine).
    pub env: BTreeMap<String, String>,
    /// The PATH entries searched for tools.
    pub path: Vec<PathBuf>,
    /// How long one tool's version command (and nvidia-smi) may run before it is abandoned.
    pub command_timeout: Duration,
}

impl Default for ProbeContext {
    fn default() -> Self {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let path = env
            .get("PATH")
            .map(|p| std::env::split_paths(p).collect())
            .unwrap_or_default();
        Self {
            root: PathBuf::from("/"),
            env,
            path,
            command_timeout: Duration::from_secs(5),
        }
    }
}

impl ProbeContext {
    fn file(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.file(path)).ok()
    }

    fn read_trimmed(&self, path: &str) -> Option<String> {
        self.read(path)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    fn exists(&self, path: &str) -> bool {
        self.file(path).exists()
    }

    fn env_set(&self, key: &str) -> bool {
        self.env.get(key).is_some_and(|v| !v.is_empty())
    }

    fn is_real_root(&self) -> bool {
        self.root == Path::new("/")
    }

    /// Finds an executable named `name` on the PATH.
    fn which(&self, name: &str) -> Option<PathBuf> {
        self.path
            .iter()
            .map(|d| d.join(name))
            .find(|p| is_executable(p))
    }
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Detects the host. Never fails: what cannot be read is left empty or `None`, and noted.
pub async fn detect(ctx: &ProbeContext) -> HostProfile {
    let started = Instant::now();
    // Tools and GPUs need child processes: start them first, read files meanwhile.
    let tools = tokio::spawn(probe_tools(ctx.clone()));
    let gpus = tokio::spawn(probe_gpus(ctx.clone()));

    let hostname = ctx
        .read_trimmed("/proc/sys/kernel/hostname")
        .or_else(|| ctx.read_trimmed("/etc/hostname"))
        .or_else(|| ctx.env.get("HOSTNAME").cloned())
        .unwrap_or_else(|| "unknown".to_string());
    let os = os_info(ctx);
    let cpu = cpu_info(ctx);
    let memory = memory_info(ctx);
    let container = container(ctx);
    let kubernetes = ctx.env_set("KUBERNETES_SERVICE_HOST")
        || ctx.exists("/var/run/secrets/kubernetes.io/serviceaccount");
    let cloud = cloud(ctx);

    let tools = tools.await.unwrap_or_default();
    let (gpus, gpu_note) = gpus
        .await
        .unwrap_or_else(|e| (Vec::new(), Some(format!("gpu probe failed: {e}"))));
    let recommendation = recommend(&cpu, &memory, &gpus);
    HostProfile {
        hostname,
        os,
        arch: std::env::consts::ARCH.to_string(),
        cpu,
        memory,
        gpus,
        gpu_note,
        container,
        kubernetes,
        cloud,
        tools,
        recommendation,
        detect_ms: started.elapsed().as_millis() as u64,
    }
}

/// Parses os-release's `KEY=value` lines: quotes, backslash escapes and comments.
pub(crate) fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let raw = raw.trim();
        let value = match raw.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let mut v = String::new();
                let mut chars = raw[1..].chars();
                while let Some(c) = chars.next() {
                    match c {
                        c if c == q => break,
                        '\\' if q == '"' => {
                            if let Some(n) = chars.next() {
                                v.push(n);
                            }
                        }
                        c => v.push(c),
                    }
                }
                v
            }
            _ => raw.to_string(),
        };
        out.insert(key.trim().to_string(), value);
    }
    out
}

fn os_info(ctx: &ProbeContext) -> OsInfo {
    let family = std::env::consts::OS.to_string();
    let release = ctx
        .read("/etc/os-release")
        .or_else(|| ctx.read("/usr/lib/os-release"))
        .map(|t| parse_os_release(&t))
        .unwrap_or_default();
    OsInfo {
        id: release.get("ID").cloned().unwrap_or_else(|| family.clone()),
        pretty_name: release
            .get("PRETTY_NAME")
            .or_else(|| release.get("NAME"))
            .cloned()
            .unwrap_or_else(|| family.clone()),
        version: release.get("VERSION_ID").cloned(),
        kernel: ctx.read_trimmed("/proc/sys/kernel/osrelease"),
        family,
    }
}

fn cpu_info(ctx: &ProbeContext) -> CpuInfo {
    let cpuinfo = ctx.read("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string());
    let mut logical = if ctx.is_real_root() {
        std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
    } else {
        (cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count() as u32)
            .max(1)
    };
    // cgroup v2 "quota period": a CPU budget that affinity does not show.
    if let Some(max) = ctx.read_trimmed("/sys/fs/cgroup/cpu.max") {
        let mut parts = max.split_whitespace();
        if let (Some(q), Some(p)) = (parts.next(), parts.next())
            && let (Ok(q), Ok(p)) = (q.parse::<u64>(), p.parse::<u64>())
            && p > 0
        {
            logical = logical.min(q.div_ceil(p).max(1) as u32);
        }
    }
    CpuInfo { logical, model }
}

fn meminfo_kib(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn memory_info(ctx: &ProbeContext) -> MemoryInfo {
    let meminfo = ctx.read("/proc/meminfo").unwrap_or_default();
    let total = meminfo_kib(&meminfo, "MemTotal").unwrap_or(0) * 1024;
    let available = meminfo_kib(&meminfo, "MemAvailable")
        .or_else(|| meminfo_kib(&meminfo, "MemFree"))
        .unwrap_or(0)
        * 1024;
    let limit = ctx
        .read_trimmed("/sys/fs/cgroup/memory.max")
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| {
            ctx.read_trimmed("/sys/fs/cgroup/memory/memory.limit_in_bytes")
                .and_then(|v| v.parse::<u64>().ok())
        })
        .filter(|&l| l < CGROUP_NO_LIMIT);
    let total_bytes = match limit {
        Some(l) if total == 0 || l < total => l,
        _ => total,
    };
    MemoryInfo {
        total_bytes,
        available_bytes: available.min(total_bytes),
        cgroup_limit_bytes: limit,
    }
}

fn container(ctx: &ProbeContext) -> Option<ContainerInfo> {
    let found = |runtime: &str, evidence: String| {
        Some(ContainerInfo {
            runtime: runtime.to_string(),
            evidence,
        })
    };
    if ctx.exists("/.dockerenv") {
        return found("docker", "/.dockerenv exists".into());
    }
    if ctx.exists("/run/.containerenv") {
        return found("podman", "/run/.containerenv exists".into());
    }
    if let Some(c) = ctx.env.get("container").filter(|c| !c.is_empty()) {
        return found(c, format!("container={c} in the environment"));
    }
    let cgroup = ctx.read("/proc/1/cgroup").unwrap_or_default();
    for (needle, runtime) in [
        ("docker", "docker"),
        ("kubepods", "containerd"),
        ("containerd", "containerd"),
        ("lxc", "lxc"),
    ] {
        if cgroup.contains(needle) {
            return found(runtime, format!("/proc/1/cgroup mentions {needle}"));
        }
    }
    None
}

fn cloud(ctx: &ProbeContext) -> Option<CloudInfo> {
    let found = |provider, evidence: String| Some(CloudInfo { provider, evidence });
    for key in ["COLAB_RELEASE_TAG", "COLAB_GPU", "COLAB_BACKEND_VERSION"] {
        if ctx.env_set(key) {
            return found(CloudProvider::Colab, format!("{key} is set"));
        }
    }
    let dmi = |f: &str| ctx.read_trimmed(&format!("/sys/class/dmi/id/{f}"));
    let (vendor, board, product, version, bios, asset) = (
        dmi("sys_vendor"),
        dmi("board_vendor"),
        dmi("product_name"),
        dmi("product_version"),
        dmi("bios_version"),
        dmi("chassis_asset_tag"),
    );
    for (file, value) in [("sys_vendor", &vendor), ("board_vendor", &board)] {
        if value.as_deref() == Some("Amazon EC2") {
            return found(CloudProvider::Aws, format!("dmi {file} is \"Amazon EC2\""));
        }
    }
    for (file, value) in [("product_version", &version), ("bios_version", &bios)] {
        if value
            .as_deref()
            .is_some_and(|v| v.to_ascii_lowercase().contains("amazon"))
        {
            return found(CloudProvider::Aws, format!("dmi {file} mentions amazon"));
        }
    }
    if ctx
        .read_trimmed("/sys/hypervisor/uuid")
        .is_some_and(|u| u.to_ascii_lowercase().starts_with("ec2"))
    {
        return found(
            CloudProvider::Aws,
            "/sys/hypervisor/uuid starts with ec2".into(),
        );
    }
    for key in ["AWS_EXECUTION_ENV", "ECS_CONTAINER_METADATA_URI_V4"] {
        if ctx.env_set(key) {
            return found(CloudProvider::Aws, format!("{key} is set"));
        }
    }
    if product.as_deref() == Some("Google Compute Engine") {
        return found(
            CloudProvider::Gcp,
            "dmi product_name is \"Google Compute Engine\"".into(),
        );
    }
    if vendor.as_deref() == Some("Google") {
        return found(CloudProvider::Gcp, "dmi sys_vendor is \"Google\"".into());
    }
    for key in ["GOOGLE_CLOUD_PROJECT", "K_SERVICE", "GCE_METADATA_HOST"] {
        if ctx.env_set(key) {
            return found(CloudProvider::Gcp, format!("{key} is set"));
        }
    }
    if asset.as_deref() == Some(AZURE_ASSET_TAG) {
        return found(
            CloudProvider::Azure,
            format!("dmi chassis_asset_tag is Azure's {AZURE_ASSET_TAG}"),
        );
    }
    if vendor.as_deref() == Some("Microsoft Corporation")
        && product.as_deref() == Some("Virtual Machine")
    {
        return found(
            CloudProvider::Azure,
            "dmi says a Microsoft Corporation Virtual Machine".into(),
        );
    }
    for key in ["WEBSITE_INSTANCE_ID", "AZUREML_RUN_ID"] {
        if ctx.env_set(key) {
            return found(CloudProvider::Azure, format!("{key} is set"));
        }
    }
    None
}

/// Extracts the first version-looking token: digits and dots, with an optional leading
/// `v` or `go`, such as `3.11.7` from `Python 3.11.7`.
pub(crate) fn parse_version(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '"' | '(' | ')' | ',' | '='))
        .find_map(|word| {
            let w = word
                .strip_prefix("go")
                .or_else(|| word.strip_prefix('v'))
                .unwrap_or(word);
            let token: String = w
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let token = token.trim_end_matches('.');
            // A bare "17" is not taken: too easily a date or a count.
            (token.contains('.') && token.starts_with(|c: char| c.is_ascii_digit()))
                .then(|| token.to_string())
        })
}

/// Runs `program args…` with stdin closed, and returns stdout and stderr together, or
/// `None` if it could not start or did not finish within `timeout`.
async fn run_for_output(
    program: &Path,
    args: &[&str],
    timeout: Duration,
) -> Result<String, String> {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(timeout, child).await {
        Err(_) => Err(format!("timed out after {timeout:?}")),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(out)) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push('\n');
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            if out.status.success() {
                Ok(text)
            } else {
                Err(format!("exited with {}: {}", out.status, text.trim()))
            }
        }
    }
}

async fn probe_tools(ctx: ProbeContext) -> Vec<ToolInfo> {
    let mut set = tokio::task::JoinSet::new();
    for (i, name) in TOOLS.iter().enumerate() {
        let path = ctx.which(name).or_else(|| {
            // Debian keeps pg_ctl out of PATH, under /usr/lib/postgresql/<major>/bin.
            (*name == "pg_ctl")
                .then(|| postgres_bin(&ctx, name))
                .flatten()
        });
        let timeout = ctx.command_timeout;
        set.spawn(async move {
            let version = match &path {
                Some(p) => {
                    let args: &[&str] = match *name {
                        "go" => &["version"],
                        "java" => &["-version"],
                        _ => &["--version"],
                    };
                    run_for_output(p, args, timeout)
                        .await
                        .ok()
                        .and_then(|out| parse_version(&out))
                }
                None => None,
            };
            (
                i,
                ToolInfo {
                    name: (*name).to_string(),
                    path: path.map(|p| p.display().to_string()),
                    version,
                },
            )
        });
    }
    let mut tools: Vec<(usize, ToolInfo)> = set.join_all().await;
    tools.sort_by_key(|(i, _)| *i);
    tools.into_iter().map(|(_, t)| t).collect()
}

/// Finds `name` in the newest /usr/lib/postgresql/<major>/bin.
fn postgres_bin(ctx: &ProbeContext, name: &str) -> Option<PathBuf> {
    let base = ctx.file("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(base)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, e.path().join("bin").join(name)))
        })
        .filter(|(_, p)| is_executable(p))
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p)
}

/// Parses `nvidia-smi --query-gpu=index,name,memory.total,memory.free,driver_version
/// --format=csv,noheader,nounits`.
pub(crate) fn parse_nvidia_smi(text: &str) -> Vec<GpuInfo> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            if f.len() < 5 {
                return None;
            }
            Some(GpuInfo {
                index: f[0].parse().ok()?,
                name: f[1].to_string(),
                memory_total_mib: f[2].parse().unwrap_or(0),
                memory_free_mib: f[3].parse().unwrap_or(0),
                driver: f[4].to_string(),
            })
        })
        .collect()
}

async fn probe_gpus(ctx: ProbeContext) -> (Vec<GpuInfo>, Option<String>) {
    let Some(smi) = ctx.which("nvidia-smi") else {
        return (Vec::new(), Some("nvidia-smi not found on PATH".to_string()));
    };
    let args = [
        "--query-gpu=index,name,memory.total,memory.free,driver_version",
        "--format=csv,noheader,nounits",
    ];
    match run_for_output(&smi, &args, ctx.command_timeout).await {
        Err(e) => (Vec::new(), Some(format!("nvidia-smi failed: {e}"))),
        Ok(out) => {
            let gpus = parse_nvidia_smi(&out);
            let note = gpus
                .is_empty()
                .then(|| "nvidia-smi reported no GPUs".to_string());
            (gpus, note)
        }
    }
}

/// Recommends an indexer and a worker count from memory, CPUs and GPUs.
pub(crate) fn recommend(cpu: &CpuInfo, memory: &MemoryInfo, gpus: &[GpuInfo]) -> Recommendation {
    let mut reasons = Vec::new();
    let avail_gib = memory.available_bytes as f64 / GIB as f64;
    let indexer = if !gpus.is_empty() {
        reasons.push(format!(
            "{} GPU(s) found: embeddings are cheap, use the collection indexer",
            gpus.len()
        ));
        IndexerKind::Collection
    } else if memory.available_bytes < 2 * GIB {
        reasons.push(format!(
            "{avail_gib:.1} GiB available memory, under 2 GiB: BM25 only (simple)"
        ));
        IndexerKind::Simple
    } else if memory.available_bytes < 6 * GIB {
        reasons.push(format!(
            "{avail_gib:.1} GiB available memory, under 6 GiB: in-memory vectors, no persistent collection"
        ));
        IndexerKind::Vector
    } else {
        reasons.push(format!(
            "{avail_gib:.1} GiB available memory: room for the collection indexer"
        ));
        IndexerKind::Collection
    };
    let by_memory = (avail_gib / 1.5).floor() as u32;
    let workers = cpu.logical.min(by_memory).clamp(1, 16);
    reasons.push(format!(
        "{workers} worker(s): {} CPU(s), and 1.5 GiB per worker fits {by_memory}",
        cpu.logical
    ));
    Recommendation {
        indexer,
        workers,
        reasons,
    }
}

#[cfg(test)]
mod tests;
