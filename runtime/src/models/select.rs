//! How the ModelManager picks where a model runs: on a GPU of an up node that serves it,
//! if the asker's tier allows that GPU; else on the CPU of a node that serves it; else on
//! rules, which need no model. Every option passed over is recorded with the reason, so a
//! run report can say why it got the backend it got.

use super::Backend;
use reporunner_protocols::access::Tier;
use reporunner_protocols::cluster::{Member, NodeState};
use reporunner_protocols::ids::NodeId;
use serde::{Deserialize, Serialize};

/// What a model needs to run on a GPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The model's name, as nodes list it in `NodeInfo::models`.
    pub name: String,
    /// The VRAM it needs on a GPU, in MiB (weights, cache and activations).
    pub vram_mib: u64,
}

/// A request for a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectRequest<'a> {
    /// The model wanted.
    pub model: &'a ModelSpec,
    /// The asker's tier.
    pub tier: Tier,
    /// The node asking, preferred for the CPU (no data to move).
    pub local: &'a NodeId,
}

/// Where the model runs, and why not somewhere better.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// The backend.
    pub backend: Backend,
    /// The node it runs on (none for rules).
    pub node: Option<NodeId>,
    /// The options passed over, best first, each with its reason.
    pub passed_over: Vec<String>,
}

/// Picks the backend for `request` among `nodes` (the membership view, this node
/// included), preferring nodes where the model is already `loaded`.
pub fn select(request: &SelectRequest<'_>, nodes: &[Member], loaded: &[NodeId]) -> Choice {
    let model = &request.model.name;
    let mut passed_over = Vec::new();
    let serving: Vec<&Member> = nodes
        .iter()
        .filter(|m| m.info.models.iter().any(|x| x == model))
        .collect();
    if serving.is_empty() {
        passed_over.push(format!("no node serves {model}"));
    }
    for m in serving.iter().filter(|m| m.state == NodeState::Down) {
        passed_over.push(format!("{} serves {model} but is down", m.info.node));
    }
    let up: Vec<&Member> = serving
        .into_iter()
        .filter(|m| m.state == NodeState::Up)
        .collect();
    // The GPU, if the tier allows one big enough.
    let gpu_nodes: Vec<&Member> = up.iter().copied().filter(|m| m.info.has_gpu()).collect();
    if !gpu_nodes.is_empty() {
        match request.tier.gpu().allows(true, request.model.vram_mib) {
            Err(reason) => passed_over.push(format!("GPU: {reason}")),
            Ok(()) => {
                let fits: Vec<&Member> = gpu_nodes
                    .iter()
                    .copied()
                    .filter(|m| {
                        let best = m.info.gpus.iter().map(|g| g.memory_total_mib).max();
                        // A GPU stated by a label with no size is taken to fit.
                        best.is_none_or(|b| b == 0 || b >= request.model.vram_mib)
                    })
                    .collect();
                for m in gpu_nodes
                    .iter()
                    .filter(|m| !fits.iter().any(|f| f.info.node == m.info.node))
                {
                    passed_over.push(format!(
                        "{}: its GPU has less than the {} MiB {model} needs",
                        m.info.node, request.model.vram_mib
                    ));
                }
                if let Some(best) = pick(&fits, loaded) {
                    // Its largest GPU.
                    let ordinal = best
                        .info
                        .gpus
                        .iter()
                        .max_by_key(|g| g.memory_total_mib)
                        .map(|g| g.index as usize)
                        .unwrap_or(0);
                    return Choice {
                        backend: Backend::Cuda { ordinal },
                        node: Some(best.info.node.clone()),
                        passed_over,
                    };
                }
            }
        }
    } else if !up.is_empty() {
        passed_over.push(format!("no up node that serves {model} has a GPU"));
    }
    // The CPU: this node if it serves the model, else the least loaded that does.
    let local = up.iter().copied().find(|m| &m.info.node == request.local);
    if let Some(node) = local.or_else(|| pick(&up, loaded)) {
        return Choice {
            backend: Backend::Cpu,
            node: Some(node.info.node.clone()),
            passed_over,
        };
    }
    Choice {
        backend: Backend::Rules,
        node: None,
        passed_over,
    }
}

