//! The raw WASM ABI glue of section 5. Called by the exports `export_plugin!` emits on wasm32;
//! compiled on every target so its logic is unit-tested natively.

use super::bridge::{decode_call, decode_json, validate_status, GlobalBridge};
use crate::interop::plugin::Plugin;
use crate::interop::wire::Transport;
use crate::interop::wire::{
    status, write_envelope, write_error_envelope, write_result_envelope_raw, Kind, RpcError,
};
use serde_json::Value;
use std::alloc::Layout;
use std::sync::atomic::{AtomicPtr, Ordering};

/// The pending `elizaos_last_error` buffer, or null.
static LAST_ERROR: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());

/// `alloc(len)`: `len` bytes for the host to write into; `alloc(0)` is a non-zero dangling
/// pointer; null means out of memory.
pub fn alloc(len: usize) -> *mut u8 {
    if len == 0 {
        return std::ptr::NonNull::<u8>::dangling().as_ptr();
    }
    match Layout::array::<u8>(len) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { std::alloc::alloc(layout) },
        Err(_) => std::ptr::null_mut(),
    }
}

/// `dealloc(ptr, len)`: free a block from `alloc` or a result buffer; `len == 0` is a no-op.
///
/// # Safety
/// `ptr` came from [`alloc`]`(len)` or is a result buffer of total size `len`, not yet freed.
pub unsafe fn dealloc(ptr: *mut u8, len: usize) {
    if len == 0 || ptr.is_null() {
        return;
    }
    if let Ok(layout) = Layout::array::<u8>(len) {
        // SAFETY: same layout as the allocation (alloc and Box<[u8]> both use align 1).
        unsafe { std::alloc::dealloc(ptr, layout) };
    }
}

/// An argument taken from the host: owned, freed on drop (arguments are consumed, 5.2).
pub struct Arg(Option<Box<[u8]>>);

impl Arg {
    /// Take ownership of `(ptr, len)` written by the host into an `alloc(len)` block.
    ///
    /// # Safety
    /// `ptr` came from [`alloc`]`(len)` and is not used by the caller afterwards.
    pub unsafe fn take(ptr: *mut u8, len: usize) -> Arg {
        if ptr.is_null() {
            return Arg(None);
        }
        // SAFETY: alloc(len) has the layout of a Box<[u8]> of length len (align 1); for
        // len == 0 the pointer is dangling and a zero-length box never frees it.
        Arg(Some(unsafe {
            Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len))
        }))
    }

    fn bytes(&self, param: &str) -> Result<&[u8], RpcError> {
        self.0.as_deref().ok_or_else(|| {
            let expected = if param == "name" {
                "string"
            } else {
                "JSON text"
            };
            RpcError::invalid_param(param, expected, "null")
        })
    }
}

/// A result buffer: LE `u32` length then the JSON bytes that `write` appends, serialised in
/// place (no intermediate string); null if allocation fails or the JSON exceeds 4 GiB.
fn buffer(capacity: usize, write: impl FnOnce(&mut Vec<u8>)) -> *mut u8 {
    let mut bytes: Vec<u8> = Vec::new();
    if bytes.try_reserve_exact(4 + capacity).is_err() {
        return std::ptr::null_mut();
    }
    bytes.extend_from_slice(&[0; 4]);
    write(&mut bytes);
    let Ok(n) = u32::try_from(bytes.len() - 4) else {
        return std::ptr::null_mut();
    };
    bytes[..4].copy_from_slice(&n.to_le_bytes());
    // The box's layout is exactly 4 + n bytes (align 1), which `dealloc(p, 4 + n)` frees.
    Box::into_raw(bytes.into_boxed_slice()).cast::<u8>()
}

/// A result buffer (length prefix and `bytes`) allocated at its exact size; null if allocation
/// fails or `bytes` is over 4 GiB.
fn exact_buffer(bytes: &[u8]) -> *mut u8 {
    let Ok(n) = u32::try_from(bytes.len()) else {
        return std::ptr::null_mut();
    };
    let mut out: Vec<u8> = Vec::new();
    if out.try_reserve_exact(4 + bytes.len()).is_err() {
        return std::ptr::null_mut();
    }
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(bytes);
    // Capacity equals length, so the boxed slice keeps the allocation: `dealloc(p, 4 + n)`.
    Box::into_raw(out.into_boxed_slice()).cast::<u8>()
}

