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
use reporunner_protocols::stage::{
    HealthReport, PortMismatch, Probe, Rung, RungCheck, ServiceReport,
};
use reporunner_runtime::kinds::AgentKind;
use reporunner_runtime::naming::{Namespace, lookup};
use reporunner_runtime::probe;
use std::time::{Duration, Instant};

/// The kind name the Health agent is registered under.
pub const KIND: &str = "health";

/// Pages asked for after `/` and the plan's own, when none of those answered well.
const FALLBACK_PATHS: &[&str] = &["/health", "/healthz", "/docs", "/api"];

/// The most pages asked for in one round.
const MAX_PROBES: usize = 8;

/// How long a page may keep answering with a server error before that is the verdict: a
/// dev server may answer 5xx while it compiles its first page.
const BROKEN_GRACE: Duration = Duration::from_secs(4);

/// What to check.
#[derive(Debug, Clone)]
pub struct HealthRequest {
    /// The run.
    pub run: RunId,
    /// The service the start phase reported.
    pub service: ServiceReport,
    /// How long the service may take to answer HTTP.
    pub timeout: Duration,
    /// The pages a user would open after `/`, from the plan.
    pub paths: Vec<String>,
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

/// What one round of page requests on an open port found.
enum Round {
    /// A page answered as a healthy service does.
    Answered(Probe),
    /// The service answers, but `/` (or every page) with a server error or a
    /// misconfiguration.
    Broken(Probe),
    /// Something accepts connections but does not answer HTTP (yet).
    NotHttp(String),
}

/// Climbs from "process alive" to "HTTP answers" within the request's timeout. HTTP
/// answers means a status below 500 on a page a user would open; a server error or a
/// misconfiguration (a refused host) is a failed rung, with the page's first lines and
/// the traceback the service logged.
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
        probes: Vec::new(),
        traceback: Vec::new(),
    };
    let paths = pages(&req.paths);
    let mut last_error = String::from("no probe yet");
    let mut broken_since: Option<Instant> = None;
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
            report.traceback = traceback(&seen.output.tail);
            // Say why when the output does: a host it needed that this machine cannot reach.
            let why = match crate::repair::unreachable_public_host(&lines) {
                Some(host) => format!(
                    "the service exited before it answered HTTP: it could not resolve {host}, a public host this machine cannot reach (it needs network access Repo Runner cannot give it)"
                ),
                None => "the service exited before it answered HTTP".to_string(),
            };
            return Err(fail(report, &why, lines));
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
            let (round, probes) = ask_pages(&probe_host, port, &paths, req, started, runner).await;
            report.probes = probes;
            match round {
                Round::Answered(page) => {
                    report.checks = vec![
                        ok(Rung::ProcessAlive, format!("pid {}", svc.pid.unwrap_or(0))),
                        ok(
                            Rung::PortOpen,
                            format!("{probe_host}:{port} accepts connections"),
                        ),
                        ok(
                            Rung::HttpAnswers,
                            format!("GET {} answered {}", page.path, page.status),
                        ),
                    ];
                    for bad in report.probes.iter().filter(|p| !p.ok) {
                        report.checks.push(RungCheck {
                            rung: Rung::HttpAnswers,
                            ok: true,
                            detail: format!(
                                "also: GET {} answered {} ({})",
                                bad.path,
                                bad.status,
                                bad.problem.as_deref().unwrap_or("not healthy")
                            ),
                        });
                    }
                    report.rung = Rung::HttpAnswers;
                    report.http = Some((page.path.clone(), page.status));
                    report.url = Some(format!("http://{probe_host}:{port}/"));
                    report.startup_ms = Some(crate::runs::now_ms().saturating_sub(svc.started_ms));
                    if let Some(m) = &report.port_mismatch {
                        report.checks.push(RungCheck {
                            rung: Rung::PortOpen,
                            ok: true,
                            detail: format!(
                                "the service ignored PORT={} and listens on {}",
                                m.leased, m.actual
                            ),
                        });
                    }
                    return Ok(report);
                }
                Round::Broken(page) => {
                    report.rung = Rung::PortOpen;
                    let since = *broken_since.get_or_insert_with(Instant::now);
                    last_error = format!(
                        "GET {} answered {} ({})",
                        page.path,
                        page.status,
                        page.problem.as_deref().unwrap_or("not healthy")
                    );
                    if since.elapsed() >= BROKEN_GRACE
                        || req.timeout.saturating_sub(started.elapsed()) < BROKEN_GRACE
                    {
                        return Err(
                            broken(report, svc, &probe_host, port, page, runner, &req.run).await,
                        );
                    }
                }
                Round::NotHttp(e) => {
                    // A port that accepts connections but never answers: keep waiting.
                    report.rung = Rung::PortOpen;
                    last_error = e;
                }
            }
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
        let pause_for = if broken_since.is_some() {
            Duration::from_millis(500)
        } else {
            pause
        };
        tokio::time::sleep(pause_for).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// The pages to ask for, in order: `/`, the plan's, then the usual health and docs
