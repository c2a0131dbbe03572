//! Traffic the target handles on an offloaded connection: `target_receive` and
//! `target_send` (docs/DESIGN.md §8, "Traffic").

use super::Engine;
use crate::model::{check_u32, Layer, Result, Value};

impl Engine {
    /// The target context of offloaded connection `raw`.
    fn offloaded_tcp(&self, raw: u64, operation: &str) -> Result<u32> {
        let h = self.resolve_offloaded_one(raw, Layer::Tcp, "connection", operation)?;
        Ok(self.host.context(h))
    }

    /// The target receives `data` on connection `raw` and buffers it until terminate.
    pub fn target_receive(&mut self, raw: u64, data: &[u8]) -> Result<()> {
        let context = self.offloaded_tcp(raw, "receive on it")?;
        let h = crate::model::Handle::from_raw(raw);
        let snapshot = self.host.tcp_delegated(h);
        self.target.receive(context, data, snapshot);
        Ok(())
    }

    /// The target sends `nbytes` on connection `raw`; returns the bytes sent (0 if held back).
    pub fn target_send(&mut self, raw: u64, nbytes: &Value) -> Result<u32> {
        let context = self.offloaded_tcp(raw, "send on it")?;
        let n = check_u32("nbytes", nbytes.to_int("nbytes")?)?;
        let h = crate::model::Handle::from_raw(raw);
        let snapshot = self.host.tcp_delegated(h);
        Ok(self.target.send(context, n, snapshot))
    }
}
