//! The Setup agent: prepares a component to start. It writes `.env` (from the project's
//! template, with generated secrets and safe placeholders), starts the databases the
//! project needs as private instances on leased ports (PostgreSQL with the user and
//! database the project names, Redis), and applies the migrations. It holds the database
//! processes of each run until the run is stopped, or until it stops itself.

mod config_files;

use crate::agents::stage::{
    StageFailure, lease_port, merge_env, must, on_path, release_port, run_step, shell,
};
use crate::envfile::{self, Source};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster_derive::RactorMessage;
use reporunner_protocols::ids::RunId;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_protocols::profile::Component;
use reporunner_protocols::repair::{Fix, RepairRecord};
use reporunner_protocols::stage::{DatabaseReport, Plan, PlanKind, SetupReport, StepReport};
use reporunner_runtime::kinds::AgentKind;
use reporunner_runtime::naming::Namespace;
use reporunner_runtime::process::{self, CommandSpec, Service};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The prefixes of a MySQL template's split variables (`MYSQL_USER`, `DB_NAME`).
const MYSQL_PREFIXES: &[&str] = &["MYSQL", "MARIADB", "DB", "SQL", "DATABASE"];

/// The kind name the Setup agent is registered under.
pub const KIND: &str = "setup";

/// How long a database may take to accept connections.
const DATABASE_READY: Duration = Duration::from_secs(60);

/// What to prepare.
#[derive(Debug, Clone)]
pub struct SetupRequest {
    /// The run.
    pub run: RunId,
    /// The workspace.
    pub workspace: PathBuf,
    /// The plan.
    pub plan: Plan,
    /// The component's profile: its env templates and variables.
    pub component: Component,
    /// The repairs applied so far.
    pub repairs: Vec<RepairRecord>,
    /// The dependencies' environment.
    pub env: BTreeMap<String, String>,
    /// Where logs go.
    pub logs: PathBuf,
    /// The run's private folder, for database files.
    pub run_dir: PathBuf,
    /// The address the service binds.
    pub host: String,
    /// Whether Debian packages may be installed (as root only).
    pub install_system_deps: bool,
    /// How the repository's own commands (migrations, init scripts) are confined; `None`
    /// runs them unconfined. The databases Repo Runner starts for it are not confined.
    pub confine: Option<reporunner_runtime::process::Confinement>,
}

/// The Setup agent's messages.
#[derive(Debug, RactorMessage)]
pub enum SetupMessage {
    /// Writes `.env`, starts databases, applies migrations.
    Prepare(
        Box<SetupRequest>,
        RpcReplyPort<Result<SetupReport, StageFailure>>,
    ),
    /// Stops the run's databases.
    StopRun(RunId, RpcReplyPort<usize>),
}

/// The Setup agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Setup;

/// A database process a run started.
#[derive(Debug)]
struct Running {
    service: Service,
    /// Where it listens, which the run's confined commands may reach.
    addr: std::net::SocketAddr,
    /// The port lease, for an instance on loopback's own address (one on an address of
    /// its own listens on the service's usual port, which no one else has there).
    lease: Option<u64>,
}

/// Where a database instance listens: on `127.0.0.1` at a leased port, or, for a host
/// name the code hard-codes, on an address of its own at the service's usual port.
#[derive(Debug, Clone)]
enum Bind {
    Leased,
    Named {
        host: String,
        addr: std::net::Ipv4Addr,
    },
}

/// The Setup agent's state.
#[derive(Debug)]
pub struct SetupState {
    namespace: Namespace,
    databases: HashMap<RunId, Vec<Running>>,
}

