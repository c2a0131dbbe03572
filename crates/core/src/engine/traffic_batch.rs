//! Batch forms of the data-path calls: arrays of connections, and of lengths or sizes, in
//! one call each (docs/DESIGN.md §8, "Batches of traffic").
//!
//! Each batch checks every item first, names the first that fails (`(item i)`) and then
//! changes nothing; once all pass it applies them in order, as the single calls one after
//! another would. One difference is deliberate: a batch of acknowledgements covers at most
//! the bytes in flight when it starts, as acknowledgements that arrive together do, so that
//! the checks can all run before anything moves.

use std::collections::HashMap;

use super::traffic::check_receive_size;
use super::{check_length, Engine};
use crate::error;
use crate::model::{check_range, check_u32, Handle, Result};

impl Engine {
    /// The target contexts of connections `raws`, each checked by `check` (given the item's
    /// index); the first failure names its item. Polls for interrupts: nothing has changed.
    fn check_each(
        &self,
        raws: &[u64],
        mut check: impl FnMut(usize, u64) -> Result<u32>,
    ) -> Result<Vec<u32>> {
        let mut contexts = self.budget.vec(raws.len())?;
        for (i, &raw) in raws.iter().enumerate() {
            self.interrupts.poll(i)?;
            contexts.push(check(i, raw).map_err(|e| e.at(i))?);
        }
        Ok(contexts)
    }

    /// The host posts `data`, cut into pieces of `lengths`, on connections `raws` (one
    /// `send` per item). Returns the bytes each item transmitted at once.
    pub fn send_many(&mut self, raws: &[u64], data: &[u8], lengths: &[i64]) -> Result<Vec<u32>> {
        let contexts = self.check_pieces(raws, data, lengths, Self::check_send)?;
        let mut sent = self.budget.vec(raws.len())?;
        for ((&raw, &context), piece) in raws.iter().zip(&contexts).zip(pieces(data, lengths)?) {
            sent.push(self.apply_send(Handle::from_raw(raw), context, piece));
        }
        Ok(sent)
    }

    /// The checks of a batch that cuts `data` into pieces of `lengths`, one per connection
    /// of `raws`: `check` on each connection and each length not negative, item by item,
    /// then the lengths adding up to `data`. The connections' contexts.
    fn check_pieces(
        &self,
        raws: &[u64],
        data: &[u8],
        lengths: &[i64],
        check: impl Fn(&Self, u64) -> Result<u32>,
    ) -> Result<Vec<u32>> {
        check_length("lengths", raws.len(), lengths.len(), "handles")?;
        let contexts = self.check_each(raws, |i, raw| {
            let context = check(self, raw)?;
            check_piece(lengths[i])?;
            Ok(context)
        })?;
        check_total(data, lengths)?;
        Ok(contexts)
    }

    /// The target receives `data`, cut into pieces of `lengths`, on connections `raws` (one
    /// `target_receive` per item). Returns the bytes each item took.
    pub fn target_receive_many(
        &mut self,
        raws: &[u64],
        data: &[u8],
        lengths: &[i64],
    ) -> Result<Vec<u32>> {
        let receive_on = |e: &Self, raw| e.offloaded_tcp(raw, "receive on it");
        let contexts = self.check_pieces(raws, data, lengths, receive_on)?;
        let mut taken = self.budget.vec(raws.len())?;
        for ((&raw, &context), piece) in raws.iter().zip(&contexts).zip(pieces(data, lengths)?) {
            taken.push(self.apply_receive(Handle::from_raw(raw), context, piece, false));
        }
        Ok(taken)
    }

