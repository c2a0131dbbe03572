//! Test support, behind the `testing` feature: the fuzz interpreter. The same feature adds
//! `Engine::check_invariants` (engine/invariants.rs).

pub mod fuzz;