impl Actor for Setup {
    type Msg = SetupMessage;
    type State = SetupState;
    type Arguments = Namespace;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        namespace: Namespace,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(SetupState {
            namespace,
            databases: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SetupMessage::Prepare(req, reply) => {
                // A phase that runs again replaces what it started before.
                state.stop_run(&req.run).await;
                let result = state.prepare(&req, myself.get_id().pid()).await;
                let _ = reply.send(result);
            }
            SetupMessage::StopRun(run, reply) => {
                let n = state.stop_run(&run).await;
                let _ = reply.send(n);
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let runs: Vec<RunId> = state.databases.keys().cloned().collect();
        for run in runs {
            state.stop_run(&run).await;
        }
        Ok(())
    }
}

impl SetupState {
    async fn stop_run(&mut self, run: &RunId) -> usize {
        let Some(dbs) = self.databases.remove(run) else {
            return 0;
        };
        let n = dbs.len();
        for db in dbs {
            db.service.stop(Duration::from_secs(10)).await;
            if let Some(lease) = db.lease {
                release_port(&self.namespace, lease).await;
            }
        }
        n
    }

    async fn prepare(
        &mut self,
        req: &SetupRequest,
        holder: u64,
    ) -> Result<SetupReport, StageFailure> {
        let mut report = SetupReport::default();
        let dir = req.workspace.join(&req.plan.component);
        let mut wanted: Vec<String> = req.plan.databases.clone();
        let mut migrate = !req.plan.migrations.is_empty();
        let mut set_env: Vec<String> = Vec::new();
        let mut fixed_env: BTreeMap<String, String> = BTreeMap::new();
        let mut init: Vec<String> = Vec::new();
        let mut collect_static = false;
        let mut prepare: Vec<String> = Vec::new();
        let mut named: Vec<(String, String)> = Vec::new();
        let mut configs: Vec<(String, String)> = Vec::new();
        for r in &req.repairs {
            match &r.fix {
                Fix::WriteConfig { path, from } if !configs.iter().any(|(p, _)| p == path) => {
                    configs.push((path.clone(), from.clone()));
                }
                Fix::InitDatabase { command } if !init.contains(command) => {
                    init.push(command.clone());
                }
                Fix::CollectStatic => collect_static = true,
                Fix::Prepare { command } if !prepare.contains(command) => {
                    prepare.push(command.clone());
                }
                Fix::ServiceHost { host, kind } if !named.iter().any(|(h, _)| h == host) => {
                    named.push((host.clone(), kind.clone()));
                }
                Fix::StartDatabase { kind } if !wanted.contains(kind) => wanted.push(kind.clone()),
                Fix::RunMigrations => migrate = true,
                Fix::SetEnv { name, value: None } => set_env.push(name.clone()),
                Fix::SetEnv {
                    name,
                    value: Some(v),
                } => {
                    fixed_env.insert(name.clone(), v.clone());
                }
                _ => {}
            }
        }
        let mut template = template_values(&dir, &req.component);
        // The project's own configuration files may name the database instead (`dsn:` in
        // `config/local.yml`): the instance takes their names, and they are pointed at it.
        let configured = if wanted.is_empty() {
            Vec::new()
        } else {
            config_files::find(&dir)
        };
        let sql = wanted
            .iter()
            .find(|k| matches!(k.as_str(), "postgresql" | "mysql"))
            .cloned();
        let named_in_template = template.contains_key("DATABASE_URL")
            || template.contains_key("POSTGRES_URL")
            || match sql.as_deref() {
                Some("mysql") => !db_keys(&template, MYSQL_PREFIXES).is_empty(),
                _ => !pg_keys(&template).is_empty(),
            };
        if let (Some(kind), false) = (&sql, named_in_template)
            && let Some(c) = configured
                .iter()
                .find(|c| c.is_for(kind, Some(kind)) && (c.user.is_some() || c.database.is_some()))
        {
            let user = c.user.clone().unwrap_or_else(|| "app".into());
            let password = c.password.clone().unwrap_or_else(|| user.clone());
            let db = c.database.clone().unwrap_or_else(|| user.clone());
            let scheme = if kind == "mysql" {
                "mysql"
            } else {
                "postgresql"
            };
            template.insert(
                "DATABASE_URL".into(),
                format!("{scheme}://{user}:{password}@localhost/{db}"),
            );
        }
        let mut run_values: BTreeMap<String, String> = fixed_env;
        run_values.insert("HOST".into(), req.host.clone());
        let mut started: Vec<Running> = Vec::new();
        // A kind the code reaches by a hard-coded name starts there instead.
        let mut jobs: Vec<(String, Bind)> = wanted
            .iter()
            .filter(|k| !named.iter().any(|(_, nk)| nk == *k))
            .map(|k| (k.clone(), Bind::Leased))
            .collect();
        let mut hosts: Vec<(String, String)> = Vec::new();
        for (i, (host, kind)) in named.iter().enumerate() {
            let port = if kind == "redis" { 6379 } else { 5432 };
            match named_address(port, i) {
                Some(addr) => {
                    hosts.push((host.clone(), addr.to_string()));
                    jobs.push((
                        kind.clone(),
                        Bind::Named {
                            host: host.clone(),
                            addr,
                        },
                    ));
                }
                None => report.databases.push(DatabaseReport {
                    kind: kind.clone(),
                    state: format!(
                        "not started for {host}: no loopback address has port {port} free"
                    ),
                    url: None,
                    port: None,
                }),
            }
        }
        for (kind, bind) in &jobs {
            let began = Instant::now();
            let db = match kind.as_str() {
                "postgresql" => {
                    self.postgres(req, &template, holder, bind, &mut started, &mut run_values)
                        .await
                }
                "redis" => {
                    self.redis(req, holder, bind, &mut started, &mut run_values)
                        .await
                }
                "sqlite" => DatabaseReport {
                    kind: kind.clone(),
                    state: "file: created by the app or its migrations".into(),
                    url: template
                        .get("DATABASE_URL")
                        .filter(|u| u.starts_with("sqlite"))
                        .cloned(),
                    port: None,
                },
                "mysql" => {
                    self.mysql(req, &template, holder, &mut started, &mut run_values)
                        .await
                }
                other => DatabaseReport {
                    kind: other.to_string(),
                    state: "not started: Repo Runner starts PostgreSQL, MySQL (as MariaDB) and Redis only".into(),
                    url: None,
                    port: None,
                },
            };
            let mut db = db;
            if let (Some(port), Some(_), Bind::Leased) = (db.port, &db.url, bind) {
                let mine: Vec<&config_files::ConfigDb> = configured
                    .iter()
                    .filter(|c| c.is_for(kind, sql.as_deref()))
                    .collect();
                if !mine.is_empty() {
                    match config_files::point_at(&dir, &mine, "127.0.0.1", port) {
                        Ok(places) => {
                            db.state = format!("{}; {} pointed at it", db.state, places.join(", "))
                        }
                        Err(e) => db.state = format!("{}; {e}", db.state),
                    }
                }
            }
            if db.port.is_some() {
                // Starting a database is tool time, like an install.
                report.steps.push(StepReport {
                    purpose: format!("start {kind}"),
                    command: db.state.clone(),
                    code: None,
                    ok: db.url.is_some(),
                    duration_ms: began.elapsed().as_millis() as u64,
                    log: None,
                    tail: Vec::new(),
                });
            }
            report.databases.push(db);
        }
        if !hosts.is_empty() {
            match process::private_hosts() {
                Ok(()) => {
                    let file = req.run_dir.join("hosts");
                    let mut text = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
                    if !text.ends_with('\n') && !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str("# added by reporunner for this run's service\n");
                    for (h, a) in &hosts {
                        text.push_str(&format!("{a} {h}\n"));
                    }
                    std::fs::create_dir_all(&req.run_dir)
                        .and_then(|_| std::fs::write(&file, text))
                        .map_err(|e| StageFailure::new(format!("{}: {e}", file.display())))?;
                    report.hosts_file = Some(file.display().to_string());
                }
                Err(why) => {
                    for d in report.databases.iter_mut().filter(|d| d.port.is_some()) {
                        if let Some((h, a)) = hosts.iter().find(|(_, a)| {
                            d.url
                                .as_deref()
                                .is_some_and(|u| u.contains(&format!("{a}:")))
                                || d.state.contains(a.as_str())
                        }) {
                            d.state = format!(
                                "{}; but {h} does not resolve for the app: {why} (or add `{a} {h}` to /etc/hosts)",
                                d.state
                            );
                        }
                    }
                }
            }
            report.hosts = hosts;
        }
        report.endpoints = started.iter().map(|r| r.addr.to_string()).collect();
        if !started.is_empty() {
            self.databases.insert(req.run.clone(), started);
        }
        // `.env`: the template's values, generated secrets, placeholders, the run's own.
        let mut component = req.component.clone();
        for name in &set_env {
            // One the code reads with a default is wanted now all the same.
            if let Some(v) = component.env_vars.iter_mut().find(|v| v.name == *name) {
                v.required = true;
            } else {
                component
                    .env_vars
                    .push(reporunner_protocols::profile::EnvVar {
                        name: name.clone(),
                        required: true,
                        default: None,
                        secret: crate::analysis::looks_secret(name),
                        evidence: Vec::new(),
                    });
            }
        }
        // A library or a test suite reads variables for its users, and its tests may
        // look for a `.env` (a dotenv loader's own): none is written for it unless it has
        // a template, a database, or the Fixer asked for a variable.
        let for_users = req.plan.kind == PlanKind::Library
            && component.env_files.is_empty()
            && set_env.is_empty()
            && run_values.keys().all(|k| k == "HOST");
        let written = if for_users {
            Vec::new()
        } else {
            let written = envfile::write_env(&dir, &component, &run_values)
                .map_err(|e| StageFailure::new(format!("writing .env: {e}")))?;
            report.env_file = Some(dir.join(".env").display().to_string());
            written
        };
        report.env_written = written
            .iter()
            .map(|w| {
                let source = match w.source {
                    Source::Project => "project",
                    Source::Generated => "generated",
                    Source::Placeholder => "placeholder",
                    Source::Run => "run",
                };
                (w.name.clone(), source.to_string())
            })
            .collect();
        // The service and its tests get `.env`'s values even when the app does not load it.
        report.env = read_env_file(&dir.join(".env"));
        // `${NAME}` in a value, as dotenv loaders expand it: from the file's own earlier
        // values, the run's, and for a Cargo project the `CARGO_MANIFEST_DIR` that
        // `cargo run` would set.
        let mut known = req.env.clone();
        if dir.join("Cargo.toml").is_file() {
            known
                .entry("CARGO_MANIFEST_DIR".into())
                .or_insert_with(|| dir.display().to_string());
        }
        expand_env(&mut report.env, &known);
        // Configuration files the program looked for, as the README shows them.
        for (path, from) in &configs {
            let began = Instant::now();
            let (ok, command) = match write_config(&dir, path, from) {
                Ok(home) => {
                    // Confined, the program sees the file where it looks (its parent
                    // a private copy); else it gets a home of the run's own.
                    match (home, &req.confine, std::env::var_os("HOME")) {
                        (Some(home), Some(_), Some(real)) => {
                            let rest = path.trim_start_matches("~/");
                            report.files.push((
                                Path::new(&home).join(rest).display().to_string(),
                                Path::new(&real).join(rest).display().to_string(),
                            ));
                        }
                        (Some(home), _, _) => {
                            report.env.insert("HOME".into(), home);
                        }
                        (None, _, _) => {}
                    }
                    (true, format!("{path} written from {from}"))
                }
                Err(why) => (false, format!("{path} not written: {why}")),
            };
            report.steps.push(StepReport {
                purpose: "write config".into(),
                command,
                code: None,
                ok,
                duration_ms: began.elapsed().as_millis() as u64,
                log: None,
                tail: Vec::new(),
            });
        }
        // Flask's CLI (Flask-Migrate's `flask db upgrade`) finds the app through
        // FLASK_APP, which older Flask needs: the module the start command serves.
        let flask_cli = req.plan.migrations.iter().any(|m| m == "flask-migrate")
            || init.iter().any(|c| c.starts_with("flask "));
        let flaskenv =
            std::fs::read_to_string(dir.join(".flaskenv")).is_ok_and(|t| t.contains("FLASK_APP"));
        if flask_cli
            && !flaskenv
            && !report.env.contains_key("FLASK_APP")
            && !req.env.contains_key("FLASK_APP")
            && let Some(module) = req
                .plan
                .start
                .as_deref()
                .and_then(crate::repo_run::entry_module)
                .filter(|m| {
                    let file = format!("{}.py", m.replace('.', "/"));
                    dir.join(&file).is_file() || dir.join(m.replace('.', "/")).is_dir()
                })
                // A file by its path, which Flask before 1.0 requires.
                .map(|m| {
                    let file = format!("{}.py", m.replace('.', "/"));
                    if dir.join(&file).is_file() { file } else { m }
                })
        {
            report.env.insert("FLASK_APP".into(), module);
        }
        let mut env = req.env.clone();
        merge_env(&mut env, &report.env);
        let hosts_file = report.hosts_file.as_ref().map(PathBuf::from);
        // Migrations and init scripts reach the databases just started.
        let mut confine = req.confine.clone();
        if let Some(net) = confine.as_mut().and_then(|c| c.network.as_mut()) {
            net.reach.extend(
                report
                    .endpoints
                    .iter()
                    .filter_map(|e| e.parse::<std::net::SocketAddr>().ok()),
            );
            net.no_proxy
                .extend(report.hosts.iter().map(|(h, _)| h.clone()));
        }
        let step = |script: &str, purpose: &str| {
            let mut spec = shell(script, &dir, &env, &req.logs, purpose).confined(confine.as_ref());
            spec.hosts_file = hosts_file.clone();
            spec
        };
        // Generation steps the Fixer found missing, before anything uses their output.
        // One that fails is reported, not fatal: the app may run without it, and what
        // needed it fails again for the Fixer to see.
        for command in &prepare {
            let (done, _) = run_step("prepare", &step(command, "prepare")).await;
            report.steps.push(done);
        }
        if migrate {
            for tool in &req.plan.migrations {
                if let Some(script) = migration_script(&dir, tool, &env) {
                    must(
                        &format!("migrate ({tool})"),
                        &step(&script, "migrate"),
                        &mut report.steps,
                    )
                    .await?;
                }
            }
        }
        // The project's own table-creating commands the Fixer chose, in order.
        for command in &init {
            must(
                "init database",
                &step(command, "init-db"),
                &mut report.steps,
            )
            .await?;
        }
        if collect_static {
            let manage = ["manage.py", "src/manage.py"]
                .into_iter()
                .find(|m| dir.join(m).is_file())
                .ok_or_else(|| StageFailure::new("collecting static files needs manage.py"))?;
            must(
                "collect static files",
                &step(
                    &format!("python {manage} collectstatic --noinput"),
                    "collectstatic",
                ),
                &mut report.steps,
            )
            .await?;
        }
        Ok(report)
    }

    /// Starts a private PostgreSQL on a leased port, with the user and database the
    /// project's `DATABASE_URL` names. A failure is reported, not fatal: the app may run
    /// without it, and if it does not, the Fixer sees why.
    async fn postgres(
        &self,
        req: &SetupRequest,
        template: &BTreeMap<String, String>,
        holder: u64,
        bind: &Bind,
        started: &mut Vec<Running>,
        run_values: &mut BTreeMap<String, String>,
    ) -> DatabaseReport {
        let mut report = DatabaseReport {
            kind: "postgresql".into(),
            state: String::new(),
            url: None,
            port: None,
        };
        let Some(bin) = postgres_bin() else {
            report.state = "missing: install the Debian package postgresql (or run with --install-system-deps as root)".into();
            return report;
        };
        let (lease, port, addr, name) = match bind {
            Bind::Leased => match lease_port(&self.namespace, "postgresql", None, holder).await {
                Ok((l, p)) => (Some(l), p, "127.0.0.1".to_string(), "127.0.0.1".to_string()),
                Err(e) => {
                    report.state = format!("not started: {e}");
                    return report;
                }
            },
            Bind::Named { host, addr } => (None, 5432, addr.to_string(), host.clone()),
        };
        report.port = Some(port);
        let place = PgPlace {
            tag: req.run.as_str().to_string(),
            run_dir: &req.run_dir,
            workspace: &req.workspace,
            logs: &req.logs,
        };
        match start_postgres(&place, &bin, &addr, port).await {
            Ok(service) => {
                started.push(Running {
                    service,
                    lease,
                    addr: listen_addr(&addr, port),
                });
            }
            Err(e) => {
                report.state = format!("failed to start: {e}");
                return report;
            }
        }
        let wanted = template
            .get("DATABASE_URL")
            .or_else(|| template.get("POSTGRES_URL"))
            .and_then(|u| parse_pg_url(u));
        let split = pg_keys(template);
        let from_split = || {
            let value = |role| split_value(&split, template, role);
            let user = value(PgRole::User)?;
            let password = value(PgRole::Password).unwrap_or_else(|| user.clone());
            let db = value(PgRole::Database).unwrap_or_else(|| user.clone());
            Some((user, password, db))
        };
        let (user, password, db) = wanted.or_else(from_split).unwrap_or_else(|| {
            let name: String = req
                .component
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            (
                "app".into(),
                "app".into(),
                if name.is_empty() { "app".into() } else { name },
            )
        });
        let psql = bin.join("psql");
        let sql = format!(
            "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{u}') THEN CREATE ROLE \"{u}\" LOGIN SUPERUSER PASSWORD '{p}'; END IF; END$$;",
            u = user.replace('\'', ""),
            p = password.replace('\'', "")
        );
        let create = format!(
            "'{psql}' -h {addr} -p {port} -U postgres -v ON_ERROR_STOP=1 -c \"$SQL\" && ( '{psql}' -h {addr} -p {port} -U postgres -tAc \"SELECT 1 FROM pg_database WHERE datname = '{db}'\" | grep -q 1 || '{createdb}' -h {addr} -p {port} -U postgres -O '{user}' '{db}' )",
            psql = psql.display(),
            createdb = bin.join("createdb").display(),
        );
        if let Err(tail) = create_database(req, &create, sql, "postgres-create").await {
            report.state = format!("started, but creating {user}/{db} failed: {tail}");
            return report;
        }
        let scheme = pg_scheme(
            &req.workspace.join(&req.plan.component),
            template.get("DATABASE_URL"),
        );
        let url = format!("{scheme}://{user}:{password}@{name}:{port}/{db}");
        for (k, v) in [
            ("DATABASE_URL", url.clone()),
            ("PGHOST", name.clone()),
            ("PGPORT", port.to_string()),
            ("PGUSER", user.clone()),
            ("PGPASSWORD", password.clone()),
            ("PGDATABASE", db.clone()),
        ] {
            run_values.insert(k.to_string(), v);
        }
        // The template's own names for each part (`SQL_HOST`, `DB_PORT`, `POSTGRES_USER`).
        give_split(
            &split,
            run_values,
            [&user, &password, &db, &name, &port.to_string()],
        );
        spring_datasource(
            req,
            "postgresql",
            format!("jdbc:postgresql://{name}:{port}/{db}"),
            &user,
            &password,
            run_values,
        );
        report.state = match bind {
            Bind::Leased => format!("started: private instance, user {user}, database {db}"),
            Bind::Named { host, addr } => format!(
                "started: private instance at {addr}:{port} for the host name {host}, user {user}, database {db}"
            ),
        };
        report.url = Some(url);
        report
    }

    /// Starts a private MariaDB for a project that wants MySQL, on a leased port, with the
    /// user, password and database its template names (`DATABASE_URL`, or `MYSQL_USER`
    /// and its kin), and gives the template's variables the address. A failure is
    /// reported, not fatal.
    async fn mysql(
        &self,
        req: &SetupRequest,
        template: &BTreeMap<String, String>,
        holder: u64,
        started: &mut Vec<Running>,
        run_values: &mut BTreeMap<String, String>,
    ) -> DatabaseReport {
        let mut report = DatabaseReport {
            kind: "mysql".into(),
            state: String::new(),
            url: None,
            port: None,
        };
        let server = ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .or_else(|| on_path("mariadbd"));
        let (Some(server), Some(install), Some(client)) = (
            server,
            on_path("mariadb-install-db").or_else(|| on_path("mysql_install_db")),
            on_path("mariadb").or_else(|| on_path("mysql")),
        ) else {
            report.state = "missing: install the Debian package mariadb-server (or run with --install-system-deps as root)".into();
            return report;
        };
        let (lease, port) = match lease_port(&self.namespace, "mysql", None, holder).await {
            Ok(l) => l,
            Err(e) => {
                report.state = format!("not started: {e}");
                return report;
            }
        };
        report.port = Some(port);
        let data = req.run_dir.join(format!("mariadb-{port}"));
        let _ = std::fs::remove_dir_all(&data);
        let _ = std::fs::create_dir_all(&data);
        let socket = data.join("mysqld.sock");
        // As root the server runs as root, in the run's own folder.
        let user = if crate::agents::dependency::is_root() {
            " --user=root"
        } else {
            ""
        };
        let init = format!(
            "'{}' --no-defaults --datadir='{d}/db' --auth-root-authentication-method=normal --skip-test-db{user}",
            install.display(),
            d = data.display()
        );
        let (step, outcome) = run_step(
            "mariadb-install-db",
            &shell(
                &init,
                &req.workspace,
                &BTreeMap::new(),
                &req.logs,
                "mariadb-init",
            ),
        )
        .await;
        if !step.ok {
            report.state = format!("failed to start: {}", outcome.error_lines.join(" "));
            return report;
        }
        let serve = format!(
            "exec '{}' --no-defaults --datadir='{d}/db' --socket='{s}' --port={port} --bind-address=127.0.0.1 --skip-log-bin --innodb-buffer-pool-size=32M --pid-file='{d}/mysqld.pid'{user}",
            server.display(),
            d = data.display(),
            s = socket.display()
        );
        let mut spec = shell(
            &serve,
            &req.workspace,
            &BTreeMap::new(),
            &req.logs,
            "mariadb",
        );
        spec.timeout = None;
        spec.idle_timeout = None;
        let service = match process::spawn(&spec).await {
            Ok(s) => s,
            Err(e) => {
                report.state = format!("failed to start: {e}");
                return report;
            }
        };
        let ready = format!(
            "'{}' --no-defaults --socket='{}' -uroot -e 'SELECT 1'",
            client.display(),
            socket.display()
        );
        let began = Instant::now();
        let mut up = false;
        while began.elapsed() < DATABASE_READY {
            let check = shell(
                &ready,
                &req.workspace,
                &BTreeMap::new(),
                &req.logs,
                "mariadb-ready",
            );
            if process::run(&check).await.is_ok_and(|o| o.success()) {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if !up {
            let out = service.stop(Duration::from_secs(5)).await;
            report.state = format!(
                "it did not accept connections within {DATABASE_READY:?}: {}",
                out.error_lines.join(" ")
            );
            return report;
        }
        started.push(Running {
            service,
            lease: Some(lease),
            addr: listen_addr("127.0.0.1", port),
        });
        let split = db_keys(template, MYSQL_PREFIXES);
        let value = |role| split_value(&split, template, role);
        let from_url = template
            .get("DATABASE_URL")
            .and_then(|u| u.strip_prefix("mysql://"))
            .and_then(|rest| parse_pg_url(&format!("postgresql://{rest}")));
        let (user, password, db) = from_url.unwrap_or_else(|| {
            let user = value(PgRole::User).unwrap_or_else(|| "app".into());
            let password = value(PgRole::Password).unwrap_or_else(|| user.clone());
            let db = value(PgRole::Database).unwrap_or_else(|| "app".into());
            (user, password, db)
        });
        let sql = format!(
            "CREATE DATABASE IF NOT EXISTS `{db}`; CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{password}'; CREATE USER IF NOT EXISTS '{user}'@'localhost' IDENTIFIED BY '{password}'; GRANT ALL ON *.* TO '{user}'@'%'; GRANT ALL ON *.* TO '{user}'@'localhost'; FLUSH PRIVILEGES;",
            db = db.replace('`', ""),
            user = user.replace('\'', ""),
            password = password.replace('\'', "")
        );
        let create = format!(
            "'{}' --no-defaults --socket='{}' -uroot -e \"$SQL\"",
            client.display(),
            socket.display()
        );
        if let Err(tail) = create_database(req, &create, sql, "mariadb-create").await {
            report.state = format!("started, but creating {user}/{db} failed: {tail}");
            return report;
        }
        let url = format!("mysql://{user}:{password}@127.0.0.1:{port}/{db}");
        run_values.insert("DATABASE_URL".into(), url.clone());
        give_split(
            &split,
            run_values,
            [&user, &password, &db, "127.0.0.1", &port.to_string()],
        );
        spring_datasource(
            req,
            "mysql",
            format!("jdbc:mysql://127.0.0.1:{port}/{db}"),
            &user,
            &password,
            run_values,
        );
        report.state = format!("started: private MariaDB instance, user {user}, database {db}");
        report.url = Some(url);
        report
    }

    /// Starts a private Redis on a leased port.
    async fn redis(
        &self,
        req: &SetupRequest,
        holder: u64,
        bind: &Bind,
        started: &mut Vec<Running>,
        run_values: &mut BTreeMap<String, String>,
    ) -> DatabaseReport {
        let mut report = DatabaseReport {
            kind: "redis".into(),
            state: String::new(),
            url: None,
            port: None,
        };
        let Some(server) = on_path("redis-server")
            .or_else(|| Some(PathBuf::from("/usr/bin/redis-server")).filter(|p| p.is_file()))
        else {
            report.state = "missing: install the Debian package redis-server (or run with --install-system-deps as root)".into();
            return report;
        };
        let (lease, port, addr, name) = match bind {
            Bind::Leased => match lease_port(&self.namespace, "redis", None, holder).await {
                Ok((l, p)) => (Some(l), p, "127.0.0.1".to_string(), "127.0.0.1".to_string()),
                Err(e) => {
                    report.state = format!("not started: {e}");
                    return report;
                }
            },
            Bind::Named { host, addr } => (None, 6379, addr.to_string(), host.clone()),
        };
        let dir = req.run_dir.join(format!("redis-{port}-{addr}"));
        let _ = std::fs::create_dir_all(&dir);
        let mut spec = CommandSpec::new(
            server.display().to_string(),
            &["--bind", &addr, "--save", "", "--appendonly", "no"],
            &dir,
        );
        spec.args.extend(["--port".to_string(), port.to_string()]);
        spec.args
            .extend(["--dir".to_string(), dir.display().to_string()]);
        spec.log = Some(crate::agents::stage::log_path(&req.logs, "redis"));
        let service = match process::spawn(&spec).await {
            Ok(s) => s,
            Err(e) => {
                report.state = format!("failed to start: {e}");
                return report;
            }
        };
        let ready = wait_port(&addr, port).await;
        started.push(Running {
            service,
            lease,
            addr: listen_addr(&addr, port),
        });
        if !ready {
            report.state = "started, but it did not accept connections".into();
            return report;
        }
        let url = format!("redis://{name}:{port}/0");
        run_values.insert("REDIS_URL".into(), url.clone());
        run_values.insert("REDIS_HOST".into(), name.clone());
        run_values.insert("REDIS_PORT".into(), port.to_string());
        report.state = match bind {
            Bind::Leased => "started: private instance".into(),
            Bind::Named { host, addr } => {
                format!("started: private instance at {addr}:{port} for the host name {host}")
            }
        };
        report.port = Some(port);
        report.url = Some(url);
        report
    }
}

/// Writes the file `path` (as the program named it) from the README block at `from`
/// (`README.md:133`). A path under `~/` goes into a home of the run's own inside the
/// workspace, whose folder is returned: confined commands see the file at its place in
/// the real home (see `Confinement::files`), others get that folder as `HOME`. A relative
/// path lands in the component; an absolute one, or one that leaves the workspace, is
/// refused. A file that exists is left as it is.
fn write_config(dir: &Path, path: &str, from: &str) -> Result<Option<String>, String> {
    let (readme, line) = from
        .rsplit_once(':')
        .and_then(|(f, l)| Some((f, l.parse::<usize>().ok()?)))
        .ok_or_else(|| format!("no README block at {from}"))?;
    let text = std::fs::read_to_string(dir.join(readme)).map_err(|e| format!("{readme}: {e}"))?;
    let lines: Vec<&str> = text.lines().collect();
    let body = crate::repair::readme_fence(&lines, line.saturating_sub(1))
        .ok_or_else(|| format!("no fenced block at {from}"))?;
    let (target, home) = match path.strip_prefix("~/") {
        Some(rest) => {
            let home = dir.join(".reporunner/home");
            (home.join(rest), Some(home.display().to_string()))
        }
        None if path.starts_with('/') => {
            return Err("an absolute path outside the workspace".into());
        }
        None => (dir.join(path), None),
    };
    if Path::new(path)
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err("a path that leaves the workspace".into());
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    if !target.exists() {
        let mut content = body.join("\n");
        content.push('\n');
        std::fs::write(&target, content).map_err(|e| format!("{}: {e}", target.display()))?;
    }
    Ok(home)
}

/// The socket address of an instance listening on `addr` (an IPv4 loopback address) at
/// `port`; loopback's own for an address that does not parse.
fn listen_addr(addr: &str, port: u16) -> std::net::SocketAddr {
    let ip = addr.parse().unwrap_or(std::net::Ipv4Addr::LOCALHOST);
    std::net::SocketAddr::from((ip, port))
}

/// An address of loopback's own (`127.77.0.N`) where `port` is free, for the `n`th host
/// name of a run: a database there listens on its usual port without taking it from
/// anything on `127.0.0.1`.
fn named_address(port: u16, n: usize) -> Option<std::net::Ipv4Addr> {
    (2u8..250)
        .skip(n)
        .map(|last| std::net::Ipv4Addr::new(127, 77, 0, last))
        .find(|a| std::net::TcpListener::bind((*a, port)).is_ok())
}

/// Waits until something accepts connections on `addr:port`.
async fn wait_port(addr: &str, port: u16) -> bool {
    let started = Instant::now();
    while started.elapsed() < DATABASE_READY {
        if reporunner_runtime::probe::tcp_open(addr, port, Duration::from_millis(500)).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The folder of PostgreSQL's server programs: `initdb` on PATH, else the highest
/// version under Debian's `/usr/lib/postgresql`.
pub(crate) fn postgres_bin() -> Option<PathBuf> {
    // A link on PATH (Debian's wrappers, or /usr/local/bin links) leads to the real folder,
    // where the server's other programs are.
    if let Some(initdb) = on_path("initdb").and_then(|p| p.canonicalize().ok())
        && initdb.file_name().is_some_and(|n| n == "initdb")
        && let Some(dir) = initdb.parent().filter(|d| d.join("postgres").is_file())
    {
        return Some(dir.to_path_buf());
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

/// Initialises a cluster and starts the server on `port`, bound to loopback, with trust
/// authentication (nothing outside this host can reach it). PostgreSQL refuses to run as
/// root, so as root it runs as the `postgres` user, in a folder under the temporary
/// directory that user can reach.
/// Where a private PostgreSQL keeps its files and logs, and whose it is.
pub(crate) struct PgPlace<'a> {
    /// Names its data folder: the run, and what the instance is for.
    pub tag: String,
    /// The run's folder, for the data of a server that does not run as root.
    pub run_dir: &'a Path,
    /// Where its commands run.
    pub workspace: &'a Path,
    /// Where its logs go.
    pub logs: &'a Path,
}

/// Runs `script`, which creates the run's user and database from the statements in its
/// `$SQL`; the failed step's last lines when it fails.
async fn create_database(
    req: &SetupRequest,
    script: &str,
    sql: String,
    log: &str,
) -> Result<(), String> {
    let mut env = BTreeMap::new();
    env.insert("SQL".to_string(), sql);
    let (step, _) = run_step(
        "create database",
        &shell(script, &req.workspace, &env, &req.logs, log),
    )
    .await;
    if step.ok {
        Ok(())
    } else {
        Err(step.tail.join(" "))
    }
}

/// Starts a private PostgreSQL at `addr:port` and waits until it accepts connections.
pub(crate) async fn start_postgres(
    req: &PgPlace<'_>,
    bin: &Path,
    addr: &str,
    port: u16,
) -> Result<Service, String> {
    let root = crate::agents::dependency::is_root();
    let data = if root {
        std::env::temp_dir()
            .join("reporunner-postgres")
            .join(format!("{}-{addr}-{port}", req.tag))
    } else {
        req.run_dir.join(format!("postgres-{addr}-{port}"))
    };
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let prefix = if root {
        let chown = format!(
            "chown postgres: '{}' && chmod 755 '{}'",
            data.display(),
            data.parent().unwrap_or(&data).display()
        );
        let (step, _) = run_step(
            "postgres folder",
            &shell(
                &chown,
                req.workspace,
                &BTreeMap::new(),
                req.logs,
                "postgres-chown",
            ),
        )
        .await;
        if !step.ok {
            return Err(format!(
                "as root, PostgreSQL runs as the user postgres, which is missing: {}",
                step.tail.join(" ")
            ));
        }
        "runuser -u postgres -- ".to_string()
    } else {
        String::new()
    };
    let init = format!(
        "{prefix}'{}' -D '{}' -U postgres -A trust --no-sync -E UTF8",
        bin.join("initdb").display(),
        data.display()
    );
    let (step, outcome) = run_step(
        "initdb",
        &shell(&init, req.workspace, &BTreeMap::new(), req.logs, "initdb"),
    )
    .await;
    if !step.ok {
        return Err(format!("initdb failed: {}", outcome.error_lines.join(" ")));
    }
    let serve = format!(
        "exec {prefix}'{}' -D '{d}' -p {port} -k '{d}' -c listen_addresses={addr} -c fsync=off",
        bin.join("postgres").display(),
        d = data.display()
    );
    let mut spec = shell(
        &serve,
        req.workspace,
        &BTreeMap::new(),
        req.logs,
        "postgres",
    );
    spec.timeout = None;
    spec.idle_timeout = None;
    let service = process::spawn(&spec).await.map_err(|e| e.to_string())?;
    let started = Instant::now();
    let ready = bin.join("pg_isready");
    while started.elapsed() < DATABASE_READY {
        let check = CommandSpec::new(
            ready.display().to_string(),
            &["-h", addr, "-p", &port.to_string(), "-U", "postgres"],
            req.workspace,
        );
        if process::run(&check).await.is_ok_and(|o| o.success()) {
            return Ok(service);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = service.stop(Duration::from_secs(5)).await;
    Err(format!(
        "it did not accept connections within {DATABASE_READY:?}: {}",
        out.error_lines.join(" ")
    ))
}

/// `postgresql://user:password@host:port/db` → (user, password, db).
fn parse_pg_url(url: &str) -> Option<(String, String, String)> {
    let rest = url
        .strip_prefix("postgresql://")
        .or_else(|| url.strip_prefix("postgres://"))
        .or_else(|| url.strip_prefix("postgresql+psycopg2://"))
        .or_else(|| url.strip_prefix("postgresql+asyncpg://"))
        .or_else(|| url.strip_prefix("postgresql+psycopg://"))?;
    let (auth, hostpath) = rest.rsplit_once('@')?;
    let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
    let db = hostpath
        .split_once('/')
        .map(|(_, d)| d.split('?').next().unwrap_or(d))
        .filter(|d| !d.is_empty())
        .unwrap_or("app");
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect()
    };
    let user = clean(user);
    let password = if password.is_empty() {
        user.clone()
    } else {
        clean(password)
    };
    (!user.is_empty()).then(|| (user, password, clean(db)))
}

/// The values the component's `.env` template (or an existing `.env`) gives.
fn template_values(dir: &Path, component: &Component) -> BTreeMap<String, String> {
    let prefix = if component.path == "." {
        String::new()
    } else {
        format!("{}/", component.path)
    };
    let mut out = BTreeMap::new();
    let files = std::iter::once(".env".to_string()).chain(
        component
            .env_files
            .iter()
            .map(|f| f.strip_prefix(&prefix).unwrap_or(f).to_string()),
    );
    for f in files {
        for (k, v) in read_env_file(&dir.join(f)) {
            out.entry(k).or_insert(v);
        }
    }
    for v in &component.env_vars {
        if let Some(d) = &v.default {
            out.entry(v.name.clone()).or_insert(d.clone());
        }
    }
    out
}

/// Reads `KEY=value` lines (quotes removed, comments and `export` skipped).
pub fn read_env_file(path: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string(path) else {
        return out;
    };
    for line in text.lines() {
        let line = line.trim().trim_start_matches("export ");
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let k = k.trim();
            if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let v = env_value(v);
            out.insert(k.to_string(), v);
        }
    }
    out
}

/// A `.env` value as dotenv reads it: a quoted value up to its closing quote, or an
/// unquoted one up to an inline ` #` comment.
fn env_value(raw: &str) -> String {
    let raw = raw.trim();
    for q in ['"', '\''] {
        if let Some(rest) = raw.strip_prefix(q) {
            return match rest.find(q) {
                Some(end) => rest[..end].to_string(),
                None => rest.to_string(),
            };
        }
    }
    match raw.find(" #").or_else(|| raw.find("\t#")) {
        Some(i) => raw[..i].trim_end().to_string(),
        None => raw.to_string(),
    }
}

/// The URL scheme the project expects: its template's, else `postgres` when its code
/// tests for that prefix (`DATABASE_URL.startswith("postgres://")`) and never names
/// `postgresql://`, else `postgresql` (which SQLAlchemy requires).
fn pg_scheme(dir: &Path, template_url: Option<&String>) -> &'static str {
    if let Some(u) = template_url {
        if u.starts_with("postgres://") {
            return "postgres";
        }
        if u.starts_with("postgresql://") {
            return "postgresql";
        }
    }
    let (mut short, mut long) = (false, false);
    for (_, text) in crate::sources::texts(dir, &["py", "js", "ts", "mjs", "cjs", "rb", "go", "rs"])
    {
        short |= text.contains("\"postgres://\"") || text.contains("'postgres://'");
        long |= text.contains("postgresql://");
    }
    if short && !long {
        "postgres"
    } else {
        "postgresql"
    }
}

/// A part of a database's address that a template names in a variable of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PgRole {
    User,
    Password,
    Database,
    Host,
    Port,
}

/// The template's variables that name a PostgreSQL connection's parts one by one:
/// `POSTGRES_USER`, `DB_PASSWORD`, `SQL_DATABASE`, `DATABASE_HOST`, `PGPORT` and the
/// like. A bare `DATABASE` (often an engine's name) is not one.
fn pg_keys(template: &BTreeMap<String, String>) -> Vec<(String, PgRole)> {
    db_keys(
        template,
        &["POSTGRES", "POSTGRESQL", "PG", "DB", "SQL", "DATABASE"],
    )
}

/// The template's value for a part of the address, when it is one that can be written
/// into SQL and a URL as it is (no quote, `$` or backtick).
fn split_value(
    split: &[(String, PgRole)],
    template: &BTreeMap<String, String>,
    role: PgRole,
) -> Option<String> {
    split
        .iter()
        .find(|(_, r)| *r == role)
        .and_then(|(k, _)| template.get(k))
        .filter(|v| !v.is_empty() && !v.contains(['\'', '"', '$', '`']))
        .cloned()
}

/// Gives each of the template's split variables its part of the started database's
/// address: `[user, password, database, host, port]`.
fn give_split(
    split: &[(String, PgRole)],
    run_values: &mut BTreeMap<String, String>,
    [user, password, db, host, port]: [&str; 5],
) {
    for (key, role) in split {
        let v = match role {
            PgRole::User => user,
            PgRole::Password => password,
            PgRole::Database => db,
            PgRole::Host => host,
            PgRole::Port => port,
        };
        run_values.insert(key.clone(), v.to_string());
    }
}

/// The template's variables that name a database connection's parts, by a prefix of
/// `prefixes` (`MYSQL_HOST`, `DB_USER`); `PG*` names too.
fn db_keys(template: &BTreeMap<String, String>, prefixes: &[&str]) -> Vec<(String, PgRole)> {
    let mut out = Vec::new();
    for key in template.keys() {
        let k = key.to_ascii_uppercase();
        let role = match k.as_str() {
            "PGUSER" => Some(PgRole::User),
            "PGPASSWORD" => Some(PgRole::Password),
            "PGDATABASE" => Some(PgRole::Database),
            "PGHOST" => Some(PgRole::Host),
            "PGPORT" => Some(PgRole::Port),
            _ => {
                let Some((prefix, part)) = k.rsplit_once('_') else {
                    continue;
                };
                let about_db = prefixes
                    .iter()
                    .any(|p| prefix == *p || prefix.ends_with(&format!("_{p}")));
                if !about_db {
                    continue;
                }
                match part {
                    "USER" | "USERNAME" => Some(PgRole::User),
                    "PASSWORD" | "PASS" => Some(PgRole::Password),
                    "DB" | "NAME" | "DATABASE" => Some(PgRole::Database),
                    "HOST" | "HOSTNAME" => Some(PgRole::Host),
                    "PORT" => Some(PgRole::Port),
                    _ => None,
                }
            }
        };
        if let Some(role) = role {
            out.push((key.clone(), role));
        }
    }
    out
}

/// Expands `${NAME}` in each value from the values before it, else from `known`; a name
/// neither has becomes empty, as dotenv loaders do.
pub fn expand_env(values: &mut BTreeMap<String, String>, known: &BTreeMap<String, String>) {
    static REF: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}").unwrap());
    let snapshot = values.clone();
    for value in values.values_mut() {
        if value.contains("${") {
            *value = REF
                .replace_all(value, |c: &regex::Captures<'_>| {
                    snapshot
                        .get(&c[1])
                        .filter(|v| !v.contains("${"))
                        .or_else(|| known.get(&c[1]))
                        .cloned()
                        .unwrap_or_default()
                })
                .into_owned();
        }
    }
}

/// The SQL migrations of SQLx's `migrations/` folder, up files only, in version order.
fn sqlx_migrations(dir: &Path) -> Vec<String> {
    up_files(dir, "migrations")
}

/// The up migrations in `folder` (`0001_init.sql`, `20191217_init.up.sql`), in version
/// order, relative to `dir`.
fn up_files(dir: &Path, folder: &str) -> Vec<String> {
    let mut files: Vec<(u64, String)> = std::fs::read_dir(dir.join(folder))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version: u64 = name
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .ok()?;
            (name.ends_with(".sql") && !name.ends_with(".down.sql"))
                .then(|| (version, format!("{folder}/{name}")))
        })
        .collect();
    files.sort();
    files.into_iter().map(|(_, f)| f).collect()
}

/// Whether the code runs its migrations itself (`sqlx::migrate!()`).
fn migrates_itself(dir: &Path) -> bool {
    crate::sources::texts(&dir.join("src"), &["rs"]).any(|(_, t)| t.contains("migrate!("))
}

/// Applies SQLx's migrations as `sqlx migrate run` would, without its CLI: each up file
/// in version order through `sqlite3` or `psql`, on the database `DATABASE_URL` names.
/// A SQLite file is created first; one that already has tables is left as it is. None
/// when the code migrates itself at start.
fn sqlx_script(dir: &Path, env: &BTreeMap<String, String>) -> Option<String> {
    if migrates_itself(dir) {
        return None;
    }
    sqlx_apply(dir, env.get("DATABASE_URL")?)
}

/// The script that applies SQLx's migrations to the database at `url`, SQLite or
/// PostgreSQL; `None` without migrations or for another database.
pub(crate) fn sqlx_apply(dir: &Path, url: &str) -> Option<String> {
    apply_sql(&sqlx_migrations(dir), url)
}

/// Applies golang-migrate's up files as `migrate -path DIR -database URL up` would, when
/// the code does not run them itself at start.
fn golang_migrate_script(dir: &Path, env: &BTreeMap<String, String>) -> Option<String> {
    let migrates_itself = crate::sources::texts(dir, &["go"])
        .any(|(_, t)| t.contains("github.com/golang-migrate/migrate") && t.contains(".Up()"));
    if migrates_itself {
        return None;
    }
    let files = crate::analysis::GO_MIGRATION_DIRS
        .iter()
        .map(|f| up_files(dir, f))
        .find(|files| {
            files
                .iter()
                .any(|f| crate::analysis::is_up_migration(f.rsplit('/').next().unwrap_or(f)))
        })?;
    apply_sql(&files, env.get("DATABASE_URL")?)
}

/// The script that applies `files` in order to the database at `url`, SQLite or
/// PostgreSQL; `None` without files or for another database.
fn apply_sql(files: &[String], url: &str) -> Option<String> {
    if files.is_empty() {
        return None;
    }
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or(path);
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            path.trim_start_matches("./").to_string()
        };
        let db = quote(&path);
        let apply: Vec<String> = files
            .iter()
            .map(|f| format!("sqlite3 -bail {db} < {}", quote(f)))
            .collect();
        return Some(format!(
            "set -e; if [ -s {db} ] && [ -n \"$(sqlite3 {db} .tables)\" ]; then echo 'the database has tables: left as it is'; exit 0; fi; touch {db}; {}",
            apply.join("; ")
        ));
    }
    if url.starts_with("postgres") {
        let apply: Vec<String> = files
            .iter()
            .map(|f| format!("psql {} -v ON_ERROR_STOP=1 -q -f {}", quote(url), quote(f)))
            .collect();
        return Some(format!("set -e; {}", apply.join("; ")));
    }
    None
}

