//! Time bounds for listing filters.

use std::time::{Duration, SystemTime};

/// A time bound for listing filters: an instant, or an age ("created within the last hour").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeFilter {
    /// A point in time.
    At(SystemTime),
    /// That long ago (resolved to an instant when the request is built, so paging does
    /// not drift).
    Ago(Duration),
}

impl From<SystemTime> for TimeFilter {
    fn from(t: SystemTime) -> Self {
        TimeFilter::At(t)
    }
}

impl From<Duration> for TimeFilter {
    fn from(d: Duration) -> Self {
        TimeFilter::Ago(d)
    }
}

impl TimeFilter {
    pub(crate) fn resolve(&self, now: SystemTime) -> SystemTime {
        match self {
            TimeFilter::At(t) => *t,
            TimeFilter::Ago(d) => now.checked_sub(*d).unwrap_or(std::time::UNIX_EPOCH),
        }
    }
}

pub(crate) fn rfc3339(t: SystemTime) -> String {
    let odt = time::OffsetDateTime::from(t);
    odt.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs().to_string())
                .unwrap_or_default()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_filters_are_utc_rfc3339() {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(86_400);
        assert_eq!(rfc3339(t), "1970-01-02T00:00:00Z");
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(
            TimeFilter::Ago(Duration::from_secs(10)).resolve(now),
            std::time::UNIX_EPOCH + Duration::from_secs(990)
        );
    }
}
