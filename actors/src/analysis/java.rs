//! Java rules: Maven's `pom.xml` (coordinates, parent, properties, dependencies, plugins,
//! modules) and Gradle's build scripts; the Java release the build asks for; Spring Boot
//! web services and the jar they are started from; `server.port`, the datasource and the
//! tests (Surefire or Gradle's test task).

use super::text::line_at;
use super::{Analysis, Concerns, join};
use quick_xml::Reader;
use quick_xml::events::Event;
use regex::Regex;
use reporunner_protocols::profile::{Component, Dependency, Evidence, Fact};
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The folder a Maven build writes its jar to, and Gradle's.
pub(crate) const MAVEN_OUT: &str = "target";
/// Gradle's jar folder.
pub(crate) const GRADLE_OUT: &str = "build/libs";

/// How a reactor module's command names the reactor's root above it.
const REACTOR_ROOT: &str = " -f ../pom.xml";

/// The folder a Maven or Gradle `command` run in `dir` builds: the reactor's root for a
/// module built from there (its sources and reports are there), else `dir`.
pub(crate) fn build_root(dir: &std::path::Path, command: &str) -> std::path::PathBuf {
    match dir.parent() {
        Some(up) if command.contains(REACTOR_ROOT) => up.to_path_buf(),
        _ => dir.to_path_buf(),
    }
}

/// Spring Boot starters that serve HTTP.
const WEB_STARTERS: &[&str] = &[
    "spring-boot-starter-web",
    "spring-boot-starter-webmvc",
    "spring-boot-starter-websocket",
    "spring-boot-starter-webflux",
    "spring-boot-starter-jersey",
    "spring-boot-starter-data-rest",
];

/// Database drivers by artifact id (Maven) or by a part of the coordinates (Gradle).
const DATABASES: &[(&str, &str)] = &[
    ("postgresql", "postgresql"),
    ("mysql-connector-j", "mysql"),
    ("mysql-connector-java", "mysql"),
    ("mariadb-java-client", "mysql"),
    ("spring-boot-starter-data-redis", "redis"),
    ("spring-boot-starter-data-mongodb", "mongodb"),
];

static SERVER_PORT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*(?:server\.port\s*[=:]|port\s*:)\s*(?:\$\{[A-Z_]+:)?(\d{2,5})").unwrap()
});
static DATASOURCE_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*(?:spring\.datasource\.url\s*[=:]|url\s*:)\s*(?:\$\{[A-Z_]+:)?jdbc:(postgresql|mysql|mariadb|h2|hsqldb|sqlite)").unwrap()
});
static GRADLE_JAVA: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:JavaLanguageVersion\.of\(\s*(\d+)|(?:sourceCompatibility|targetCompatibility|release)\s*=\s*(?:JavaVersion\.VERSION_(?:1_)?(\d+)|['"]?(?:1\.)?(\d+)))"#).unwrap()
});
static GRADLE_MAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"mainClass(?:Name)?(?:\.set\(|\s*=\s*)\s*['"]([\w.$]+)['"]"#).unwrap()
});
static WRAPPER_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"distributionUrl\s*=\s*(\S*?gradle-([\d.]+(?:-rc-\d+)?)-(?:bin|all)\.zip)").unwrap()
});
static ROOT_PROJECT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"rootProject\.name\s*=\s*['"]([\w.-]+)['"]"#).unwrap());
static JAVA_MAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"public\s+static\s+void\s+main\s*\(\s*(?:final\s+)?String").unwrap()
});

/// What a `pom.xml` says, with `${...}` properties left as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pom {
    /// `groupId`, `artifactId`, `version` and `packaging` of the project itself.
    pub(crate) group: String,
    /// The artifact id.
    pub(crate) artifact: String,
    /// The version (possibly a `${revision}`), or the parent's.
    pub(crate) version: String,
    /// `jar` unless it says otherwise.
    pub(crate) packaging: String,
    /// The parent's group, artifact and version.
    pub(crate) parent: Option<(String, String, String)>,
    /// `<properties>`.
    pub(crate) properties: BTreeMap<String, String>,
    /// Direct dependencies: group, artifact, scope, line.
    pub(crate) dependencies: Vec<(String, String, String, u32)>,
    /// Build plugins: group, artifact, line.
    pub(crate) plugins: Vec<(String, String, u32)>,
    /// The compiler plugin's `release`, `source` or `target`, and any plugin's `mainClass`.
    pub(crate) plugin_config: BTreeMap<String, String>,
    /// `<modules>`.
    pub(crate) modules: Vec<String>,
    /// `<build><finalName>`.
    pub(crate) final_name: Option<String>,
}

