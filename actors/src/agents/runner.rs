//! The Runner agent: starts a run's service and holds it until the run is stopped.
//!
//! The service gets a port leased from the PortManager (the one its code names when that is
//! free), passed as `PORT` and, through the start command's `$PORT`, as the framework's
//! own flag. It binds `127.0.0.1` unless the run says otherwise. It runs in its own process
//! group with a clean environment that carries none of Repo Runner's own variables, and
//! its output goes to a log file. Static sites are served by the built-in server instead.
//! The lease is held by this agent, so it is released if the agent dies.

use crate::agents::stage::{StageFailure, lease_port, log_path, release_port};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster_derive::RactorMessage;
use reporunner_protocols::ids::RunId;
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_protocols::repair::{Fix, RepairRecord};
use reporunner_protocols::stage::{Plan, PlanKind, ServiceOutput, ServiceReport};
use reporunner_runtime::kinds::AgentKind;
use reporunner_runtime::naming::Namespace;
use reporunner_runtime::process::{self, CommandSpec, Service};
use reporunner_runtime::static_site::StaticServer;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The kind name the Runner agent is registered under.
pub const KIND: &str = "runner";

/// How long a stopped service gets between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What to start.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// The run.
    pub run: RunId,
    /// The workspace.
    pub workspace: PathBuf,
    /// The plan.
    pub plan: Plan,
    /// The environment from the dependencies and the setup.
    pub env: BTreeMap<String, String>,
    /// The address to bind.
    pub host: String,
    /// The repairs applied so far (a new port, non-interactive mode).
    pub repairs: Vec<RepairRecord>,
    /// Where the log goes.
    pub logs: PathBuf,
    /// The hosts file the service sees as `/etc/hosts`, when the setup made one.
    pub hosts_file: Option<PathBuf>,
    /// How the repository's commands are confined; `None` runs them unconfined.
    pub confine: Option<reporunner_runtime::process::Confinement>,
}

/// What the Runner sees of a run's service now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Whether it still runs.
    pub alive: bool,
    /// The TCP ports its processes listen on.
    pub listening: Vec<u16>,
    /// Its output so far.
    pub output: ServiceOutput,
}

/// The Runner agent's messages.
#[derive(Debug, RactorMessage)]
pub enum RunnerMessage {
    /// Starts the run's service, replacing one it already has.
    Start(
        Box<StartRequest>,
        RpcReplyPort<Result<ServiceReport, StageFailure>>,
    ),
    /// Reports on the run's service; `None` if it has none.
    Observe(RunId, RpcReplyPort<Option<Observation>>),
    /// Stops the run's service and releases its port; answers whether it had one.
    StopRun(RunId, RpcReplyPort<bool>),
}

/// The Runner agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Runner;

#[derive(Debug)]
enum Running {
    Process(Box<Service>),
    Static(StaticServer),
}

#[derive(Debug)]
struct Held {
    running: Running,
    lease: u64,
}

/// The Runner agent's state.
#[derive(Debug)]
pub struct RunnerState {
    namespace: Namespace,
    services: HashMap<RunId, Held>,
}

