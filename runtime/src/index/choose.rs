//! Which indexer a request gets, decided in this order: explicit config, then the tier,
//! then the agents' advice (memory from the EnvDetector, the embedder from the
//! ModelManager), then the host. The seed's rules:
//!
//! - Free is always Simple.
//! - Advanced uses Vector if it is recommended (the embedder is there and memory allows).
//! - Tester is always Vector (when there is an embedder at all).
//! - Premium, Admin and Developer get the best available: Collection where there is a
//!   store to keep it in, else Vector, else Simple.
//!
//! A tier never gets an indexer above its rights: asking for one is refused. Where the
//! embedder is missing, the choice falls back to Simple, and says why.

use super::{IndexError, IndexKind};
use reporunner_protocols::access::Tier;
use serde::{Deserialize, Serialize};

/// What the agents advise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexAdvice {
    /// Why there is no embedding model, when there is none (the ModelManager's word).
    pub embedder_missing: Option<String>,
    /// The memory available, in bytes (the EnvDetector's word); 0 when unknown.
    pub memory_available: u64,
    /// Whether a store is there to keep a collection in.
    pub persistent: bool,
}

/// The least memory a vector index is recommended with.
pub const VECTOR_MEMORY: u64 = 1024 * 1024 * 1024;

/// The indexer chosen, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexChoice {
    /// The indexer.
    pub kind: IndexKind,
    /// Each reason, in the order the rules applied.
    pub reasons: Vec<String>,
}

/// The best indexer `tier` may use.
pub fn allowed(tier: Tier) -> IndexKind {
    match tier {
        Tier::Free => IndexKind::Simple,
        Tier::Advanced | Tier::Tester => IndexKind::Vector,
        Tier::Premium | Tier::Admin | Tier::Developer => IndexKind::Collection,
    }
}

/// Chooses the indexer for `tier`, given an `explicit` request and the `advice`.
///
/// # Errors
/// [`IndexError::Forbidden`] when `explicit` is above the tier's rights.
pub fn choose(
    explicit: Option<IndexKind>,
    tier: Tier,
    advice: &IndexAdvice,
) -> Result<IndexChoice, IndexError> {
    let best = allowed(tier);
    let mut reasons = Vec::new();
    if let Some(asked) = explicit
        && asked > best
    {
        return Err(IndexError::Forbidden {
            tier: tier.to_string(),
            asked,
            allowed: best,
        });
    }
    let mut kind = match explicit {
        Some(asked) => {
            reasons.push(format!("{asked} was asked for"));
            asked
        }
        None => {
            let by_tier = match tier {
                Tier::Free => "the free tier is always simple".to_string(),
                Tier::Advanced => "the advanced tier uses vector if it is recommended".into(),
                Tier::Tester => "the tester tier is always vector".into(),
                _ => format!("the {tier} tier gets the best available"),
            };
            reasons.push(by_tier);
            best
        }
    };
    if tier == Tier::Advanced
        && explicit.is_none()
        && kind == IndexKind::Vector
        && advice.memory_available != 0
        && advice.memory_available < VECTOR_MEMORY
    {
        reasons.push(format!(
            "vector is not recommended: {} MiB of memory available, {} wanted",
            advice.memory_available / (1024 * 1024),
            VECTOR_MEMORY / (1024 * 1024)
        ));
        kind = IndexKind::Simple;
    }
    if kind == IndexKind::Collection && !advice.persistent {
        reasons.push("no store to keep a collection in: vector instead".into());
        kind = IndexKind::Vector;
    }
    if kind > IndexKind::Simple
        && let Some(why) = &advice.embedder_missing
    {
        reasons.push(format!("no embedding model ({why}): simple instead"));
        kind = IndexKind::Simple;
    }
    Ok(IndexChoice { kind, reasons })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advice() -> IndexAdvice {
        IndexAdvice {
            embedder_missing: None,
            memory_available: 8 * VECTOR_MEMORY,
            persistent: true,
        }
    }

    #[test]
    fn each_tier_gets_its_seed_rule() {
        let a = advice();
        let kind = |t| choose(None, t, &a).unwrap().kind;
        assert_eq!(kind(Tier::Free), IndexKind::Simple);
        assert_eq!(kind(Tier::Advanced), IndexKind::Vector);
        assert_eq!(kind(Tier::Tester), IndexKind::Vector);
        assert_eq!(kind(Tier::Premium), IndexKind::Collection);
        assert_eq!(kind(Tier::Admin), IndexKind::Collection);
        assert_eq!(kind(Tier::Developer), IndexKind::Collection);
    }

    #[test]
    fn a_tier_above_its_rights_is_refused() {
        let e = choose(Some(IndexKind::Vector), Tier::Free, &advice()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the free tier may not use the vector index: its best is simple"
        );
        assert!(choose(Some(IndexKind::Collection), Tier::Tester, &advice()).is_err());
        let c = choose(Some(IndexKind::Simple), Tier::Developer, &advice()).unwrap();
        assert_eq!(c.kind, IndexKind::Simple);
    }

    #[test]
    fn the_advice_lowers_the_choice_with_the_reason() {
        let mut a = advice();
        a.memory_available = 256 * 1024 * 1024;
        let c = choose(None, Tier::Advanced, &a).unwrap();
        assert_eq!(c.kind, IndexKind::Simple);
        assert!(c.reasons[1].contains("not recommended"), "{c:?}");
        // Tester is always vector, memory or not.
        assert_eq!(
            choose(None, Tier::Tester, &a).unwrap().kind,
            IndexKind::Vector
        );

        let mut a = advice();
        a.embedder_missing = Some("all-MiniLM-L6-v2 is not installed".into());
        let c = choose(None, Tier::Developer, &a).unwrap();
        assert_eq!(c.kind, IndexKind::Simple);
        assert!(c.reasons.last().unwrap().contains("not installed"));

        let mut a = advice();
        a.persistent = false;
        assert_eq!(
            choose(None, Tier::Premium, &a).unwrap().kind,
            IndexKind::Vector
        );
    }
}