/// `npm run NAME` for the first of `names` that package.json's scripts define.
fn package_script(dir: &Path, names: &[&str]) -> Option<String> {
    let scripts = crate::sources::package_scripts(dir);
    names
        .iter()
        .find(|n| scripts.get(**n).is_some_and(|v| v.is_string()))
        .map(|n| format!("npm run {n}"))
}

/// The command that applies a migration tool's migrations, when the project has them.
fn migration_script(dir: &Path, tool: &str, env: &BTreeMap<String, String>) -> Option<String> {
    match tool {
        "sqlx" => sqlx_script(dir, env),
        "golang-migrate" => golang_migrate_script(dir, env),
        "django" => {
            let manage = ["manage.py", "src/manage.py"]
                .into_iter()
                .find(|m| dir.join(m).is_file())?;
            Some(format!("python {manage} migrate --noinput"))
        }
        "alembic" => dir
            .join("alembic.ini")
            .is_file()
            .then(|| "alembic upgrade head".into()),
        "flask-migrate" => dir
            .join("migrations")
            .is_dir()
            .then(|| "flask db upgrade".into()),
        "prisma" => Some(if dir.join("prisma/migrations").is_dir() {
            "npx --no-install prisma migrate deploy".into()
        } else {
            "npx --no-install prisma db push --skip-generate --accept-data-loss".into()
        }),
        // The project's own migration script beats the tool's bare command: it knows its
        // configuration (and may use another migrator, such as Postgrator, with knex).
        "knex" => Some(
            package_script(
                dir,
                &[
                    "db:migrate",
                    "migrate",
                    "migrate:latest",
                    "db:migrate:latest",
                ],
            )
            .unwrap_or_else(|| "npx --no-install knex migrate:latest".into()),
        ),
        _ => None,
    }
}