impl Actor for Runner {
    type Msg = RunnerMessage;
    type State = RunnerState;
    type Arguments = Namespace;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        namespace: Namespace,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(RunnerState {
            namespace,
            services: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RunnerMessage::Start(req, reply) => {
                state.stop(&req.run).await;
                let result = state.start(&req, myself.get_id().pid()).await;
                let _ = reply.send(result);
            }
            RunnerMessage::Observe(run, reply) => {
                let _ = reply.send(state.observe(&run));
            }
            RunnerMessage::StopRun(run, reply) => {
                let had = state.stop(&run).await;
                let _ = reply.send(had);
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let runs: Vec<RunId> = state.services.keys().cloned().collect();
        for run in runs {
            state.stop(&run).await;
        }
        Ok(())
    }
}

impl RunnerState {
    async fn start(
        &mut self,
        req: &StartRequest,
        holder: u64,
    ) -> Result<ServiceReport, StageFailure> {
        let plan = &req.plan;
        let new_port = req.repairs.iter().filter(|r| r.fix == Fix::NewPort).count();
        // After a port conflict, the hint is not asked for again.
        let preferred = if new_port > 0 { None } else { plan.port_hint };
        let (lease_id, port) = lease_port(
            &self.namespace,
            &format!("run {} service", req.run),
            preferred,
            holder,
        )
        .await?;
        let dir = req.workspace.join(&plan.component);
        let started_ms = crate::runs::now_ms();
        let dev_server = req.repairs.iter().any(|r| r.fix == Fix::DevServer);
        let (running, report) = if plan.kind == PlanKind::Static && !dev_server {
            let root = static_root(&dir);
            let addr: SocketAddr = format!("{}:{port}", req.host)
                .parse()
                .map_err(|e| StageFailure::new(format!("bad host {}: {e}", req.host)))?;
            let server = StaticServer::start(root.clone(), addr)
                .await
                .map_err(|e| StageFailure::new(e.to_string()))?;
            (
                Running::Static(server),
                ServiceReport {
                    command: format!("builtin static server for {}", root.display()),
                    pid: None,
                    host: req.host.clone(),
                    port,
                    log: None,
                    started_ms,
                },
            )
        } else {
            // The subcommand that serves, when the Fixer found the start command to be
            // a command-line program's.
            let served = req.repairs.iter().rev().find_map(|r| match &r.fix {
                Fix::ServeWith { command } => Some(command),
                _ => None,
            });
            // The dev server, when the production build could not be made here.
            let dev = req
                .repairs
                .iter()
                .any(|r| r.fix == Fix::DevServer)
                .then(|| {
                    let pm = plan.package_manager.as_deref().unwrap_or("npm");
                    format!("{pm} run dev")
                });
            let Some(start) = served.or(dev.as_ref()).or(plan.start.as_ref()) else {
                return Err(StageFailure::new("the plan has no start command"));
            };
            let mut env = req.env.clone();
            env.insert("PORT".into(), port.to_string());
            env.insert("HOST".into(), req.host.clone());
            env.insert("BROWSER".into(), "none".into());
            if req.repairs.iter().any(|r| r.fix == Fix::NonInteractive) {
                env.insert("CHOKIDAR_USEPOLLING".into(), "false".into());
                env.insert("WATCHPACK_POLLING".into(), "false".into());
            }
            crate::agents::stage::command_shims(&req.repairs, &req.logs, &mut env);
            let log = log_path(&req.logs, "service");
            let mut spec = CommandSpec::new("/bin/sh", &["-c", &exec_script(start)], &dir);
            spec.env = env;
            spec.log = Some(log.clone());
            spec.hosts_file = req.hosts_file.clone();
            spec.confine = req.confine.clone();
            let service = process::spawn(&spec)
                .await
                .map_err(|e| StageFailure::new(format!("`{start}` did not start: {e}")))?;
            let pid = service.pid();
            (
                Running::Process(Box::new(service)),
                ServiceReport {
                    command: start.clone(),
                    pid: Some(pid),
                    host: req.host.clone(),
                    port,
                    log: Some(log.display().to_string()),
                    started_ms,
                },
            )
        };
        self.services.insert(
            req.run.clone(),
            Held {
                running,
                lease: lease_id,
            },
        );
        Ok(report)
    }

    fn observe(&mut self, run: &RunId) -> Option<Observation> {
        let held = self.services.get_mut(run)?;
        Some(match &mut held.running {
            Running::Process(service) => {
                let alive = service.is_running();
                let mut listening: Vec<u16> = service
                    .listening_ports()
                    .into_iter()
                    .map(|l| l.port)
                    .collect();
                listening.sort_unstable();
                listening.dedup();
                let (head, tail, errors) = service.output();
                Observation {
                    alive,
                    listening,
                    output: ServiceOutput { head, tail, errors },
                }
            }
            Running::Static(server) => Observation {
                alive: true,
                listening: vec![server.addr().port()],
                output: ServiceOutput::default(),
            },
        })
    }

    async fn stop(&mut self, run: &RunId) -> bool {
        let Some(held) = self.services.remove(run) else {
            return false;
        };
        match held.running {
            Running::Process(service) => {
                service.stop(STOP_GRACE).await;
            }
            Running::Static(server) => server.stop().await,
        }
        release_port(&self.namespace, held.lease).await;
        true
    }
}

/// The shell script that runs `start` as the group's leader: `exec`, after any leading
/// variable assignments (`FLASK_APP=app flask run` becomes `FLASK_APP=app exec flask
/// run`); a compound command (`cd web && npm start`) runs as it is.
fn exec_script(start: &str) -> String {
    if ["&&", "||", ";", "|", "\n"]
        .iter()
        .any(|op| start.contains(op))
    {
        return start.to_string();
    }
    let words: Vec<&str> = start.split_whitespace().collect();
    let assignment = |w: &&&str| {
        w.split_once('=').is_some_and(|(k, _)| {
            !k.is_empty()
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !k.starts_with(|c: char| c.is_ascii_digit())
        })
    };
    let n = words.iter().take_while(assignment).count();
    let (assigns, rest) = words.split_at(n);
    if assigns.is_empty() {
        format!("exec {start}")
    } else {
        format!("{} exec {}", assigns.join(" "), rest.join(" "))
    }
}

/// The folder a static site is served from: its build output when there is one.
fn static_root(dir: &std::path::Path) -> PathBuf {
    crate::repo_run::prebuilt_site(dir).unwrap_or_else(|| dir.to_path_buf())
}

/// The Runner agent's kind, for the kind registry.
pub fn kind() -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: KIND.to_string(),
            description: "starts a run's service on a leased port and holds it".to_string(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |ctx, _config: super::NoConfig| (Runner, ctx.namespace.clone()),
    )
}

#[cfg(test)]
mod tests {
    use super::exec_script;

    #[test]
    fn services_are_execed_after_their_assignments() {
        assert_eq!(exec_script("npm start"), "exec npm start");
        assert_eq!(
            exec_script("FLASK_APP=app:app flask run --port $PORT"),
            "FLASK_APP=app:app exec flask run --port $PORT"
        );
        assert_eq!(exec_script("cd web && npm start"), "cd web && npm start");
    }
}
