//! The contract between Verdict and the rules customers ship as WebAssembly: the vocabulary
//! both sides agree on (severities, finding statuses) and the built-in default [`policy`].

#![forbid(unsafe_code)]

pub mod policy;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How bad a finding is, as scanners and Jira priorities grade it.
///
/// Ordered from least to most severe, so `Severity::High > Severity::Low`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// Where a finding stands. `Open` is the only live state; the other three are the
/// meanings Verdict gives a closed ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    Open,
    Resolved,
    FalsePositive,
    AcceptedRisk,
}

impl FindingStatus {
    pub const ALL: [FindingStatus; 4] = [
        FindingStatus::Open,
        FindingStatus::Resolved,
        FindingStatus::FalsePositive,
        FindingStatus::AcceptedRisk,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Open => "open",
            FindingStatus::Resolved => "resolved",
            FindingStatus::FalsePositive => "false_positive",
            FindingStatus::AcceptedRisk => "accepted_risk",
        }
    }

    /// False Positive and Accepted Risk hide a finding that may still be live, so a
    /// human-readable justification is mandatory for them.
    pub fn requires_reason(self) -> bool {
        matches!(
            self,
            FindingStatus::FalsePositive | FindingStatus::AcceptedRisk
        )
    }
}

/// A name that is not one of the enum's values; carries the accepted values for the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
    pub expected: &'static [&'static str],
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} `{}`, expected one of: {}",
            self.kind,
            self.value,
            self.expected.join(", ")
        )
    }
}

impl std::error::Error for UnknownValue {}

macro_rules! str_enum {
    ($ty:ty, $kind:literal, [$($name:literal),*]) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| UnknownValue {
                        kind: $kind,
                        value: s.to_owned(),
                        expected: &[$($name),*],
                    })
            }
        }
    };
}

str_enum!(
    Severity,
    "severity",
    ["info", "low", "medium", "high", "critical"]
);
str_enum!(
    FindingStatus,
    "status",
    ["open", "resolved", "false_positive", "accepted_risk"]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_str_and_serde() {
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        for s in FindingStatus::ALL {
            assert_eq!(s.as_str().parse::<FindingStatus>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
    }

    #[test]
    fn unknown_value_names_the_expected_ones() {
        let err = "huge".parse::<Severity>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown severity `huge`, expected one of: info, low, medium, high, critical"
        );
    }

    #[test]
    fn severities_are_ordered() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::Info < Severity::Low);
    }

    #[test]
    fn only_hiding_statuses_require_a_reason() {
        assert!(FindingStatus::FalsePositive.requires_reason());
        assert!(FindingStatus::AcceptedRisk.requires_reason());
        assert!(!FindingStatus::Resolved.requires_reason());
        assert!(!FindingStatus::Open.requires_reason());
    }
}
