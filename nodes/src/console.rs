//! The console: a TUI (ratatui) attached to a node's supervisor through the HTTP API. It
//! shows the cluster's nodes, the live actor tree with restart counts, the runs and the
//! events of the selected one as they happen, and the audit log; and it offers the Admin
//! agent's actions (spawn, restart, stop, checkpoint) to the tiers the matrix allows them,
//! and stopping a run to its owner.
//!
//! Two halves share a [`Model`]: a task that refreshes it from the API every second and
//! carries out actions, and a thread that draws it and reads keys.

use crate::api::client::{ApiClient, ClientError};
use anyhow::Context as _;
use ratatui::Frame;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph, Wrap};
use reporunner_actors::users::AuditEntry;
use reporunner_protocols::admin::{ActorStatus, ActorTree};
use reporunner_protocols::cluster::{Member, NodeState};
use reporunner_protocols::run::{RunEvent, RunRecord, RunStatus};
use serde::Deserialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the console reads the node again.
pub const REFRESH: Duration = Duration::from_secs(1);

/// The caller, as `/v1/me` gives it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Me {
    /// The user.
    pub name: String,
    /// The tier's name.
    pub tier: String,
    /// Whether the tier sees the admin functions (tree, nodes, audit).
    pub manages_users: bool,
    /// Whether the tier controls the Admin agent (spawn, stop, restart, checkpoint).
    pub controls_admin: bool,
}

/// Which list the arrow keys move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    /// The actor tree.
    #[default]
    Tree,
    /// The runs.
    Runs,
}

/// Everything the console shows.
#[derive(Debug, Default)]
pub struct Model {
    /// The server.
    pub url: String,
    /// The caller.
    pub me: Me,
    /// The cluster's nodes, or why not.
    pub nodes: Option<Result<Vec<Member>, String>>,
    /// The live tree, or why not.
    pub tree: Option<Result<ActorTree, String>>,
    /// The runs the caller sees, newest first.
    pub runs: Option<Result<Vec<RunRecord>, String>>,
    /// The run whose events are shown, and its events so far.
    pub events: Option<(String, Vec<RunEvent>)>,
    /// The last audit entries, or why not.
    pub audit: Option<Result<Vec<AuditEntry>, String>>,
    /// The outcome of the last action, for the status line.
    pub status: String,
    /// Where the arrow keys go.
    pub focus: Focus,
    /// The selected actor (index into the flattened tree).
    pub tree_selected: usize,
    /// The selected run.
    pub runs_selected: usize,
    /// The spawn prompt being typed (`KIND NAME`), when open.
    pub prompt: Option<String>,
}

impl Model {
    /// The flattened tree: (depth, name, kind, status, restarts).
    fn actors(&self) -> Vec<(usize, String, String, ActorStatus, u32)> {
        match &self.tree {
            Some(Ok(tree)) => tree
                .flatten()
                .into_iter()
                .map(|(d, a)| (d, a.name.clone(), a.kind.clone(), a.status, a.restarts))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The selected actor's agent name (the part after the namespace's `agent.`), when it
    /// is an agent: managers are not the Admin's to restart or stop.
    fn selected_agent(&self) -> Result<String, String> {
        let actors = self.actors();
        let (_, name, ..) = actors
            .get(self.tree_selected)
            .ok_or_else(|| "select an agent in the tree".to_string())?;
        name.rsplit_once(".agent.")
            .map(|(_, agent)| agent.to_string())
            .ok_or_else(|| format!("{name} is not an agent: only agents are restarted or stopped"))
    }

    fn selected_run(&self) -> Option<String> {
        match &self.runs {
            Some(Ok(runs)) => runs.get(self.runs_selected).map(|r| r.id.to_string()),
            _ => None,
        }
    }

    /// The keys the caller's tier may use, for the help line.
    fn keys(&self) -> String {
        let mut keys = vec!["q quit", "tab focus", "↑↓ select"];
        if self.me.controls_admin {
            keys.extend(["n spawn", "r restart", "s stop agent", "c checkpoint"]);
        }
        keys.push("x stop run");
        keys.join(" · ")
    }
}

/// What a key asks the API for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Spawn { kind: String, name: String },
    Restart(String),
    StopAgent(String),
    Checkpoint,
    StopRun(String),
    Follow(String),
}