/// The node to use among `candidates`: one where the model is loaded, else the least
/// loaded, then by name.
fn pick<'a>(candidates: &[&'a Member], loaded: &[NodeId]) -> Option<&'a Member> {
    candidates.iter().copied().min_by(|a, b| {
        let la = !loaded.contains(&a.info.node);
        let lb = !loaded.contains(&b.info.node);
        la.cmp(&lb)
            .then(a.info.load.total_cmp(&b.info.load))
            .then(a.info.node.as_str().cmp(b.info.node.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reporunner_protocols::cluster::NodeInfo;
    use reporunner_protocols::host::GpuInfo;
    use std::collections::BTreeMap;

    const SMOL: &str = "SmolLM2-135M-Instruct";

    fn member(name: &str, gpu_mib: Option<u64>, models: &[&str], up: bool, load: f32) -> Member {
        Member {
            info: NodeInfo {
                node: NodeId::new(name),
                address: "127.0.0.1:1".into(),
                head: name == "head",
                cpus: 2,
                memory_bytes: 1 << 34,
                gpus: gpu_mib
                    .map(|mib| GpuInfo {
                        index: 0,
                        name: "L4".into(),
                        memory_total_mib: mib,
                        memory_free_mib: mib,
                        driver: "550".into(),
                    })
                    .into_iter()
                    .collect(),
                models: models.iter().map(|m| m.to_string()).collect(),
                labels: BTreeMap::new(),
                agents: 0,
                load,
                started_ms: 0,
                running: vec![],
                admin: String::new(),
            },
            state: if up { NodeState::Up } else { NodeState::Down },
            last_seen_ms: 0,
        }
    }

    fn spec(vram_mib: u64) -> ModelSpec {
        ModelSpec {
            name: SMOL.into(),
            vram_mib,
        }
    }

    fn ask<'a>(model: &'a ModelSpec, tier: Tier, local: &'a NodeId) -> SelectRequest<'a> {
        SelectRequest { model, tier, local }
    }

    #[test]
    fn a_gpu_node_that_serves_the_model_wins_for_a_tier_that_allows_it() {
        let head = NodeId::new("head");
        let nodes = vec![
            member("head", None, &[SMOL], true, 0.0),
            member("gpu-1", Some(24_000), &[SMOL], true, 1.0),
            member("gpu-2", Some(24_000), &[SMOL], true, 0.5),
        ];
        let s = spec(600);
        let c = select(&ask(&s, Tier::Premium, &head), &nodes, &[]);
        assert_eq!(c.backend, Backend::Cuda { ordinal: 0 });
        assert_eq!(c.node, Some(NodeId::new("gpu-2")));
        // Where the model is loaded already beats a lighter load.
        let c = select(
            &ask(&s, Tier::Premium, &head),
            &nodes,
            &[NodeId::new("gpu-1")],
        );
        assert_eq!(c.node, Some(NodeId::new("gpu-1")));
    }

    #[test]
    fn a_tier_without_the_gpu_falls_back_to_the_cpu_and_says_why() {
        let head = NodeId::new("head");
        let nodes = vec![
            member("head", None, &[SMOL], true, 0.0),
            member("gpu-1", Some(24_000), &[SMOL], true, 0.0),
        ];
        let s = spec(600);
        let c = select(&ask(&s, Tier::Free, &head), &nodes, &[]);
        assert_eq!(c.backend, Backend::Cpu);
        assert_eq!(c.node, Some(head.clone()));
        assert_eq!(c.passed_over, vec!["GPU: the tier has no GPU access"]);
        // Advanced has small GPUs only: a 16 GiB model is too big for its grant.
        let big = spec(16_000);
        let c = select(&ask(&big, Tier::Advanced, &head), &nodes, &[]);
        assert_eq!(c.backend, Backend::Cpu);
        assert!(
            c.passed_over[0].contains("small (up to 8192 MiB"),
            "{:?}",
            c.passed_over
        );
        // Tester's medium grant covers it.
        let c = select(&ask(&big, Tier::Tester, &head), &nodes, &[]);
        assert_eq!(c.node, Some(NodeId::new("gpu-1")));
    }

    #[test]
    fn a_down_gpu_node_is_passed_over() {
        let head = NodeId::new("head");
        let nodes = vec![
            member("head", None, &[SMOL], true, 0.0),
            member("gpu-1", Some(24_000), &[SMOL], false, 0.0),
        ];
        let s = spec(600);
        let c = select(
            &ask(&s, Tier::Developer, &head),
            &nodes,
            &[NodeId::new("gpu-1")],
        );
        assert_eq!(c.backend, Backend::Cpu);
        assert_eq!(c.node, Some(head));
        assert!(
            c.passed_over
                .iter()
                .any(|r| r == "gpu-1 serves SmolLM2-135M-Instruct but is down"),
            "{:?}",
            c.passed_over
        );
    }

    #[test]
    fn a_model_no_node_serves_falls_back_to_rules() {
        let head = NodeId::new("head");
        let nodes = vec![
            member("head", None, &[], true, 0.0),
            member("gpu-1", Some(24_000), &["other"], true, 0.0),
        ];
        let s = spec(600);
        let c = select(&ask(&s, Tier::Developer, &head), &nodes, &[]);
        assert_eq!(c.backend, Backend::Rules);
        assert_eq!(c.node, None);
        assert_eq!(c.passed_over, vec!["no node serves SmolLM2-135M-Instruct"]);
    }

    #[test]
    fn a_gpu_too_small_for_the_model_is_passed_over() {
        let head = NodeId::new("head");
        let nodes = vec![
            member("head", None, &[SMOL], true, 0.0),
            member("gpu-1", Some(4_000), &[SMOL], true, 0.0),
        ];
        let s = spec(6_000);
        let c = select(&ask(&s, Tier::Developer, &head), &nodes, &[]);
        assert_eq!(c.backend, Backend::Cpu);
        assert!(
            c.passed_over[0].contains("less than the 6000 MiB"),
            "{:?}",
            c.passed_over
        );
    }
}