/// routes; each once, at most [`MAX_PROBES`].
fn pages(plan: &[String]) -> Vec<String> {
    let mut out: Vec<String> = vec!["/".to_string()];
    for p in plan
        .iter()
        .map(String::as_str)
        .chain(FALLBACK_PATHS.iter().copied())
    {
        if p.starts_with('/') && !out.iter().any(|o| o == p) && out.len() < MAX_PROBES {
            out.push(p.to_string());
        }
    }
    out
}

/// Asks for the pages in order until one answers as a healthy page does (2xx or 3xx).
/// `/` decides when it fails: a broken home page is a broken service, whatever other
/// pages say; they are still asked, for the report.
async fn ask_pages(
    host: &str,
    port: u16,
    paths: &[String],
    req: &HealthRequest,
    started: Instant,
    runner: &str,
) -> (Round, Vec<Probe>) {
    let mut probes: Vec<Probe> = Vec::new();
    for path in paths {
        let left = req.timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        match probe::http_get(host, port, path, Duration::from_secs(10).min(left)).await {
            Ok(answer) => {
                let log = if answer.status >= 400 {
                    // What the service logged about the request, once it has written it.
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    observe(runner, &req.run)
                        .await
                        .map(|o| o.output.tail)
                        .unwrap_or_default()
                } else {
                    Vec::new()
                };
                let probe = classify(&answer, &log);
                let good = probe.ok && probe.status < 400;
                probes.push(probe);
                if good {
                    break;
                }
                // A broken home page: a few more pages for the report, then the verdict.
                if !probes[0].ok && probes.len() >= 3 {
                    break;
                }
            }
            Err(e) if probes.is_empty() => {
                return (Round::NotHttp(e.to_string()), probes);
            }
            Err(_) => {}
        }
    }
    (verdict(&probes), probes)
}

/// The verdict of a round: `/` broken is broken; else the first 2xx or 3xx page, else
/// the first healthy 4xx (an auth wall, a 404 at the root of an API), else broken.
fn verdict(probes: &[Probe]) -> Round {
    let Some(root) = probes.first() else {
        return Round::NotHttp("no page answered".into());
    };
    if !root.ok {
        return Round::Broken(root.clone());
    }
    let best = probes
        .iter()
        .find(|p| p.ok && p.status < 400)
        .or_else(|| probes.iter().find(|p| p.ok && p.status != 404))
        .or_else(|| probes.iter().find(|p| p.ok));
    match best {
        Some(p) => Round::Answered(p.clone()),
        None => Round::Broken(root.clone()),
    }
}

/// Whether an answer is healthy: below 500, and not a framework refusing the host it was
/// reached at (Django's 400 for a disallowed host, a dev server's 403 host check).
fn classify(answer: &probe::HttpAnswer, log: &[String]) -> Probe {
    let body = text_lines(&answer.body_prefix);
    let mentions = |needles: &[&str]| {
        needles.iter().any(|n| {
            answer.body_prefix.contains(n) || log.iter().rev().take(40).any(|l| l.contains(n))
        })
    };
    let problem = match answer.status {
        500..=599 => Some(format!("server error {}", answer.status)),
        // Django's own page for a disallowed host when DEBUG is off, which logs nothing.
        400 if mentions(&[
            "DisallowedHost",
            "Invalid HTTP_HOST header",
            "<h1>Bad Request (400)</h1>",
        ]) =>
        {
            Some("the framework refused the host name (Django's ALLOWED_HOSTS)".to_string())
        }
        403 | 421
            if mentions(&[
                "Blocked request. This host",
                "Invalid Host header",
                "is not allowed",
                "allowedHosts",
            ]) =>
        {
            Some("the dev server refused the host name (its host check)".to_string())
        }
        _ => None,
    };
    Probe {
        path: answer.path.clone(),
        status: answer.status,
        ok: problem.is_none(),
        body: if problem.is_some() { body } else { Vec::new() },
        problem,
    }
}

