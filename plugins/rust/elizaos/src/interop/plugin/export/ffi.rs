//! The C FFI glue of section 6. Called by the `extern "C"` functions `export_plugin!` emits.
//!
//! Every returned string is the plain JSON value (Manifest, ActionResult, ProviderResult,
//! EvaluatorResult or the text `null`). Failure is NULL or a negative status; the error object
//! waits, per thread, for `elizaos_last_error` (handed out once, cleared at the start of every
//! call).

use super::bridge::{decode_call, decode_json, validate_status, Bridge, GlobalBridge};
use crate::interop::plugin::Plugin;
use crate::interop::wire::Transport;
use crate::interop::wire::{status, write_json, Kind, RpcError};
use serde_json::Value;
use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The FFI ABI version `elizaos_abi_version` returns: section 6 with `elizaos_last_error`.
pub const ABI_VERSION: c_int = 1;

thread_local! {
    /// The pending `elizaos_last_error` string of this thread, or null. A raw pointer needs no
    /// destructor, so the thread-local registers none with the C runtime (a registered
    /// destructor would keep the library loaded after the host closes it). An error still
    /// pending when its thread exits is leaked.
    static LAST_ERROR: Cell<*mut c_char> = const { Cell::new(std::ptr::null_mut()) };
}

/// Replace this thread's pending error with `error` (or clear it with `None`).
fn set_last_error(error: Option<&RpcError>) {
    let next = error.map_or(std::ptr::null_mut(), |e| {
        let mut out = Vec::new();
        write_json(&mut out, &e.to_value());
        c_string(&out)
    });
    let previous = LAST_ERROR.with(|slot| slot.replace(next));
    // SAFETY: the previous pointer, if any, came from `c_string` and was never handed out.
    unsafe { free_string(previous) };
}

/// `elizaos_last_error`: this thread's pending error object, handed out once, or NULL.
pub fn last_error() -> *mut c_char {
    LAST_ERROR.with(|slot| slot.replace(std::ptr::null_mut()))
}

/// Borrow a C string argument's bytes; NULL is -32602.
///
/// # Safety
/// `ptr` is NULL or a valid NUL-terminated string for the duration of the call.
unsafe fn arg<'a>(param: &str, ptr: *const c_char) -> Result<&'a [u8], RpcError> {
    if ptr.is_null() {
        let expected = if param == "name" {
            "string"
        } else {
            "JSON text"
        };
        return Err(RpcError::invalid_param(param, expected, "null"));
    }
    // SAFETY: the caller guarantees a valid NUL-terminated string.
    Ok(unsafe { CStr::from_ptr(ptr) }.to_bytes())
}

/// An owned C string holding exactly `json` (NULL only if allocation fails).
fn c_string(json: &[u8]) -> *mut c_char {
    let mut bytes = Vec::new();
    if bytes.try_reserve_exact(json.len() + 1).is_err() {
        return std::ptr::null_mut();
    }
    bytes.extend_from_slice(json);
    bytes.push(0);
    // JSON text escapes U+0000 (`write_json` writes every control character as an escape), so
    // the only NUL is the terminator pushed above; the scan `CString::new` would make is skipped.
    debug_assert!(!json.contains(&0));
    // SAFETY: `bytes` ends with its only NUL byte.
    unsafe { CString::from_vec_with_nul_unchecked(bytes) }.into_raw()
}

/// The plain JSON text of a result, or NULL with the error stored for `elizaos_last_error`.
fn plain(outcome: Result<*mut c_char, RpcError>) -> *mut c_char {
    match outcome {
        Ok(ptr) => {
            if ptr.is_null() {
                set_last_error(Some(&RpcError::internal(
                    "cannot allocate the result string",
                )));
            }
            ptr
        }
        Err(e) => {
            set_last_error(Some(&e));
            std::ptr::null_mut()
        }
    }
}

/// `value` as an owned C string, serialised in the bridge's scratch buffer.
fn value_c_string<P: Plugin>(bridge: &Bridge<P>, value: &Value) -> *mut c_char {
    bridge.with_scratch(|buf| {
        write_json(buf, value);
        c_string(buf)
    })
}

