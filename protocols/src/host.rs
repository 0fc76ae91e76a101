//! The [`HostProfile`]: what a machine offers, as the EnvDetector agent found it.

use serde::{Deserialize, Serialize};

/// Which context indexer a run uses (ARCHITECTURE.md, "Context indexing, by tier").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexerKind {
    /// BM25 full-text search.
    Simple,
    /// HNSW over embeddings, in memory.
    Vector,
    /// A persistent collection: HNSW with metadata, filters and hybrid ranking.
    Collection,
}

impl std::fmt::Display for IndexerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IndexerKind::Simple => "simple",
            IndexerKind::Vector => "vector",
            IndexerKind::Collection => "collection",
        })
    }
}

impl std::str::FromStr for IndexerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "simple" => Ok(IndexerKind::Simple),
            "vector" => Ok(IndexerKind::Vector),
            "collection" => Ok(IndexerKind::Collection),
            other => Err(format!(
                "{other:?} is not an indexer: simple, vector or collection"
            )),
        }
    }
}

/// Everything the EnvDetector found out about a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostProfile {
    /// The host name.
    pub hostname: String,
    /// The operating system.
    pub os: OsInfo,
    /// The CPU architecture, as Rust names it (`x86_64`, `aarch64`).
    pub arch: String,
    /// The processors.
    pub cpu: CpuInfo,
    /// The memory.
    pub memory: MemoryInfo,
    /// The NVIDIA GPUs nvidia-smi reported; empty when there are none or it is missing.
    pub gpus: Vec<GpuInfo>,
    /// Why no GPU is listed, when none is: `nvidia-smi not found on PATH`, say.
    pub gpu_note: Option<String>,
    /// The container this process runs in, if any.
    pub container: Option<ContainerInfo>,
    /// Whether it runs in a Kubernetes pod.
    pub kubernetes: bool,
    /// The cloud or notebook service it runs on, if one was recognised.
    pub cloud: Option<CloudInfo>,
    /// The tools looked for on PATH, found or not.
    pub tools: Vec<ToolInfo>,
    /// What the EnvDetector recommends for this host.
    pub recommendation: Recommendation,
    /// How long detection took, in milliseconds.
    pub detect_ms: u64,
}

impl HostProfile {
    /// Returns the tool named `name`, if it was found on PATH.
    pub fn tool(&self, name: &str) -> Option<&ToolInfo> {
        self.tools
            .iter()
            .find(|t| t.name == name && t.path.is_some())
    }
}

/// The operating system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsInfo {
    /// The family, as Rust names it: `linux`, `macos`, `windows`.
    pub family: String,
    /// The distribution's id from os-release (`debian`, `ubuntu`), or the family.
    pub id: String,
    /// A readable name such as `Debian GNU/Linux 12 (bookworm)`.
    pub pretty_name: String,
    /// The distribution's version, such as `12`.
    pub version: Option<String>,
    /// The kernel release, such as `6.1.0-18-amd64`.
    pub kernel: Option<String>,
}

/// The processors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuInfo {
    /// Logical CPUs this process may use (cgroup and affinity limits applied).
    pub logical: u32,
    /// The CPU model name, if known.
    pub model: Option<String>,
}

/// The memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryInfo {
    /// Total memory in bytes, lowered to the cgroup limit when one is set.
    pub total_bytes: u64,
    /// Memory available for new work in bytes.
    pub available_bytes: u64,
    /// The cgroup memory limit in bytes, when one is set.
    pub cgroup_limit_bytes: Option<u64>,
}

/// One NVIDIA GPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuInfo {
    /// Its index, as CUDA_VISIBLE_DEVICES counts.
    pub index: u32,
    /// Its name, such as `NVIDIA H100 80GB HBM3`.
    pub name: String,
    /// Its memory in MiB.
    pub memory_total_mib: u64,
    /// Its free memory in MiB when detected.
    pub memory_free_mib: u64,
    /// The driver version.
    pub driver: String,
}

/// The container runtime this process runs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// `docker`, `podman`, `containerd`, `lxc` or `unknown`.
    pub runtime: String,
    /// What gave it away, such as `/.dockerenv exists`.
    pub evidence: String,
}

/// A cloud or notebook service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloudProvider {
    /// Google Colab.
    Colab,
    /// Amazon Web Services.
    Aws,
    /// Google Cloud.
    Gcp,
    /// Microsoft Azure.
    Azure,
}

impl std::fmt::Display for CloudProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CloudProvider::Colab => "colab",
            CloudProvider::Aws => "aws",
            CloudProvider::Gcp => "gcp",
            CloudProvider::Azure => "azure",
        })
    }
}

/// The cloud the host runs in, and why we think so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudInfo {
    /// The provider.
    pub provider: CloudProvider,
    /// What gave it away, such as `/sys/class/dmi/id/sys_vendor is "Amazon EC2"`.
    pub evidence: String,
}

/// A tool looked for on PATH.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// The command name, such as `python3`.
    pub name: String,
    /// Where it was found, if it was.
    pub path: Option<String>,
    /// Its version, such as `3.11.7`, if it could be read.
    pub version: Option<String>,
}

/// What the EnvDetector recommends, with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The best context indexer this host can carry. The tier may still lower it.
    pub indexer: IndexerKind,
    /// How many agents may do heavy work (installs, builds, embeddings) at once.
    pub workers: u32,
    /// Why, one line per fact that decided it.
    pub reasons: Vec<String>,
}