    /// The host posts a receive request of `sizes[i]` bytes on each connection `raws[i]`
    /// (one `post_receive` per item, in push mode when `push`). Returns the bytes each
    /// item's post completed.
    pub fn post_receive_many(
        &mut self,
        raws: &[u64],
        sizes: &[i64],
        push: bool,
    ) -> Result<Vec<u32>> {
        check_length("sizes", raws.len(), sizes.len(), "handles")?;
        let mut checked = self.budget.vec(raws.len())?;
        let contexts = self.check_each(raws, |i, raw| {
            let context = self.offloaded_tcp(raw, "post a receive request on it")?;
            checked.push(check_receive_size(i128::from(sizes[i]))?);
            Ok(context)
        })?;
        let mut completed = self.budget.vec(raws.len())?;
        for ((&raw, &context), &size) in raws.iter().zip(&contexts).zip(&checked) {
            completed.push(self.apply_post_receive(Handle::from_raw(raw), context, (size, push)));
        }
        Ok(completed)
    }

    /// What the application reads on each connection `raws[i]` (one `read` per item), in
    /// item order: the buffers are moved out, not copied, so that the caller copies each
    /// byte once into whatever it returns.
    pub fn read_many(&mut self, raws: &[u64]) -> Result<Vec<Vec<u8>>> {
        self.check_each(raws, |_, raw| self.check_read(raw).map(|()| 0))?;
        let mut pieces = self.budget.vec(raws.len())?;
        for &raw in raws {
            pieces.push(self.take_delivered(raw));
        }
        Ok(pieces)
    }

    /// The peer acknowledges `nbytes[i]` more bytes on each connection `raws[i]`, with the
    /// send window `windows[i]` if given (one `target_acknowledge` per item). The items of
    /// one connection together cover at most the bytes it had in flight when the call
    /// started. Returns the send requests each item completed.
    pub fn target_acknowledge_many(
        &mut self,
        raws: &[u64],
        nbytes: &[i64],
        windows: Option<&[i64]>,
    ) -> Result<Vec<u64>> {
        check_length("nbytes", raws.len(), nbytes.len(), "handles")?;
        if let Some(windows) = windows {
            check_length("windows", raws.len(), windows.len(), "handles")?;
        }
        let mut checked = self.budget.vec(raws.len())?;
        // What earlier items of this batch acknowledged, per connection that has any.
        let mut earlier: HashMap<u64, u64> = HashMap::new();
        let contexts = self.check_each(raws, |i, raw| {
            let context = self.offloaded_tcp(raw, "acknowledge on it")?;
            let n = check_u32("nbytes", i128::from(nbytes[i]))?;
            let window = match windows {
                Some(w) => Some(check_u32("window", i128::from(w[i]))?),
                None => None,
            };
            let h = Handle::from_raw(raw);
            let before = earlier.get(&raw).copied().unwrap_or(0);
            self.check_in_flight(h, context, n, before)?;
            if n > 0 {
                earlier.insert(raw, before + u64::from(n));
            }
            checked.push((n, window));
            Ok(context)
        })?;
        let mut completed = self.budget.vec(raws.len())?;
        for ((&raw, &context), &(n, window)) in raws.iter().zip(&contexts).zip(&checked) {
            completed.push(self.apply_acknowledge(Handle::from_raw(raw), context, n, window));
        }
        Ok(completed)
    }
}

/// One piece's length: not negative.
pub(super) fn check_piece(length: i64) -> Result<()> {
    check_range("length", i128::from(length), 0, i64::MAX as u64).map(|_| ())
}

/// The lengths (each checked not negative) add up to all of `data`.
fn check_total(data: &[u8], lengths: &[i64]) -> Result<()> {
    let total: u128 = lengths.iter().map(|&n| n as u128).sum();
    if total != data.len() as u128 {
        return Err(error!(DataLength, total = total, len = data.len()));
    }
    Ok(())
}

/// `data` cut into pieces of `lengths` (each checked not negative), which must add up to
/// all of it.
pub(super) fn pieces<'a>(
    data: &'a [u8],
    lengths: &'a [i64],
) -> Result<impl Iterator<Item = &'a [u8]>> {
    check_total(data, lengths)?;
    let mut at = 0usize;
    Ok(lengths.iter().map(move |&n| {
        let piece = &data[at..at + n as usize];
        at += n as usize;
        piece
    }))
}
