//! The test-double controls (`--control`): what the `/_crm/` endpoints act on — the
//! virtual clock every time reading comes from, the request journal and the injected
//! faults.

use crate::rpc::faults::Faults;
use crate::rpc::journal::Journal;
use crm_core::clock::VirtualClock;
use std::sync::Arc;

/// The state behind the control endpoints.
#[derive(Debug)]
pub struct Control {
    /// The bearer token control calls must present, if any.
    pub token: Option<String>,
    /// The server's clock.
    pub clock: Arc<VirtualClock>,
    /// The request journal.
    pub journal: Arc<Journal>,
    /// The injected faults.
    pub faults: Arc<Faults>,
    /// Calls per method since start.
    pub coverage: Arc<crate::rpc::coverage::Coverage>,
}
