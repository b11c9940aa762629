//! Panics inside handlers: the hook that records them and the guard that turns them into
//! -32000 errors, and the conversion of a handler's [`PluginError`] to its wire error.

use super::bridge::current_transport;
use crate::interop::plugin::PluginError;
use crate::interop::wire::{codes, panic_message, Kind, RpcError, Transport};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard, Once};

/// The handler running now, for the panic hook: its kind (`None` outside handlers) and its name.
/// The name buffer is reused from call to call, so naming the call costs no allocation.
///
/// These are plain statics, not thread-locals: a thread-local with a destructor registers it with
/// the C runtime, which then keeps an FFI plugin's library loaded after the host closes it, so a
/// reload would not start from a fresh plugin.
struct CurrentCall {
    kind: Option<Kind>,
    name: String,
}

static CURRENT_CALL: Mutex<CurrentCall> = Mutex::new(CurrentCall {
    kind: None,
    name: String::new(),
});
/// The message of the last panic, taken by [`Bridge`](super::Bridge) when it turns the panic into -32000.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);
static HOOK: Once = Once::new();

/// Record (or, with `None`, clear) the handler now running.
fn set_current_call(call: Option<(Kind, &str)>) {
    let mut c = lock(&CURRENT_CALL);
    c.name.clear();
    c.kind = call.map(|(kind, name)| {
        c.name.push_str(name);
        kind
    });
}

/// The handler running now, if any (an owned copy, for the panic hook, which must not block).
fn current_call() -> Option<(Kind, String)> {
    let c = CURRENT_CALL.try_lock().ok()?;
    c.kind.map(|k| (k, c.name.clone()))
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while the lock was held must not make every later call fail.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The message of a panic whose payload is not a string.
const NON_STRING_PAYLOAD: &str = "panic with a non-string payload";

fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    panic_message(payload).unwrap_or_else(|| NON_STRING_PAYLOAD.to_string())
}

/// Install (once) the panic hook that records the panic message for the bridge. A panic inside a
/// handler is reported by the hook chain (stderr) only over IPC, where stderr is the plugin's own
/// log; over FFI it stays silent (the host's stderr is not ours, and the host gets the message in
/// the -32000 error); in WASM the hook also prepares the `elizaos_last_error` buffer before the
/// abort traps. Panics outside handlers go to the previous hook unchanged.
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = payload_message(info.payload());
            let call = current_call();
            if cfg!(target_arch = "wasm32") {
                super::wasm::set_last_error(&panic_error(call.as_ref(), &message));
            }
            if let Ok(mut slot) = LAST_PANIC.try_lock() {
                *slot = Some(message);
            }
            if call.is_none() || current_transport() == Some(Transport::Ipc) {
                previous(info);
            }
        }));
    });
}

fn panic_error(call: Option<&(Kind, String)>, message: &str) -> RpcError {
    match call {
        Some((kind, name)) => RpcError::handler_failed(*kind, name, "panic", message),
        None => RpcError::with_data(
            codes::HANDLER_FAILED,
            message,
            serde_json::json!({"exception": "panic"}),
        ),
    }
}

/// Run `f`, turning a panic into -32000 with the panic message. `call` names the handler.
pub(super) fn guarded<R>(
    call: Option<(Kind, &str)>,
    f: impl FnOnce() -> Result<R, RpcError>,
) -> Result<R, RpcError> {
    set_current_call(call);
    let outcome = catch_unwind(AssertUnwindSafe(f));
    set_current_call(None);
    match outcome {
        Ok(r) => r,
        Err(payload) => {
            // The payload is this panic's own; the hook's copy in LAST_PANIC may come from a
            // panic on another thread, so it is only the fallback.
            let recorded = lock(&LAST_PANIC).take();
            let message = match payload_message(payload.as_ref()) {
                m if m == NON_STRING_PAYLOAD => recorded.unwrap_or(m),
                m => m,
            };
            let owned = call.map(|(k, n)| (k, n.to_string()));
            Err(panic_error(owned.as_ref(), &message))
        }
    }
}

/// Convert a handler's [`PluginError`] to the wire error (section 3.3): -32000 gets
/// `data {kind, name, exception}`; other codes keep the plugin's `data`.
pub(super) fn handler_error(kind: Kind, name: &str, e: PluginError) -> RpcError {
    if e.code == codes::HANDLER_FAILED {
        RpcError::handler_failed(kind, name, &e.exception, e.message)
    } else {
        RpcError {
            code: e.code,
            message: e.message,
            data: e.data,
        }
    }
}

pub(super) fn lifecycle_error(e: PluginError) -> RpcError {
    if e.code == codes::HANDLER_FAILED {
        RpcError::with_data(
            e.code,
            e.message,
            serde_json::json!({"exception": e.exception}),
        )
    } else {
        RpcError {
            code: e.code,
            message: e.message,
            data: e.data,
        }
    }
}
