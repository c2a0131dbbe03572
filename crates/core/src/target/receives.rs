//! Receive requests the host posted on one offloaded connection
//! (NDIS "Posting and Completing Receive Requests"), filled by the delivery algorithm
//! (NDIS "Delivery Algorithm"): posted requests are used before anything is indicated, in the
//! order they were posted, and buffered data goes into them before any new data.
//!
//! A request completes when full. One in push mode also completes partly filled when a
//! segment with the PSH bit arrives or the connection's push timer expires: the timer
//! starts when the first byte goes into the request and restarts with every segment
//! (NDIS "Push Timer"). Filling in order keeps at most the oldest request partly filled, so
//! completed bytes reach the host in sequence order. A terminate completes what is left
//! (NDIS_STATUS_UPLOAD_IN_PROGRESS) with the bytes placed in it so far.

use std::collections::VecDeque;

/// One posted receive request: its size, its mode and the bytes placed in it so far.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Posted {
    size: u32,
    /// Push mode (TcpReceiveNoPush false): completes partly filled on PSH or the timer.
    push: bool,
    data: Vec<u8>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReceiveRequests {
    posted: VecDeque<Posted>,
    /// When the push timer expires (the target's clock), while it runs: only while the
    /// oldest request is in push mode and holds bytes.
    push_deadline: Option<u64>,
}

impl ReceiveRequests {
    /// Posts a request of `size` bytes (at least one) behind the others, in push mode when
    /// `push`.
    pub(crate) fn post(&mut self, size: u32, push: bool) {
        self.posted.push_back(Posted {
            size,
            push,
            data: Vec::new(),
        });
    }

    /// The oldest request is in push mode and holds bytes.
    fn push_pending(&self) -> bool {
        self.posted
            .front()
            .is_some_and(|p| p.push && !p.data.is_empty())
    }

    /// After bytes went into the requests (`placed_now`: some did) by a segment with the
    /// PSH bit when `psh`: a push-mode request partly filled completes on PSH (its bytes
    /// appended to `completed`); else the push timer starts or restarts at `now` and runs
    /// for `period` ticks. Returns whether a request completed.
    pub(crate) fn settle_push(
        &mut self,
        psh: bool,
        placed_now: bool,
        (now, period): (u64, u64),
        completed: &mut Vec<u8>,
    ) -> bool {
        let mut done = false;
        if psh && self.push_pending() {
            let front = self.posted.pop_front().expect("the front request");
            completed.extend_from_slice(&front.data);
            done = true;
        }
        self.push_deadline = match self.push_pending() {
            true if placed_now || self.push_deadline.is_none() => Some(now.saturating_add(period)),
            true => self.push_deadline,
            false => None,
        };
        done
    }

    /// The push timer expired by `now`: the oldest request completes with what it holds
    /// (appended to `completed`). Returns whether it did.
    pub(crate) fn expire_push(&mut self, now: u64, completed: &mut Vec<u8>) -> bool {
        match self.push_deadline {
            Some(deadline) if deadline <= now && self.push_pending() => {
                let front = self.posted.pop_front().expect("the front request");
                completed.extend_from_slice(&front.data);
                self.push_deadline = None;
                true
            }
            _ => false,
        }
    }

    /// The requests as a snapshot holds them: (size, push mode, bytes placed), oldest first.
    pub(crate) fn parts(&self) -> impl Iterator<Item = (u32, bool, &[u8])> {
        self.posted
            .iter()
            .map(|p| (p.size, p.push, p.data.as_slice()))
    }

    /// Rebuilds the requests from their parts, checking that they fit together: only the
    /// oldest may hold bytes, fewer than its size, and the push timer runs only while it is
    /// in push mode and holds some.
    pub(crate) fn from_parts(
        requests: Vec<(u32, bool, Vec<u8>)>,
        push_deadline: Option<u64>,
    ) -> std::result::Result<ReceiveRequests, (&'static str, String)> {
        let mut out = ReceiveRequests::default();
        for (i, (size, push, data)) in requests.into_iter().enumerate() {
            if size == 0 {
                return Err(("posted_request.size", format!("request {i} of 0 bytes")));
            }
            if data.len() >= size as usize || (i > 0 && !data.is_empty()) {
                let problem = format!("request {i} of {size} bytes holding {}", data.len());
                return Err(("posted_request.length", problem));
            }
            out.posted.push_back(Posted { size, push, data });
        }
        if push_deadline.is_some() != out.push_pending() {
            let problem = "a push timer without a push-mode request holding bytes, or the reverse";
            return Err(("posted.push_deadline", problem.into()));
        }
        out.push_deadline = push_deadline;
        Ok(out)
    }

