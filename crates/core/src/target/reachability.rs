//! Neighbor reachability as time passes (NDIS "Making a NeighborReachabilityQuery Indication"):
//! the NIC's reachability times stay put while its clock moves, so the deltas grow.

use super::Target;

impl Target {
    /// Time moves on by `ticks`: every offloaded neighbor's NicReachabilityDelta and
    /// HostReachabilityDelta grow with it (NCT - NRT and NCT - HRT, mod 2^32 as the page
    /// asks). Returns the neighbors whose staleness test now passes, both deltas over
    /// NceStaleTicks, and which have no query outstanding: the target asks the host about
    /// them (NDIS "Making a NeighborReachabilityQuery Indication").
    pub(crate) fn age_neighbors(&mut self, ticks: u32) -> Vec<u32> {
        let stale = self.clock.nce_stale_ticks;
        let slots: Vec<u32> = self.neighbors.iter().map(|(slot, _, _)| slot).collect();
        let mut asking = Vec::new();
        for slot in slots {
            let n = self.neighbor_mut(slot);
            n.nic_reachability_delta = n.nic_reachability_delta.wrapping_add(ticks);
            n.host_reachability_delta = n.host_reachability_delta.wrapping_add(ticks);
            if n.nic_reachability_delta > stale
                && n.host_reachability_delta > stale
                && !n.query_pending
            {
                n.query_pending = true;
                asking.push(slot);
            }
        }
        asking
    }
}
