//! Receive requests the host posted on one offloaded connection
//! (posting-and-completing-receive-requests.md), filled by the delivery algorithm
//! (delivery-algorithm.md): posted requests are used before anything is indicated, in the
//! order they were posted, and buffered data goes into them before any new data.
//!
//! Requests complete in nonpush mode: only when full. Filling in order keeps at most the
//! oldest request partly filled, so completed bytes reach the host in sequence order. A
//! terminate completes what is left (NDIS_STATUS_UPLOAD_IN_PROGRESS) with the bytes placed
//! in it so far.

use std::collections::VecDeque;

/// One posted receive request: its size and the bytes placed in it so far.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Posted {
    size: u32,
    data: Vec<u8>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReceiveRequests {
    posted: VecDeque<Posted>,
}

impl ReceiveRequests {
    /// Posts a request of `size` bytes (at least one) behind the others.
    pub(crate) fn post(&mut self, size: u32) {
        self.posted.push_back(Posted {
            size,
            data: Vec::new(),
        });
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
        self.posted.into_iter().flat_map(|p| p.data).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_fill_in_order_and_complete_when_full() {
        let mut r = ReceiveRequests::default();
        r.post(3);
        r.post(4);
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
        r.post(10);
        r.fill(b"xy", &mut done);
        assert_eq!(r.into_placed(), b"xy");
    }
}
