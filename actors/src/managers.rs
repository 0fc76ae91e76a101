//! The managers: long-lived actors that make decisions, supervised by the Admin.

pub mod port_manager;

pub use port_manager::{PortManager, PortManagerArguments, PortRange};
