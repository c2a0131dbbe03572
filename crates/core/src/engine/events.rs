//! Target-initiated events (docs/SPEC.md §4): upload requests, upload-all and resume
//! (NDIS_STATUS_UPLOAD_ALL / NDIS_STATUS_OFFLOAD_RESUME), NeighborReachabilityQuery, and the
//! peer's FIN and RST (TcpIndicateDisconnect / TcpIndicateAbort).
//! They queue on the host; `process_events` applies the default host response.

use super::types::{Action, Event, Outcome, Processed};
use super::Engine;
use crate::error;
use crate::host::{layer_of, NO_CONTEXT};
use crate::model::{ConnectionState, EventKind, Handle, Layer, Result, UploadReason, Value};
use crate::target::TargetLimits;

impl Engine {
    pub(super) fn indicate(&mut self, event: Event) {
        self.events.push_back(event);
        self.counts.events_seen += 1;
        self.target.counters.events_indicated += 1;
    }

    /// The target asks for the upload of connection `raw`, for `reason` (an `UploadReason`).
    pub fn target_request_upload(&mut self, raw: u64, reason: &Value) -> Result<()> {
        let h = self.resolve_offloaded_one(raw, Layer::Tcp, "connection", "request its upload")?;
        let reason = upload_reason(reason)?;
        self.request_upload(h, reason);
        Ok(())
    }

    /// Queues the target's request to upload offloaded connection `h`. For a mandatory reason
    /// the target stops processing the connection's I/O until the upload
    /// (NDIS "Terminating the Offload of a Connection Because of Resource Constraints").
    pub(super) fn request_upload(&mut self, h: Handle, reason: UploadReason) {
        if reason.is_mandatory() {
            let context = self.host.context(h);
            self.target.tcp_mut(context).upload_requested = true;
        }
        self.indicate(Event {
            kind: EventKind::UploadRequested,
            handle: Some(h.raw()),
            reason: Some(reason as u8),
            size: None,
            offload: Some(self.offload_of(h)),
        });
    }

    /// The target indicates offload-pause (NDIS_STATUS_OFFLOAD_PAUSE, whose NDIS page is
    /// named after it): the host offloads nothing more until it resumes; what
    /// is offloaded goes on as normal.
    pub fn target_pause(&mut self) -> Result<()> {
        if self.target.paused {
            return Err(error!(AlreadyPaused));
        }
        self.target.paused = true;
        self.indicate_status(EventKind::OffloadPause);
        Ok(())
    }

    /// The target indicates upload-all: it pauses (if it had not) and asks for everything
    /// back. Until it resumes it processes no more sends: they complete with
    /// NDIS_STATUS_UPLOAD_IN_PROGRESS (NDIS "NDIS_STATUS_OFFLOAD_PAUSE").
    pub fn target_request_upload_all(&mut self) -> Result<()> {
        if self.target.upload_all {
            return Err(error!(UploadAllPending));
        }
        self.target.paused = true;
        self.target.upload_all = true;
        self.indicate_status(EventKind::UploadAll);
        Ok(())
    }

    /// The target indicates offload-resume: it accepts offloads again, with the
    /// capabilities in `limits` when given (NDIS "NDIS_STATUS_OFFLOAD_RESUME": the host reads
    /// them again, and later offloads obey them; what is offloaded stays).
    pub fn target_resume(&mut self, limits: Option<TargetLimits>) -> Result<()> {
        if !self.target.paused {
            return Err(error!(NotPaused));
        }
        if let Some(limits) = limits {
            // Invariant 4 holds across a resume: a target reports no capacity below what
            // it holds (the host would have to upload some first).
            let mut config = self.target.config.clone();
            limits.apply(&mut config);
            for layer in Layer::ALL {
                let held = self.target.offloaded(layer) as u64;
                if let Some(capacity) = config.capacity(layer).filter(|&c| c < held) {
                    let layer = layer.name();
                    return Err(error!(
                        CapacityBelowHeld,
                        layer = layer,
                        capacity = capacity,
                        held = held
                    ));
                }
            }
            self.target.config = config;
        }
        self.target.paused = false;
        self.target.upload_all = false;
        self.resume_io();
        self.indicate_status(EventKind::OffloadResume);
        Ok(())
    }

