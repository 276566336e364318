//! Notes on a finding, both ways: a note added in Verdict becomes a tagged comment on the
//! finding's ticket (now, or when its ticket is filed) and is never read back as evidence; the
//! ticket's own Jira comments, masked as stored, are listed beside the notes.

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use serde::Serialize;

use crate::findings::model::{Actor, EventKind, EventSource};
use crate::findings::{self, FindingsError};
use crate::outbox::{self, Payload};
use crate::redact;
use crate::state::AppState;
use crate::store::entities::{api_keys, finding_events, ticket_comments};
use crate::triage::OWN_COMMENT_TAG;

/// A note is at most this many characters.
pub const MAX_NOTE_CHARS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum NotesError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Findings(#[from] FindingsError),
    #[error("cannot queue the note's Jira comment: {0}")]
    Queue(String),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// Where a note was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoteSource {
    /// Added through Verdict (API); sent to the ticket as a `[Verdict]` comment.
    Verdict,
    /// A comment on the finding's Jira ticket.
    Jira,
}

/// One note or Jira comment on a finding.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Note {
    pub source: NoteSource,
    /// The API key's name (Verdict) or the Jira account id (Jira).
    pub author: String,
    /// Masked: secrets never appear.
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// The Jira comment's id (Jira notes).
    pub jira_comment_id: Option<String>,
}

/// The comment a note becomes: tagged, so closure decisions never read it as evidence.
pub fn comment_text(author: &str, body: &str) -> String {
    format!("{OWN_COMMENT_TAG} Note from {author}: {body}")
}

/// Who writes a note.
#[derive(Debug, Clone)]
pub enum Writer {
    /// An API key, by id (named by the key's name).
    ApiKey(String),
    /// A Jira administrator in the admin app, by account id.
    JiraAccount(String),
    /// The operator holding the server's admin token.
    Operator,
}

impl Writer {
    fn actor(&self) -> Actor {
        match self {
            Writer::ApiKey(id) => Actor::ApiKey(id.clone()),
            Writer::JiraAccount(id) => Actor::JiraAccount(id.clone()),
            Writer::Operator => Actor::System("operator".into()),
        }
    }
}

/// How an author appears: an API key by its name, anyone else by their id.
async fn author_of<C: sea_orm::ConnectionTrait>(
    db: &C,
    actor_kind: &str,
    actor_id: &str,
) -> Result<String, sea_orm::DbErr> {
    let name = match actor_kind {
        "api_key" => api_keys::Entity::find_by_id(actor_id.to_owned())
            .one(db)
            .await?
            .map(|k| k.name),
        _ => None,
    };
    Ok(name.unwrap_or_else(|| actor_id.to_owned()))
}

/// Adds a note. Returns it and whether its comment was queued for the ticket (a finding
/// without a ticket sends its notes when one is filed).
pub async fn add(
    state: &AppState,
    tenant: &str,
    finding_id: &str,
    writer: &Writer,
    body: &str,
) -> Result<(Note, bool), NotesError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(NotesError::Invalid("a note needs a body".into()));
    }
    if body.chars().count() > MAX_NOTE_CHARS {
        return Err(NotesError::Invalid(format!(
            "a note is at most {MAX_NOTE_CHARS} characters"
        )));
    }
    let finding = state.findings().get(tenant, finding_id).await?;
    let actor = writer.actor();
    let author = author_of(state.store().db(), actor.kind(), actor.id()).await?;
    let masked = redact::masked(body);
    let queued = {
        let _gate = state.store().write_lock().await;
        let txn = state.store().db().begin().await?;
        findings::note_in(
            &txn,
            tenant,
            finding_id,
            EventKind::Noted,
            &actor,
            EventSource::Api,
            masked.clone(),
            None,
        )
        .await?;
        let queued = match &finding.jira {
            Some(link) => {
                outbox::enqueue_in(
                    &txn,
                    tenant,
                    Some(finding_id),
                    None,
                    &Payload::Comment {
                        issue_id: link.issue_id.clone(),
                        text: comment_text(&author, &masked),
                    },
                )
                .await
                .map_err(|e| NotesError::Queue(e.to_string()))?;
                true
            }
            None => false,
        };
        txn.commit().await?;
        queued
    };
    if queued {
        state.outbox_queue().wake();
    }
    Ok((
        Note {
            source: NoteSource::Verdict,
            author,
            body: masked,
            created_at: Utc::now(),
            jira_comment_id: None,
        },
        queued,
    ))
}

