//! Fault schedules: drawn from a seed, turned into mock fault rules.

use std::fmt;
use std::time::Duration;

use contree_mock::FaultRule;
use http::Method;

/// How long a stall lasts: longer than the client's read-idle and attempt timeouts.
pub const STALL: Duration = Duration::from_millis(2_500);
/// The retry attempts the harness's client makes (a 503 repeated fewer times is survivable).
pub const MAX_ATTEMPTS: u32 = 6;

/// SplitMix64: small, seedable, and the same on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5EED_F00D_CAFE_D00D)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// A request class a fault is aimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `POST /instances` (not idempotent).
    Spawn,
    /// `GET /operations/{id}/events` (idempotent, streamed).
    Events,
    /// Any `GET /operations/…` (the operation, its events, a subprocess).
    OperationGet,
    /// `POST /files` (not idempotent).
    Upload,
    /// `HEAD /files/{sha}`.
    FileCheck,
    /// `POST /operations/{id}/subprocesses` (not idempotent).
    ExecCreate,
    /// `POST /operations/{id}/subprocesses/{spid}/stdin` (not idempotent).
    Stdin,
    /// `GET /inspect/{id}/download` (idempotent, streamed to the caller).
    Download,
}

impl Target {
    fn rule(self) -> FaultRule {
        match self {
            Target::Spawn => FaultRule::new(Method::POST, "/v1/instances"),
            Target::Events => FaultRule::new(Method::GET, "/v1/operations/").path_suffix("/events"),
            Target::OperationGet => FaultRule::new(Method::GET, "/v1/operations/"),
            Target::Upload => FaultRule::new(Method::POST, "/v1/files"),
            Target::FileCheck => FaultRule::new(Method::HEAD, "/v1/files/"),
            Target::ExecCreate => {
                FaultRule::new(Method::POST, "/v1/operations/").path_suffix("/subprocesses")
            }
            Target::Stdin => FaultRule::new(Method::POST, "/v1/operations/").path_suffix("/stdin"),
            Target::Download => {
                FaultRule::new(Method::GET, "/v1/inspect/").path_suffix("/download")
            }
        }
    }

    /// Whether the SDK may replay the request after it may have been processed.
    fn idempotent(self) -> bool {
        !matches!(
            self,
            Target::Spawn | Target::Upload | Target::ExecCreate | Target::Stdin
        )
    }

    /// Whether the body goes to the caller as it arrives (a broken body cannot be re-read
    /// transparently, only reported).
    fn streamed_to_caller(self) -> bool {
        matches!(self, Target::Download)
    }
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 503, `n` times in a row.
    Unavailable(u32),
    /// 429 with `Retry-After: s`.
    TooMany(u64),
    /// The connection drops before the request is processed.
    ResetBefore,
    /// The request is processed, then the connection drops.
    ResetAfter,
    /// The body breaks after `n` bytes.
    MidBody(u64),
    /// Every event stream ends cleanly after `k` events.
    SseCut(u64),
    /// An `sse_error` frame after `k` events.
    SseError(u64),
    /// Silence (no keepalive either) after `n` events or bytes, longer than the idle timeout.
    Stall(u64),
    /// A gzip body that ends cleanly after `n` compressed bytes.
    TruncatedGzip(u64),
}

/// One fault of a schedule.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    pub target: Target,
    pub kind: Kind,
    /// How many matching requests it applies to.
    pub times: u32,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}x{} on {:?}", self.kind, self.times, self.target)
    }
}

impl Fault {
    pub fn rule(&self) -> FaultRule {
        let r = self.target.rule().times(self.times);
        match self.kind {
            Kind::Unavailable(_) => r.status(503),
            Kind::TooMany(s) => r.status(429).retry_after(s),
            Kind::ResetBefore => r.close_before_response(),
            Kind::ResetAfter => r.close_after_processing(),
            Kind::MidBody(n) => r.close_mid_body(n),
            Kind::SseCut(k) => r.cut_stream_after(k),
            Kind::SseError(k) => r.sse_error_after(k),
            Kind::Stall(n) => r.stall(n, STALL),
            Kind::TruncatedGzip(n) => r.truncated_gzip(n),
        }
    }

    /// Whether the workload may fail under this fault (the SDK must then report an error,
    /// never wrong output): a request that may have been processed and is not idempotent
    /// is not replayed; a body already handed to the caller cannot be re-read; a 503
    /// repeated past the retry budget.
    pub fn allows_failure(&self) -> bool {
        let ambiguous = matches!(
            self.kind,
            Kind::Unavailable(_)
                | Kind::ResetBefore
                | Kind::ResetAfter
                | Kind::MidBody(_)
                | Kind::Stall(_)
                | Kind::TruncatedGzip(_)
        );
        let broken_body = matches!(
            self.kind,
            Kind::MidBody(_) | Kind::Stall(_) | Kind::TruncatedGzip(_)
        );
        match self.kind {
            Kind::Unavailable(n) if n >= MAX_ATTEMPTS => true,
            _ => {
                (!self.target.idempotent() && ambiguous)
                    || (self.target.streamed_to_caller() && broken_body)
            }
        }
    }
}