fn panic_error() -> RpcError {
    RpcError::internal("panic in the FFI bridge")
}

fn string_guarded(f: impl FnOnce() -> Result<*mut c_char, RpcError>) -> *mut c_char {
    set_last_error(None);
    plain(catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(panic_error())))
}

fn status_guarded(f: impl FnOnce() -> (c_int, Option<RpcError>)) -> c_int {
    set_last_error(None);
    let (rc, error) = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        let e = panic_error();
        (status::HANDLER_FAILED, Some(e))
    });
    if rc < 0 {
        set_last_error(error.as_ref());
    }
    rc
}

/// `elizaos_get_manifest`: the manifest JSON.
pub fn get_manifest<P: Plugin>(g: &GlobalBridge<P>) -> *mut c_char {
    string_guarded(|| g.with(Transport::Ffi, |b| b.manifest_json().map(c_string)))
}

/// `elizaos_init`.
///
/// # Safety
/// `config` is NULL or a valid NUL-terminated string.
pub unsafe fn init<P: Plugin>(g: &GlobalBridge<P>, config: *const c_char) -> c_int {
    status_guarded(|| {
        // SAFETY: forwarded from the caller.
        let outcome = unsafe { arg("config", config) }
            .and_then(|bytes| decode_json("config", bytes))
            .and_then(|cfg| g.with(Transport::Ffi, |b| b.init(&cfg)));
        match outcome {
            Ok(()) => (status::OK, None),
            Err(e) => (e.status(), Some(e)),
        }
    })
}

/// `elizaos_validate_action` / `elizaos_validate_evaluator`.
///
/// # Safety
/// Each pointer is NULL or a valid NUL-terminated string.
pub unsafe fn validate<P: Plugin>(
    g: &GlobalBridge<P>,
    kind: Kind,
    name: *const c_char,
    memory: *const c_char,
    state: *const c_char,
) -> c_int {
    status_guarded(|| {
        // SAFETY: forwarded from the caller.
        let args = unsafe {
            (
                arg("name", name),
                arg("memory", memory),
                arg("state", state),
            )
        };
        let outcome = match args {
            (Ok(n), Ok(m), Ok(s)) => decode_call(n, m, s, None),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e),
        }
        .and_then(|call| g.with(Transport::Ffi, |b| b.validate(kind, &call)));
        validate_status(outcome)
    })
}

/// `elizaos_invoke_action` (with `options`), `elizaos_get_provider`, `elizaos_invoke_evaluator`:
/// the result's JSON (`null` for a silent evaluator), or NULL on failure.
///
/// # Safety
/// Each pointer is NULL or a valid NUL-terminated string; `options` is `Some` for actions only.
pub unsafe fn invoke<P: Plugin>(
    g: &GlobalBridge<P>,
    kind: Kind,
    name: *const c_char,
    memory: *const c_char,
    state: *const c_char,
    options: Option<*const c_char>,
) -> *mut c_char {
    string_guarded(|| {
        // SAFETY: forwarded from the caller.
        let (n, m, s) = unsafe {
            (
                arg("name", name)?,
                arg("memory", memory)?,
                arg("state", state)?,
            )
        };
        // SAFETY: forwarded from the caller.
        let o = match options {
            Some(p) => Some(unsafe { arg("options", p) }?),
            None => None,
        };
        let call = decode_call(n, m, s, o)?;
        g.with(Transport::Ffi, |b| {
            b.invoke(kind, &call).map(|v| value_c_string(b, &v))
        })
    })
}

/// `elizaos_free_string`: release a string returned by this library; NULL is a no-op.
///
/// # Safety
/// `ptr` is NULL or a pointer returned by this library's exports, not yet freed.
pub unsafe fn free_string(ptr: *mut c_char) {
    if !ptr.is_null() {
        // SAFETY: the pointer came from CString::into_raw in this library.
        drop(unsafe { CString::from_raw(ptr) });
    }
}
