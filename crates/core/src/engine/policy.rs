//! The host's policy at work: `set_policy` takes the choices the NDIS pages leave to the host
//! (docs/DESIGN.md §8, "Host policy"); `offload_policy` says which of some connections the
//! host would offload; `link_down` is the host's answer to a media disconnect.

use super::types::Outcome;
use super::Engine;
use crate::error;
use crate::host::{layer_of, OffloadRule};
use crate::model::{Layer, Result, Value};

impl Engine {
    /// Replaces the host's policy but for `release_unreferenced`, which is fixed for the
    /// life of a tree. `decline`: optional upload reasons only (a mandatory one or a value
    /// that is no reason: `ValidationError`); `uploads_per_call`: at least 1 (None: no
    /// limit); each rule's port ranges low to high and its prefix within its family.
    pub fn set_policy(
        &mut self,
        decline: &[Value],
        uploads_per_call: Option<i64>,
        accept_indicated: bool,
        terminate_on_link_down: bool,
        offload_rules: Vec<OffloadRule>,
    ) -> Result<()> {
        let decline = super::events::optional_reasons(decline)?;
        let uploads_per_call = match uploads_per_call {
            None => None,
            Some(n) => Some(
                u32::try_from(n)
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| error!(UploadsPerCall, value = n))?,
            ),
        };
        for (i, rule) in offload_rules.iter().enumerate() {
            let bits = match rule.destination {
                Some((std::net::IpAddr::V4(_), prefix)) => Some((prefix, 32)),
                Some((std::net::IpAddr::V6(_), prefix)) => Some((prefix, 128)),
                None => None,
            };
            let ranges_ok = rule.local_ports.0 <= rule.local_ports.1
                && rule.remote_ports.0 <= rule.remote_ports.1;
            if !ranges_ok || bits.is_some_and(|(prefix, max)| prefix > max) {
                return Err(error!(OffloadRule, index = i));
            }
        }
        self.policy.decline = decline;
        self.policy.uploads_per_call = uploads_per_call;
        self.policy.accept_indicated = accept_indicated;
        self.policy.terminate_on_link_down = terminate_on_link_down;
        self.policy.offload_rules = offload_rules;
        Ok(())
    }

    /// For each of `raws`, whether the host's offload rules let it be offloaded: always for
    /// a neighbor or path, and for anything that is no live object (the offload itself
    /// reports those).
    pub fn offload_policy(&self, raws: &[u64]) -> Vec<bool> {
        if self.policy.offload_rules.is_empty() {
            return vec![true; raws.len()];
        }
        raws.iter()
            .map(|&raw| match self.host.resolve(raw) {
                Ok(h) if layer_of(h) == Layer::Tcp => {
                    let tcp = self.host.tcp(h);
                    let destination = &self.host.path(tcp.path).state.destination;
                    let ports = self.host.tcp_state(h).constant;
                    self.policy
                        .offloads(ports.local_port, ports.remote_port, destination)
                }
                _ => true,
            })
            .collect()
    }

    /// The link went down (the miniport indicated a media disconnect): the host decides,
    /// not the target (NDIS "Terminate Offload Initiated by the Host Stack"). By its policy it
    /// terminates every offloaded object, as for upload-all, or keeps them (an empty
    /// outcome).
    pub fn link_down(&mut self) -> Outcome {
        if !self.policy.terminate_on_link_down {
            return Outcome::with_capacity(0);
        }
        let order = self.host.offloaded_post_order_now(&self.host.roots.clone());
        self.upload(&order)
    }
}
