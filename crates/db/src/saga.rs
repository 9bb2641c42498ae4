//! Sagas: multi-step operations in which every step has an action and an
//! undo, run so that either every action happened or every completed one
//! was undone, even across a crash.
//!
//! How to write one:
//! - implement [`Step`] for each step; `action` returns a JSON output that
//!   later steps and this step's `undo` read from [`SagaState`];
//! - both must be **idempotent**, and `undo` must accept a step whose
//!   action never ran or ran only partly (its output is then `None`): after
//!   a crash the saga cannot know how far the interrupted call got;
//! - build a [`Saga`] (a kind name, the steps, a [`Recovery`] rule) and
//!   call [`Saga::run`] with the parameters; register the same saga with
//!   [`resume_all`] at start-up so interrupted ones are finished.
//!
//! Progress lives in the `sagas` table, written before each step
//! (write-ahead): `step` is the next step to run (direction `forward`), or
//! one past the next step to undo (direction `undo`). The row is deleted
//! when the saga ends either way.
//!
//! The rule on restart ([`Recovery`]): a saga found unwinding finishes its
//! undo. A saga found going forward is unwound by default
//! ([`Recovery::Unwind`]: the interrupted step is undone too, then every
//! completed one, as the caller that started it is gone and could not be
//! told of a success); a saga whose steps' actions are all safe to repeat
//! and whose result nobody waits for may choose [`Recovery::Continue`]:
//! the interrupted step's action runs again, then the rest.
//!
//! An undo that fails leaves the saga in direction `undo` with the error
//! recorded; [`resume_all`] retries it. Sagas of a kind no running code
//! knows are left alone. On PostgreSQL with several API processes, only one
//! process should call [`resume_all`] (the controller at start-up).
//!
//! Testing: [`Saga::fail_at`] makes a step's action fail instead of
//! running, [`Saga::crash_at`] stops the saga as if the process died just
//! as that step's action ran, leaving its row for [`resume_all`].
//!
//! `image`'s upload lease (`image::db::images::transition` with the
//! lease/abandon pattern) is the one-step form of this: the lease is the
//! persisted progress, and the abandon path is the undo.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use sqlx::Row;

use crate::Db;

#[derive(Debug, thiserror::Error)]
pub enum SagaError {
    /// A step's action failed: every completed step was undone.
    #[error("saga {kind} failed at step {step} ({name}): {message}; completed steps were undone")]
    Failed {
        kind: String,
        step: usize,
        name: &'static str,
        message: String,
    },
    /// An undo failed: the saga stays in the store, to be retried by
    /// [`resume_all`].
    #[error("saga {kind} could not undo step {step} ({name}): {message}")]
    UndoFailed {
        kind: String,
        step: usize,
        name: &'static str,
        message: String,
    },
    /// [`Saga::crash_at`] stopped the saga (tests only).
    #[error("saga {0} stopped by an injected crash")]
    Crashed(String),
    #[error("saga progress: {0}")]
    Store(#[from] sqlx::Error),
    #[error("saga state is not valid JSON: {0}")]
    State(#[from] serde_json::Error),
}

/// What a step's action or undo returns on failure: a message for the
/// log and for [`SagaError`].
pub type StepResult<T> = Result<T, String>;

/// One step of a saga over context `C` (what the steps need: the store,
/// a driver, …).
pub trait Step<C>: Send + Sync {
    /// Names the step in the saga's state (its output's key) and in errors.
    fn name(&self) -> &'static str;
    fn action<'a>(&'a self, ctx: &'a C, state: &'a SagaState) -> BoxFuture<'a, StepResult<Value>>;
    fn undo<'a>(&'a self, ctx: &'a C, state: &'a SagaState) -> BoxFuture<'a, StepResult<()>>;
}

/// What happens to a saga found going forward after a restart (see the
/// module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    Unwind,
    Continue,
}

/// The parameters a saga was started with and the outputs of its completed
/// steps.
#[derive(Debug, Clone, PartialEq)]
pub struct SagaState {
    pub params: Value,
    pub outputs: Map<String, Value>,
}

impl SagaState {
    /// The output of step `name`, when its action completed.
    pub fn output(&self, name: &str) -> Option<&Value> {
        self.outputs.get(name)
    }

    fn to_json(&self) -> String {
        serde_json::json!({"params": self.params, "outputs": self.outputs}).to_string()
    }