fn draw_kind(rng: &mut Rng, target: Target) -> (Kind, u32) {
    let sse = target == Target::Events;
    loop {
        let kind = match rng.range(0, 8) {
            0 => Kind::Unavailable(rng.range(1, u64::from(MAX_ATTEMPTS) - 2) as u32),
            1 => Kind::TooMany(*rng.pick(&[0, 0, 0, 1])),
            2 => Kind::ResetBefore,
            3 => Kind::ResetAfter,
            4 => Kind::MidBody(rng.range(0, 3000)),
            5 if sse => Kind::SseCut(rng.range(1, 6)),
            6 if sse => Kind::SseError(rng.range(0, 6)),
            7 => Kind::Stall(if sse {
                rng.range(0, 4)
            } else {
                rng.range(0, 200)
            }),
            8 => Kind::TruncatedGzip(rng.range(0, 2000)),
            _ => continue,
        };
        let times = match kind {
            Kind::Unavailable(n) => n,
            // Every stream of the workload is cut: resuming must still make progress.
            Kind::SseCut(_) => 1_000,
            _ => rng.range(1, 2) as u32,
        };
        return (kind, times);
    }
}

/// The five workloads of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// An awaited run with an uploaded file.
    Awaited,
    /// `Run::stream`.
    Streamed,
    /// A spawned `cat` fed through stdin, and an `exec` beside it.
    Interactive,
    /// `Run::start`, then re-attached by id.
    Detached,
    /// A file downloaded from an image.
    Download,
}

pub const WORKLOADS: [Workload; 5] = [
    Workload::Awaited,
    Workload::Streamed,
    Workload::Interactive,
    Workload::Detached,
    Workload::Download,
];

impl Workload {
    fn targets(self) -> &'static [Target] {
        match self {
            Workload::Awaited => &[
                Target::Spawn,
                Target::Events,
                Target::OperationGet,
                Target::Upload,
                Target::FileCheck,
            ],
            Workload::Streamed | Workload::Detached => {
                &[Target::Spawn, Target::Events, Target::OperationGet]
            }
            Workload::Interactive => &[
                Target::Spawn,
                Target::Events,
                Target::OperationGet,
                Target::ExecCreate,
                Target::Stdin,
            ],
            Workload::Download => &[Target::Download],
        }
    }
}

/// The faults of one workload in one schedule.
#[derive(Debug, Clone)]
pub struct Plan {
    pub workload: Workload,
    pub faults: Vec<Fault>,
    /// Lines of `seq` the command prints (varies the chunking).
    pub lines: u64,
}

impl Plan {
    /// Whether the workload may fail: one of its faults allows it, or the faults on one
    /// kind of request add up to the retry budget.
    pub fn allows_failure(&self) -> bool {
        let group = |t: Target| match t {
            // Both match the event streams.
            Target::OperationGet => Target::Events,
            t => t,
        };
        let budget_spent = self.faults.iter().any(|f| {
            let spent: u32 = self
                .faults
                .iter()
                .filter(|g| group(g.target) == group(f.target))
                .filter(|g| !matches!(g.kind, Kind::SseCut(_)))
                .map(|g| g.times)
                .sum();
            spent >= MAX_ATTEMPTS - 1
        });
        budget_spent || self.faults.iter().any(Fault::allows_failure)
    }
}

/// Draws the plans of schedule `seed`: each workload gets 0 to 3 faults.
pub fn draw(seed: u64) -> Vec<Plan> {
    let mut rng = Rng::new(seed);
    WORKLOADS
        .iter()
        .map(|&workload| {
            let n = rng.range(0, 3);
            let faults = (0..n)
                .map(|_| {
                    let mut target = *rng.pick(workload.targets());
                    // Mostly requests the SDK must get through (a fault on a request it
                    // may not replay only allows the workload to fail).
                    for _ in 0..2 {
                        if target.idempotent() {
                            break;
                        }
                        target = *rng.pick(workload.targets());
                    }
                    let (kind, times) = draw_kind(&mut rng, target);
                    Fault {
                        target,
                        kind,
                        times,
                    }
                })
                .collect();
            Plan {
                workload,
                faults,
                lines: rng.range(200, 6_000),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_reproducible() {
        let a = format!("{:?}", draw(42));
        assert_eq!(a, format!("{:?}", draw(42)));
        assert_ne!(a, format!("{:?}", draw(43)));
    }
}
