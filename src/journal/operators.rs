//! Who did what: the actions of people at the print PC (and the
//! district's own commands), each recorded with its [`Actor`] and reported
//! to the district as an event.

use rusqlite::{params, Transaction};
use serde_json::json;

use super::{now, Actor, Ctx, Journal, JournalError, Result};

impl Journal {
    /// Records an operator's action that changes no job (a pause).
    pub fn record_action(&mut self, actor: impl Into<Actor>, action: &str, job_id: Option<&str>, detail: &str) -> Result<()> {
        let actor = &actor.into();
        let tx = self.ctx.begin(&mut self.conn)?;
        self.ctx.operator_action(&tx, actor, action, job_id, detail)?;
        self.ctx.commit(tx)
    }

    /// The actions of people at the print PC, newest last: (uid, action,
    /// job id). The district's own ([`Journal::actions`]) are not theirs.
    pub fn operator_actions(&self) -> Result<Vec<(u32, String, Option<String>)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT uid, action, job_id FROM operator_actions WHERE uid IS NOT NULL ORDER BY id")
            .map_err(self.ctx.sql())?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(self.ctx.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.ctx.sql())
    }

    /// Every recorded action, newest last: (who acted, action, job id).
    pub fn actions(&self) -> Result<Vec<(Actor, String, Option<String>)>> {
        let mut stmt = self.conn.prepare("SELECT actor, action, job_id FROM operator_actions ORDER BY id").map_err(self.ctx.sql())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.ctx.sql())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.ctx.sql())?;
        rows.into_iter()
            .map(|(who, action, job)| {
                let actor = serde_json::from_str(&who).map_err(|e| JournalError::Corrupt(format!("an action's actor {who:?}: {e}")))?;
                Ok((actor, action, job))
            })
            .collect()
    }
}

impl Ctx {
    /// An action of a person (or of the district, by a command): recorded
    /// with who acted, and reported to the district as an event.
    pub(crate) fn operator_action(
        &self,
        tx: &Transaction<'_>,
        actor: &Actor,
        action: &str,
        job_id: Option<&str>,
        detail: &str,
    ) -> Result<()> {
        let who = serde_json::to_string(actor).map_err(|e| JournalError::Corrupt(e.to_string()))?;
        tx.execute(
            "INSERT INTO operator_actions (at, uid, actor, action, job_id, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![now(), actor.uid(), who, action, job_id, detail],
        )
        .map_err(self.sql())?;
        let body = json!({"event": "operator_action", "action": action, "actor": actor, "uid": actor.uid(), "user": actor.name(), "job_id": job_id, "detail": detail});
        self.event(tx, job_id, body)
    }
}
