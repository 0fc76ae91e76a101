//! The managers: long-lived actors that make decisions, supervised by the Admin.

pub mod business_orchestrator;
pub mod model_manager;
pub mod orchestrator_manager;
pub mod port_manager;
pub mod user_manager;

pub use orchestrator_manager::{
    InterruptedRuns, OrchestratorManager, OrchestratorManagerArguments,
};
pub use port_manager::{PortManager, PortManagerArguments, PortRange};
