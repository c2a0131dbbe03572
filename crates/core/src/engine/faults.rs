//! `target_inject_fault`: aim a one-shot failure at the next time an operation reaches an
//! object (docs/DESIGN.md §8, "Faults").

use super::Engine;
use crate::error;
use crate::model::{Operation, Result, Status, Value};

impl Engine {
    /// The next `operation` (an `Operation` code) that reaches `raw` fails with `status`: any
    /// failure a target can report for an offload, FAILURE for the other operations.
    pub fn target_inject_fault(
        &mut self,
        raw: u64,
        status: &Value,
        operation: &Value,
    ) -> Result<()> {
        let h = self.host.resolve(raw)?;
        let code = operation.to_int("operation")?;
        let operation = u8::try_from(code)
            .ok()
            .and_then(Operation::from_u8)
            .ok_or_else(|| error!(NotAnOperation, value = code))?;
        let code = status.to_int("status")?;
        let known = u8::try_from(code).ok().and_then(Status::from_u8);
        let status = match known {
            Some(status) if operation.can_fail_with(status) => status,
            // Only an offload takes the detailed failures: say so for the other operations.
            _ if operation != Operation::InitiateOffload => {
                let got = known.map_or_else(|| code.to_string(), |s| s.name().to_string());
                return Err(error!(
                    NotACompletionStatus,
                    status = got,
                    operation = operation.name()
                ));
            }
            _ => return Err(error!(NotAFaultStatus, value = code)),
        };
        self.target.inject_fault(h, operation, status);
        Ok(())
    }
}
