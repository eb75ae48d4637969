//! What a driver on Tokio needs besides its HTTP stack (the `tokio` feature): the wake-up (a
//! [`Notify`]), the blocking pool for the store, the wait for a wake-up, and the driving of an
//! exchange on a task of its own. Such a driver then writes only its send.

use std::pin::pin;
use std::sync::Arc;

use auth_core::{AuthRequest, Call, Drive, DriveStep, Ready, Step};
use auth_store::StoreError;
use http::Response;
use tokio::sync::Notify;

use crate::{Driving, Hub, Wake};

/// The tasks' wake-up: a [`Notify`] whose waiters register before they look at the session
/// ([`Hub::wait`]).
#[derive(Debug, Default)]
pub struct Changed(Notify);

impl Wake for Changed {
    fn wake_all(&self) {
        self.0.notify_waiters();
    }

    /// A drop guard's store work goes to the blocking pool when a runtime is there.
    fn run_blocking(&self, job: Box<dyn FnOnce() + Send>) {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(job)),
            Err(_) => job(),
        }
    }
}

/// Runs `job` on the blocking pool (the disk must not block an async thread); a panic in it is
/// the caller's.
pub async fn on_blocking_pool<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(job).await {
        Ok(out) => Ok(out),
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => Err(StoreError::runtime_gone()),
    }
}

impl Hub<Changed> {
    /// Waits for the session to change, then says what `call`'s caller does next. The wake-up
    /// is registered before the session is looked at again, so a driver that finishes between
    /// that look and the wait still wakes us. A future that was never polled registers nothing:
    /// the fast path of a request ([`Hub::poll`]) creates none.
    pub async fn wait(&self, call: &mut Call) -> Step {
        let mut changed = pin!(self.waker().0.notified());
        changed.as_mut().enable();
        match self.poll(call) {
            Step::Wait(at_most) => {
                drop(tokio::time::timeout(at_most, changed).await);
                self.poll(call)
            }
            step => step,
        }
    }

    /// Drives one exchange on a task of its own, which this caller awaits: if the caller is
    /// cancelled, the exchange still completes (its answer is handled, the rotated tokens kept
    /// and saved). Auth requests go out through `send` (`None`: no answer); store steps run
    /// on the blocking pool.
    pub async fn drive<F, S>(self: &Arc<Self>, drive: Drive, send: S) -> Result<(), StoreError>
    where
        S: Fn(AuthRequest) -> F + Send + 'static,
        F: Future<Output = Option<Response<Vec<u8>>>> + Send,
    {
        // Built before the spawn, so that even a task that never runs (a runtime shutting down)
        // drops it and finishes the exchange.
        let mut driving = Driving::new(Arc::clone(self), drive);
        let task = tokio::spawn(async move {
            loop {
                match driving.step() {
                    DriveStep::Send(request) => {
                        let answer = send(request).await;
                        driving.answer(answer.as_ref());
                    }
                    DriveStep::Done => return Ok(()),
                    store_step => {
                        let (back, outcome) = on_blocking_pool(move || {
                            let outcome = driving.store_step(store_step);
                            (driving, outcome)
                        })
                        .await?;
                        driving = back;
                        outcome?;
                    }
                }
            }
        });
        match task.await {
            Ok(outcome) => outcome,
            // The guard has finished the exchange; the panic is the caller's too.
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            // The runtime is shutting down; the guard has finished. The session says the rest.
            Err(_) => Ok(()),
        }
    }

    /// Carries `call` (a token, a handshake, a switch) to its value: drives exchanges (their
    /// auth requests through `send`, as for [`drive`](Self::drive)) and waits until it is ready.
    pub async fn finish<T, F, S>(self: &Arc<Self>, mut call: Call, send: S) -> Result<Ready, crate::Error<T>>
    where
        S: Fn(AuthRequest) -> F + Clone + Send + 'static,
        F: Future<Output = Option<Response<Vec<u8>>>> + Send,
    {
        let mut step = self.poll(&mut call);
        loop {
            step = match step {
                Step::Ready(ready) => return Ok(ready),
                Step::Failed(error) => return Err(error.into()),
                Step::Drive(drive) => {
                    self.drive(drive, send.clone()).await?;
                    self.poll(&mut call)
                }
                Step::Wait(_) | Step::Attach(_) => self.wait(&mut call).await,
            };
        }
    }
}
