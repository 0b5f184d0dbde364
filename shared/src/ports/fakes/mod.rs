//! In-memory fakes of the ports, for tests (`cfg(test)` or the `fakes` feature; never in a Lambda):
//! a state table with DynamoDB's conditional writes, an ECR registry, a topic and a rejects queue
//! that record, an Inspector whose findings the test sets; and [`Hooked`], which puts
//! [`Interleave`] hooks in front of any port (a fake or a real adapter) to run another delivery, a
//! failure or a crash just before the N-th call of an operation. No I/O, no clock, no threads.
//!
//! Every fake is a handle: clones share the same tables, so two gatekeepers built from clones are two
//! Lambda containers in front of one account. Every fake completes without waiting, so a delivery
//! over fakes finishes in one [`poll_once`] unless a hook halts it.

mod findings;
mod hooked;
mod recorders;
mod registry;
mod state;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

pub use findings::FakeFindings;
pub use recorders::{RecordingNotifier, RecordingRejects};
pub use registry::FakeRegistry;
pub use state::FakeState;

use crate::error::{AwsError, AwsErrorKind};

/// Locks a fake's tables; a test that panicked while holding them leaves them readable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Polls a future once, with no runtime: `Some` with its output if it completed, `None` if it stopped
/// at an [`Interleave::halt`] (the future is then dropped: the delivery died there, as a Lambda that
/// times out or crashes).
pub fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

type Run = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// What a hook does before its call.
enum Act {
    /// Runs something (another delivery, a push) to completion, then the call proceeds.
    Run(Run),
    /// The call fails with this error (nothing of the call happens).
    Fail(AwsError),
    /// The call never returns: the delivery stops there (see [`poll_once`]).
    Halt,
}

/// One hook: what to do before the `nth` call of `op`.
struct Hook {
    op: &'static str,
    nth: usize,
    act: Act,
}

#[derive(Default)]
struct Hooks {
    calls: HashMap<&'static str, usize>,
    pending: Vec<Hook>,
}

/// Interleavings made deterministic: something to do just before the N-th call (1-based) of a named
/// operation (the port method's name: `claim`, `put_tag`, `publish` ...) through one [`Hooked`] port.
#[derive(Default)]
pub struct Interleave {
    inner: Mutex<Hooks>,
}

impl std::fmt::Debug for Interleave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let h = lock(&self.inner);
        f.debug_struct("Interleave")
            .field("calls", &h.calls)
            .field("unfired", &h.pending.len())
            .finish()
    }
}

impl Interleave {
    /// Runs `run` to completion just before the `nth` call of `op` (another delivery, a push).
    pub fn before<F, Fut>(&self, op: &'static str, nth: usize, run: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let run: Run = Box::new(move || Box::pin(run()));
        self.add(op, nth, Act::Run(run));
    }

    /// Makes the `nth` call of `op` fail with `error`, doing nothing.
    pub fn fail(&self, op: &'static str, nth: usize, error: AwsError) {
        self.add(op, nth, Act::Fail(error));
    }

    /// Makes the `nth` call of `op` never return: the delivery dies just before it.
    pub fn halt(&self, op: &'static str, nth: usize) {
        self.add(op, nth, Act::Halt);
    }

    /// How many calls of `op` went through so far.
    pub fn calls(&self, op: &str) -> usize {
        lock(&self.inner).calls.get(op).copied().unwrap_or(0)
    }

    /// The hooks that have not fired, as `op#nth`: a test asserts there are none, so that a hook on
    /// a misspelt operation or a call that never came cannot pass unnoticed.
    pub fn unfired(&self) -> Vec<String> {
        lock(&self.inner)
            .pending
            .iter()
            .map(|h| format!("{}#{}", h.op, h.nth))
            .collect()
    }

    fn add(&self, op: &'static str, nth: usize, act: Act) {
        lock(&self.inner).pending.push(Hook { op, nth, act });
    }

    /// Counts a call of `op` and does what was hooked before it.
    async fn enter(&self, op: &'static str) -> Result<(), AwsError> {
        let due: Vec<Act> = {
            let mut h = lock(&self.inner);
            let n = h.calls.entry(op).or_insert(0);
            *n += 1;
            let n = *n;
            let (due, keep) = std::mem::take(&mut h.pending)
                .into_iter()
                .partition(|hook| hook.op == op && hook.nth == n);
            h.pending = keep;
            due.into_iter().map(|hook| hook.act).collect()
        };
        for act in due {
            match act {
                Act::Run(run) => run().await,
                Act::Fail(e) => return Err(e),
                Act::Halt => std::future::pending::<()>().await,
            }
        }
        Ok(())
    }
}

/// A failure a retry can cure (an `InternalError` of `operation`), for a hook to inject.
pub fn transient(operation: &'static str) -> AwsError {
    AwsError {
        operation,
        code: Some("InternalError".into()),
        message: "injected".into(),
        kind: AwsErrorKind::Transient,
    }
}

/// A port with [`Interleave`] hooks in front of every call: a fake (one hooked handle per container)
/// or a real adapter (a moto-backed test injecting a race or a failure).
#[derive(Debug, Clone, Default)]
pub struct Hooked<P> {
    /// The port that does the work.
    pub inner: P,
    /// The hooks; clones of this `Hooked` share them.
    pub hooks: Arc<Interleave>,
}

impl<P> Hooked<P> {
    /// `inner` with no hooks yet.
    pub fn new(inner: P) -> Hooked<P> {
        Hooked {
            inner,
            hooks: Arc::default(),
        }
    }
}
