//! How an IPC connection fails and closes: time-outs, a dead child, every pending call failed
//! with one fault (section 3.5), and the orderly `shutdown` at close.

use std::time::{Duration, Instant};

use super::{exit_state, lock, Fault, IpcConnection, Slot};
use crate::interop::host::error::{ExitState, InteropError};
use crate::interop::host::pipe::{kill_and_reap, signal_child, wait_until};
use crate::interop::wire::methods;

impl IpcConnection {
    /// The call `id` ran out of time: with `wedge`, the process is killed and
    /// every pending call fails (3.5); without, only this call fails.
    pub(super) fn timed_out(&self, id: u64, describe: &dyn Fn() -> String, wedge: bool) {
        let fault = Fault::Timeout {
            trigger: id,
            description: describe(),
        };
        if wedge {
            self.fail_all(fault);
        } else if let Some(slot) = lock(&self.state).pending.get_mut(&id) {
            if matches!(slot, Slot::Waiting) {
                *slot = Slot::Failed(fault);
            }
        }
    }

    /// Fails every pending call with `fault`, marks the plugin closed, and
    /// kills and reaps the child. Only the first fault counts.
    pub(super) fn fail_all(&self, fault: Fault) {
        {
            let mut st = lock(&self.state);
            if st.closed.is_some() {
                return;
            }
            st.closed = Some(fault.clone());
            for slot in st.pending.values_mut() {
                if matches!(slot, Slot::Waiting) {
                    *slot = Slot::Failed(fault.clone());
                }
            }
            self.wake.notify_all();
        }
        kill_and_reap(&mut lock(&self.child));
    }

    /// The child closed stdout or stdin: wait (bounded) for its exit status,
    /// then fail everything with a crash naming it and quoting stderr.
    pub(super) fn child_gone(&self) {
        if lock(&self.state).closed.is_some() {
            return;
        }
        let status = {
            let mut child = lock(&self.child);
            match wait_until(&mut child, Duration::from_secs(2)) {
                Ok(Some(status)) => Some(status),
                // Closed its stdout but kept running: kill it, report what we saw.
                _ => kill_and_reap(&mut child),
            }
        };
        let stderr_tail = self.tail(Duration::from_millis(500));
        self.fail_all(Fault::Crash {
            exit: exit_state(status),
            stderr_tail,
        });
    }

    /// Turns a fault into the typed error for one call.
    pub(super) fn fault_error(
        &self,
        id: u64,
        method: &str,
        target: Option<&str>,
        timeout: Duration,
        fault: Fault,
    ) -> InteropError {
        let context = self.context(method, target);
        match fault {
            Fault::Timeout {
                trigger,
                description,
            } => InteropError::Timeout {
                context,
                timeout,
                wedged_by: (trigger != id).then_some(description),
            },
            Fault::Crash { exit, stderr_tail } => InteropError::Crash {
                context,
                exit,
                detail: None,
                stderr_tail,
            },
            Fault::Protocol { reason, excerpt } => InteropError::Protocol {
                context,
                reason,
                excerpt,
            },
            Fault::Closed => InteropError::Crash {
                context,
                exit: ExitState::Closed,
                detail: Some(Fault::Closed.summary()),
                stderr_tail: self.tail(Duration::ZERO),
            },
        }
    }

    /// Whether the connection is closed (by a fault or by the host).
    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.state).closed.is_some()
    }

    /// Closes the plugin (protocol.md 3.4): `shutdown` (only to a plugin
    /// that declared the capability), close stdin, wait up to the grace
    /// period, SIGTERM, SIGKILL after another grace period; always reaps.
    /// Idempotent.
    pub(crate) fn close(&self) {
        let grace = self.options.grace_period;
        let deadline = Instant::now() + grace;
        if !self.is_closed() && self.capabilities().shutdown {
            let _ = self.call_inner(
                methods::SHUTDOWN,
                None,
                &serde_json::json!({}),
                Some(grace),
                false,
                None,
            );
        }
        {
            let mut st = lock(&self.state);
            if st.closed.is_none() {
                st.closed = Some(Fault::Closed);
            }
            for slot in st.pending.values_mut() {
                if matches!(slot, Slot::Waiting) {
                    *slot = Slot::Failed(Fault::Closed);
                }
            }
            st.runtimes.clear();
            self.wake.notify_all();
        }
        // Closing stdin is the EOF signal of 3.4.
        lock(&self.stdin).take();
        {
            let mut child = lock(&self.child);
            let left = deadline.saturating_duration_since(Instant::now());
            if !matches!(wait_until(&mut child, left), Ok(Some(_))) {
                signal_child(&mut child, libc::SIGTERM);
                if !matches!(wait_until(&mut child, grace), Ok(Some(_))) {
                    kill_and_reap(&mut child);
                }
            }
            // Reap for sure (no-op when already reaped).
            let _ = child.wait();
        }
        // The drain thread ends at stderr EOF; join it unless a grandchild keeps stderr open.
        let _ = self.stderr.text(Duration::from_millis(500));
        if let Some(handle) = lock(&self.stderr_thread).take() {
            if handle.is_finished() {
                let _ = handle.join();
            }
        }
    }
}