fn err_text(e: &ClientError) -> String {
    match e {
        ClientError::Api { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// `GET path`, or why not, in words.
async fn read<T: serde::de::DeserializeOwned>(client: &ApiClient, path: &str) -> Result<T, String> {
    client.get::<T>(path).await.map_err(|e| err_text(&e))
}

async fn refresh(client: &ApiClient, model: &Mutex<Model>) {
    let manages = lock(model).me.manages_users;
    let (runs, nodes, tree, audit) = if manages {
        let (runs, nodes, tree, audit) = tokio::join!(
            read::<Vec<RunRecord>>(client, "/v1/runs"),
            read::<Vec<Member>>(client, "/v1/cluster/nodes"),
            read::<ActorTree>(client, "/v1/admin/tree"),
            read::<Vec<AuditEntry>>(client, "/v1/audit?n=50"),
        );
        (runs, Some(nodes), Some(tree), Some(audit))
    } else {
        let no = |what: &str| format!("the {what} is for the admin and developer tiers");
        (
            read::<Vec<RunRecord>>(client, "/v1/runs").await,
            Some(Err(no("node list"))),
            Some(Err(no("actor tree"))),
            Some(Err(no("audit log"))),
        )
    };
    let mut m = lock(model);
    m.runs = Some(runs);
    m.nodes = nodes;
    m.tree = tree;
    m.audit = audit;
    let actors = m.actors().len();
    m.tree_selected = m.tree_selected.min(actors.saturating_sub(1));
    let runs = match &m.runs {
        Some(Ok(r)) => r.len(),
        _ => 0,
    };
    m.runs_selected = m.runs_selected.min(runs.saturating_sub(1));
}

fn lock(model: &Mutex<Model>) -> std::sync::MutexGuard<'_, Model> {
    model.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads a run's events into the model as they arrive, while it is the one followed.
async fn follow(client: ApiClient, model: Arc<Mutex<Model>>, run: String) {
    let path = format!("/v1/runs/{run}/events");
    let mut stream = match client.events(&path, None).await {
        Ok(s) => s,
        Err(e) => {
            lock(&model).status = format!("events of {run}: {}", err_text(&e));
            return;
        }
    };
    while let Ok(Some(e)) = stream.next().await {
        let Ok(event) = serde_json::from_str::<RunEvent>(&e.data) else {
            continue;
        };
        let mut m = lock(&model);
        match &mut m.events {
            Some((id, events)) if *id == run => events.push(event),
            _ => return,
        }
    }
}

async fn act(client: &ApiClient, model: &Arc<Mutex<Model>>, action: Action) -> String {
    let empty = serde_json::json!(null);
    let result: Result<String, ClientError> = match action {
        Action::Spawn { kind, name } => client
            .post::<_, serde_json::Value>(
                "/v1/admin/agents",
                &serde_json::json!({"kind": kind, "name": name}),
            )
            .await
            .map(|_| format!("spawned {name} ({kind})")),
        Action::Restart(name) => client
            .post::<_, serde_json::Value>(&format!("/v1/admin/agents/{name}/restart"), &empty)
            .await
            .map(|_| format!("restarted {name}")),
        Action::StopAgent(name) => client
            .post::<_, serde_json::Value>(&format!("/v1/admin/agents/{name}/stop"), &empty)
            .await
            .map(|_| format!("stopped {name}")),
        Action::Checkpoint => client
            .post::<_, serde_json::Value>("/v1/admin/checkpoint", &empty)
            .await
            .map(|v| format!("checkpoint written: {} agents", v["agents"])),
        Action::StopRun(id) => client
            .post::<_, serde_json::Value>(&format!("/v1/runs/{id}/stop"), &empty)
            .await
            .map(|_| format!("stopped run {id}")),
        Action::Follow(run) => {
            lock(model).events = Some((run.clone(), Vec::new()));
            tokio::spawn(follow(client.clone(), model.clone(), run.clone()));
            return format!("following {run}");
        }
    };
    match result {
        Ok(done) => done,
        Err(e) => format!("refused: {}", err_text(&e)),
    }
}

/// Runs the console against the server of `client` until the user quits.
///
/// # Errors
/// If the server cannot be reached or refuses the token, or the terminal fails.
pub async fn run(client: ApiClient) -> anyhow::Result<()> {
    let me: Me = client
        .get("/v1/me")
        .await
        .with_context(|| format!("attaching to {}", client.url()))?;
    let model = Arc::new(Mutex::new(Model {
        url: client.url().to_string(),
        me,
        status: "attached".into(),
        ..Model::default()
    }));
    let (actions, mut todo) = mpsc::unbounded_channel::<Action>();
    let (done_tx, mut done) = mpsc::channel::<()>(1);
    let ui_model = model.clone();
    let ui = std::thread::spawn(move || {
        let result = draw_loop(&ui_model, &actions);
        let _ = done_tx.blocking_send(());
        result
    });
    refresh(&client, &model).await;
    let mut tick = tokio::time::interval(REFRESH);
    loop {
        tokio::select! {
            _ = done.recv() => break,
            _ = tick.tick() => refresh(&client, &model).await,
            Some(action) = todo.recv() => {
                let status = act(&client, &model, action).await;
                lock(&model).status = status;
                refresh(&client, &model).await;
            }
        }
    }
    ui.join()
        .map_err(|_| anyhow::anyhow!("the console's drawing thread panicked"))?
}

fn draw_loop(model: &Mutex<Model>, actions: &mpsc::UnboundedSender<Action>) -> anyhow::Result<()> {
    let mut terminal = ratatui::init();
    let result = (|| -> anyhow::Result<()> {
        loop {
            {
                let mut m = lock(model);
                // The selected run's events follow the selection.
                if let Some(run) = m.selected_run()
                    && m.events.as_ref().is_none_or(|(id, _)| *id != run)
                {
                    m.events = Some((run.clone(), Vec::new()));
                    let _ = actions.send(Action::Follow(run));
                }
                terminal.draw(|f| draw(f, &m))?;
            }
            if !event::poll(Duration::from_millis(100))? {
                continue;
            }
            let Event::Key(key) = event::read()? else {
                continue;
            };
            if key.kind != KeyEventKind::Press {
                continue;
            }
            let mut m = lock(model);
            if let Some(prompt) = &mut m.prompt {
                match key.code {
                    KeyCode::Esc => m.prompt = None,
                    KeyCode::Backspace => {
                        prompt.pop();
                    }
                    KeyCode::Enter => {
                        let line = m.prompt.take().unwrap_or_default();
                        let mut words = line.split_whitespace();
                        match (words.next(), words.next()) {
                            (Some(kind), Some(name)) => {
                                let _ = actions.send(Action::Spawn {
                                    kind: kind.into(),
                                    name: name.into(),
                                });
                            }
                            _ => m.status = "spawn needs KIND NAME".into(),
                        }
                    }
                    KeyCode::Char(c) => prompt.push(c),
                    _ => {}
                }
                continue;
            }
            let admin_only = |m: &mut Model| {
                if !m.me.controls_admin {
                    m.status = format!(
                        "the {} tier may not control the Admin agent (developer only)",
                        m.me.tier
                    );
                    false
                } else {
                    true
                }
            };
            match key.code {
                KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
                KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    return Ok(());
                }
                KeyCode::Tab => {
                    m.focus = match m.focus {
                        Focus::Tree => Focus::Runs,
                        Focus::Runs => Focus::Tree,
                    }
                }
                KeyCode::Down | KeyCode::Char('j') => match m.focus {
                    Focus::Tree => {
                        let n = m.actors().len();
                        m.tree_selected = (m.tree_selected + 1).min(n.saturating_sub(1));
                    }
                    Focus::Runs => m.runs_selected += 1,
                },
                KeyCode::Up | KeyCode::Char('k') => match m.focus {
                    Focus::Tree => m.tree_selected = m.tree_selected.saturating_sub(1),
                    Focus::Runs => m.runs_selected = m.runs_selected.saturating_sub(1),
                },
                KeyCode::Char('n') if admin_only(&mut m) => m.prompt = Some(String::new()),
                KeyCode::Char('r') if admin_only(&mut m) => match m.selected_agent() {
                    Ok(name) => {
                        let _ = actions.send(Action::Restart(name));
                    }
                    Err(why) => m.status = why,
                },
                KeyCode::Char('s') if admin_only(&mut m) => match m.selected_agent() {
                    Ok(name) => {
                        let _ = actions.send(Action::StopAgent(name));
                    }
                    Err(why) => m.status = why,
                },
                KeyCode::Char('c') if admin_only(&mut m) => {
                    let _ = actions.send(Action::Checkpoint);
                }
                KeyCode::Char('x') => {
                    if let Some(id) = m.selected_run() {
                        let _ = actions.send(Action::StopRun(id));
                    }
                }
                _ => {}
            }
            if m.focus == Focus::Runs {
                let n = match &m.runs {
                    Some(Ok(r)) => r.len(),
                    _ => 0,
                };
                m.runs_selected = m.runs_selected.min(n.saturating_sub(1));
            }
        }
    })();
    ratatui::restore();
    result
}

fn titled(title: &str, focused: bool) -> Block<'_> {
    let style = if focused {
        Style::default().fg(Color::Yellow)
    } else {
        Style::default()
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(style)
        .title(format!(" {title} "))
}

fn age(ms: u64) -> String {
    let s = ms / 1000;
    if s < 120 {
        format!("{s}s")
    } else if s < 7200 {
        format!("{}m", s / 60)
    } else {
        format!("{}h", s / 3600)
    }
}

/// Draws the whole console.
pub fn draw(f: &mut Frame<'_>, m: &Model) {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(10),
        Constraint::Length(2),
    ])
    .areas(f.area());
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                " Repo Runner console ",
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!("· {} · {} ({})", m.url, m.me.name, m.me.tier)),
        ])),
        header,
    );
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(body);
    let [nodes_area, tree_area] =
        Layout::vertical([Constraint::Length(6), Constraint::Min(5)]).areas(left);
    let [runs_area, events_area, audit_area] = Layout::vertical([
        Constraint::Length(8),
        Constraint::Min(6),
        Constraint::Length(8),
    ])
    .areas(right);
    draw_nodes(f, nodes_area, m);
    draw_tree(f, tree_area, m);
    draw_runs(f, runs_area, m);
    draw_events(f, events_area, m);
    draw_audit(f, audit_area, m);
    let status = match &m.prompt {
        Some(p) => format!("spawn (KIND NAME, enter to spawn, esc to cancel): {p}_"),
        None => m.status.clone(),
    };
    f.render_widget(
        Paragraph::new(vec![
            Line::from(Span::styled(
                format!(" {}", m.keys()),
                Style::default().fg(Color::Cyan),
            )),
            Line::from(format!(" {status}")),
        ]),
        footer,
    );
}