/// The failure of a service that answers, but wrongly: the page's first lines and the
/// traceback the service logged go to the Fixer.
async fn broken(
    mut report: HealthReport,
    svc: &ServiceReport,
    host: &str,
    port: u16,
    page: Probe,
    runner: &str,
    run: &RunId,
) -> StageFailure {
    let seen = observe(runner, run).await;
    if let Some(seen) = &seen {
        report.output = seen.output.clone();
    }
    let tail = seen.map(|s| s.output.tail).unwrap_or_default();
    report.traceback = traceback(&tail);
    let problem = page.problem.clone().unwrap_or_else(|| "not healthy".into());
    report.checks = vec![
        ok(Rung::ProcessAlive, format!("pid {}", svc.pid.unwrap_or(0))),
        ok(Rung::PortOpen, format!("{host}:{port} accepts connections")),
        RungCheck {
            rung: Rung::HttpAnswers,
            ok: false,
            detail: format!("GET {} answered {} ({problem})", page.path, page.status),
        },
    ];
    report.rung = Rung::PortOpen;
    report.http = Some((page.path.clone(), page.status));
    let why = format!(
        "the service answers, but GET {} answered {}: {problem}{}",
        page.path,
        page.status,
        report
            .traceback
            .last()
            .or(page.body.first())
            .map(|l| format!(": {}", l.trim()))
            .unwrap_or_default()
    );
    let mut lines = vec![format!(
        "GET {} answered {}: {problem}",
        page.path, page.status
    )];
    lines.extend(page.body.iter().cloned());
    lines.extend(report.traceback.iter().cloned());
    // The log's error lines too: a misconfiguration is often only logged, not raised.
    lines.extend(report.output.errors.iter().rev().take(20).rev().cloned());
    fail(report, &why, lines)
}

/// The last traceback, panic or error stack in `lines`: Python's `Traceback (most
/// recent call last)` block to its exception line, a Rust panic, or a JavaScript error
/// with its `at` lines.
pub fn traceback(lines: &[String]) -> Vec<String> {
    const MOST: usize = 80;
    if let Some(start) = lines
        .iter()
        .rposition(|l| l.contains("Traceback (most recent call last)"))
    {
        let mut out = Vec::new();
        for (i, l) in lines[start..].iter().enumerate() {
            out.push(l.clone());
            let indented = l.starts_with(' ') || l.starts_with('\t');
            // The exception line: the first unindented line after the frames.
            if i > 0 && !indented && !l.contains("Traceback (most recent call last)") {
                break;
            }
            if out.len() >= MOST {
                break;
            }
        }
        return out;
    }
    if let Some(start) = lines.iter().rposition(|l| l.contains("panicked at")) {
        return lines[start..].iter().take(12).cloned().collect();
    }
    if let Some(at) = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with("at "))
    {
        // Back from the last `at` line to the error line it belongs to.
        let mut start = at;
        while start > 0 && lines[start].trim_start().starts_with("at ") {
            start -= 1;
        }
        return lines[start..=at].iter().take(MOST).cloned().collect();
    }
    Vec::new()
}