    fn from_json(text: &str) -> Result<SagaState, serde_json::Error> {
        let mut v: Value = serde_json::from_str(text)?;
        let params = v.get_mut("params").map(Value::take).unwrap_or(Value::Null);
        let outputs = match v.get_mut("outputs").map(Value::take) {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        Ok(SagaState { params, outputs })
    }
}

/// A saga definition: a kind (its name in the store) and its steps.
pub struct Saga<C> {
    pub kind: &'static str,
    pub steps: Vec<Arc<dyn Step<C>>>,
    pub recovery: Recovery,
    fail_at: Option<usize>,
    crash_at: Option<usize>,
}

impl<C> Clone for Saga<C> {
    fn clone(&self) -> Self {
        Saga {
            kind: self.kind,
            steps: self.steps.clone(),
            recovery: self.recovery,
            fail_at: self.fail_at,
            crash_at: self.crash_at,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Undo,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::Forward => "forward",
            Direction::Undo => "undo",
        }
    }
}

impl<C: Send + Sync> Saga<C> {
    pub fn new(kind: &'static str, steps: Vec<Arc<dyn Step<C>>>) -> Saga<C> {
        Saga {
            kind,
            steps,
            recovery: Recovery::Unwind,
            fail_at: None,
            crash_at: None,
        }
    }

    pub fn with_recovery(mut self, recovery: Recovery) -> Saga<C> {
        self.recovery = recovery;
        self
    }

    /// Test aid: step `i`'s action fails (without running).
    pub fn fail_at(mut self, i: usize) -> Saga<C> {
        self.fail_at = Some(i);
        self
    }

    /// Test aid: the saga stops as if the process died while step `i`'s
    /// action ran (after the action, before its completion is recorded),
    /// returning [`SagaError::Crashed`] and leaving its row behind.
    pub fn crash_at(mut self, i: usize) -> Saga<C> {
        self.crash_at = Some(i);
        self
    }

    /// Runs the saga with `params` under the new id `id`: returns the final
    /// state when every step completed, or the failure after the undo.
    pub async fn run(
        &self,
        db: &Db,
        ctx: &C,
        id: &str,
        params: Value,
    ) -> Result<SagaState, SagaError> {
        let state = SagaState {
            params,
            outputs: Map::new(),
        };
        sqlx::query(
            "INSERT INTO sagas (id, kind, step, direction, state, error) \
             VALUES ($1, $2, 0, 'forward', $3, '')",
        )
        .bind(id)
        .bind(self.kind)
        .bind(state.to_json())
        .execute(&db.pool)
        .await?;
        self.forward(db, ctx, id, 0, state).await
    }

    async fn forward(
        &self,
        db: &Db,
        ctx: &C,
        id: &str,
        from: usize,
        mut state: SagaState,
    ) -> Result<SagaState, SagaError> {
        for (i, step) in self.steps.iter().enumerate().skip(from) {
            let result = if self.fail_at == Some(i) {
                Err("injected failure".to_string())
            } else {
                step.action(ctx, &state).await
            };
            if self.crash_at == Some(i) {
                return Err(SagaError::Crashed(self.kind.to_string()));
            }
            match result {
                Ok(out) => {
                    state.outputs.insert(step.name().to_string(), out);
                    save(db, id, i + 1, Direction::Forward, &state, "").await?;
                }
                Err(message) => {
                    tracing::warn!(saga = self.kind, id, step = step.name(), %message,
                        "saga step failed; undoing the completed steps");
                    save(db, id, i, Direction::Undo, &state, &message).await?;
                    self.unwind(db, ctx, id, i, &state).await?;
                    return Err(SagaError::Failed {
                        kind: self.kind.to_string(),
                        step: i,
                        name: step.name(),
                        message,
                    });
                }
            }
        }
        finish(db, id).await?;
        Ok(state)
    }

