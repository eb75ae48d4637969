//! Ctrl-C, as a flag the long-running commands (`realtime`, `emulator`) look at.
//!
//! The process installs a SIGINT handler only when such a command starts
//! ([`Interrupt::trigger_on_ctrl_c`]); tests trigger the flag by hand instead.

use std::io;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// A one-way "stop now" signal shared between the command and whoever stops it (the Ctrl-C
/// handler, or a test). Clones share the flag.
#[derive(Clone, Debug, Default)]
pub struct Interrupt {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl Interrupt {
    /// A signal that has not been triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the command to stop; wakes anyone waiting.
    pub fn trigger(&self) {
        let (flag, changed) = &*self.inner;
        *flag.lock().unwrap_or_else(PoisonError::into_inner) = true;
        changed.notify_all();
    }

    /// Whether [`trigger`](Self::trigger) was called.
    pub fn is_triggered(&self) -> bool {
        *self.inner.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until triggered or `timeout` has passed; returns whether it was triggered.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let (flag, changed) = &*self.inner;
        let guard = flag.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) =
            changed.wait_timeout_while(guard, timeout, |triggered| !*triggered).unwrap_or_else(PoisonError::into_inner);
        *guard
    }

    /// Waits until triggered.
    pub fn wait(&self) {
        let (flag, changed) = &*self.inner;
        let guard = flag.lock().unwrap_or_else(PoisonError::into_inner);
        drop(changed.wait_while(guard, |triggered| !*triggered).unwrap_or_else(PoisonError::into_inner));
    }

    /// Triggers this signal when the process receives Ctrl-C (SIGINT), from a background
    /// thread. On Unix the handler is registered before this returns, so a Ctrl-C right after
    /// it is never lost.
    pub fn trigger_on_ctrl_c(&self) -> io::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        #[cfg(unix)]
        let mut signal = {
            let _entered = runtime.enter();
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?
        };
        let interrupt = self.clone();
        std::thread::Builder::new().name("ttauth-ctrl-c".into()).spawn(move || {
            #[cfg(unix)]
            let received = runtime.block_on(signal.recv()).is_some();
            #[cfg(not(unix))]
            let received = runtime.block_on(tokio::signal::ctrl_c()).is_ok();
            if received {
                interrupt.trigger();
            }
        })?;
        Ok(())
    }
}