/// The text of an HTML (or plain) body: tags, scripts and styles dropped, entities read,
/// its first non-empty lines.
fn text_lines(body: &str) -> Vec<String> {
    const LINES: usize = 12;
    let mut text = String::with_capacity(body.len());
    let lower = body.to_ascii_lowercase();
    let mut i = 0;
    let bytes = body.as_bytes();
    while i < bytes.len() {
        if bytes[i] == b'<' {
            // Skip whole <script> and <style> elements.
            let skip_to = ["script", "style"].iter().find_map(|t| {
                lower[i..]
                    .starts_with(&format!("<{t}"))
                    .then(|| {
                        lower[i..]
                            .find(&format!("</{t}>"))
                            .map(|e| i + e + t.len() + 3)
                    })
                    .flatten()
            });
            if let Some(end) = skip_to {
                i = end;
                continue;
            }
            match body[i..].find('>') {
                Some(e) => {
                    let tag = &lower[i..i + e];
                    if [
                        "<br", "<p", "</p", "<div", "</div", "<h", "</h", "<li", "<tr", "</tr",
                        "<pre", "</pre", "<title", "</title",
                    ]
                    .iter()
                    .any(|t| tag.starts_with(t))
                    {
                        text.push('\n');
                    }
                    i += e + 1;
                }
                None => break,
            }
            continue;
        }
        let ch = body[i..].chars().next().unwrap_or(' ');
        text.push(ch);
        i += ch.len_utf8();
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .map(|l| l.chars().take(300).collect())
        .take(LINES)
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(path: &str, status: u16, body: &str) -> probe::HttpAnswer {
        probe::HttpAnswer {
            path: path.into(),
            status,
            location: None,
            elapsed: Duration::ZERO,
            body_prefix: body.into(),
        }
    }

    #[test]
    fn a_server_error_or_a_refused_host_is_not_healthy() {
        assert!(classify(&answer("/", 200, "ok"), &[]).ok);
        assert!(classify(&answer("/", 302, ""), &[]).ok);
        assert!(classify(&answer("/", 401, ""), &[]).ok);
        assert!(classify(&answer("/", 422, "{}"), &[]).ok);
        let e = classify(&answer("/", 500, "<h1>Internal Server Error</h1>"), &[]);
        assert!(!e.ok);
        assert_eq!(e.body, vec!["Internal Server Error"]);
        let log = vec![
            "Invalid HTTP_HOST header: '127.0.0.1:8000'. You may need to add '127.0.0.1' to ALLOWED_HOSTS."
                .to_string(),
        ];
        assert!(!classify(&answer("/", 400, "<h1>Bad Request (400)</h1>"), &log).ok);
        assert!(classify(&answer("/", 400, "bad form"), &[]).ok);
        assert!(
            !classify(
                &answer(
                    "/",
                    403,
                    "Blocked request. This host (\"x\") is not allowed."
                ),
                &[]
            )
            .ok
        );
        assert!(classify(&answer("/", 403, "Forbidden"), &[]).ok);
    }

    fn probe(path: &str, status: u16) -> Probe {
        classify(&answer(path, status, ""), &[])
    }

    #[test]
    fn the_home_page_decides_when_it_fails() {
        let r = verdict(&[probe("/", 500), probe("/docs", 200)]);
        assert!(matches!(r, Round::Broken(p) if p.path == "/"));
        let r = verdict(&[probe("/", 404), probe("/api/items", 200)]);
        assert!(matches!(r, Round::Answered(p) if p.path == "/api/items"));
        let r = verdict(&[probe("/", 404), probe("/health", 404)]);
        assert!(matches!(r, Round::Answered(p) if p.path == "/"));
        let r = verdict(&[probe("/", 404), probe("/x", 401)]);
        assert!(matches!(r, Round::Answered(p) if p.path == "/x"));
    }

    #[test]
    fn pages_start_at_the_root_once() {
        let p = pages(&[
            "/".into(),
            "/docs".into(),
            "relative".into(),
            "/api/items".into(),
        ]);
        assert_eq!(
            p,
            vec!["/", "/docs", "/api/items", "/health", "/healthz", "/api"]
        );
    }

    #[test]
    fn tracebacks_are_cut_from_the_log() {
        let log: Vec<String> = [
            "INFO: started",
            "Traceback (most recent call last):",
            "  File \"app.py\", line 3, in index",
            "    rows = db.execute('select * from posts')",
            "sqlite3.OperationalError: no such table: posts",
            "INFO: 127.0.0.1 GET / 500",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let t = traceback(&log);
        assert_eq!(t.len(), 4);
        assert_eq!(
            t.last().unwrap(),
            "sqlite3.OperationalError: no such table: posts"
        );
        let node: Vec<String> = [
            "listening",
            "TypeError: x is not a function",
            "    at f (/a.js:1:1)",
            "    at g (/b.js:2:2)",
            "next",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(traceback(&node).len(), 3);
    }

    #[test]
    fn html_bodies_read_as_text() {
        let body = "<html><head><style>body { color: red }</style><title>OperationalError at /</title></head><body><h1>OperationalError</h1><pre>no such table: posts</pre></body></html>";
        assert_eq!(
            text_lines(body),
            vec![
                "OperationalError at /",
                "OperationalError",
                "no such table: posts"
            ]
        );
    }
}