/// The Setup agent's kind, for the kind registry.
pub fn kind() -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: KIND.to_string(),
            description: "writes .env, starts databases on leased ports, applies migrations"
                .to_string(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |ctx, _config: super::NoConfig| (Setup, ctx.namespace.clone()),
    )
}

/// The private database's address for a Java (Spring) component, in the variables
/// Spring's relaxed binding reads before `application.properties`: `spring.datasource.url`
/// and its user and password, so the project's own `jdbc:` URL gives way to it. Only a
/// database the Java rules found the default configuration reaching (its URL, or the one
/// server driver with no embedded database beside it) is given: one that only a compose
/// file or an optional profile names leaves the project's datasource alone.
fn spring_datasource(
    req: &SetupRequest,
    kind: &str,
    jdbc: String,
    user: &str,
    password: &str,
    run_values: &mut BTreeMap<String, String>,
) {
    if !matches!(req.plan.language.as_deref(), Some("java" | "kotlin")) {
        return;
    }
    let reached = req
        .component
        .databases
        .iter()
        .any(|d| d.value == kind && d.evidence.iter().any(|e| e.rule.starts_with("java.")));
    if !reached {
        return;
    }
    for (k, v) in [
        ("SPRING_DATASOURCE_URL", jdbc),
        ("SPRING_DATASOURCE_USERNAME", user.to_string()),
        ("SPRING_DATASOURCE_PASSWORD", password.to_string()),
    ] {
        run_values.insert(k.to_string(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_are_read_as_dotenv_reads_them() {
        assert_eq!(
            env_value("\"development\" # Options: 'a', 'b'"),
            "development"
        );
        assert_eq!(env_value("'x y' # c"), "x y");
        assert_eq!(env_value("1000 # per window"), "1000");
        assert_eq!(env_value("http://a/#frag"), "http://a/#frag");
        assert_eq!(env_value(""), "");
    }

    #[test]
    fn postgres_urls_name_the_user_and_database() {
        assert_eq!(
            parse_pg_url("postgresql://shop:secret@localhost:5432/shopdb"),
            Some(("shop".into(), "secret".into(), "shopdb".into()))
        );
        assert_eq!(
            parse_pg_url("postgres://u@db/app?sslmode=disable"),
            Some(("u".into(), "u".into(), "app".into()))
        );
        assert_eq!(parse_pg_url("mysql://x@y/z"), None);
    }

    #[test]
    fn env_references_expand_from_the_file_then_the_run() {
        let mut v: BTreeMap<String, String> = [
            ("DATABASE_URL", "sqlite://${CARGO_MANIFEST_DIR}/todo.db"),
            ("NAME", "app"),
            ("DB", "${NAME}_db ${UNSET}"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let known = BTreeMap::from([("CARGO_MANIFEST_DIR".to_string(), "/w/todo".to_string())]);
        expand_env(&mut v, &known);
        assert_eq!(v["DATABASE_URL"], "sqlite:///w/todo/todo.db");
        assert_eq!(v["DB"], "app_db ");
    }

    /// SQLx's migrations applied with the real `sqlite3`, in version order, once.
    #[test]
    fn a_config_file_from_the_readme_goes_into_the_runs_own_home() {
        let dir = std::env::temp_dir().join(format!("rr-write-config-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("README.md"),
            "Set up `~/app.conf`:\n\n```toml\n[http]\naddr = \":3000\"\n```\n",
        )
        .unwrap();
        let home = write_config(&dir, "~/app.conf", "README.md:3").unwrap();
        let home = PathBuf::from(home.expect("a home of the run's own"));
        assert_eq!(home, dir.join(".reporunner/home"));
        assert_eq!(
            std::fs::read_to_string(home.join("app.conf")).unwrap(),
            "[http]\naddr = \":3000\"\n"
        );
        // Relative paths land in the component; nothing leaves the workspace.
        assert_eq!(write_config(&dir, "conf/app.conf", "README.md:3"), Ok(None));
        assert!(dir.join("conf/app.conf").is_file());
        assert!(write_config(&dir, "/etc/app.conf", "README.md:3").is_err());
        assert!(write_config(&dir, "../app.conf", "README.md:3").is_err());
        assert!(write_config(&dir, "app.conf", "README.md:1").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sqlx_migrations_are_applied_to_a_sqlite_file_in_version_order() {
        let dir = std::env::temp_dir().join(format!("rr-sqlx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("migrations")).unwrap();
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("src/main.rs"), "fn main() {}\n").unwrap();
        for (name, sql) in [
            (
                "20220205163207_tasks.up.sql",
                "CREATE TABLE tasks (id INTEGER PRIMARY KEY);",
            ),
            ("20220205163207_tasks.down.sql", "DROP TABLE tasks;"),
            (
                "20230101000000_more.sql",
                "ALTER TABLE tasks ADD COLUMN done BOOLEAN;",
            ),
        ] {
            std::fs::write(dir.join("migrations").join(name), sql).unwrap();
        }
        let env = BTreeMap::from([(
            "DATABASE_URL".to_string(),
            format!("sqlite://{}/todo.db", dir.display()),
        )]);
        let script = migration_script(&dir, "sqlx", &env).unwrap();
        for _ in 0..2 {
            let out = std::process::Command::new("/bin/sh")
                .args(["-c", &script])
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let cols = std::process::Command::new("sqlite3")
            .arg(dir.join("todo.db"))
            .arg("SELECT name FROM pragma_table_info('tasks');")
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&cols.stdout), "id\ndone\n");
        // Code that runs `sqlx::migrate!()` migrates itself.
        std::fs::write(dir.join("src/main.rs"), "sqlx::migrate!().run(&db);\n").unwrap();
        assert_eq!(migration_script(&dir, "sqlx", &env), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_templates_split_database_variables_are_found_by_their_parts() {
        let t: BTreeMap<String, String> = [
            ("SQL_USER", "hello"),
            ("SQL_PASSWORD", "pw"),
            ("SQL_DATABASE", "hello_dev"),
            ("SQL_HOST", "db"),
            ("SQL_PORT", "5432"),
            ("DATABASE", "postgres"),
            ("MAIL_USER", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut keys = pg_keys(&t);
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            keys,
            vec![
                ("SQL_DATABASE".to_string(), PgRole::Database),
                ("SQL_HOST".to_string(), PgRole::Host),
                ("SQL_PASSWORD".to_string(), PgRole::Password),
                ("SQL_PORT".to_string(), PgRole::Port),
                ("SQL_USER".to_string(), PgRole::User),
            ]
        );
    }
}
