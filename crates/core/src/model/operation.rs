//! The host-initiated operations a fault can be aimed at (docs/DESIGN.md §8, "Faults");
//! Python's `Operation` is checked against this table.

use super::status::Status;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Operation {
    /// MiniportInitiateOffload.
    InitiateOffload = 0,
    /// MiniportTerminateOffload: every upload, whatever caused it.
    Terminate = 1,
    /// MiniportUpdateOffload.
    Update = 2,
    /// MiniportQueryOffload.
    Query = 3,
    /// MiniportInvalidateOffload.
    Invalidate = 4,
}

impl Operation {
    pub const ALL: [Operation; 5] = [
        Operation::InitiateOffload,
        Operation::Terminate,
        Operation::Update,
        Operation::Query,
        Operation::Invalidate,
    ];

    pub fn from_u8(code: u8) -> Option<Operation> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// The name of the Python enum member.
    pub fn name(self) -> &'static str {
        match self {
            Operation::InitiateOffload => "INITIATE_OFFLOAD",
            Operation::Terminate => "TERMINATE",
            Operation::Update => "UPDATE",
            Operation::Query => "QUERY",
            Operation::Invalidate => "INVALIDATE",
        }
    }

    /// Whether a target can fail this operation with `status`. An offload fails with any
    /// failure a target reports; the other operations complete with SUCCESS or FAILURE only
    /// (the "Returning the completion status" pages of each).
    pub fn can_fail_with(self, status: Status) -> bool {
        match self {
            Operation::InitiateOffload => status.is_injectable(),
            _ => status == Status::Failure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_only_offload_takes_detailed_failures() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_u8(op as u8), Some(op));
            assert!(op.can_fail_with(Status::Failure));
            assert!(!op.can_fail_with(Status::Success));
        }
        assert_eq!(Operation::from_u8(5), None);
        assert!(Operation::InitiateOffload.can_fail_with(Status::Resources));
        assert!(!Operation::Query.can_fail_with(Status::Resources));
    }
}
