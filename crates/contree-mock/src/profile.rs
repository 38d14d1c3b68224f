//! Latency profiles (how long each operation state lasts) and the server-side timeline of
//! every operation, so a client's overhead can be measured as "returned − completed on the
//! server".

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::{Rng as _, SeedableRng as _, rngs::StdRng};
use serde::Serialize;
use uuid::Uuid;

use crate::state::Status;

/// How long operations stay in each state.
///
/// | Profile | PENDING (no worker: 425 with `Retry-After: 1`) | ASSIGNED (VM boot, before any output) | import work |
/// |---|---|---|---|
/// | [`Fixed`](Profile::Fixed) (default) | the builder's `latency` (5 ms) | `latency` | `latency` |
/// | [`Realistic`](Profile::Realistic) | uniform 50–400 ms | uniform 20–200 ms | uniform 100–500 ms |
///
/// Realistic delays are drawn from a generator seeded by the server's seed, one draw per
/// operation in creation order, so the same seed and the same sequence of requests give the
/// same delays. Each operation's drawn delays are reported by [`MockServer::timings`]
/// (`planned_*_us`).
///
/// ```
/// use contree_mock::Profile;
/// assert_eq!("realistic".parse::<Profile>(), Ok(Profile::Realistic));
/// assert_eq!(Profile::default(), Profile::Fixed);
/// assert!("slow".parse::<Profile>().is_err());
/// ```
///
/// [`MockServer::timings`]: crate::MockServer::timings
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Profile {
    /// Every state transition takes the configured `latency` (zero: the operation is already
    /// ASSIGNED when the spawn returns, so no 425 is ever seen).
    #[default]
    Fixed,
    /// Seeded random delays shaped like the real service (see the table above).
    Realistic,
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fixed" => Ok(Profile::Fixed),
            "realistic" => Ok(Profile::Realistic),
            other => Err(format!(
                "unknown profile {other:?}; use `fixed` or `realistic`"
            )),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::Fixed => "fixed",
            Profile::Realistic => "realistic",
        })
    }
}

/// The realistic ranges, in milliseconds (inclusive).
const PENDING_MS: (u64, u64) = (50, 400);
const BOOT_MS: (u64, u64) = (20, 200);
const IMPORT_MS: (u64, u64) = (100, 500);

/// The delays one operation will go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// PENDING → ASSIGNED.
    pub(crate) pending: Duration,
    /// ASSIGNED → EXECUTING (the boot; no output yet).
    pub(crate) boot: Duration,
    /// EXECUTING → done, for imports (instances run their command instead).
    pub(crate) work: Duration,
}

/// One state change, as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateChange {
    /// The wire status (`PENDING`, `ASSIGNED`, `EXECUTING`, `SUCCESS`, ...).
    pub status: String,
    /// When the server entered it, in microseconds since the Unix epoch.
    pub at_unix_us: u64,
}

/// The server-side timeline of one operation (see [`MockServer::timings`]).
///
/// All instants are wall-clock microseconds since the Unix epoch (`SystemTime`), so a client
/// on the same machine can subtract them from its own clock readings.
///
/// [`MockServer::timings`]: crate::MockServer::timings
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperationTiming {
    /// The operation UUID.
    pub operation: Uuid,
    /// `instance` or `image_import`.
    pub kind: String,
    /// The PENDING delay drawn for it (µs).
    pub planned_pending_us: u64,
    /// The ASSIGNED (boot) delay drawn for it (µs).
    pub planned_boot_us: u64,
    /// Every state it entered, in order, starting with `PENDING` at creation.
    pub states: Vec<StateChange>,
    /// When its main process produced its first stdout/stderr byte, if it did.
    pub first_output_unix_us: Option<u64>,
    /// When it reached a terminal state (set before the `completion` event is published).
    pub completed_unix_us: Option<u64>,
    /// `completed − created`: the service time of the run on the server (µs).
    pub service_us: Option<u64>,
}

/// Wall-clock microseconds since the Unix epoch.
pub(crate) fn now_unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The delay generator and the timeline of every operation.
#[derive(Debug)]
pub(crate) struct Timings {
    profile: Profile,
    latency: Duration,
    rng: StdRng,
    order: Vec<Uuid>,
    ops: HashMap<Uuid, (Plan, OperationTiming)>,
}

