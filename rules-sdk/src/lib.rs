//! The contract between Verdict and the rules customers ship as WebAssembly: the WIT package
//! (`wit/rules.wit`), its records as plain Rust types, the [`Rule`] trait a rule implements,
//! and the built-in default policy the server also runs natively.
//!
//! # Writing a rule
//!
//! ```
//! use rules_sdk::{ClosureDecision, ClosureInput, FindingStatus, Rule, Verdict};
//!
//! struct TestCodeIsNoise;
//!
//! impl Rule for TestCodeIsNoise {
//!     fn closure(input: &ClosureInput) -> ClosureDecision {
//!         let in_tests = input
//!             .finding
//!             .as_ref()
//!             .and_then(|f| f.file.as_deref())
//!             .is_some_and(|f| f.starts_with("tests/"));
//!         if in_tests {
//!             ClosureDecision::Apply(Verdict {
//!                 status: FindingStatus::FalsePositive,
//!                 reason: "the finding is in test code".into(),
//!                 confidence: 0.9,
//!             })
//!         } else {
//!             ClosureDecision::Defer // the default policy decides
//!         }
//!     }
//! }
//! // In the rule's crate (built for wasm32-unknown-unknown with the `guest` feature):
//! // rules_sdk::export_rule!(TestCodeIsNoise);
//! ```
//!
//! Test it natively with [`evaluate`] (or the `testing` feature's fixture runner), build it
//! to wasm, and upload it; see the README's "Writing rules" section.

#![cfg_attr(not(feature = "guest"), forbid(unsafe_code))]

pub mod contract;
pub mod defaults;
pub mod log;
pub mod policy;
pub mod text;

#[cfg(feature = "guest")]
#[doc(hidden)]
pub mod guest;

#[cfg(all(
    feature = "guest",
    not(feature = "custom-allocator"),
    target_arch = "wasm32"
))]
mod arena;

#[cfg(feature = "testing")]
pub mod testing;

pub use contract::*;
pub use text::PhraseMatch;

/// Every place each phrase is said in each text — as whole words, in any case, any run of
/// whitespace matching one space — ordered by text, offset and phrase (see [`text`]). In wasm
/// the host searches (contract 1.2.0); natively this crate does, the same way. More than
/// [`text::MAX_PHRASES`] phrases or [`text::MAX_MATCHES`] matches trap in wasm and panic
/// natively.
pub fn find_phrases(texts: &[String], phrases: &[String]) -> Vec<PhraseMatch> {
    #[cfg(all(feature = "guest", target_arch = "wasm32"))]
    return guest::find_phrases(texts, phrases);
    #[cfg(not(all(feature = "guest", target_arch = "wasm32")))]
    text::find_phrases(texts, phrases).unwrap_or_else(|e| panic!("{e}"))
}

/// A triage rule. Implement the decisions you want; the others answer
/// [`Defer`](ClosureDecision::Defer) and Verdict's default policy decides them.
pub trait Rule {
    /// What a closed ticket means.
    fn closure(input: &ClosureInput) -> ClosureDecision {
        let _ = input;
        ClosureDecision::Defer
    }

    /// Which transition moves a ticket to reflect a finding's new status.
    fn transition(input: &TransitionInput) -> TransitionDecision {
        let _ = input;
        TransitionDecision::Defer
    }

    /// Whether and how a new finding becomes a ticket.
    fn ticketing(input: &TicketInput) -> TicketDecision {
        let _ = input;
        TicketDecision::Defer
    }
}

/// Runs a rule natively on one input, as the host would in wasm.
pub fn evaluate<R: Rule>(input: &RuleInput) -> RuleOutput {
    match input {
        RuleInput::Closure(i) => RuleOutput::Closure(R::closure(i)),
        RuleInput::Transition(i) => RuleOutput::Transition(R::transition(i)),
        RuleInput::Ticketing(i) => RuleOutput::Ticketing(R::ticketing(i)),
    }
}

/// The built-in default policy as a [`Rule`]: what Verdict does when a tenant has no rule.
pub struct DefaultPolicy;

impl Rule for DefaultPolicy {
    fn closure(input: &ClosureInput) -> ClosureDecision {
        defaults::closure(input)
    }
    fn transition(input: &TransitionInput) -> TransitionDecision {
        defaults::transition(input)
    }
    fn ticketing(input: &TicketInput) -> TicketDecision {
        defaults::ticketing(input)
    }
}

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