fn refusal(f: &mut Frame<'_>, area: Rect, block: Block<'_>, why: &str) {
    f.render_widget(
        Paragraph::new(why.to_string())
            .block(block)
            .wrap(Wrap { trim: true }),
        area,
    );
}

/// A list whose `selected` item is marked (`▶`, reversed), scrolled to keep it in view.
fn selectable(
    f: &mut Frame<'_>,
    area: Rect,
    block: Block<'_>,
    items: Vec<ListItem<'_>>,
    selected: usize,
) {
    let mut state = ListState::default().with_selected(Some(selected));
    f.render_stateful_widget(
        List::new(items)
            .block(block)
            .highlight_style(Style::default().add_modifier(Modifier::REVERSED))
            .highlight_symbol("▶ "),
        area,
        &mut state,
    );
}

fn draw_nodes(f: &mut Frame<'_>, area: Rect, m: &Model) {
    let block = titled("Nodes", false);
    match &m.nodes {
        Some(Ok(nodes)) => {
            let items: Vec<ListItem<'_>> = nodes
                .iter()
                .map(|n| {
                    let up = n.state == NodeState::Up;
                    ListItem::new(format!(
                        "{} {}{} {} cpus {} GiB {} gpus {} agents",
                        if up { "●" } else { "○" },
                        n.info.node,
                        if n.info.head { " (head)" } else { "" },
                        n.info.cpus,
                        n.info.memory_bytes >> 30,
                        n.info.gpus.len(),
                        n.info.agents,
                    ))
                    .style(if up {
                        Style::default().fg(Color::Green)
                    } else {
                        Style::default().fg(Color::Red)
                    })
                })
                .collect();
            f.render_widget(List::new(items).block(block), area);
        }
        Some(Err(why)) => refusal(f, area, block, why),
        None => refusal(f, area, block, "reading…"),
    }
}

