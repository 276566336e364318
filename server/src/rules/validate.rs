//! The host checks every decision before anyone acts on it: a rule cannot pick a transition
//! that was not offered, invent a resolution, or hide a finding without saying why.

use rules_sdk::{
    ClosureDecision, FindingStatus, RuleInput, RuleOutput, TicketDecision, TransitionDecision,
};

use super::error::RuleError;

const MAX_REASON: usize = 2_000;

fn bad(msg: impl Into<String>) -> Result<(), RuleError> {
    Err(RuleError::OutputInvalid(msg.into()))
}

fn reason(r: &str, required: bool) -> Result<(), RuleError> {
    if required && r.trim().is_empty() {
        return bad("the reason is empty");
    }
    if r.len() > MAX_REASON {
        return bad(format!("the reason is over {MAX_REASON} bytes"));
    }
    if r.contains('\0') {
        return bad("the reason contains a NUL byte");
    }
    Ok(())
}

fn valid_date(d: &str) -> bool {
    let b = d.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |s: &str| s.parse::<u32>().ok();
    match (num(&d[0..4]), num(&d[5..7]), num(&d[8..10])) {
        (Some(y), Some(m), Some(day)) => {
            (1970..=9999).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&day)
        }
        _ => false,
    }
}

/// The longest group a plan may name (stored with a prefix in a 300-byte column).
const MAX_GROUP: usize = 200;
/// The longest assignee: an Atlassian account id is 128 at most; Data Center names 255.
const MAX_ASSIGNEE: usize = 255;

/// Contract 1.3.0's additions to a plan: fields read like a field map (same limits, no
/// fields Verdict fills itself), a bounded group and epic key, a plausible assignee.
fn plan_extras(p: &rules_sdk::TicketPlan) -> Result<(), RuleError> {
    if !p.fields.is_empty() {
        let mut map = serde_json::Map::new();
        for f in &p.fields {
            let value: serde_json::Value = serde_json::from_str(&f.value).map_err(|e| {
                RuleError::OutputInvalid(format!(
                    "the value of field `{}` is not JSON ({e}); a text is written \"…\"",
                    f.field
                ))
            })?;
            if map.insert(f.field.clone(), value).is_some() {
                return bad(format!("field `{}` is set twice", f.field));
            }
        }
        verdict_wire::field_map::parse(&serde_json::Value::Object(map).to_string())
            .map_err(|e| RuleError::OutputInvalid(format!("the plan's fields: {e}")))?;
    }
    for (what, v) in [("group", &p.group), ("epic", &p.epic)] {
        if let Some(g) = v
            && (g.trim().is_empty() || g.len() > MAX_GROUP || g.chars().any(char::is_control))
        {
            return bad(format!(
                "the {what} is empty, over {MAX_GROUP} bytes or has control characters"
            ));
        }
    }
    if let Some(a) = &p.assignee
        && (a.trim().is_empty() || a.len() > MAX_ASSIGNEE || a.chars().any(char::is_control))
    {
        return bad(format!(
            "the assignee is empty, over {MAX_ASSIGNEE} bytes or has control characters"
        ));
    }
    Ok(())
}

pub fn validate_output(input: &RuleInput, output: &RuleOutput) -> Result<(), RuleError> {
    match (input, output) {
        (RuleInput::Closure(_), RuleOutput::Closure(d)) => match d {
            ClosureDecision::Apply(v) => {
                if v.status == FindingStatus::Open {
                    return bad("a closure verdict cannot be `open`");
                }
                if !(0.0..=1.0).contains(&v.confidence) || v.confidence.is_nan() {
                    return bad(format!("confidence {} is not within 0–1", v.confidence));
                }
                reason(&v.reason, v.status.requires_reason())
            }
            ClosureDecision::Skip(r) => reason(r, false),
            ClosureDecision::Defer => Ok(()),
        },
        (RuleInput::Transition(i), RuleOutput::Transition(d)) => match d {
            TransitionDecision::Take(c) => {
                let Some(t) = i.transitions.iter().find(|t| t.id == c.id) else {
                    return bad(format!("transition `{}` was not offered", c.id));
                };
                let needs_resolution = t.required_fields.iter().any(|f| f == "resolution");
                match &c.resolution {
                    None if needs_resolution => {
                        return bad(format!(
                            "transition `{}` requires a resolution and none was given",
                            c.id
                        ));
                    }
                    Some(r) if !i.resolutions.is_empty() && !i.resolutions.contains(r) => {
                        return bad(format!("resolution `{r}` is not one the project offers"));
                    }
                    _ => {}
                }
                reason(&c.reason, false)
            }
            TransitionDecision::None(r) => reason(r, false),
            TransitionDecision::Defer => Ok(()),
        },
        (RuleInput::Ticketing(_), RuleOutput::Ticketing(d)) => match d {
            TicketDecision::Create(p) => {
                if p.project.trim().is_empty() {
                    return bad("the ticket plan has no project");
                }
                if p.issue_type.trim().is_empty() {
                    return bad("the ticket plan has no issue type");
                }
                if let Some(l) = p.labels.iter().find(|l| l.is_empty() || l.contains(' ')) {
                    return bad(format!(
                        "label `{l}` is empty or contains a space (Jira labels cannot)"
                    ));
                }
                if let Some(d) = &p.due_date
                    && !valid_date(d)
                {
                    return bad(format!("due date `{d}` is not YYYY-MM-DD"));
                }
                plan_extras(p)?;
                reason(&p.reason, false)
            }
            TicketDecision::Skip(r) => reason(r, false),
            TicketDecision::Defer => Ok(()),
        },
        _ => bad("the output is for a different decision than the input"),
    }
}