fn draw(rng: &mut StdRng, (lo, hi): (u64, u64)) -> Duration {
    Duration::from_millis(rng.random_range(lo..=hi))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Timings {
    pub(crate) fn new(profile: Profile, latency: Duration, seed: u64) -> Self {
        Self {
            profile,
            latency,
            // A stream of its own, so the UUIDs stay those of the fixed profile.
            rng: StdRng::seed_from_u64(seed ^ 0x5EED_DE1A_7E11_u64),
            order: Vec::new(),
            ops: HashMap::new(),
        }
    }

    /// Draws the delays of a new operation and records its creation (PENDING, now).
    pub(crate) fn created(&mut self, op: Uuid, kind: &str) -> Plan {
        let plan = match self.profile {
            Profile::Fixed => Plan {
                pending: self.latency,
                boot: self.latency,
                work: self.latency,
            },
            Profile::Realistic => Plan {
                pending: draw(&mut self.rng, PENDING_MS),
                boot: draw(&mut self.rng, BOOT_MS),
                work: draw(&mut self.rng, IMPORT_MS),
            },
        };
        let timing = OperationTiming {
            operation: op,
            kind: kind.to_string(),
            planned_pending_us: micros(plan.pending),
            planned_boot_us: micros(plan.boot),
            states: vec![StateChange {
                status: Status::Pending.as_str(),
                at_unix_us: now_unix_us(),
            }],
            first_output_unix_us: None,
            completed_unix_us: None,
            service_us: None,
        };
        if self.ops.insert(op, (plan, timing)).is_none() {
            self.order.push(op);
        }
        plan
    }

    /// Records a state change (a terminal one also sets `completed` and the service time).
    pub(crate) fn state(&mut self, op: Uuid, status: Status) {
        let Some((_, t)) = self.ops.get_mut(&op) else {
            return;
        };
        let now = now_unix_us();
        t.states.push(StateChange {
            status: status.as_str(),
            at_unix_us: now,
        });
        if status.is_terminal() && t.completed_unix_us.is_none() {
            t.completed_unix_us = Some(now);
            let created = t.states.first().map_or(now, |s| s.at_unix_us);
            t.service_us = Some(now.saturating_sub(created));
        }
    }

    /// Records the first output byte of `op`'s main process (later calls are ignored).
    pub(crate) fn first_output(&mut self, op: Uuid) {
        if let Some((_, t)) = self.ops.get_mut(&op)
            && t.first_output_unix_us.is_none()
        {
            t.first_output_unix_us = Some(now_unix_us());
        }
    }

    /// Every operation's timeline, in creation order.
    pub(crate) fn all(&self) -> Vec<OperationTiming> {
        self.order
            .iter()
            .filter_map(|id| self.ops.get(id).map(|(_, t)| t.clone()))
            .collect()
    }

    /// One operation's timeline.
    pub(crate) fn get(&self, op: Uuid) -> Option<OperationTiming> {
        self.ops.get(&op).map(|(_, t)| t.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realistic_draws_are_seeded_and_in_range() {
        let ids: Vec<Uuid> = (0..50u128).map(Uuid::from_u128).collect();
        let plans = |seed| {
            let mut t = Timings::new(Profile::Realistic, Duration::ZERO, seed);
            ids.iter()
                .map(|id| t.created(*id, "instance"))
                .collect::<Vec<_>>()
        };
        let a = plans(1);
        assert_eq!(a, plans(1), "the same seed draws the same delays");
        assert_ne!(a, plans(2), "another seed draws other delays");
        for p in &a {
            assert!((50..=400).contains(&p.pending.as_millis()), "{p:?}");
            assert!((20..=200).contains(&p.boot.as_millis()), "{p:?}");
            assert!((100..=500).contains(&p.work.as_millis()), "{p:?}");
        }
    }

    #[test]
    fn fixed_uses_the_latency_and_terminal_states_complete_once() {
        let mut t = Timings::new(Profile::Fixed, Duration::from_millis(7), 0);
        let op = Uuid::from_u128(9);
        assert_eq!(t.created(op, "instance").boot, Duration::from_millis(7));
        t.state(op, Status::Assigned);
        t.state(op, Status::Success);
        let done = t.get(op).unwrap().completed_unix_us;
        t.state(op, Status::Failed);
        let got = t.get(op).unwrap();
        assert_eq!(got.completed_unix_us, done, "the first terminal state wins");
        let names: Vec<_> = got.states.iter().map(|s| s.status.as_str()).collect();
        assert_eq!(names, ["PENDING", "ASSIGNED", "SUCCESS", "FAILED"]);
    }
}