    /// The upload-all ended without the upload: the segments the target indicated on the
    /// non-offload path meanwhile come back to it, in order before anything it receives
    /// next, and it processes them now (a connection whose own upload is still due keeps
    /// them for the host). In the host's order.
    fn resume_io(&mut self) {
        let by_host = |target: &crate::target::Target, contexts: &mut Vec<u32>| {
            contexts.retain(|&context| !target.io_stopped(context));
            contexts.sort_unstable_by_key(|&context| target.tcp(context).host.slot());
        };
        let mut parked: Vec<u32> = self.target.non_offload.keys().copied().collect();
        by_host(&self.target, &mut parked);
        for context in parked {
            // Taken when they came (`receive` said so): no window check again.
            let bytes = self.target.take_non_offload(context);
            let h = self.target.tcp(context).host;
            self.process_received(h, context, &bytes, false);
        }
        // Sends (and a FIN) that waited go out as the send window allows.
        let mut waiting: Vec<u32> = self.target.sends.keys().copied().collect();
        by_host(&self.target, &mut waiting);
        for context in waiting {
            let h = self.target.tcp(context).host;
            let wire = self.wire_out(h);
            let snapshot = self.host.tcp_delegated(h);
            self.target.transmit_waiting(context, snapshot, wire);
        }
    }

    /// Queues a status indication of the target as a whole.
    fn indicate_status(&mut self, kind: EventKind) {
        self.indicate(Event {
            kind,
            handle: None,
            reason: None,
            size: None,
            offload: None,
        });
    }

    /// The target asks the host about the reachability of offloaded neighbor `raw`
    /// (NeighborReachabilityQuery, NDIS "Making a NeighborReachabilityQuery Indication").
    pub fn target_indicate_neighbor_reachability_query(&mut self, raw: u64) -> Result<()> {
        let h =
            self.resolve_offloaded_one(raw, Layer::Neighbor, "neighbor", "query its reachability")?;
        let context = self.host.context(h);
        self.target.neighbor_mut(context).query_pending = true;
        self.indicate_reachability_query(h);
        Ok(())
    }

    /// Queues NeighborReachabilityQuery for offloaded neighbor `h` (its query is pending).
    pub(super) fn indicate_reachability_query(&mut self, h: Handle) {
        self.indicate(Event {
            kind: EventKind::NeighborReachabilityQuery,
            handle: Some(h.raw()),
            reason: None,
            size: None,
            offload: Some(self.offload_of(h)),
        });
    }

    /// The peer closes offloaded connection `raw`: with a FIN (graceful: its send half) or,
    /// `abortive`, an RST (NDIS "Responding to the Reception of a FIN or RST Segment"). The
    /// target moves the connection's state, and indicates TcpIndicateDisconnect (once the
    /// host has taken every byte received before the FIN) or TcpIndicateAbort.
    pub fn target_peer_close(&mut self, raw: u64, abortive: bool) -> Result<()> {
        let h = self.resolve_offloaded_one(raw, Layer::Tcp, "connection", "close it")?;
        let context = self.host.context(h);
        let state = self.live_state(h);
        let refuse = |segment: &str| {
            let name = ConnectionState::from_u8(state).map_or("an unknown state", |s| s.name());
            error!(PeerCloseState, handle = h, state = name, segment = segment)
        };
        let wire = self.wire(h);
        let snapshot = self.host.tcp_delegated(h);
        if abortive {
            if state == ConnectionState::Closed as u8 {
                return Err(refuse("RST"));
            }
            let placed = self.target.peer_rst(context, snapshot, wire);
            self.deliver(h, placed);
            self.indicate_close(h, EventKind::Abort);
        } else {
            let next = match ConnectionState::from_u8(state) {
                Some(ConnectionState::Established) => ConnectionState::CloseWait,
                Some(ConnectionState::FinWait1) => ConnectionState::Closing,
                Some(ConnectionState::FinWait2) => ConnectionState::TimeWait,
                _ => return Err(refuse("FIN")),
            };
            let now = self.target.peer_fin(context, next as u8, snapshot, wire);
            self.timers_on_segment(h, context);
            if now {
                self.indicate_close(h, EventKind::Disconnect);
            }
        }
        Ok(())
    }