fn draw_tree(f: &mut Frame<'_>, area: Rect, m: &Model) {
    let block = titled("Actor tree (restarts)", m.focus == Focus::Tree);
    match &m.tree {
        Some(Ok(_)) => {
            let items: Vec<ListItem<'_>> = m
                .actors()
                .into_iter()
                .map(|(depth, name, kind, status, restarts)| {
                    let colour = match status {
                        ActorStatus::Running => Color::Reset,
                        ActorStatus::Restarting => Color::Yellow,
                        ActorStatus::Stopped => Color::DarkGray,
                    };
                    ListItem::new(format!(
                        "{:indent$}{name} [{kind}] {status} ↻{restarts}",
                        "",
                        indent = depth * 2
                    ))
                    .style(Style::default().fg(colour))
                })
                .collect();
            selectable(f, area, block, items, m.tree_selected);
        }
        Some(Err(why)) => refusal(f, area, block, why),
        None => refusal(f, area, block, "reading…"),
    }
}

fn draw_runs(f: &mut Frame<'_>, area: Rect, m: &Model) {
    let block = titled("Runs", m.focus == Focus::Runs);
    match &m.runs {
        Some(Ok(runs)) if runs.is_empty() => refusal(f, area, block, "no runs"),
        Some(Ok(runs)) => {
            let items: Vec<ListItem<'_>> = runs
                .iter()
                .map(|r| {
                    let colour = match r.status {
                        RunStatus::Running => Color::Yellow,
                        RunStatus::Succeeded => Color::Green,
                        RunStatus::Failed => Color::Red,
                        _ => Color::DarkGray,
                    };
                    let phase = r
                        .phases
                        .last()
                        .map(|p| format!("{} {}", p.name, p.status))
                        .unwrap_or_default();
                    ListItem::new(format!("{} {} · {phase}", r.id, r.status))
                        .style(Style::default().fg(colour))
                })
                .collect();
            selectable(f, area, block, items, m.runs_selected);
        }
        Some(Err(why)) => refusal(f, area, block, why),
        None => refusal(f, area, block, "reading…"),
    }
}

