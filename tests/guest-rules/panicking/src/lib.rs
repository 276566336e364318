//! Passes the upload smoke run, then panics (or spins) on tickets that ask for it: the
//! server's tests use it to check a failing rule falls back to the default policy.

use rules_sdk::{ClosureDecision, ClosureInput, Rule};

pub struct Panicking;

impl Rule for Panicking {
    fn closure(input: &ClosureInput) -> ClosureDecision {
        for c in &input.ticket.comments {
            if c.body.contains("panic please") {
                panic!("asked to panic by comment {}", c.id);
            }
            if c.body.contains("spin please") {
                let mut n: u64 = 0;
                loop {
                    n = n.wrapping_add(std::hint::black_box(1));
                    if std::hint::black_box(n) == 0 {
                        break;
                    }
                }
            }
        }
        ClosureDecision::Defer
    }
}

rules_sdk::export_rule!(Panicking);
