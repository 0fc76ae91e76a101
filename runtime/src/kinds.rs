//! The registry of agent kinds: name → factory. The Admin spawns from it at runtime, and
//! embedders register their own kinds in it.

use crate::supervision::ChildSpec;
use ractor::Actor;
use reporunner_protocols::ids::{AgentId, NodeId};
use reporunner_protocols::kinds::AgentKindDescriptor;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

/// Why a kind could not be registered or could not build an agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KindError {
    /// A kind of that name is already registered.
    #[error("agent kind {name:?} is already registered")]
    Duplicate {
        /// The kind.
        name: String,
    },
    /// The configuration given to the kind was refused.
    #[error("invalid config: {reason}")]
    InvalidConfig {
        /// What was wrong with it.
        reason: String,
    },
}

/// What a kind's factory is told about the agent to build.
#[derive(Debug, Clone)]
pub struct SpawnContext {
    /// The agent's logical name.
    pub name: AgentId,
    /// The name it will register under.
    pub registered_name: String,
    /// The node it will run on.
    pub node: NodeId,
    /// The namespace of its runtime, to find its peers by name.
    pub namespace: crate::naming::Namespace,
    /// Its configuration, as JSON (empty for the defaults).
    pub config: String,
    /// The node's store, where the agent may checkpoint what must outlive it; `None` on a
    /// node without persistence.
    pub store: Option<std::sync::Arc<dyn crate::store::Store>>,
}

/// Builds the child spec of one agent.
pub type KindFactory = Arc<dyn Fn(&SpawnContext) -> Result<ChildSpec, KindError> + Send + Sync>;

/// One registered kind: its descriptor and its factory.
#[derive(Clone)]
pub struct AgentKind {
    descriptor: AgentKindDescriptor,
    factory: KindFactory,
}

impl fmt::Debug for AgentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentKind")
            .field("descriptor", &self.descriptor)
            .finish_non_exhaustive()
    }
}

impl AgentKind {
    /// A kind built by a raw factory.
    pub fn new(descriptor: AgentKindDescriptor, factory: KindFactory) -> Self {
        Self {
            descriptor,
            factory,
        }
    }

    /// A kind whose configuration is the JSON form of `C`, checked when the agent is
    /// spawned, so a bad config is refused at once rather than failing each restart.
    ///
    /// * `build` - returns a fresh actor and its arguments, for every incarnation
    pub fn with_config<A, C, F>(descriptor: AgentKindDescriptor, build: F) -> Self
    where
        A: Actor,
        C: DeserializeOwned + Default + Clone + Send + Sync + 'static,
        F: Fn(&SpawnContext, C) -> (A, A::Arguments) + Send + Sync + 'static,
    {
        let build = Arc::new(build);
        let factory: KindFactory = Arc::new(move |ctx: &SpawnContext| {
            let config: C = parse_config(&ctx.config)?;
            let build = build.clone();
            let ctx2 = ctx.clone();
            Ok(ChildSpec::new(ctx.name.as_str(), move || {
                build(&ctx2, config.clone())
            }))
        });
        Self::new(descriptor, factory)
    }

    /// Returns the descriptor.
    pub fn descriptor(&self) -> &AgentKindDescriptor {
        &self.descriptor
    }

    /// Builds the child spec of one agent: named, kinded and with the restart type of the
    /// descriptor, registered under `ctx.registered_name`.
    ///
    /// # Errors
    /// [`KindError::InvalidConfig`] if the factory refuses the configuration.
    pub fn child_spec(&self, ctx: &SpawnContext) -> Result<ChildSpec, KindError> {
        Ok((self.factory)(ctx)?
            .kind(self.descriptor.name.clone())
            .restart(self.descriptor.restart)
            .registered_as(ctx.registered_name.clone()))
    }
}

/// Parses a kind's JSON configuration; an empty string means the defaults.
///
/// # Errors
/// [`KindError::InvalidConfig`] with serde's message, which names the field and position.
pub fn parse_config<C: DeserializeOwned + Default>(config: &str) -> Result<C, KindError> {
    if config.trim().is_empty() {
        return Ok(C::default());
    }
    serde_json::from_str(config).map_err(|e| KindError::InvalidConfig {
        reason: e.to_string(),
    })
}

/// The kinds the Admin can spawn. Cheap to clone: clones share one registry, so an embedder
/// can register kinds while the runtime runs.
#[derive(Clone, Default)]
pub struct KindRegistry {
    kinds: Arc<RwLock<BTreeMap<String, AgentKind>>>,
}

impl fmt::Debug for KindRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl KindRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a kind.
    ///
    /// # Errors
    /// [`KindError::Duplicate`] if the name is taken.
    pub fn register(&self, kind: AgentKind) -> Result<(), KindError> {
        let mut kinds = self.kinds.write().unwrap_or_else(|e| e.into_inner());
        let name = kind.descriptor.name.clone();
        if kinds.contains_key(&name) {
            return Err(KindError::Duplicate { name });
        }
        kinds.insert(name, kind);
        Ok(())
    }

    /// Returns the kind named `name`.
    pub fn get(&self, name: &str) -> Option<AgentKind> {
        self.kinds
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Returns the names of the registered kinds, sorted.
    pub fn names(&self) -> Vec<String> {
        self.kinds
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Returns the descriptors of the registered kinds, sorted by name.
    pub fn descriptors(&self) -> Vec<AgentKindDescriptor> {
        self.kinds
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|k| k.descriptor.clone())
            .collect()
    }
}
