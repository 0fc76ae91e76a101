use super::*;
use std::sync::atomic::{AtomicU32, Ordering};

/// A fake host: a root directory with the files detection reads, and a PATH of scripts.
struct FakeHost {
    dir: PathBuf,
}

static N: AtomicU32 = AtomicU32::new(0);

impl FakeHost {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "reporunner-probe-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        Self { dir }
    }

    fn file(&self, path: &str, content: &str) -> &Self {
        let p = self.dir.join("root").join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
        self
    }

    fn script(&self, name: &str, body: &str) -> &Self {
        let p = self.dir.join("bin").join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        self
    }

    fn ctx(&self, env: &[(&str, &str)]) -> ProbeContext {
        std::fs::create_dir_all(self.dir.join("root")).unwrap();
        ProbeContext {
            root: self.dir.join("root"),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            path: vec![self.dir.join("bin")],
            command_timeout: Duration::from_secs(5),
        }
    }
}

impl Drop for FakeHost {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const MEMINFO: &str =
    "MemTotal:       16384000 kB\nMemFree:         1000000 kB\nMemAvailable:    8192000 kB\n";

#[test]
fn versions_are_read_from_every_style_of_banner() {
    for (text, want) in [
        ("Python 3.11.7", Some("3.11.7")),
        ("v20.20.2", Some("20.20.2")),
        ("cargo 1.95.0 (f2d3ce0bd 2026-03-21)", Some("1.95.0")),
        (
            "openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime",
            Some("17.0.15"),
        ),
        ("go version go1.22.1 linux/amd64", Some("1.22.1")),
        (
            "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0",
            Some("7.0.15"),
        ),
        (
            "psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)",
            Some("15.18"),
        ),
        ("Poetry (version 1.8.2)", Some("1.8.2")),
        ("no version here 17", None),
    ] {
        assert_eq!(parse_version(text).as_deref(), want, "{text}");
    }
}

#[test]
fn os_release_quoting_is_understood() {
    let r = parse_os_release(
        "# comment\nNAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian \\\"12\\\" (bookworm)\"\nID=debian\nVERSION_ID='12'\n",
    );
    assert_eq!(r["NAME"], "Debian GNU/Linux");
    assert_eq!(r["PRETTY_NAME"], "Debian \"12\" (bookworm)");
    assert_eq!(r["ID"], "debian");
    assert_eq!(r["VERSION_ID"], "12");
}

#[test]
fn nvidia_smi_lines_are_parsed() {
    let gpus = parse_nvidia_smi(
        "0, NVIDIA H100 80GB HBM3, 81559, 81000, 550.54.15\n1, NVIDIA A10G, 23028, 22000, 550.54.15\ngarbage\n",
    );
    assert_eq!(gpus.len(), 2);
    assert_eq!(gpus[0].name, "NVIDIA H100 80GB HBM3");
    assert_eq!(
        (gpus[0].memory_total_mib, gpus[0].memory_free_mib),
        (81559, 81000)
    );
    assert_eq!((gpus[1].index, gpus[1].driver.as_str()), (1, "550.54.15"));
}

#[tokio::test]
async fn a_fake_aws_host_in_docker_with_a_gpu() {
    let h = FakeHost::new();
    h.file("/proc/meminfo", MEMINFO)
        .file("/proc/cpuinfo", "processor : 0\nmodel name : Fake CPU @ 3GHz\nprocessor : 1\nprocessor : 2\nprocessor : 3\n")
        .file("/proc/sys/kernel/hostname", "ip-10-0-0-1\n")
        .file("/proc/sys/kernel/osrelease", "6.1.0-fake\n")
        .file("/etc/os-release", "ID=ubuntu\nPRETTY_NAME=\"Ubuntu 24.04 LTS\"\nVERSION_ID=\"24.04\"\n")
        .file("/sys/class/dmi/id/sys_vendor", "Amazon EC2\n")
        .file("/.dockerenv", "")
        .script("nvidia-smi", "echo '0, NVIDIA A10G, 23028, 22000, 550.54.15'")
        .script("python3", "echo 'Python 3.12.1'")
        .script("java", "echo 'openjdk version \"21.0.2\" 2024-01-16' >&2");
    let p = detect(&h.ctx(&[])).await;
    assert_eq!(p.hostname, "ip-10-0-0-1");
    assert_eq!(
        (p.os.id.as_str(), p.os.version.as_deref()),
        ("ubuntu", Some("24.04"))
    );
    assert_eq!(p.os.kernel.as_deref(), Some("6.1.0-fake"));
    assert_eq!(p.cpu.logical, 4);
    assert_eq!(p.cpu.model.as_deref(), Some("Fake CPU @ 3GHz"));
    assert_eq!(p.memory.total_bytes, 16384000 * 1024);
    assert_eq!(p.memory.available_bytes, 8192000 * 1024);
    assert_eq!(p.cloud.as_ref().unwrap().provider, CloudProvider::Aws);
    assert_eq!(p.container.as_ref().unwrap().runtime, "docker");
    assert!(!p.kubernetes);
    assert_eq!(p.gpus.len(), 1);
    assert_eq!(p.gpu_note, None);
    assert_eq!(
        p.tool("python3").unwrap().version.as_deref(),
        Some("3.12.1")
    );
    assert_eq!(p.tool("java").unwrap().version.as_deref(), Some("21.0.2"));
    assert!(p.tool("cargo").is_none());
    assert_eq!(p.tools.len(), TOOLS.len());
    assert_eq!(p.recommendation.indexer, IndexerKind::Collection);
}

#[tokio::test]
async fn clouds_are_told_apart_by_dmi_and_environment() {
    let h = FakeHost::new();
    h.file("/sys/class/dmi/id/product_name", "Google Compute Engine\n");
    assert_eq!(
        detect(&h.ctx(&[])).await.cloud.unwrap().provider,
        CloudProvider::Gcp
    );

    let h = FakeHost::new();
    h.file(
        "/sys/class/dmi/id/chassis_asset_tag",
        "7783-7084-3265-9085\n",
    );
    assert_eq!(
        detect(&h.ctx(&[])).await.cloud.unwrap().provider,
        CloudProvider::Azure
    );

    let h = FakeHost::new();
    let p = detect(&h.ctx(&[("COLAB_RELEASE_TAG", "release-colab_20240101")])).await;
    assert_eq!(p.cloud.unwrap().provider, CloudProvider::Colab);

    let h = FakeHost::new();
    let p = detect(&h.ctx(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1")])).await;
    assert!(p.kubernetes);
    assert!(p.cloud.is_none());
    assert_eq!(p.gpu_note.as_deref(), Some("nvidia-smi not found on PATH"));
}

#[tokio::test]
async fn cgroup_limits_lower_memory_and_cpus() {
    let h = FakeHost::new();
    h.file("/proc/meminfo", MEMINFO)
        .file("/proc/cpuinfo", &"processor : 0\n".repeat(8))
        .file("/sys/fs/cgroup/memory.max", "1073741824\n")
        .file("/sys/fs/cgroup/cpu.max", "150000 100000\n")
        .file("/proc/1/cgroup", "0::/kubepods/burstable/pod1\n");
    let p = detect(&h.ctx(&[])).await;
    assert_eq!(p.memory.total_bytes, 1 << 30);
    assert_eq!(p.memory.cgroup_limit_bytes, Some(1 << 30));
    assert!(p.memory.available_bytes <= 1 << 30);
    assert_eq!(p.cpu.logical, 2);
    assert_eq!(p.container.unwrap().runtime, "containerd");
    assert_eq!(p.recommendation.indexer, IndexerKind::Simple);
    assert_eq!(p.recommendation.workers, 1);

    // "max" means no limit.
    let h = FakeHost::new();
    h.file("/proc/meminfo", MEMINFO)
        .file("/sys/fs/cgroup/memory.max", "max\n")
        .file("/sys/fs/cgroup/cpu.max", "max 100000\n");
    let p = detect(&h.ctx(&[])).await;
    assert_eq!(p.memory.cgroup_limit_bytes, None);
    assert_eq!(p.memory.total_bytes, 16384000 * 1024);
}

#[tokio::test]
async fn a_hanging_tool_is_abandoned_and_a_failing_gpu_probe_noted() {
    let h = FakeHost::new();
    h.script("node", "sleep 30")
        .script("nvidia-smi", "echo 'NVIDIA-SMI has failed' >&2; exit 9");
    let mut ctx = h.ctx(&[]);
    ctx.command_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let p = detect(&ctx).await;
    assert!(started.elapsed() < Duration::from_secs(20));
    let node = p.tools.iter().find(|t| t.name == "node").unwrap();
    assert!(node.path.is_some());
    assert_eq!(node.version, None);
    assert!(p.gpu_note.unwrap().starts_with("nvidia-smi failed"));
}

#[tokio::test]
async fn the_real_host() {
    let p = detect(&ProbeContext::default()).await;
    let cpus = std::thread::available_parallelism().unwrap().get() as u32;
    assert!(p.cpu.logical >= 1 && p.cpu.logical <= cpus);
    assert!(p.memory.total_bytes > 0);
    assert_eq!(p.arch, std::env::consts::ARCH);
    if let Some(py) = p.tool("python3") {
        let out = std::process::Command::new(py.path.as_ref().unwrap())
            .arg("--version")
            .output()
            .unwrap();
        let banner = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(banner.contains(py.version.as_ref().unwrap()), "{banner}");
    }
}