    /// The host disconnects offloaded connection `raw` (NDIS "Responding to a Disconnect Request").
    /// Graceful: a FIN follows every posted byte (ESTABLISHED becomes FIN-WAIT-1, CLOSE-WAIT
    /// LAST-ACK; other states refuse); the disconnect completes when the peer acknowledges it
    /// (a `DisconnectComplete` event). Abortive: an RST goes out, the connection is CLOSED,
    /// its sends complete with REQUEST_ABORTED, and the host terminates its offload at once
    /// (a closed connection is released): the returned outcome.
    pub fn disconnect(&mut self, raw: u64, abortive: bool) -> Result<Outcome> {
        let h = self.resolve_offloaded_one(raw, Layer::Tcp, "connection", "disconnect it")?;
        let context = self.host.context(h);
        let state = self.live_state(h);
        let name = ConnectionState::from_u8(state).map_or("an unknown state", |s| s.name());
        let snapshot = self.host.tcp_delegated(h);
        if abortive {
            if state == ConnectionState::Closed as u8 {
                return Err(error!(
                    DisconnectState,
                    handle = h,
                    state = name,
                    kind = "abortive"
                ));
            }
            let wire = self.wire(h);
            let placed = self.target.reset(context, snapshot, wire);
            self.deliver(h, placed);
            return Ok(self.upload(&[h]));
        }
        let next = match ConnectionState::from_u8(state) {
            Some(ConnectionState::Established) => ConnectionState::FinWait1,
            Some(ConnectionState::CloseWait) => ConnectionState::LastAck,
            _ => {
                return Err(error!(
                    DisconnectState,
                    handle = h,
                    state = name,
                    kind = "graceful"
                ))
            }
        };
        let wire = self.wire_out(h);
        self.target.disconnect(context, next as u8, snapshot, wire);
        Ok(Outcome::default())
    }

    /// Queues TcpIndicateSendBacklogChange with the new size for offloaded connection `h`.
    pub(super) fn indicate_backlog(&mut self, h: Handle, size: u32) {
        self.indicate(Event {
            kind: EventKind::SendBacklogChange,
            handle: Some(h.raw()),
            reason: None,
            size: Some(size),
            offload: Some(self.offload_of(h)),
        });
    }

    /// Queues TcpIndicateDisconnect or TcpIndicateAbort for offloaded connection `h`.
    pub(super) fn indicate_close(&mut self, h: Handle, kind: EventKind) {
        self.indicate(Event {
            kind,
            handle: Some(h.raw()),
            reason: None,
            size: None,
            offload: Some(self.offload_of(h)),
        });
    }

    /// The live RFC 793 state of offloaded connection `h` (the target's).
    fn live_state(&self, h: Handle) -> u8 {
        let snapshot = self.host.tcp_delegated(h);
        let context = self.host.context(h);
        self.target
            .live_delegated(context)
            .unwrap_or(snapshot)
            .state
    }

    /// Which offload of `h` (offloaded) is current: its context slot and that slot's
    /// generation in the target's arena, which moves on when the context is freed.
    pub(super) fn offload_of(&self, h: Handle) -> u64 {
        let context = self.host.context(h);
        let generation = self.target.context_generation(layer_of(h), context);
        u64::from(generation) << 32 | u64::from(context)
    }

    /// Whether the object an event names is still offloaded by the offload it was about.
    /// An event queued before a terminate must not act on the next offload.
    pub(super) fn event_is_current(&self, event: &Event) -> bool {
        let Some(raw) = event.handle else {
            return true;
        };
        let h = Handle::from_raw(raw);
        self.host.contains(raw)
            && self.host.is_offloaded(h)
            && event.offload == Some(self.offload_of(h))
    }

