//! Text shared by every interface's output: times, CSV cells, the audit log's CSV rows.

use seatkeeper_domain::Time;
use seatkeeper_domain::audit::AuditEntry;

/// RFC 3339 in UTC with a `Z`, fractions only when there are any.
pub fn time(t: Time) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A text cell for a CSV export, neutralized so that spreadsheets do not run it as a formula.
pub fn csv_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// The columns of the audit log's CSV export, in order.
pub const AUDIT_CSV_COLUMNS: [&str; 10] = [
    "id",
    "dateTime",
    "actor",
    "actorId",
    "action",
    "targetType",
    "targetId",
    "summary",
    "before",
    "after",
];

/// One audit entry as a CSV row under [`AUDIT_CSV_COLUMNS`].
pub fn audit_csv_record(e: &AuditEntry) -> [String; 10] {
    [
        e.id.to_string(),
        time(e.at),
        csv_cell(&e.actor),
        e.actor_id.map(|a| a.to_string()).unwrap_or_default(),
        csv_cell(e.action.as_str()),
        csv_cell(&e.target_type),
        csv_cell(&e.target_id),
        csv_cell(&e.summary),
        e.before.as_deref().map(csv_cell).unwrap_or_default(),
        e.after.as_deref().map(csv_cell).unwrap_or_default(),
    ]
}
