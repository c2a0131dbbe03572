//! Target-initiated events (SPEC §4): upload requests, upload-all and resume
//! (NDIS_STATUS_UPLOAD_ALL / NDIS_STATUS_OFFLOAD_RESUME), and neighbor reachability in doubt.
//! They queue on the host; `process_events` applies the default host response.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::handle::{Handle, Layer};
use crate::operations::Outcome;
use crate::state;
use crate::status::Status;
use crate::tree::{layer_of, NO_CONTEXT};
use crate::value::Value;

/// NDIS TCP_UPLOAD_REASON values we accept (1..=11); InvalidState is the one we raise ourselves.
pub const REASON_MIN: i128 = 1;
pub const REASON_MAX: i128 = 11;
pub const REASON_INVALID_STATE: u8 = 9;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum EventKind {
    /// The target asks the host to upload one connection (NdisTcpOffloadEventHandler).
    UploadRequested = 0,
    /// NDIS_STATUS_UPLOAD_ALL.
    UploadAll = 1,
    /// NDIS_STATUS_OFFLOAD_RESUME.
    OffloadResume = 2,
    /// The target doubts a neighbor's reachability.
    NeighborUnreachable = 3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub handle: Option<u64>,
    pub reason: Option<u8>,
}

/// What the host did about one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Processed {
    pub event: Event,
    pub action: &'static str,
    pub outcome: Option<Outcome>,
}

impl Engine {
    pub(crate) fn indicate(&mut self, event: Event) {
        self.events.push_back(event);
        self.counters.events_seen += 1;
        self.target.counters.events_indicated += 1;
    }

    fn offloaded_of_layer(&self, raw: u64, layer: Layer, role: &str) -> Result<Handle> {
        let h = self.host.resolve(raw)?;
        let h = self.host.resolve_layer(h.raw(), layer, role)?;
        if !self.host.is_offloaded(h) {
            return Err(Error::state(format!(
                "{role} {h} is not offloaded: the target holds no state for it"
            )));
        }
        Ok(h)
    }

    pub fn target_request_upload(&mut self, raw: u64, reason: &Value) -> Result<()> {
        let h = self.offloaded_of_layer(raw, Layer::Tcp, "connection")?;
        let reason = reason.to_int("reason")?;
        let reason = state::check_range("reason", reason, REASON_MIN as u64, REASON_MAX as u64)?;
        self.indicate(Event {
            kind: EventKind::UploadRequested,
            handle: Some(h.raw()),
            reason: Some(reason as u8),
        });
        Ok(())
    }

    pub fn target_request_upload_all(&mut self) -> Result<()> {
        if self.target.paused {
            return Err(Error::state(
                "the target already requested upload-all and has not resumed",
            ));
        }
        self.target.paused = true;
        self.indicate(Event {
            kind: EventKind::UploadAll,
            handle: None,
            reason: None,
        });
        Ok(())
    }

    pub fn target_resume(&mut self) -> Result<()> {
        if !self.target.paused {
            return Err(Error::state(
                "the target cannot resume: it did not request upload-all",
            ));
        }
        self.target.paused = false;
        self.indicate(Event {
            kind: EventKind::OffloadResume,
            handle: None,
            reason: None,
        });
        Ok(())
    }

    pub fn target_indicate_neighbor_unreachable(&mut self, raw: u64) -> Result<()> {
        let h = self.offloaded_of_layer(raw, Layer::Neighbor, "neighbor")?;
        self.indicate(Event {
            kind: EventKind::NeighborUnreachable,
            handle: Some(h.raw()),
            reason: None,
        });
        Ok(())
    }

    /// Aims a one-shot failure at `raw`'s next offload attempt.
    pub fn target_inject_fault(&mut self, raw: u64, status: &Value) -> Result<()> {
        let h = self.host.resolve(raw)?;
        let status = status.to_int("status")?;
        let status = u8::try_from(status)
            .ok()
            .and_then(Status::from_u8)
            .filter(|s| s.is_injectable())
            .ok_or_else(|| {
                Error::validation(format!(
                    "status must be a failure status a target can report (FAILURE..CONNECTION_REJECTED, 2..=15), got {status}"
                ))
            })?;
        self.target.faults.insert(h.raw(), status);
        Ok(())
    }

    /// Drains the event queue in order, applying the default host response to each.
    pub fn process_events(&mut self) -> Vec<Processed> {
        let mut done = Vec::with_capacity(self.events.len());
        while let Some(event) = self.events.pop_front() {
            self.counters.events_processed += 1;
            let (action, outcome) = match event.kind {
                EventKind::UploadRequested => {
                    let raw = event.handle.expect("upload requests name a connection");
                    if event.reason == Some(REASON_INVALID_STATE) {
                        self.invalid_pending.remove(&raw);
                    }
                    if self.host.contains(raw) && self.host.is_offloaded(Handle::from_raw(raw)) {
                        let outcome = self.upload_all(&[Handle::from_raw(raw)]);
                        ("terminated", Some(outcome))
                    } else {
                        ("ignored", None)
                    }
                }
                EventKind::UploadAll => {
                    let order: Vec<Handle> = self
                        .host
                        .walk_all(true)
                        .into_iter()
                        .map(Handle::from_raw)
                        .filter(|&h| self.host.is_offloaded(h))
                        .collect();
                    ("terminated_all", Some(self.upload_all(&order)))
                }
                EventKind::OffloadResume => ("resumed", None),
                EventKind::NeighborUnreachable => {
                    let raw = event.handle.expect("reachability events name a neighbor");
                    let h = Handle::from_raw(raw);
                    if self.host.contains(raw) && self.host.is_offloaded(h) {
                        debug_assert_eq!(layer_of(h), Layer::Neighbor);
                        let context = self.host.context(h);
                        debug_assert_ne!(context, NO_CONTEXT);
                        self.host.neighbor_mut(h).state.host_reachability_delta = 0;
                        let t = self.target.neighbor_mut(context);
                        t.host_reachability_delta = 0;
                        t.nic_reachability_delta = 0;
                        ("reachability_confirmed", None)
                    } else {
                        ("ignored", None)
                    }
                }
            };
            done.push(Processed {
                event,
                action,
                outcome,
            });
        }
        done
    }
}