    /// Undoes steps `upto - 1` down to 0, recording each, then forgets the
    /// saga.
    async fn unwind(
        &self,
        db: &Db,
        ctx: &C,
        id: &str,
        upto: usize,
        state: &SagaState,
    ) -> Result<(), SagaError> {
        for i in (0..upto.min(self.steps.len())).rev() {
            let Some(step) = self.steps.get(i) else {
                continue;
            };
            if let Err(message) = step.undo(ctx, state).await {
                tracing::error!(saga = self.kind, id, step = step.name(), %message,
                    "saga undo failed; left for resume");
                save(db, id, i + 1, Direction::Undo, state, &message).await?;
                return Err(SagaError::UndoFailed {
                    kind: self.kind.to_string(),
                    step: i,
                    name: step.name(),
                    message,
                });
            }
            save(db, id, i, Direction::Undo, state, "").await?;
        }
        finish(db, id).await?;
        Ok(())
    }
}

async fn save(
    db: &Db,
    id: &str,
    step: usize,
    direction: Direction,
    state: &SagaState,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sagas SET step = $1, direction = $2, state = $3, error = $4 WHERE id = $5")
        .bind(i64::try_from(step).unwrap_or(i64::MAX))
        .bind(direction.as_str())
        .bind(state.to_json())
        .bind(error)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

async fn finish(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sagas WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// How one resumed saga ended.
#[derive(Debug)]
pub struct Resumed {
    pub id: String,
    pub kind: String,
    /// `Ok(Some(state))`: it completed forward; `Ok(None)`: it was undone.
    pub outcome: Result<Option<SagaState>, SagaError>,
}

/// Finishes every saga left in the store by a process that stopped, for the
/// kinds in `sagas` (see the module docs for the rule), and reports each.
pub async fn resume_all<C: Send + Sync>(
    db: &Db,
    ctx: &C,
    sagas: &[&Saga<C>],
) -> Result<Vec<Resumed>, SagaError> {
    let rows = sqlx::query("SELECT id, kind, step, direction, state FROM sagas ORDER BY id")
        .fetch_all(&db.pool)
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let id: String = r.try_get("id")?;
        let kind: String = r.try_get("kind")?;
        let Some(saga) = sagas.iter().find(|s| s.kind == kind) else {
            tracing::warn!(%id, %kind, "saga of a kind this process does not know; left as is");
            continue;
        };
        // A resumed saga runs for real: no injected faults.
        let saga = Saga {
            fail_at: None,
            crash_at: None,
            ..(*saga).clone()
        };
        let step = usize::try_from(r.try_get::<i64, _>("step")?).unwrap_or(0);
        let direction: String = r.try_get("direction")?;
        let state = SagaState::from_json(&r.try_get::<String, _>("state")?)?;
        let outcome = if direction == Direction::Undo.as_str() {
            saga.unwind(db, ctx, &id, step, &state).await.map(|()| None)
        } else {
            match saga.recovery {
                Recovery::Continue => saga.forward(db, ctx, &id, step, state).await.map(Some),
                Recovery::Unwind => {
                    tracing::info!(%id, %kind, step, "unwinding a saga interrupted going forward");
                    // The interrupted step may have partly happened: undo it too.
                    let upto = (step + 1).min(saga.steps.len());
                    save(db, &id, upto, Direction::Undo, &state, "interrupted").await?;
                    saga.unwind(db, ctx, &id, upto, &state).await.map(|()| None)
                }
            }
        };
        out.push(Resumed { id, kind, outcome });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDir;
    use std::sync::Mutex;

    /// Records every action and undo, so a test can check exactly which
    /// ran and in what order.
    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl Log {
        fn push(&self, s: String) {
            self.0.lock().unwrap().push(s);
        }
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    struct Rec(&'static str);

    impl Step<Log> for Rec {
        fn name(&self) -> &'static str {
            self.0
        }
        fn action<'a>(
            &'a self,
            ctx: &'a Log,
            state: &'a SagaState,
        ) -> BoxFuture<'a, StepResult<Value>> {
            Box::pin(async move {
                ctx.push(format!("do {}", self.0));
                Ok(serde_json::json!({"made": self.0, "n": state.outputs.len()}))
            })
        }
        fn undo<'a>(&'a self, ctx: &'a Log, state: &'a SagaState) -> BoxFuture<'a, StepResult<()>> {
            Box::pin(async move {
                let seen = state.output(self.0).is_some();
                ctx.push(format!(
                    "undo {} {}",
                    self.0,
                    if seen { "done" } else { "unknown" }
                ));
                Ok(())
            })
        }
    }

    fn saga() -> Saga<Log> {
        Saga::new(
            "test",
            vec![Arc::new(Rec("a")), Arc::new(Rec("b")), Arc::new(Rec("c"))],
        )
    }

    async fn rows(db: &Db) -> i64 {
        sqlx::query("SELECT COUNT(*) AS n FROM sagas")
            .fetch_one(&db.pool)
            .await
            .unwrap()
            .get("n")
    }

    #[tokio::test]
    async fn runs_every_step_and_forgets_the_saga() {
        let dir = TestDir::new().unwrap();
        let db = dir.fresh().await.unwrap();
        let log = Log::default();
        let state = saga()
            .run(&db, &log, "s1", serde_json::json!({"x": 1}))
            .await
            .unwrap();
        assert_eq!(log.take(), ["do a", "do b", "do c"]);
        assert_eq!(state.params, serde_json::json!({"x": 1}));
        assert_eq!(
            state.output("c"),
            Some(&serde_json::json!({"made": "c", "n": 2}))
        );
        assert_eq!(rows(&db).await, 0);
        db.close().await;
    }

