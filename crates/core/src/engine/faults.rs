//! `target_inject_fault`: aim a one-shot failure at an object's next offload attempt
//! (docs/DESIGN.md §8).

use super::Engine;
use crate::error;
use crate::model::{Result, Status, Value};

impl Engine {
    /// The next offload attempt of `raw` fails with `status`, a failure a target can report.
    pub fn target_inject_fault(&mut self, raw: u64, status: &Value) -> Result<()> {
        let h = self.host.resolve(raw)?;
        let code = status.to_int("status")?;
        let status = u8::try_from(code)
            .ok()
            .and_then(Status::from_u8)
            .filter(|s| s.is_injectable())
            .ok_or_else(|| error!(NotAFaultStatus, value = code))?;
        self.target.inject_fault(h, status);
        Ok(())
    }
}
