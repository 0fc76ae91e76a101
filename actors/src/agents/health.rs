//! The Health agent: climbs the verification ladder over a started service (process
//! alive, port open, HTTP answers) and never fixes anything. It watches the service
//! through the Runner, probes the leased port, and when the service ignored `PORT` finds
//! the port it really opened from `/proc` and records the mismatch.

use crate::agents::runner::{Observation, RunnerMessage};
use crate::agents::stage::StageFailure;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster_derive::RactorMessage;
use reporunner_protocols::ids::{AgentId, RunId};
use reporunner_protocols::kinds::{AgentKindDescriptor, AgentNeeds, RestartType};
use reporunner_protocols::stage::{HealthReport, PortMismatch, Rung, RungCheck, ServiceReport};
use reporunner_runtime::kinds::AgentKind;
use reporunner_runtime::naming::{Namespace, lookup};
use reporunner_runtime::probe;
use std::time::{Duration, Instant};

/// The kind name the Health agent is registered under.
pub const KIND: &str = "health";

/// The paths tried, in order, until one answers.
const PATHS: &[&str] = &["/", "/health", "/healthz", "/docs"];

/// What to check.
#[derive(Debug, Clone)]
pub struct HealthRequest {
    /// The run.
    pub run: RunId,
    /// The service the start phase reported.
    pub service: ServiceReport,
    /// How long the service may take to answer HTTP.
    pub timeout: Duration,
}

/// The Health agent's messages.
#[derive(Debug, RactorMessage)]
pub enum HealthMessage {
    /// Climbs the ladder; fails below "HTTP answers", with the report as the detail.
    Check(
        Box<HealthRequest>,
        RpcReplyPort<Result<HealthReport, StageFailure>>,
    ),
}

/// The Health agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Health;

impl Actor for Health {
    type Msg = HealthMessage;
    type State = Namespace;
    type Arguments = Namespace;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        namespace: Namespace,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(namespace)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        namespace: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let HealthMessage::Check(req, reply) = message;
        let runner = namespace.agent(&AgentId::new(crate::agents::runner::KIND));
        let result = check(&runner, &req).await;
        let _ = reply.send(result);
        Ok(())
    }
}

async fn observe(runner: &str, run: &RunId) -> Option<Observation> {
    let actor = lookup::<RunnerMessage>(runner)?;
    ractor::call_t!(actor, RunnerMessage::Observe, 5_000, run.clone())
        .ok()
        .flatten()
}

