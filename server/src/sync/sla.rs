//! SLA on tickets: the due date a ticket was filed with is kept on its link, and a ticket that
//! passes it while its finding is still open gets one `[Verdict]` comment saying so.

use chrono::{NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};

use super::{JobError, Payload};
use crate::state::AppState;
use crate::store::entities::{findings as finding_rows, jira_links};
use crate::triage::OWN_COMMENT_TAG;

/// At most this many overdue tickets are handled per sweep (the next sweep takes the rest).
pub const SWEEP_BATCH: u64 = 500;

/// Keeps the due date a ticket was filed with, inside the transaction that links it.
pub async fn record_due_date_in(
    txn: &sea_orm::DatabaseTransaction,
    tenant: &str,
    finding_id: &str,
    due_date: &str,
) -> Result<(), sea_orm::DbErr> {
    jira_links::Entity::update_many()
        .col_expr(
            jira_links::Column::DueDate,
            sea_orm::sea_query::Expr::value(due_date.to_owned()),
        )
        .filter(jira_links::Column::TenantId.eq(tenant))
        .filter(jira_links::Column::FindingId.eq(finding_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Comments once on each ticket whose due date is before `today` while its finding is open.
/// Tickets whose finding is no longer open are marked too, and never commented on. Returns
/// how many tickets got the comment.
pub async fn note_overdue(state: &AppState, today: NaiveDate) -> Result<usize, JobError> {
    let today = today.format("%Y-%m-%d").to_string();
    let due = jira_links::Entity::find()
        .filter(jira_links::Column::DueDate.is_not_null())
        .filter(jira_links::Column::DueDate.lt(today))
        .filter(jira_links::Column::OverdueNotedAt.is_null())
        .order_by_asc(jira_links::Column::DueDate)
        .limit(SWEEP_BATCH)
        .all(state.store().db())
        .await?;
    let mut commented = 0;
    for link in due {
        let finding = finding_rows::Entity::find_by_id(link.finding_id.clone())
            .filter(finding_rows::Column::TenantId.eq(&link.tenant_id))
            .one(state.store().db())
            .await?;
        let open = finding
            .as_ref()
            .is_some_and(|f| f.status == rules_sdk::FindingStatus::Open.as_str());
        let _gate = state.store().write_lock().await;
        let txn = state.store().db().begin().await?;
        if open && let Some(f) = &finding {
            super::enqueue_in(
                &txn,
                &link.tenant_id,
                Some(&link.finding_id),
                None,
                &Payload::Comment {
                    issue_id: link.issue_id.clone(),
                    text: format!(
                        "{OWN_COMMENT_TAG} This ticket passed its due date ({}) while its {} finding is still open.",
                        link.due_date.as_deref().unwrap_or_default(),
                        f.severity
                    ),
                },
            )
            .await?;
            commented += 1;
        }
        let mut row = link.into_active_model();
        row.overdue_noted_at = Set(Some(Utc::now()));
        row.update(&txn).await?;
        txn.commit().await?;
    }
    if commented > 0 {
        state.outbox_queue().wake();
    }
    Ok(commented)
}