async fn verdict_notes(
    db: &impl sea_orm::ConnectionTrait,
    tenant: &str,
    finding_id: &str,
) -> Result<Vec<finding_events::Model>, sea_orm::DbErr> {
    finding_events::Entity::find()
        .filter(finding_events::Column::TenantId.eq(tenant))
        .filter(finding_events::Column::FindingId.eq(finding_id))
        .filter(finding_events::Column::Kind.eq(EventKind::Noted.as_str()))
        .order_by_asc(finding_events::Column::CreatedAt)
        .all(db)
        .await
}

/// Queues, inside the transaction that links a new ticket, a comment for each note written
/// before the finding had one.
pub async fn send_earlier_in(
    txn: &sea_orm::DatabaseTransaction,
    tenant: &str,
    finding_id: &str,
    issue_id: &str,
) -> Result<usize, super::JobError> {
    let notes = verdict_notes(txn, tenant, finding_id).await?;
    let mut names: std::collections::HashMap<String, String> = Default::default();
    for n in &notes {
        if !names.contains_key(&n.actor_id) {
            let name = author_of(txn, &n.actor_kind, &n.actor_id).await?;
            names.insert(n.actor_id.clone(), name);
        }
        outbox::enqueue_in(
            txn,
            tenant,
            Some(finding_id),
            None,
            &Payload::Comment {
                issue_id: issue_id.to_owned(),
                text: comment_text(&names[&n.actor_id], n.reason.as_deref().unwrap_or_default()),
            },
        )
        .await?;
    }
    Ok(notes.len())
}

/// The finding's notes and its ticket's Jira comments (masked; Verdict's own tagged comments
/// are the notes themselves), oldest first.
pub async fn list(
    state: &AppState,
    tenant: &str,
    finding_id: &str,
) -> Result<Vec<Note>, NotesError> {
    let finding = state.findings().get(tenant, finding_id).await?;
    let db = state.store().db();
    let mut out = Vec::new();
    let mut names: std::collections::HashMap<String, String> = Default::default();
    for n in verdict_notes(db, tenant, finding_id).await? {
        if !names.contains_key(&n.actor_id) {
            names.insert(
                n.actor_id.clone(),
                author_of(db, &n.actor_kind, &n.actor_id).await?,
            );
        }
        out.push(Note {
            source: NoteSource::Verdict,
            author: names[&n.actor_id].clone(),
            body: n.reason.unwrap_or_default(),
            created_at: n.created_at,
            jira_comment_id: None,
        });
    }
    if let Some(link) = &finding.jira {
        for c in ticket_comments::Entity::find()
            .filter(ticket_comments::Column::TenantId.eq(tenant))
            .filter(ticket_comments::Column::IssueId.eq(&link.issue_id))
            .filter(ticket_comments::Column::Deleted.eq(false))
            .order_by_asc(ticket_comments::Column::Created)
            .all(db)
            .await?
        {
            if c.body.trim_start().starts_with(OWN_COMMENT_TAG) {
                continue;
            }
            out.push(Note {
                source: NoteSource::Jira,
                author: c.author,
                // Stored masked already; masked again in case an older row was not.
                body: redact::masked(&c.body),
                created_at: Utc
                    .timestamp_millis_opt(c.created)
                    .single()
                    .unwrap_or_else(Utc::now),
                jira_comment_id: Some(c.comment_id),
            });
        }
    }
    out.sort_by_key(|n| n.created_at);
    Ok(out)
}
