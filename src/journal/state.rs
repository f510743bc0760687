//! The job state machine of DESIGN §3, enforced in one place.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobState {
    Assigned,
    Ready,
    Rejected,
    Printing,
    Printed,
    Failed,
    Uncertain,
    Released,
    Reported,
    Purged,
}

impl JobState {
    pub const ALL: [JobState; 10] = [
        Self::Assigned,
        Self::Ready,
        Self::Rejected,
        Self::Printing,
        Self::Printed,
        Self::Failed,
        Self::Uncertain,
        Self::Released,
        Self::Reported,
        Self::Purged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assigned => "assigned",
            Self::Ready => "ready",
            Self::Rejected => "rejected",
            Self::Printing => "printing",
            Self::Printed => "printed",
            Self::Failed => "failed",
            Self::Uncertain => "uncertain",
            Self::Released => "released",
            Self::Reported => "reported",
            Self::Purged => "purged",
        }
    }

    /// Whether the job has a final result to report.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Printed | Self::Failed | Self::Rejected | Self::Released)
    }

    /// The one table of legal moves (DESIGN §3, with `released → assigned`:
    /// the district assigns again a job this station gave back, under a new
    /// epoch). Everything that changes a job's state asks this first.
    pub fn can_move_to(self, to: JobState) -> bool {
        use JobState::*;
        matches!(
            (self, to),
            (Assigned, Ready)
                | (Assigned, Rejected)
                | (Ready, Printing)
                | (Printing, Printed)
                | (Printing, Ready)
                | (Printing, Failed)
                | (Printing, Uncertain)
                | (Uncertain, Printed)
                | (Uncertain, Ready)
                | (Uncertain, Failed)
                | (Assigned, Released)
                | (Ready, Released)
                | (Released, Assigned)
                | (Printed, Reported)
                | (Failed, Reported)
                | (Rejected, Reported)
                | (Released, Reported)
                | (Reported, Purged)
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown job state {0:?}")]
pub struct UnknownState(pub String);

impl FromStr for JobState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().copied().find(|st| st.as_str() == s).ok_or_else(|| UnknownState(s.to_string()))
    }
}