/// A result buffer holding the envelope of `outcome`.
fn envelope_buffer(outcome: &Result<Value, RpcError>) -> *mut u8 {
    buffer(ENVELOPE_CAPACITY, |out| write_envelope(out, outcome))
}

/// First guess at an envelope's size: enough for small results without regrowing.
const ENVELOPE_CAPACITY: usize = 256;

fn free_buffer(ptr: *mut u8) {
    if ptr.is_null() {
        return;
    }
    let mut len = [0u8; 4];
    // SAFETY: ptr is a result buffer from `buffer`, at least 4 bytes long.
    unsafe { std::ptr::copy_nonoverlapping(ptr, len.as_mut_ptr(), 4) };
    // SAFETY: total size is 4 + the length prefix, as allocated by `buffer`.
    unsafe { dealloc(ptr, 4 + u32::from_le_bytes(len) as usize) };
}

/// Record `error` for `elizaos_last_error`, replacing (and freeing) any previous one.
pub fn set_last_error(error: &RpcError) {
    let ptr = buffer(ENVELOPE_CAPACITY, |out| write_error_envelope(out, error));
    free_buffer(LAST_ERROR.swap(ptr, Ordering::AcqRel));
}

fn clear_last_error() {
    free_buffer(LAST_ERROR.swap(std::ptr::null_mut(), Ordering::AcqRel));
}

/// `elizaos_last_error`: hand the pending `{"error": {...}}` buffer to the host (which frees it
/// with `dealloc`), or null. Each error is handed out once.
pub fn last_error() -> *mut u8 {
    LAST_ERROR.swap(std::ptr::null_mut(), Ordering::AcqRel)
}

fn status_of(outcome: (i32, Option<RpcError>)) -> i32 {
    if let Some(e) = &outcome.1 {
        set_last_error(e);
    }
    outcome.0
}

/// `get_manifest()`.
pub fn get_manifest<P: Plugin>(g: &GlobalBridge<P>) -> *mut u8 {
    clear_last_error();
    g.with(Transport::Wasm, |b| match b.manifest_json() {
        Ok(json) => buffer(json.len() + 12, |out| write_result_envelope_raw(out, json)),
        Err(e) => envelope_buffer(&Err(e)),
    })
}

/// `init(cfg_ptr, cfg_len)`.
pub fn init<P: Plugin>(g: &GlobalBridge<P>, config: Arg) -> i32 {
    clear_last_error();
    let outcome = config
        .bytes("config")
        .and_then(|b| decode_json("config", b))
        .and_then(|cfg| g.with(Transport::Wasm, |b| b.init(&cfg)));
    match outcome {
        Ok(()) => status::OK,
        Err(e) => status_of((e.status(), Some(e))),
    }
}

/// `wasm_validate_action` / `wasm_validate_evaluator`.
pub fn validate<P: Plugin>(
    g: &GlobalBridge<P>,
    kind: Kind,
    name: Arg,
    memory: Arg,
    state: Arg,
) -> i32 {
    clear_last_error();
    let outcome = (|| {
        let call = decode_call(
            name.bytes("name")?,
            memory.bytes("memory")?,
            state.bytes("state")?,
            None,
        )?;
        g.with(Transport::Wasm, |b| b.validate(kind, &call))
    })();
    status_of(validate_status(outcome))
}

/// `wasm_invoke_action` (with `options`), `wasm_get_provider`, `wasm_invoke_evaluator`.
pub fn invoke<P: Plugin>(
    g: &GlobalBridge<P>,
    kind: Kind,
    name: Arg,
    memory: Arg,
    state: Arg,
    options: Option<Arg>,
) -> *mut u8 {
    clear_last_error();
    let outcome = (|| {
        let o = match &options {
            Some(a) => Some(a.bytes("options")?),
            None => None,
        };
        let call = decode_call(
            name.bytes("name")?,
            memory.bytes("memory")?,
            state.bytes("state")?,
            o,
        )?;
        Ok(call)
    })();
    match outcome {
        Ok(call) => g.with(Transport::Wasm, |b| match b.invoke(kind, &call) {
            // Serialised in the bridge's scratch buffer, then copied once at its exact size.
            Ok(v) => b.with_scratch(|out| {
                write_envelope(out, &Ok(v));
                exact_buffer(out)
            }),
            Err(e) => envelope_buffer(&Err(e)),
        }),
        Err(e) => envelope_buffer(&Err(e)),
    }
}
