//! Toolchains on this host, and which one fits a project: the interpreter a run's virtual
//! environment is built from must satisfy the project's constraint, or the run says which
//! version is missing.

pub mod python;