    /// Drains the event queue in order, applying the host's response to each. `decline` is
    /// the host's policy: the optional upload reasons whose requests it declines (a mandatory
    /// one is refused, docs/NDIS.md "Target-initiated events").
    pub fn process_events(&mut self, decline: Option<&[Value]>) -> Result<Vec<Processed>> {
        let declined = match decline {
            Some(values) => optional_reasons(values)?,
            None => self.policy.decline,
        };
        let declines = |reason: u8| reason < 16 && declined & (1 << reason) != 0;
        let limit = self.policy.uploads_per_call;
        let mut uploads = 0u32;
        let mut done = Vec::with_capacity(self.events.len());
        // Upload storms: after `uploads_per_call` uploads the rest of the queue waits.
        while let Some(event) = match limit {
            Some(limit) if uploads >= limit => None,
            _ => self.events.pop_front(),
        } {
            self.counts.events_processed += 1;
            let (action, outcome) = match event.kind {
                EventKind::UploadRequested => {
                    let raw = event.handle.expect("upload requests name a connection");
                    let reason = event.reason.unwrap_or(UploadReason::UploadRequested as u8);
                    if reason == UploadReason::InvalidState as u8 {
                        self.invalid_pending.remove(&raw);
                    }
                    let live = self.event_is_current(&event);
                    if live && declines(reason) {
                        (Action::Declined, None)
                    } else if live {
                        let outcome = self.upload(&[Handle::from_raw(raw)]);
                        uploads += 1;
                        (Action::Terminated, Some(outcome))
                    } else {
                        (Action::Ignored, None)
                    }
                }
                EventKind::UploadAll => {
                    let order = self.host.offloaded_post_order_now(&self.host.roots.clone());
                    (Action::TerminatedAll, Some(self.upload(&order)))
                }
                EventKind::OffloadResume => (Action::Resumed, None),
                EventKind::OffloadPause => (Action::Paused, None),
                EventKind::SendBacklogChange => match self.event_is_current(&event) {
                    true => (Action::BacklogNoted, None),
                    false => (Action::Ignored, None),
                },
                // The peer closed its half. With the host's half closed too (TIME-WAIT) the
                // connection is done: the host terminates its offload. Otherwise it stays, and
                // the host may still send.
                EventKind::Disconnect => {
                    let raw = event.handle.expect("disconnects name a connection");
                    let h = Handle::from_raw(raw);
                    if !self.event_is_current(&event) {
                        (Action::Ignored, None)
                    } else if self.live_state(h) == ConnectionState::TimeWait as u8 {
                        (Action::Terminated, Some(self.upload(&[h])))
                    } else {
                        (Action::PeerClosed, None)
                    }
                }
                // The host's FIN was acknowledged. Done when both halves are closed (CLOSED
                // after LAST-ACK, or TIME-WAIT): the host terminates the offload; else it
                // waits for the peer's FIN (FIN-WAIT-2).
                EventKind::DisconnectComplete => {
                    let raw = event.handle.expect("disconnects name a connection");
                    let h = Handle::from_raw(raw);
                    if !self.event_is_current(&event) {
                        (Action::Ignored, None)
                    } else if [ConnectionState::Closed, ConnectionState::TimeWait]
                        .map(|s| s as u8)
                        .contains(&self.live_state(h))
                    {
                        (Action::Terminated, Some(self.upload(&[h])))
                    } else {
                        (Action::Disconnected, None)
                    }
                }
                // A reset connection is dead: the host terminates its offload.
                EventKind::Abort => {
                    let raw = event.handle.expect("aborts name a connection");
                    if self.event_is_current(&event) {
                        (
                            Action::Terminated,
                            Some(self.upload(&[Handle::from_raw(raw)])),
                        )
                    } else {
                        (Action::Ignored, None)
                    }
                }
                EventKind::NeighborReachabilityQuery => {
                    let raw = event.handle.expect("reachability events name a neighbor");
                    let h = Handle::from_raw(raw);
                    if self.event_is_current(&event) {
                        debug_assert_eq!(layer_of(h), Layer::Neighbor);
                        let context = self.host.context(h);
                        debug_assert_ne!(context, NO_CONTEXT);
                        // The host answers with its HostReachabilityDelta (0 when its
                        // neighbor cache entry is stale: the caller sets it with update); the
                        // target takes it as its HostReachabilityTime. Only forward progress
                        // resets the NicReachabilityDelta (target/traffic.rs).
                        let answer = self.host.neighbor(h).state.host_reachability_delta;
                        let neighbor = self.target.neighbor_mut(context);
                        neighbor.host_reachability_delta = answer;
                        neighbor.query_pending = false;
                        (Action::ReachabilityAnswered, None)
                    } else {
                        (Action::Ignored, None)
                    }
                }
            };
            done.push(Processed {
                event,
                action,
                outcome,
            });
        }
        Ok(done)
    }
}

/// The decline bits of `values`: optional upload reasons only.
pub(super) fn optional_reasons(values: &[Value]) -> Result<u16> {
    let mut bits = 0u16;
    for value in values {
        let reason = upload_reason(value)?;
        if reason.is_mandatory() {
            return Err(error!(MandatoryReason, reason = reason.name()));
        }
        bits |= 1 << (reason as u8);
    }
    Ok(bits)
}

/// An `UploadReason` from a loose value.
fn upload_reason(value: &Value) -> Result<UploadReason> {
    let code = value.to_int("reason")?;
    u8::try_from(code)
        .ok()
        .and_then(UploadReason::from_u8)
        .ok_or_else(|| error!(NotAnUploadReason, value = code))
}