    /// When the push timer expires, if it runs.
    pub(crate) fn push_deadline(&self) -> Option<u64> {
        self.push_deadline
    }

    /// Bytes the posted requests can still take.
    pub(crate) fn room(&self) -> usize {
        self.posted
            .iter()
            .map(|p| p.size as usize - p.data.len())
            .sum()
    }

    /// No request is posted.
    pub(crate) fn is_empty(&self) -> bool {
        self.posted.is_empty()
    }

    /// Bytes placed in posted requests that are not full yet.
    pub(crate) fn placed(&self) -> usize {
        self.posted.iter().map(|p| p.data.len()).sum()
    }

    /// Places the front of `data` into the requests in order, appending the bytes of every
    /// request it fills to `completed`; returns how many bytes of `data` it took.
    pub(crate) fn fill(&mut self, data: &[u8], completed: &mut Vec<u8>) -> usize {
        let mut taken = 0;
        while taken < data.len() {
            let Some(front) = self.posted.front_mut() else {
                break;
            };
            let room = front.size as usize - front.data.len();
            let n = room.min(data.len() - taken);
            front.data.extend_from_slice(&data[taken..taken + n]);
            taken += n;
            if front.data.len() == front.size as usize {
                let full = self.posted.pop_front().expect("the front request");
                completed.extend_from_slice(&full.data);
            }
        }
        taken
    }

    /// The bytes placed in the requests still posted, in order: what a terminate completes
    /// them with.
    pub(crate) fn into_placed(self) -> Vec<u8> {
        // Filling in order leaves bytes in the oldest request only: take its buffer whole.
        let mut placed = Vec::new();
        for request in self.posted {
            if placed.is_empty() {
                placed = request.data;
            } else {
                placed.extend_from_slice(&request.data);
            }
        }
        placed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_fill_in_order_and_complete_when_full() {
        let mut r = ReceiveRequests::default();
        r.post(3, false);
        r.post(4, false);
        let mut done = Vec::new();
        assert_eq!(r.fill(b"abcde", &mut done), 5);
        assert_eq!(done, b"abc");
        assert_eq!(r.placed(), 2);
        assert_eq!(
            r.fill(b"fghij", &mut done),
            2,
            "only the room left is taken"
        );
        assert_eq!(done, b"abcdefg");
        assert!(r.is_empty());
        r.post(10, false);
        r.fill(b"xy", &mut done);
        assert_eq!(r.into_placed(), b"xy");
    }

    #[test]
    fn a_push_request_completes_partly_filled_on_psh_or_when_its_timer_expires() {
        let mut r = ReceiveRequests::default();
        r.post(10, true);
        r.post(10, true);
        let mut done = Vec::new();
        r.fill(b"ab", &mut done);
        assert!(!r.settle_push(false, true, (100, 500), &mut done));
        assert_eq!(r.push_deadline(), Some(600), "started by the first byte");
        r.fill(b"c", &mut done);
        r.settle_push(false, true, (300, 500), &mut done);
        assert_eq!(r.push_deadline(), Some(800), "restarted by a segment");
        assert!(!r.expire_push(799, &mut done));
        assert!(r.expire_push(800, &mut done));
        assert_eq!(done, b"abc");
        r.fill(b"de", &mut done);
        assert!(r.settle_push(true, true, (900, 500), &mut done), "PSH");
        assert_eq!(done, b"abcde");
        assert_eq!(r.push_deadline(), None);
        assert!(r.is_empty());
    }

    #[test]
    fn a_nonpush_request_ignores_psh() {
        let mut r = ReceiveRequests::default();
        r.post(10, false);
        let mut done = Vec::new();
        r.fill(b"ab", &mut done);
        assert!(!r.settle_push(true, true, (0, 500), &mut done));
        assert_eq!((r.placed(), r.push_deadline()), (2, None));
    }
}
