//! Passes the upload smoke run, then panics (or spins) on tickets that ask for it: the
//! server's tests use it to check a failing rule falls back to the default policy. It also
//! hoards memory when asked ("hoard 2048 kib"), to drive the SDK's allocator past its arena.

use rules_sdk::{ClosureDecision, ClosureInput, Rule};

pub struct Panicking;

impl Rule for Panicking {
    fn closure(input: &ClosureInput) -> ClosureDecision {
        for c in &input.ticket.comments {
            if let Some(kib) = c
                .body
                .strip_prefix("hoard ")
                .and_then(|rest| rest.strip_suffix(" kib"))
                .and_then(|n| n.parse::<usize>().ok())
            {
                // Up to 256 small blocks and one large one for the rest, all written.
                let small: Vec<Vec<u8>> = (0..kib.min(256)).map(|i| vec![i as u8; 512]).collect();
                let large = vec![7u8; (kib * 1024).saturating_sub(small.len() * 512)];
                let sum: usize = small.iter().map(|b| b[511] as usize).sum::<usize>()
                    + large
                        .iter()
                        .step_by(4096)
                        .map(|b| *b as usize)
                        .sum::<usize>();
                return ClosureDecision::Skip(format!("held {kib} KiB ({sum})"));
            }
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