    #[tokio::test]
    async fn a_failure_at_each_step_undoes_exactly_the_completed_ones_in_reverse() {
        let dir = TestDir::new().unwrap();
        let db = dir.fresh().await.unwrap();
        let names = ["a", "b", "c"];
        for i in 0..3 {
            let log = Log::default();
            let err = saga()
                .fail_at(i)
                .run(&db, &log, &format!("f{i}"), Value::Null)
                .await
                .unwrap_err();
            assert!(
                matches!(err, SagaError::Failed { step, .. } if step == i),
                "{err}"
            );
            let mut want: Vec<String> = names[..i].iter().map(|n| format!("do {n}")).collect();
            want.extend(names[..i].iter().rev().map(|n| format!("undo {n} done")));
            assert_eq!(log.take(), want, "failure at step {i}");
            assert_eq!(rows(&db).await, 0);
        }
        db.close().await;
    }

    #[tokio::test]
    async fn a_crash_going_forward_is_unwound_on_restart() {
        let dir = TestDir::new().unwrap();
        let db = dir.fresh().await.unwrap();
        for i in 0..3 {
            let log = Log::default();
            let err = saga()
                .crash_at(i)
                .run(&db, &log, &format!("c{i}"), Value::Null)
                .await
                .unwrap_err();
            assert!(matches!(err, SagaError::Crashed(_)));
            assert_eq!(rows(&db).await, 1);
            log.take();
            // "Restart": a new process resumes what it finds.
            let resumed = resume_all(&db, &log, &[&saga()]).await.unwrap();
            assert_eq!(resumed.len(), 1);
            assert!(matches!(resumed[0].outcome, Ok(None)));
            // The interrupted step is undone without an output (it may or
            // may not have happened), then the completed ones.
            let mut want = vec![format!("undo {} unknown", ["a", "b", "c"][i])];
            want.extend(
                ["a", "b", "c"][..i]
                    .iter()
                    .rev()
                    .map(|n| format!("undo {n} done")),
            );
            assert_eq!(log.take(), want, "crash at step {i}");
            assert_eq!(rows(&db).await, 0);
        }
        db.close().await;
    }

    #[tokio::test]
    async fn a_crash_going_forward_continues_when_the_saga_says_so() {
        let dir = TestDir::new().unwrap();
        let db = dir.fresh().await.unwrap();
        let log = Log::default();
        let s = saga().with_recovery(Recovery::Continue);
        s.clone()
            .crash_at(1)
            .run(&db, &log, "k", Value::Null)
            .await
            .unwrap_err();
        assert_eq!(log.take(), ["do a", "do b"]);
        let resumed = resume_all(&db, &log, &[&s]).await.unwrap();
        let state = resumed[0].outcome.as_ref().unwrap().as_ref().unwrap();
        assert!(state.output("a").is_some() && state.output("c").is_some());
        // The interrupted step's action runs again (it must be idempotent).
        assert_eq!(log.take(), ["do b", "do c"]);
        assert_eq!(rows(&db).await, 0);
        db.close().await;
    }

    struct FailingUndo(Mutex<u32>);

    impl Step<Log> for FailingUndo {
        fn name(&self) -> &'static str {
            "flaky"
        }
        fn action<'a>(&'a self, _: &'a Log, _: &'a SagaState) -> BoxFuture<'a, StepResult<Value>> {
            Box::pin(async { Ok(Value::Null) })
        }
        fn undo<'a>(&'a self, ctx: &'a Log, _: &'a SagaState) -> BoxFuture<'a, StepResult<()>> {
            Box::pin(async move {
                let mut left = self.0.lock().unwrap();
                if *left > 0 {
                    *left -= 1;
                    return Err("backend away".into());
                }
                ctx.push("undo flaky".into());
                Ok(())
            })
        }
    }

    #[tokio::test]
    async fn an_undo_that_fails_is_finished_by_resume() {
        let dir = TestDir::new().unwrap();
        let db = dir.fresh().await.unwrap();
        let log = Log::default();
        let s: Saga<Log> = Saga::new(
            "flaky",
            vec![
                Arc::new(Rec("a")),
                Arc::new(FailingUndo(Mutex::new(1))),
                Arc::new(Rec("c")),
            ],
        );
        let err = s
            .clone()
            .fail_at(2)
            .run(&db, &log, "u", Value::Null)
            .await
            .unwrap_err();
        assert!(
            matches!(err, SagaError::UndoFailed { step: 1, .. }),
            "{err}"
        );
        assert_eq!(log.take(), ["do a"]);
        assert_eq!(rows(&db).await, 1);
        let resumed = resume_all(&db, &log, &[&s]).await.unwrap();
        assert!(matches!(resumed[0].outcome, Ok(None)));
        // Undo resumes at the step that failed, not at the top.
        assert_eq!(log.take(), ["undo flaky", "undo a done"]);
        assert_eq!(rows(&db).await, 0);
        db.close().await;
    }
}