/// Climbs from "process alive" to "HTTP answers" within the request's timeout.
async fn check(runner: &str, req: &HealthRequest) -> Result<HealthReport, StageFailure> {
    let started = Instant::now();
    let svc = &req.service;
    // A service bound to every interface is probed on loopback.
    let probe_host = match svc.host.as_str() {
        "0.0.0.0" | "::" => "127.0.0.1".to_string(),
        h => h.to_string(),
    };
    let mut report = HealthReport {
        rung: Rung::ImportsResolve,
        checks: Vec::new(),
        url: None,
        port_mismatch: None,
        http: None,
        startup_ms: None,
        output: Default::default(),
    };
    let mut last_error = String::from("no probe yet");
    let mut pause = Duration::from_millis(20);
    loop {
        let Some(seen) = observe(runner, &req.run).await else {
            return Err(fail(
                report,
                "the runner holds no service for this run",
                Vec::new(),
            ));
        };
        report.output = seen.output.clone();
        if !seen.alive {
            report.checks.push(RungCheck {
                rung: Rung::ProcessAlive,
                ok: false,
                detail: "the service exited".into(),
            });
            let mut lines = seen.output.errors.clone();
            lines.extend(seen.output.tail.iter().cloned());
            return Err(fail(
                report,
                "the service exited before it answered HTTP",
                lines,
            ));
        }
        // The leased port first; then any other port its processes listen on.
        let mut ports = vec![svc.port];
        ports.extend(seen.listening.iter().copied().filter(|p| *p != svc.port));
        for port in ports {
            let left = req.timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            if !probe::tcp_open(&probe_host, port, Duration::from_millis(300).min(left)).await {
                continue;
            }
            if port != svc.port && !seen.listening.contains(&svc.port) {
                report.port_mismatch = Some(PortMismatch {
                    leased: svc.port,
                    actual: port,
                });
            }
            for path in PATHS {
                let left = req.timeout.saturating_sub(started.elapsed());
                if left.is_zero() {
                    break;
                }
                match probe::http_get(&probe_host, port, path, Duration::from_secs(5).min(left))
                    .await
                {
                    Ok(answer) if answer.status != 404 || *path == PATHS[PATHS.len() - 1] => {
                        report.checks = vec![
                            ok(Rung::ProcessAlive, format!("pid {}", svc.pid.unwrap_or(0))),
                            ok(
                                Rung::PortOpen,
                                format!("{probe_host}:{port} accepts connections"),
                            ),
                            ok(
                                Rung::HttpAnswers,
                                format!("GET {} answered {}", answer.path, answer.status),
                            ),
                        ];
                        report.rung = Rung::HttpAnswers;
                        report.http = Some((answer.path.clone(), answer.status));
                        report.url = Some(format!("http://{probe_host}:{port}/"));
                        report.startup_ms =
                            Some(crate::runs::now_ms().saturating_sub(svc.started_ms));
                        if let Some(m) = &report.port_mismatch {
                            report.checks.push(RungCheck {
                                rung: Rung::PortOpen,
                                ok: true,
                                detail: format!(
                                    "the service ignored PORT={}: it listens on {}",
                                    m.leased, m.actual
                                ),
                            });
                        }
                        return Ok(report);
                    }
                    Ok(answer) => last_error = format!("GET {} answered {}", path, answer.status),
                    Err(e) => last_error = e.to_string(),
                }
            }
            // A port that accepts connections but never answers: record it and keep waiting.
            report.rung = Rung::PortOpen;
        }
        if started.elapsed() >= req.timeout {
            let alive = ok(Rung::ProcessAlive, "it kept running".into());
            report.checks = vec![alive];
            if report.rung == Rung::PortOpen {
                report
                    .checks
                    .push(ok(Rung::PortOpen, "a port accepts connections".into()));
                report.checks.push(RungCheck {
                    rung: Rung::HttpAnswers,
                    ok: false,
                    detail: last_error.clone(),
                });
            } else {
                report.rung = Rung::ProcessAlive;
                report.checks.push(RungCheck {
                    rung: Rung::PortOpen,
                    ok: false,
                    detail: format!(
                        "nothing listens on {} (it listens on {:?}) after {:?}",
                        svc.port, seen.listening, req.timeout
                    ),
                });
            }
            let mut lines = seen.output.errors.clone();
            lines.extend(seen.output.tail.iter().cloned());
            let why = format!(
                "the service did not answer HTTP within {:?}: {last_error}",
                req.timeout
            );
            return Err(fail(report, &why, lines));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

fn ok(rung: Rung, detail: String) -> RungCheck {
    RungCheck {
        rung,
        ok: true,
        detail,
    }
}

fn fail(report: HealthReport, why: &str, lines: Vec<String>) -> StageFailure {
    StageFailure {
        message: why.to_string(),
        lines,
        detail: serde_json::to_value(&report).ok(),
    }
}

/// The Health agent's kind, for the kind registry.
pub fn kind() -> AgentKind {
    AgentKind::with_config(
        AgentKindDescriptor {
            name: KIND.to_string(),
            description: "climbs the verification ladder over a running service".to_string(),
            restart: RestartType::Permanent,
            needs: AgentNeeds::default(),
        },
        |ctx, _config: super::NoConfig| (Health, ctx.namespace.clone()),
    )
}