impl Pom {
    /// `text` with `${name}` replaced from the properties and the project's coordinates;
    /// `None` if something stays unresolved.
    pub(crate) fn resolve(&self, text: &str) -> Option<String> {
        let mut out = text.to_string();
        for _ in 0..4 {
            if !out.contains("${") {
                return Some(out);
            }
            let start = out.find("${")?;
            let end = start + out[start..].find('}')?;
            let name = &out[start + 2..end];
            let value = match name {
                "project.version" | "version" => self.version.clone(),
                "project.artifactId" | "artifactId" => self.artifact.clone(),
                "project.groupId" => self.group.clone(),
                "project.parent.version" => self.parent.as_ref()?.2.clone(),
                _ => self.properties.get(name)?.clone(),
            };
            out.replace_range(start..=end, &value);
        }
        (!out.contains("${")).then_some(out)
    }

    /// The Java release the build compiles for, as a major version.
    pub(crate) fn java_release(&self) -> Option<(u32, &'static str, &'static str)> {
        [
            ("maven.compiler.release", "java.maven-compiler-release"),
            ("release", "java.compiler-plugin"),
            ("java.version", "java.java-version"),
            ("maven.compiler.target", "java.maven-compiler-target"),
            ("target", "java.compiler-plugin"),
            ("maven.compiler.source", "java.maven-compiler-source"),
            ("source", "java.compiler-plugin"),
        ]
        .iter()
        .find_map(|(key, rule)| {
            let raw = self
                .properties
                .get(*key)
                .or_else(|| self.plugin_config.get(*key))?;
            let v = self.resolve(raw)?;
            java_major(&v).map(|m| (m, *key, *rule))
        })
    }

    /// Whether it is a Spring Boot project.
    pub(crate) fn spring_boot(&self) -> bool {
        self.parent
            .as_ref()
            .is_some_and(|(g, _, _)| g == "org.springframework.boot")
            || self
                .dependencies
                .iter()
                .any(|(g, ..)| g == "org.springframework.boot")
            || self
                .plugins
                .iter()
                .any(|(_, a, _)| a == "spring-boot-maven-plugin")
    }

    /// The jar `mvn package` writes: `finalName`, else `artifactId-version`.
    pub(crate) fn jar(&self) -> Option<String> {
        let name = match &self.final_name {
            Some(f) => self.resolve(f)?,
            None => format!("{}-{}", self.artifact, self.resolve(&self.version)?),
        };
        Some(format!("{name}.jar"))
    }
}

/// `17`, `1.8`, `21.0.2` → the major version.
pub(crate) fn java_major(v: &str) -> Option<u32> {
    let v = v.trim();
    let v = v.strip_prefix("1.").filter(|r| !r.is_empty()).unwrap_or(v);
    v.split(['.', '-', '+']).next()?.parse().ok()
}