fn draw_events(f: &mut Frame<'_>, area: Rect, m: &Model) {
    let title = match &m.events {
        Some((run, _)) => format!("Events of {run}"),
        None => "Events".into(),
    };
    let block = titled(&title, false);
    let lines: Vec<ListItem<'_>> = match &m.events {
        Some((_, events)) => {
            let first = events.first().map_or(0, |e| e.at_ms);
            let shown = usize::from(area.height.saturating_sub(2));
            events
                .iter()
                .skip(events.len().saturating_sub(shown))
                .map(|e| {
                    ListItem::new(format!(
                        "+{:>6} {}",
                        age(e.at_ms.saturating_sub(first)),
                        e.message
                    ))
                })
                .collect()
        }
        None => vec![ListItem::new("select a run")],
    };
    f.render_widget(List::new(lines).block(block), area);
}

fn draw_audit(f: &mut Frame<'_>, area: Rect, m: &Model) {
    let block = titled("Audit log", false);
    match &m.audit {
        Some(Ok(entries)) => {
            let shown = usize::from(area.height.saturating_sub(2));
            let items: Vec<ListItem<'_>> = entries
                .iter()
                .skip(entries.len().saturating_sub(shown))
                .map(|e| {
                    let refused = e.outcome.starts_with("refused");
                    ListItem::new(format!(
                        "{} {} {} {}",
                        e.actor, e.action, e.target, e.outcome
                    ))
                    .style(if refused {
                        Style::default().fg(Color::Red)
                    } else {
                        Style::default()
                    })
                })
                .collect();
            f.render_widget(List::new(items).block(block), area);
        }
        Some(Err(why)) => refusal(f, area, block, why),
        None => refusal(f, area, block, "reading…"),
    }
}
