//! What the host stack decides on its own, beyond what the caller asks for.

/// The host's policy for one tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostPolicy {
    /// Terminate an offloaded path or neighbor as soon as no offloaded object depends on it
    /// any more (its reference count is zero), as the NDIS host stack does
    /// (terminate-offload-initiated-by-the-host-stack.md). `false` keeps shared state
    /// offloaded until the caller terminates it.
    pub release_unreferenced: bool,
}

impl Default for HostPolicy {
    fn default() -> Self {
        HostPolicy {
            release_unreferenced: true,
        }
    }
}