/// Reads a `pom.xml`.
///
/// # Errors
/// The XML parser's message, for a file that is not well-formed.
pub(crate) fn parse_pom(xml: &str) -> Result<Pom, String> {
    let mut reader = Reader::from_str(xml);
    let mut pom = Pom {
        packaging: "jar".into(),
        ..Pom::default()
    };
    let mut path: Vec<String> = Vec::new();
    let mut dep: BTreeMap<String, String> = BTreeMap::new();
    let mut dep_line = 0;
    loop {
        let at = reader.buffer_position() as usize;
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                path.push(name);
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                if matches!(
                    p.as_slice(),
                    ["project", "dependencies", "dependency"]
                        | ["project", "build", "plugins", "plugin"]
                ) {
                    dep.clear();
                    dep_line = line_at(xml, at.min(xml.len()));
                }
            }
            Event::End(_) => {
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                let take = |k: &str| dep.get(k).cloned().unwrap_or_default();
                match p.as_slice() {
                    ["project", "dependencies", "dependency"] => pom.dependencies.push((
                        take("groupId"),
                        take("artifactId"),
                        dep.get("scope")
                            .cloned()
                            .unwrap_or_else(|| "compile".into()),
                        dep_line,
                    )),
                    ["project", "build", "plugins", "plugin"] => pom.plugins.push((
                        dep.get("groupId")
                            .cloned()
                            .unwrap_or_else(|| "org.apache.maven.plugins".into()),
                        take("artifactId"),
                        dep_line,
                    )),
                    _ => {}
                }
                path.pop();
            }
            Event::Text(t) => {
                let text = t
                    .unescape()
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default();
                if text.is_empty() {
                    continue;
                }
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                match p.as_slice() {
                    ["project", "groupId"] => pom.group = text,
                    ["project", "artifactId"] => pom.artifact = text,
                    ["project", "version"] => pom.version = text,
                    ["project", "packaging"] => pom.packaging = text,
                    ["project", "parent", field] => {
                        let parent = pom.parent.get_or_insert_with(Default::default);
                        match *field {
                            "groupId" => parent.0 = text,
                            "artifactId" => parent.1 = text,
                            "version" => parent.2 = text,
                            _ => {}
                        }
                    }
                    ["project", "properties", key] => {
                        pom.properties.insert((*key).to_string(), text);
                    }
                    ["project", "dependencies", "dependency", field]
                    | ["project", "build", "plugins", "plugin", field] => {
                        dep.insert((*field).to_string(), text);
                    }
                    [
                        "project",
                        "build",
                        "plugins",
                        "plugin",
                        "configuration",
                        ..,
                        key,
                    ] if matches!(*key, "release" | "source" | "target" | "mainClass") => {
                        pom.plugin_config.entry((*key).to_string()).or_insert(text);
                    }
                    ["project", "modules", "module"] => pom.modules.push(text),
                    ["project", "build", "finalName"] => pom.final_name = Some(text),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if pom.group.is_empty()
        && let Some((g, _, _)) = &pom.parent
    {
        pom.group = g.clone();
    }
    if pom.version.is_empty()
        && let Some((_, _, v)) = &pom.parent
    {
        pom.version = v.clone();
    }
    Ok(pom)
}

/// The build tool's command in `dir`: the wrapper when the repository has one (in the
/// folder or the reactor's root above it), else the host's tool.
fn tool(a: &Analysis<'_>, dir: &str, root: Option<&str>, wrapper: &str, host: &str) -> String {
    if a.snap.exists(&join(dir, wrapper)) {
        format!("./{wrapper}")
    } else if let Some(r) = root
        && a.snap.exists(&join(r, wrapper))
    {
        format!("{}/{wrapper}", up(dir, r))
    } else {
        host.to_string()
    }
}

/// The relative path from `dir` up to its ancestor `root` (`..`, `../..`).
fn up(dir: &str, root: &str) -> String {
    let depth = dir
        .strip_prefix(root)
        .unwrap_or(dir)
        .split('/')
        .filter(|p| !p.is_empty())
        .count();
    vec![".."; depth.max(1)].join("/")
}

/// Adds the facts of a Maven or Gradle component in `dir`.
pub(crate) fn analyze(a: &mut Analysis<'_>, dir: &str, c: &mut Component, _want: Concerns) {
    if a.snap.exists(&join(dir, "pom.xml")) {
        maven(a, dir, c);
    } else if let Some(script) = ["build.gradle.kts", "build.gradle"]
        .iter()
        .map(|s| join(dir, s))
        .find(|s| a.snap.exists(s))
    {
        gradle(a, dir, &script, c);
    }
}

fn maven(a: &mut Analysis<'_>, dir: &str, c: &mut Component) {
    let manifest = join(dir, "pom.xml");
    let Some(text) = a.read(&manifest) else {
        return;
    };
    let pom = match parse_pom(&text) {
        Ok(p) => p,
        Err(e) => {
            a.warn(&manifest, format!("pom.xml is not well-formed XML: {e}"));
            return;
        }
    };
    let ev = Evidence::file(&manifest, "java.pom");
    c.manifests.push(manifest.clone());
    c.languages.push(Fact::new("java".into(), 1.0, ev.clone()));
    if !pom.artifact.is_empty() {
        c.name = pom.artifact.clone();
    }
    c.package_manager = Some(Fact::new("maven".into(), 1.0, ev.clone()));
    // A module of a reactor is built from the reactor's root, with the modules it needs.
    let parent_dir = dir.rsplit_once('/').map_or("", |(p, _)| p);
    let module = dir.rsplit('/').next().unwrap_or(dir);
    let reactor = (!dir.is_empty())
        .then(|| join(parent_dir, "pom.xml"))
        .filter(|p| a.snap.exists(p))
        .and_then(|p| a.read(&p))
        .and_then(|t| parse_pom(&t).ok())
        .filter(|p| p.modules.iter().any(|m| m.trim_end_matches('/') == module));
    let mvn = tool(a, dir, reactor.as_ref().map(|_| parent_dir), "mvnw", "mvn");
    let scope = match &reactor {
        Some(_) => format!("{REACTOR_ROOT} -pl {module} -am"),
        None => String::new(),
    };
    if !super::other::on_path("mvn") && !mvn.contains("mvnw") {
        c.unsupported = Some(
            "this host cannot build java: `mvn` is not on PATH and the repository has no Maven wrapper (Debian package `maven`)".into(),
        );
    }
    if let Some((release, key, rule)) = pom.java_release() {
        c.runtime_versions.push(Fact::new(
            format!("java >={release}"),
            0.9,
            match super::text::find_line(&text, &format!("<{key}>")) {
                Some(l) => Evidence::line(&manifest, l, rule),
                None => Evidence::file(&manifest, rule),
            },
        ));
    }
    for (g, art, scope, line) in &pom.dependencies {
        c.dependencies.push(Dependency {
            name: format!("{g}:{art}"),
            spec: scope.clone(),
            dev: scope == "test",
            evidence: Evidence::line(&manifest, *line, "java.dependency"),
        });
    }
    let has_tests = a
        .snap
        .files_under(&join(dir, "src/test"))
        .any(|f| f.rel.ends_with(".java") || f.rel.ends_with(".kt"));
    let all_tests = pom.packaging == "pom" && !pom.modules.is_empty();
    if has_tests || all_tests {
        c.test_command = Some(Fact::new(format!("{mvn} -B test{scope}"), 0.9, ev.clone()));
    }
    if pom.packaging == "pom" {
        c.kind = Some(Fact::new(
            "library".into(),
            0.6,
            Evidence::file(&manifest, "java.reactor"),
        ));
        if !pom.modules.is_empty() {
            c.build_command = Some(Fact::new(
                format!("{mvn} -B -DskipTests -Dmaven.javadoc.skip=true package"),
                0.8,
                ev,
            ));
        }
        return;
    }
    // Javadoc is documentation, not what runs: a parent that binds it to `package`
    // (Apache's) would fetch the pages it links to.
    c.build_command = Some(Fact::new(
        format!("{mvn} -B -DskipTests -Dmaven.javadoc.skip=true package{scope}"),
        0.9,
        ev.clone(),
    ));
    let mut databases: Vec<Fact<String>> = Vec::new();
    for (_, art, scope, line) in &pom.dependencies {
        if let Some((_, db)) = DATABASES.iter().find(|(a, _)| a == art)
            && scope != "test"
            && !databases.iter().any(|d| d.value == *db)
        {
            databases.push(Fact::new(
                (*db).to_string(),
                0.8,
                Evidence::line(&manifest, *line, "java.database-driver"),
            ));
        }
    }
    let web = pom
        .dependencies
        .iter()
        .find(|(g, art, scope, _)| {
            g == "org.springframework.boot"
                && WEB_STARTERS.contains(&art.as_str())
                && scope != "test"
        })
        .map(|d| Evidence::line(&manifest, d.3, "java.spring-boot-web"));
    let jar = pom.jar().unwrap_or_else(|| "*.jar".into());
    if pom.spring_boot() {
        let at = super::text::find_line(&text, "spring-boot").unwrap_or(1);
        c.frameworks.push(Fact::new(
            "spring-boot".into(),
            0.9,
            Evidence::line(&manifest, at, "java.spring-boot"),
        ));
    }
    let source = spring(a, dir, c, &mut databases);
    let embedded = pom
        .dependencies
        .iter()
        .any(|(_, art, scope, _)| EMBEDDED.contains(&art.as_str()) && scope != "test");
    reached(source, embedded, &mut databases);
    c.databases = databases;
    if let (true, Some(web_ev)) = (pom.spring_boot(), web) {
        c.start_command = Some(Fact::new(
            spring_start(&format!("{MAVEN_OUT}/{jar}")),
            0.9,
            web_ev.clone(),
        ));
        c.reads_port_env = Some(Fact::new(true, 0.9, web_ev.clone()));
        c.kind = Some(Fact::new("service".into(), 0.9, web_ev));
        if c.port.is_none() {
            c.port = Some(Fact::new(
                8080,
                0.5,
                Evidence::file(&manifest, "java.spring-boot-default-port"),
            ));
        }
    } else {
        let main = a
            .snap
            .files_under(&join(dir, "src/main"))
            .filter(|f| f.rel.ends_with(".java"))
            .take(400)
            .map(|f| f.rel.clone())
            .collect::<Vec<_>>()
            .into_iter()
            .find(|f| a.read(f).is_some_and(|t| JAVA_MAIN.is_match(&t)));
        c.kind = Some(match main {
            Some(f) => Fact::new("cli".into(), 0.6, Evidence::file(&f, "java.main-method")),
            None => Fact::new(
                "library".into(),
                0.7,
                Evidence::file(&manifest, "java.no-main"),
            ),
        });
    }
}

/// A Spring Boot jar started on the leased address; C2 compilation is left off, as Spring's
/// devtools do, for a start in about half the time.
fn spring_start(jar: &str) -> String {
    format!("java -XX:TieredStopAtLevel=1 -jar {jar} --server.port=$PORT --server.address=$HOST")
}

/// What the default configuration's `spring.datasource.url` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Datasource {
    /// No URL: Spring Boot takes an embedded database when there is one on the classpath.
    Unset,
    /// An embedded database (`jdbc:h2:`, `jdbc:hsqldb:`).
    Embedded,
    /// A server (`jdbc:postgresql:`, `jdbc:mysql:`), listed among the databases.
    Server,
}

/// Embedded databases by artifact id: with one of them and no server URL in the default
/// configuration, a server driver beside it serves an optional profile only.
const EMBEDDED: &[&str] = &["h2", "hsqldb", "derby", "sqlite-jdbc"];

/// Keeps the databases that the default configuration reaches: the drivers' only when
/// the configuration names no URL and no embedded database is on the classpath.
fn reached(source: Datasource, embedded: bool, databases: &mut Vec<Fact<String>>) {
    let drivers_only =
        |d: &Fact<String>| d.evidence.iter().all(|e| e.rule == "java.database-driver");
    match source {
        Datasource::Server => {}
        Datasource::Embedded => databases.retain(|d| !drivers_only(d)),
        Datasource::Unset if embedded => databases.retain(|d| !drivers_only(d)),
        Datasource::Unset => {}
    }
}

/// What a Spring Boot project's `application.properties` or `application.yml` says: the
/// port (`server.port`, possibly `${PORT:8080}`) and the datasource's database.
fn spring(
    a: &mut Analysis<'_>,
    dir: &str,
    c: &mut Component,
    databases: &mut Vec<Fact<String>>,
) -> Datasource {
    let mut found = Datasource::Unset;
    for props in [
        "src/main/resources/application.properties",
        "src/main/resources/application.yml",
        "src/main/resources/application.yaml",
    ] {
        let p = join(dir, props);
        let Some(t) = a.snap.exists(&p).then(|| a.read(&p)).flatten() else {
            continue;
        };
        if let Some(m) = SERVER_PORT.captures(&t)
            && let Ok(v) = m[1].parse::<u16>()
        {
            c.port = Some(Fact::new(
                v,
                0.9,
                Evidence::line(
                    &p,
                    line_at(&t, m.get(0).map_or(0, |x| x.start())),
                    "java.server-port",
                ),
            ));
        }
        if let Some(m) = DATASOURCE_URL.captures(&t) {
            let db = match &m[1] {
                "postgresql" => "postgresql",
                "mysql" | "mariadb" => "mysql",
                _ => {
                    found = Datasource::Embedded;
                    continue;
                }
            };
            found = Datasource::Server;
            if !databases.iter().any(|d| d.value == db) {
                databases.push(Fact::new(
                    db.into(),
                    0.9,
                    Evidence::line(
                        &p,
                        line_at(&t, m.get(0).map_or(0, |x| x.start())),
                        "java.datasource-url",
                    ),
                ));
            }
        }
    }
    found
}

fn gradle(a: &mut Analysis<'_>, dir: &str, script: &str, c: &mut Component) {
    let Some(text) = a.read(script) else {
        return;
    };
    let ev = Evidence::file(script, "java.gradle");
    let kotlin_only = text.contains("kotlin(\"jvm\")") && !text.contains("java");
    c.manifests.push(script.to_string());
    c.languages.push(Fact::new(
        if kotlin_only { "kotlin" } else { "java" }.into(),
        1.0,
        ev.clone(),
    ));
    c.package_manager = Some(Fact::new("gradle".into(), 1.0, ev.clone()));
    let gradle = tool(a, dir, None, "gradlew", "gradle");
    let props = join(dir, "gradle/wrapper/gradle-wrapper.properties");
    let wrapper = a
        .snap
        .exists(&props)
        .then(|| a.read(&props))
        .flatten()
        .and_then(|t| {
            WRAPPER_URL
                .captures(&t)
                .map(|m| (m[1].to_string(), m[2].to_string()))
        });
    if gradle == "gradle" && !super::other::on_path("gradle") {
        c.unsupported = Some(
            "this host cannot build this Gradle project: it has no Gradle wrapper and `gradle` is not on PATH (Debian package `gradle`)".into(),
        );
    } else if gradle.contains("gradlew") && wrapper.is_none() {
        c.unsupported = Some(format!(
            "the Gradle wrapper has no distribution to run: {props} is missing or names none"
        ));
    }
    if let Some(m) = GRADLE_JAVA.captures(&text)
        && let Some(v) = (1..4)
            .find_map(|i| m.get(i))
            .and_then(|g| g.as_str().parse::<u32>().ok())
    {
        c.runtime_versions.push(Fact::new(
            format!("java >={v}"),
            0.9,
            Evidence::line(
                script,
                line_at(&text, m.get(0).map_or(0, |x| x.start())),
                "java.gradle-toolchain",
            ),
        ));
    }
    let boot = text.contains("org.springframework.boot");
    let web = WEB_STARTERS.iter().any(|s| text.contains(s));
    let application = text.contains("application") && GRADLE_MAIN.is_match(&text);
    if a.snap.files_under(&join(dir, "src/test")).next().is_some() {
        c.test_command = Some(Fact::new(format!("{gradle} test"), 0.9, ev.clone()));
    }
    let mut databases = Vec::new();
    for (art, db) in DATABASES {
        if let Some(at) = super::text::find_line(&text, art)
            && !databases.iter().any(|d: &Fact<String>| d.value == *db)
        {
            databases.push(Fact::new(
                (*db).to_string(),
                0.8,
                Evidence::line(script, at, "java.database-driver"),
            ));
        }
    }
    if boot {
        let at = super::text::find_line(&text, "org.springframework.boot").unwrap_or(1);
        c.frameworks.push(Fact::new(
            "spring-boot".into(),
            0.9,
            Evidence::line(script, at, "java.spring-boot"),
        ));
    }
    let source = spring(a, dir, c, &mut databases);
    let embedded = EMBEDDED.iter().any(|e| {
        text.lines().any(|l| {
            !l.contains("testImplementation")
                && (l.contains(&format!(":{e}'"))
                    || l.contains(&format!(":{e}\""))
                    || l.contains(&format!(":{e}:")))
        })
    });
    reached(source, embedded, &mut databases);
    c.databases = databases;
    let name = a
        .read(&join(dir, "settings.gradle"))
        .or_else(|| a.read(&join(dir, "settings.gradle.kts")))
        .and_then(|t| ROOT_PROJECT.captures(&t).map(|m| m[1].to_string()));
    if let Some(n) = &name {
        c.name = n.clone();
    }
    if boot && web {
        // The one jar bootJar writes (the plain jar is left out).
        c.build_command = Some(Fact::new(
            format!("{gradle} bootJar -x test"),
            0.9,
            ev.clone(),
        ));
        c.start_command = Some(Fact::new(
            spring_start(&format!(
                "$(ls {GRADLE_OUT}/*.jar | grep -v -- '-plain.jar$' | head -n 1)"
            )),
            0.8,
            ev.clone(),
        ));
        c.reads_port_env = Some(Fact::new(true, 0.9, ev.clone()));
        c.kind = Some(Fact::new("service".into(), 0.8, ev.clone()));
        if c.port.is_none() {
            c.port = Some(Fact::new(
                8080,
                0.5,
                Evidence::file(script, "java.spring-boot-default-port"),
            ));
        }
    } else if application {
        let bin = name.clone().unwrap_or_else(|| c.name.clone());
        c.build_command = Some(Fact::new(format!("{gradle} installDist"), 0.9, ev.clone()));
        c.start_command = Some(Fact::new(
            format!("build/install/{bin}/bin/{bin}"),
            0.7,
            ev.clone(),
        ));
        c.kind = Some(Fact::new("cli".into(), 0.6, ev));
    } else {
        c.build_command = Some(Fact::new(format!("{gradle} assemble"), 0.8, ev.clone()));
        c.kind = Some(Fact::new("library".into(), 0.6, ev));
    }
    if let Some((url, version)) = wrapper {
        a.warn(
            &props,
            format!("the Gradle wrapper runs Gradle {version}, downloaded from {url} on first use"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POM: &str = r#"<?xml version="1.0"?>
<project>
  <parent>
    <groupId>org.springframework.boot</groupId>
    <artifactId>spring-boot-starter-parent</artifactId>
    <version>3.5.7</version>
  </parent>
  <artifactId>notes</artifactId>
  <version>${revision}</version>
  <properties>
    <revision>1.2.0</revision>
    <java.version>21</java.version>
  </properties>
  <dependencyManagement><dependencies><dependency>
    <groupId>x</groupId><artifactId>managed</artifactId>
  </dependency></dependencies></dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-web</artifactId>
    </dependency>
    <dependency>
      <groupId>org.postgresql</groupId>
      <artifactId>postgresql</artifactId>
      <scope>runtime</scope>
    </dependency>
  </dependencies>
  <build><plugins><plugin>
    <artifactId>maven-compiler-plugin</artifactId>
    <configuration><release>17</release></configuration>
  </plugin></plugins></build>
</project>"#;

    #[test]
    fn a_pom_is_read_with_its_parent_properties_and_direct_dependencies() {
        let p = parse_pom(POM).unwrap();
        assert_eq!(p.group, "org.springframework.boot");
        assert_eq!(p.artifact, "notes");
        assert_eq!(p.jar().as_deref(), Some("notes-1.2.0.jar"));
        assert!(p.spring_boot());
        assert_eq!(
            p.dependencies
                .iter()
                .map(|d| (d.1.as_str(), d.2.as_str()))
                .collect::<Vec<_>>(),
            vec![
                ("spring-boot-starter-web", "compile"),
                ("postgresql", "runtime")
            ]
        );
        assert_eq!(p.plugins[0].0, "org.apache.maven.plugins");
        // The compiler plugin's own release wins over Spring Boot's java.version.
        assert_eq!(
            p.java_release(),
            Some((17, "release", "java.compiler-plugin"))
        );
        assert_eq!(p.dependencies[0].3, 18);
    }

    #[test]
    fn java_versions_are_read_in_their_old_and_new_forms() {
        assert_eq!(java_major("1.8"), Some(8));
        assert_eq!(java_major("17"), Some(17));
        assert_eq!(java_major("21.0.2"), Some(21));
        assert_eq!(java_major("x"), None);
    }

    #[test]
    fn a_broken_pom_is_an_error_not_a_panic() {
        assert!(parse_pom("<project><artifactId>a</groupId></project>").is_err());
    }

    #[test]
    fn the_way_up_to_a_reactor_root_counts_its_folders() {
        assert_eq!(up("app/web", "app"), "..");
        assert_eq!(up("a/b/c", ""), "../../..");
    }
}
