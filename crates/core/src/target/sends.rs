//! The send data the host posted on one offloaded connection, as the target holds it
//! (NDIS "Sending Data from an Offload Target"; MiniportTcpOffloadSend,
//! NdisTcpOffloadSendComplete).
//!
//! The target transmits posted bytes first in, first out, as its send window allows, and
//! completes a send request once the peer has acknowledged every byte of it. Until then the
//! bytes stay here, so that a terminate hands every unacknowledged and unsent byte back to
//! the host in its original order
//! (NDIS "Handling Outstanding Send Data During a Terminate Offload Operation").
//!
//! Acknowledgements cover the sequence space in order. Besides posted data it may hold bytes
//! this queue never saw: those in flight when the connection was offloaded (its delegated
//! SndNxt - SndUna) and those `Target::send` transmits without a payload. Bytes in flight
//! before the first posted run are "untracked" and are acknowledged first; later payload-less
//! bytes are kept as runs, so an acknowledgement splits exactly where the sequence does.

use std::collections::VecDeque;

/// What a transmitted, unacknowledged run of the sequence space carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Run {
    /// Posted data.
    Data,
    /// Bytes sent without a payload (`Target::send`).
    Opaque,
    /// The host's FIN: one sequence number after everything posted.
    Fin,
}

/// Where the host's FIN stands (NDIS "Responding to a Disconnect Request").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Fin {
    #[default]
    None,
    /// Asked for: it goes once every posted byte has gone.
    Queued,
    /// Sent, not yet acknowledged.
    Sent,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SendQueue {
    /// Posted bytes not yet acknowledged, in order: the transmitted ones, then `unsent`.
    data: VecDeque<u8>,
    /// How many bytes at the back of `data` wait for the send window.
    unsent: usize,
    /// Transmitted, unacknowledged runs after the untracked front, in sequence order:
    /// (length, whether it carries posted data).
    runs: VecDeque<(u64, Run)>,
    /// The sum of the lengths in `runs`.
    in_runs: u64,
    /// Bytes still unacknowledged of every posted request not yet completed, oldest first.
    requests: VecDeque<u64>,
    fin: Fin,
}

/// A send queue's contents as a snapshot holds them ([`SendQueue::parts`]).
pub(crate) struct SendParts<'a> {
    pub data: &'a VecDeque<u8>,
    pub unsent: u64,
    pub fin: u8,
    pub runs: Vec<(u64, u8)>,
    pub requests: Vec<u64>,
}

/// What an acknowledgement did to a queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Acknowledged {
    /// Posted bytes it acknowledged.
    pub bytes: u64,
    /// Send requests it completed (every byte acknowledged).
    pub requests: u64,
    /// It covered the host's FIN.
    pub fin: bool,
}

impl SendQueue {
    /// Bytes posted and not yet acknowledged (transmitted or not).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn len(&self) -> usize {
        self.data.len()
    }

    /// Nothing left to transmit or to acknowledge: the queue can go.
    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty() && self.runs.is_empty() && self.fin == Fin::None
    }

    /// The host asks for a FIN after everything posted.
    pub(crate) fn queue_fin(&mut self) {
        self.fin = Fin::Queued;
    }

    /// Whether a FIN was asked for and has not been acknowledged.
    pub(crate) fn fin_outstanding(&self) -> bool {
        self.fin != Fin::None
    }

    /// Sends the queued FIN if every posted byte has gone; whether it did.
    pub(crate) fn transmit_fin(&mut self) -> bool {
        if self.fin == Fin::Queued && self.unsent == 0 {
            self.fin = Fin::Sent;
            self.push_run(1, Run::Fin);
            return true;
        }
        false
    }

    /// Bytes that wait for the send window.
    pub(crate) fn unsent(&self) -> usize {
        self.unsent
    }

    /// Queues one send request.
    pub(crate) fn post(&mut self, bytes: &[u8]) {
        self.data.extend(bytes);
        self.unsent += bytes.len();
        self.requests.push_back(bytes.len() as u64);
    }

    fn push_run(&mut self, len: u64, run: Run) {
        self.in_runs += len;
        match self.runs.back_mut() {
            Some((last, kind)) if *kind == run && run != Run::Fin => *last += len,
            _ => self.runs.push_back((len, run)),
        }
    }

    /// Takes up to `window` unsent bytes for transmission; returns how many.
    pub(crate) fn transmit(&mut self, window: u32) -> u32 {
        let n = self.unsent.min(window as usize);
        if n > 0 {
            self.unsent -= n;
            self.push_run(n as u64, Run::Data);
        }
        n as u32
    }

    /// `n` bytes without a payload went out after what is queued.
    pub(crate) fn transmit_opaque(&mut self, n: u32) {
        // Before the first posted run they join the untracked front, which is acknowledged
        // first anyway.
        if n > 0 && !self.runs.is_empty() {
            self.push_run(u64::from(n), Run::Opaque);
        }
    }

    /// The peer acknowledged `n` more bytes; `in_flight` (SndNxt - SndUna before it) is at
    /// least `n`, as the caller checked.
    pub(crate) fn acknowledge(&mut self, n: u32, in_flight: u32) -> Acknowledged {
        let untracked = u64::from(in_flight).saturating_sub(self.in_runs);
        let mut left = u64::from(n).saturating_sub(untracked);
        let mut done = Acknowledged::default();
        while left > 0 {
            let Some(front) = self.runs.front_mut() else {
                break;
            };
            let take = left.min(front.0);
            let run = front.1;
            front.0 -= take;
            if front.0 == 0 {
                self.runs.pop_front();
            }
            self.in_runs -= take;
            left -= take;
            match run {
                Run::Data => {
                    self.data.drain(..take as usize);
                    done.bytes += take;
                    self.complete(take, &mut done);
                }
                Run::Fin => {
                    self.fin = Fin::None;
                    done.fin = true;
                }
                Run::Opaque => {}
            }
        }
        done
    }

    /// Applies `acked` posted bytes to the oldest requests.
    fn complete(&mut self, mut acked: u64, done: &mut Acknowledged) {
        while acked > 0 {
            let Some(front) = self.requests.front_mut() else {
                break;
            };
            if *front <= acked {
                acked -= *front;
                self.requests.pop_front();
                done.requests += 1;
            } else {
                *front -= acked;
                acked = 0;
            }
        }
    }

    /// The queue as a snapshot holds it (docs/DESIGN.md §12): the bytes, how many at the back
    /// are unsent, the FIN (0 none, 1 queued, 2 sent), the runs as (length, kind: 0 data,
    /// 1 opaque, 2 FIN) and the requests' unacknowledged bytes.
    pub(crate) fn parts(&self) -> SendParts<'_> {
        SendParts {
            data: &self.data,
            unsent: self.unsent as u64,
            fin: match self.fin {
                Fin::None => 0,
                Fin::Queued => 1,
                Fin::Sent => 2,
            },
            runs: self
                .runs
                .iter()
                .map(|&(len, run)| (len, run as u8))
                .collect(),
            requests: self.requests.iter().copied().collect(),
        }
    }

    /// Rebuilds a queue from its parts, checking that they fit together: `in_flight` is the
    /// connection's SndNxt - SndUna, which the runs cannot exceed. A problem comes back with
    /// the snapshot column it is about.
    pub(crate) fn from_parts(
        data: &[u8],
        (unsent, fin): (u64, u8),
        runs: &[(u64, u8)],
        requests: &[u64],
        in_flight: u64,
    ) -> std::result::Result<SendQueue, (&'static str, String)> {
        let fin = match fin {
            0 => Fin::None,
            1 => Fin::Queued,
            2 => Fin::Sent,
            other => return Err(("send.fin", format!("FIN state {other} (0, 1 or 2)"))),
        };
        if unsent > data.len() as u64 {
            let problem = format!("{unsent} unsent bytes of {}", data.len());
            return Err(("send.unsent", problem));
        }
        let mut queue = SendQueue {
            data: data.iter().copied().collect(),
            unsent: unsent as usize,
            fin,
            ..SendQueue::default()
        };
        let mut data_runs = 0u64;
        let mut fins = 0;
        for &(len, kind) in runs {
            let run = match kind {
                0 => Run::Data,
                1 => Run::Opaque,
                2 => Run::Fin,
                other => return Err(("send_run.kind", format!("run kind {other} (0, 1 or 2)"))),
            };
            // Runs of one kind merge as they are made (push_run): two in a row cannot be.
            let merged = queue
                .runs
                .back()
                .is_some_and(|&(_, last)| last == run && run != Run::Fin);
            if merged {
                return Err(("send_run.kind", format!("two runs of kind {kind} in a row")));
            }
            if run == Run::Fin && (fins > 0 || fin != Fin::Sent) {
                return Err(("send_run.kind", "a FIN run without the FIN sent".into()));
            }
            if len == 0 || (run == Run::Fin && len != 1) {
                return Err((
                    "send_run.length",
                    format!("a run of kind {kind} and length {len}"),
                ));
            }
            fins += usize::from(run == Run::Fin);
            if run == Run::Data {
                data_runs = data_runs.saturating_add(len);
            }
            queue.in_runs = queue.in_runs.saturating_add(len);
            queue.runs.push_back((len, run));
        }
        if (fins == 1) != (fin == Fin::Sent) {
            return Err((
                "send_run.kind",
                "a FIN run without the FIN sent, or the reverse".into(),
            ));
        }
        let transmitted = (data.len() - queue.unsent) as u64;
        if data_runs != transmitted || queue.in_runs > in_flight {
            let problem = format!(
                "runs carry {data_runs} data bytes of {} in flight, {transmitted} are transmitted",
                queue.in_runs
            );
            return Err(("send_run.length", problem));
        }
        let total = requests.iter().try_fold(0u64, |sum, &r| match r {
            0 => None,
            r => sum.checked_add(r),
        });
        if total != Some(data.len() as u64) {
            let problem = "the requests do not add up to the bytes (or one is empty)";
            return Err(("send_request.remaining", problem.into()));
        }
        queue.requests = requests.iter().copied().collect();
        Ok(queue)
    }

    /// Every unacknowledged byte, transmitted ones first: what a terminate hands back.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.data.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_complete_when_every_byte_is_acknowledged() {
        let mut q = SendQueue::default();
        q.post(b"abc");
        q.post(b"defg");
        assert_eq!(q.transmit(5), 5);
        assert_eq!((q.len(), q.unsent()), (7, 2));
        let done = q.acknowledge(2, 5);
        assert_eq!(
            done,
            Acknowledged {
                bytes: 2,
                requests: 0,
                fin: false
            }
        );
        let done = q.acknowledge(2, 3);
        assert_eq!(
            done,
            Acknowledged {
                bytes: 2,
                requests: 1,
                fin: false
            }
        );
        assert_eq!(q.transmit(100), 2);
        let done = q.acknowledge(3, 3);
        assert_eq!(
            done,
            Acknowledged {
                bytes: 3,
                requests: 1,
                fin: false
            }
        );
        assert!(q.is_empty());
    }

    #[test]
    fn untracked_and_opaque_bytes_take_their_place_in_the_sequence() {
        let mut q = SendQueue::default();
        q.post(b"xy");
        // 10 bytes were in flight before the queue: acknowledged first.
        assert_eq!(q.transmit(100), 2);
        q.transmit_opaque(4);
        q.post(b"z");
        assert_eq!(q.transmit(100), 1);
        // In flight: 10 untracked, 2 data, 4 opaque, 1 data = 17.
        assert_eq!(q.acknowledge(11, 17).bytes, 1);
        assert_eq!(
            q.acknowledge(4, 6),
            Acknowledged {
                bytes: 1,
                requests: 1,
                fin: false
            }
        );
        assert_eq!(
            q.acknowledge(1, 2),
            Acknowledged::default(),
            "an opaque byte"
        );
        assert_eq!(q.clone().into_bytes(), b"z");
        assert_eq!(
            q.acknowledge(1, 1),
            Acknowledged {
                bytes: 1,
                requests: 1,
                fin: false
            }
        );
        assert!(q.is_empty());
    }

    #[test]
    fn terminate_returns_unacknowledged_then_unsent_bytes_in_order() {
        let mut q = SendQueue::default();
        q.post(b"hello ");
        q.post(b"world");
        q.transmit(8);
        q.acknowledge(3, 8);
        assert_eq!(q.into_bytes(), b"lo world");
    }

    #[test]
    fn the_fin_follows_the_last_posted_byte_and_its_ack_is_reported() {
        let mut q = SendQueue::default();
        q.post(b"ab");
        q.queue_fin();
        assert!(!q.transmit_fin(), "data first");
        assert_eq!(q.transmit(1), 1);
        assert!(!q.transmit_fin());
        assert_eq!(q.transmit(1), 1);
        assert!(q.transmit_fin());
        assert!(!q.is_empty());
        let done = q.acknowledge(3, 3);
        assert_eq!(
            done,
            Acknowledged {
                bytes: 2,
                requests: 1,
                fin: true
            }
        );
        assert!(q.is_empty());
    }
}
