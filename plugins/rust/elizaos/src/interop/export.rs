//! Exporting a [`Plugin`]: the transport-independent [`Bridge`] (param validation, unknown names,
//! panics, result checks), the C FFI glue ([`ffi`], protocol.md section 6), the raw WASM ABI glue
//! ([`wasm`], section 5), and the [`export_plugin!`](crate::export_plugin) macro that emits the
//! `extern "C"` symbols in the plugin crate according to its `ffi`/`wasm` features.

use crate::interop::plugin::{Manifest, Plugin, PluginError};
use crate::interop::protocol::{
    call_args_from_parts, check_action_result, check_evaluator_result, check_provider_result,
    codes, methods, parse_call_args, parse_init_config, CallArgs, Kind, RpcError,
};
use serde_json::{Map, Value};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard, Once};

/// The transport a bridge serves. Handlers may ask [`current_transport`] when a behaviour depends
/// on it (the conformance fixture's `crash` action does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Subprocess NDJSON JSON-RPC (section 3).
    Ipc,
    /// C ABI shared library (section 6).
    Ffi,
    /// Raw WASM ABI (section 5).
    Wasm,
}

static TRANSPORT: AtomicU8 = AtomicU8::new(0);

/// The transport of the bridge serving this process or module, `None` before any bridge exists.
pub fn current_transport() -> Option<Transport> {
    match TRANSPORT.load(Ordering::Relaxed) {
        1 => Some(Transport::Ipc),
        2 => Some(Transport::Ffi),
        3 => Some(Transport::Wasm),
        _ => None,
    }
}

fn set_transport(t: Transport) {
    let v = match t {
        Transport::Ipc => 1,
        Transport::Ffi => 2,
        Transport::Wasm => 3,
    };
    TRANSPORT.store(v, Ordering::Relaxed);
}

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
/// The message of the last panic, taken by [`Bridge`] when it turns the panic into -32000.
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while the lock was held must not make every later call fail.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The message of a panic whose payload is not a string.
const NON_STRING_PAYLOAD: &str = "panic with a non-string payload";

fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        NON_STRING_PAYLOAD.to_string()
    }
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
                wasm::set_last_error(&panic_error(call.as_ref(), &message));
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
fn guarded<R>(
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
fn handler_error(kind: Kind, name: &str, e: PluginError) -> RpcError {
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

fn lifecycle_error(e: PluginError) -> RpcError {
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

/// One plugin behind one transport: everything between decoded arguments and a wire result.
pub struct Bridge<P: Plugin> {
    plugin: P,
    transport: Transport,
    manifest: std::cell::OnceCell<CachedManifest>,
    initialized: std::cell::Cell<bool>,
    /// The config of the last successful `init` (`{}` before any), for the runtime proxy (11.1).
    config: std::cell::RefCell<Value>,
}

/// The protocol version our SDK speaks (protocol.md section 12).
pub const PROTOCOL_VERSION: u64 = 1;

/// The capabilities (section 12) a bridge declares in the manifest for `transport`: over IPC the
/// server answers `shutdown` and forwards runtime calls (section 11); the in-process transports
/// implement neither (11.6).
pub fn capabilities(transport: Transport) -> &'static [&'static str] {
    match transport {
        Transport::Ipc => &["runtime", "shutdown"],
        Transport::Ffi | Transport::Wasm => &[],
    }
}

/// The manifest, asked of the plugin once: typed (for name checks), as a value (IPC) and as the
/// JSON text every WASM/FFI `get_manifest` call copies out.
struct CachedManifest {
    manifest: Manifest,
    value: Value,
    json: Box<[u8]>,
}

impl<P: Plugin> Bridge<P> {
    /// Wrap `plugin` for `transport`, installing the panic hook.
    pub fn new(plugin: P, transport: Transport) -> Self {
        set_transport(transport);
        install_panic_hook();
        Bridge {
            plugin,
            transport,
            manifest: std::cell::OnceCell::new(),
            initialized: std::cell::Cell::new(false),
            config: std::cell::RefCell::new(Value::Object(Map::new())),
        }
    }

    /// The plugin itself.
    pub fn plugin(&self) -> &P {
        &self.plugin
    }

    fn load_manifest(&self) -> Result<&CachedManifest, RpcError> {
        if self.manifest.get().is_none() {
            let plugin = &self.plugin;
            let manifest = guarded(None, || Ok(plugin.manifest()))?;
            let cannot = |e: serde_json::Error| {
                RpcError::internal(format!("cannot serialise the manifest: {e}"))
            };
            let mut value = serde_json::to_value(&manifest).map_err(cannot)?;
            if let Value::Object(members) = &mut value {
                members.insert("protocolVersion".into(), Value::from(PROTOCOL_VERSION));
                let caps = capabilities(self.transport);
                members.insert(
                    "capabilities".into(),
                    Value::Array(caps.iter().map(|c| Value::from(*c)).collect()),
                );
            }
            let json = serde_json::to_vec(&value)
                .map_err(cannot)?
                .into_boxed_slice();
            // A nested call made while the manifest was computed may have set it first.
            let _ = self.manifest.set(CachedManifest {
                manifest,
                value,
                json,
            });
        }
        self.manifest
            .get()
            .ok_or_else(|| RpcError::internal("manifest unavailable"))
    }

    /// `getManifest`: the manifest as JSON.
    pub fn manifest(&self) -> Result<Value, RpcError> {
        Ok(self.load_manifest()?.value.clone())
    }

    /// `getManifest`: the manifest as serialised JSON text, computed once and then borrowed.
    pub fn manifest_json(&self) -> Result<&[u8], RpcError> {
        Ok(&self.load_manifest()?.json)
    }

    /// `init`: configure the plugin; `config` must be an object.
    pub fn init(&self, config: &Value) -> Result<(), RpcError> {
        if !config.is_object() {
            return Err(RpcError::invalid_param(
                "config",
                "object",
                crate::interop::protocol::json_type_name(config),
            ));
        }
        let plugin = &self.plugin;
        guarded(None, || plugin.init(config).map_err(lifecycle_error))?;
        self.initialized.set(true);
        *self.config.borrow_mut() = config.clone();
        Ok(())
    }

    /// The config of the last successful `init`, `{}` before any.
    pub fn config(&self) -> Value {
        self.config.borrow().clone()
    }

    fn ensure_init(&self) -> Result<(), RpcError> {
        if !self.initialized.get() {
            self.init(&Value::Object(Map::new()))?;
        }
        Ok(())
    }

    fn check_name(&self, kind: Kind, name: &str) -> Result<(), RpcError> {
        let manifest = &self.load_manifest()?.manifest;
        let known = match kind {
            Kind::Action => manifest.actions.iter().any(|a| a.name == name),
            Kind::Provider => manifest.providers.iter().any(|p| p.name == name),
            Kind::Evaluator => manifest.evaluators.iter().any(|e| e.name == name),
        };
        if known {
            Ok(())
        } else {
            Err(RpcError::unknown_name(kind, name))
        }
    }

    /// `validateAction` (`Kind::Action`) or `validateEvaluator` (`Kind::Evaluator`).
    pub fn validate(&self, kind: Kind, args: &CallArgs) -> Result<bool, RpcError> {
        self.check_name(kind, &args.name)?;
        self.ensure_init()?;
        let plugin = &self.plugin;
        let name = args.name.as_str();
        guarded(Some((kind, name)), || {
            let r = match kind {
                Kind::Evaluator => plugin.validate_evaluator(name, &args.memory, &args.state),
                _ => plugin.validate_action(name, &args.memory, &args.state),
            };
            r.map_err(|e| handler_error(kind, name, e))
        })
    }

    /// `invokeAction`, `getProvider` or `invokeEvaluator`, by `kind`; the result is checked and
    /// canonicalised (-32003 when invalid).
    pub fn invoke(&self, kind: Kind, args: &CallArgs) -> Result<Value, RpcError> {
        self.check_name(kind, &args.name)?;
        self.ensure_init()?;
        let plugin = &self.plugin;
        let name = args.name.as_str();
        let raw = guarded(Some((kind, name)), || {
            let r = match kind {
                Kind::Action => {
                    plugin.invoke_action_json(name, &args.memory, &args.state, &args.options)
                }
                Kind::Provider => plugin.get_provider_json(name, &args.memory, &args.state),
                Kind::Evaluator => plugin.invoke_evaluator_json(name, &args.memory, &args.state),
            };
            r.map_err(|e| handler_error(kind, name, e))
        })?;
        let checked = match kind {
            Kind::Action => check_action_result(raw),
            Kind::Provider => check_provider_result(raw),
            Kind::Evaluator => check_evaluator_result(raw),
        };
        checked.map_err(|reason| RpcError::invalid_result(kind, name, reason))
    }

    /// Answer one IPC method with its params (section 3.3). `shutdown` is the server's business
    /// and answers `{}` here.
    pub fn dispatch(&self, method: &str, params: &Map<String, Value>) -> Result<Value, RpcError> {
        match method {
            methods::GET_MANIFEST => self.manifest(),
            methods::INIT => {
                let config = parse_init_config(params)?;
                self.init(&config)?;
                Ok(Value::Object(Map::new()))
            }
            methods::VALIDATE_ACTION => self
                .validate(Kind::Action, &parse_call_args(params, false)?)
                .map(Value::Bool),
            methods::VALIDATE_EVALUATOR => self
                .validate(Kind::Evaluator, &parse_call_args(params, false)?)
                .map(Value::Bool),
            methods::INVOKE_ACTION => self.invoke(Kind::Action, &parse_call_args(params, true)?),
            methods::GET_PROVIDER => self.invoke(Kind::Provider, &parse_call_args(params, false)?),
            methods::INVOKE_EVALUATOR => {
                self.invoke(Kind::Evaluator, &parse_call_args(params, false)?)
            }
            methods::SHUTDOWN => Ok(Value::Object(Map::new())),
            other => Err(RpcError::method_not_found(other)),
        }
    }
}

/// A process-wide bridge created on first use, for the FFI and WASM exports. Calls are serialised
/// by its mutex; a poisoned mutex is recovered, so one panic never disables later calls.
pub struct GlobalBridge<P: Plugin> {
    cell: Mutex<Option<Bridge<P>>>,
    ctor: fn() -> P,
}

impl<P: Plugin> GlobalBridge<P> {
    /// A bridge that constructs the plugin with `ctor` on the first call.
    pub const fn new(ctor: fn() -> P) -> Self {
        GlobalBridge {
            cell: Mutex::new(None),
            ctor,
        }
    }

    /// Run `f` with the bridge (constructing the plugin on first use), holding the lock.
    pub fn with<R>(&self, transport: Transport, f: impl FnOnce(&mut Bridge<P>) -> R) -> R {
        let mut guard = lock(&self.cell);
        let bridge = guard.get_or_insert_with(|| Bridge::new((self.ctor)(), transport));
        f(bridge)
    }
}

/// Decode a name argument (UTF-8 bytes, not JSON).
pub(crate) fn decode_name(bytes: &[u8]) -> Result<String, RpcError> {
    std::str::from_utf8(bytes)
        .map(str::to_string)
        .map_err(|_| RpcError::invalid_param("name", "string", "invalid UTF-8"))
}

/// Decode a JSON argument: not UTF-8 is -32602, not JSON is -32700.
fn decode_json(param: &str, bytes: &[u8]) -> Result<Value, RpcError> {
    // The empty object is what hosts send for absent state, options and config: skip the parser.
    if bytes == b"{}" {
        return Ok(Value::Object(Map::new()));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| RpcError::invalid_param(param, "JSON text", "invalid UTF-8"))?;
    serde_json::from_str(text)
        .map_err(|e| RpcError::parse_error(format!("argument {param:?} is not valid JSON ({e})")))
}

/// Build [`CallArgs`] from raw argument bytes, with the same validation and `data` as IPC params.
fn decode_call(
    name: &[u8],
    memory: &[u8],
    state: &[u8],
    options: Option<&[u8]>,
) -> Result<CallArgs, RpcError> {
    // Every argument is decoded before any is checked, as IPC params are parsed before they are
    // validated, so the first error reported is the same whatever the transport.
    let name = decode_name(name)?;
    let memory = decode_json("memory", memory)?;
    let state = decode_json("state", state)?;
    let options = match options {
        Some(o) => Some(decode_json("options", o)?),
        None => None,
    };
    call_args_from_parts(name, memory, state, options)
}

/// Status result of `validate_*` (1/0 or a negative status) and the error behind a negative one.
fn validate_status(outcome: Result<bool, RpcError>) -> (i32, Option<RpcError>) {
    match outcome {
        Ok(true) => (crate::interop::protocol::status::VALID, None),
        Ok(false) => (crate::interop::protocol::status::NOT_VALID, None),
        Err(e) => (e.status(), Some(e)),
    }
}

/// The C FFI glue of section 6. Called by the `extern "C"` functions `export_plugin!` emits.
///
/// Every returned string is the plain JSON value (Manifest, ActionResult, ProviderResult,
/// EvaluatorResult or the text `null`). Failure is NULL or a negative status; the error object
/// waits, per thread, for `elizaos_last_error` (handed out once, cleared at the start of every
/// call).
#[cfg(not(target_arch = "wasm32"))]
pub mod ffi {
    use super::{decode_call, decode_json, validate_status, GlobalBridge, Transport};
    use crate::interop::plugin::Plugin;
    use crate::interop::protocol::{status, write_json, Kind, RpcError};
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
            c_string(out)
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

    /// Turn JSON bytes into an owned C string (NULL only if allocation fails).
    fn c_string(mut bytes: Vec<u8>) -> *mut c_char {
        // Room for the terminator, so CString::new does not reallocate.
        if bytes.try_reserve_exact(1).is_err() {
            return std::ptr::null_mut();
        }
        // JSON text escapes U+0000, so it never contains an interior NUL.
        CString::new(bytes).map_or(std::ptr::null_mut(), CString::into_raw)
    }

    /// The plain JSON text of a result, or NULL with the error stored for `elizaos_last_error`.
    fn plain(outcome: Result<Vec<u8>, RpcError>) -> *mut c_char {
        match outcome {
            Ok(bytes) => {
                let ptr = c_string(bytes);
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

    fn value_bytes(value: &Value) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        write_json(&mut out, value);
        out
    }

    fn panic_error() -> RpcError {
        RpcError::internal("panic in the FFI bridge")
    }

    fn string_guarded(f: impl FnOnce() -> Result<Vec<u8>, RpcError>) -> *mut c_char {
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
        string_guarded(|| g.with(Transport::Ffi, |b| b.manifest_json().map(<[u8]>::to_vec)))
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
            g.with(Transport::Ffi, |b| b.invoke(kind, &call))
                .map(|v| value_bytes(&v))
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
}

/// The raw WASM ABI glue of section 5. Called by the exports `export_plugin!` emits on wasm32;
/// compiled on every target so its logic is unit-tested natively.
pub mod wasm {
    use super::{decode_call, decode_json, validate_status, GlobalBridge, Transport};
    use crate::interop::plugin::Plugin;
    use crate::interop::protocol::{
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
            g.with(Transport::Wasm, |b| b.invoke(kind, &call))
        })();
        envelope_buffer(&outcome)
    }
}

/// The allocator of WASM plugins: size-classed free lists in front of the system allocator.
///
/// Every call through the WASM ABI allocates and frees a few dozen small blocks (the arguments,
/// the parsed JSON, the result and its buffer). `dlmalloc`, std's allocator on
/// `wasm32-unknown-unknown`, spends a good share of a call's time on them; recycling small blocks
/// of the same size class from a free list costs a few instructions. Blocks of up to
/// [`SizeClasses::MAX_SMALL`] bytes are rounded up to a power of two (at least 16) and kept on
/// their class's list when freed; larger blocks and larger alignments go to the system allocator.
/// Freed small blocks are kept for reuse, so the module's footprint is its peak small-block usage.
///
/// `export_plugin!` installs it as the global allocator of WASM builds. It is only correct without
/// threads: it exists only on `wasm32` without the `atomics` feature.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
pub mod allocator {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::UnsafeCell;

    /// Number of size classes: 16, 32, ..., 2048 bytes.
    const CLASSES: usize = 8;

    /// The free lists, one per size class; each free block holds the pointer to the next.
    pub struct SizeClasses {
        heads: UnsafeCell<[*mut u8; CLASSES]>,
    }

    // SAFETY: wasm32 without the atomics feature has exactly one thread.
    unsafe impl Sync for SizeClasses {}

    impl SizeClasses {
        /// Largest block size served from the free lists.
        pub const MAX_SMALL: usize = 16 << (CLASSES - 1);

        /// An allocator with empty free lists.
        pub const fn new() -> Self {
            SizeClasses {
                heads: UnsafeCell::new([std::ptr::null_mut(); CLASSES]),
            }
        }

        /// The class of a layout, or `None` for blocks the system allocator serves.
        fn class(layout: Layout) -> Option<usize> {
            if layout.size() > Self::MAX_SMALL || layout.align() > 16 {
                return None;
            }
            let size = layout.size().max(16).next_power_of_two();
            Some((size.trailing_zeros() - 4) as usize)
        }

        fn class_layout(class: usize) -> Layout {
            // SAFETY: a power of two size of 16..=2048 with align 16 is a valid layout.
            unsafe { Layout::from_size_align_unchecked(16 << class, 16) }
        }
    }

    impl Default for SizeClasses {
        fn default() -> Self {
            SizeClasses::new()
        }
    }

    // SAFETY: small blocks are whole class-sized blocks from System, handed out at most once at a
    // time (a block is either on one free list or owned by one caller); others go to System as is.
    unsafe impl GlobalAlloc for SizeClasses {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let Some(class) = Self::class(layout) else {
                // SAFETY: forwarded contract.
                return unsafe { System.alloc(layout) };
            };
            // SAFETY: single-threaded; no other reference to the heads exists during this call.
            let heads = unsafe { &mut *self.heads.get() };
            let head = heads[class];
            if head.is_null() {
                // SAFETY: class layouts have a non-zero size.
                return unsafe { System.alloc(Self::class_layout(class)) };
            }
            // SAFETY: a free block starts with the pointer to the next free block.
            heads[class] = unsafe { head.cast::<*mut u8>().read() };
            head
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            let Some(class) = Self::class(layout) else {
                // SAFETY: forwarded contract.
                return unsafe { System.dealloc(ptr, layout) };
            };
            // SAFETY: single-threaded; the block is at least 16 bytes, aligned to 16, and ours.
            unsafe {
                let heads = &mut *self.heads.get();
                ptr.cast::<*mut u8>().write(heads[class]);
                heads[class] = ptr;
            }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: the caller guarantees a valid layout for new_size with this alignment.
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            match (Self::class(layout), Self::class(new_layout)) {
                (Some(old), Some(new)) if old == new => ptr,
                // SAFETY: forwarded contract; both blocks are System's own.
                (None, None) => unsafe { System.realloc(ptr, layout, new_size) },
                _ => {
                    // SAFETY: new_layout has a non-zero size (GlobalAlloc::realloc contract).
                    let new_ptr = unsafe { self.alloc(new_layout) };
                    if !new_ptr.is_null() {
                        // SAFETY: both blocks hold at least min(old, new) bytes and are distinct.
                        unsafe {
                            std::ptr::copy_nonoverlapping(
                                ptr,
                                new_ptr,
                                layout.size().min(new_size),
                            );
                            self.dealloc(ptr, layout);
                        }
                    }
                    new_ptr
                }
            }
        }
    }
}

/// Export a [`Plugin`](crate::interop::Plugin) implementation from the plugin crate.
///
/// `export_plugin!(MyPlugin, MyPlugin::new)` takes the plugin type and a constructor (a function
/// or non-capturing closure with no arguments), called on the first call. Depending on the plugin
/// crate's features it emits:
/// - `ffi` (native targets): the C functions of protocol.md section 6 (`elizaos_get_manifest`,
///   `elizaos_init`, ..., `elizaos_free_string`, and the optional `elizaos_last_error` and
///   `elizaos_abi_version`), every one under `catch_unwind`, returning plain JSON values.
/// - `wasm` (on `wasm32`): the exports of section 5 (`alloc`, `dealloc`, `get_manifest`, `init`,
///   `wasm_validate_action`, ..., `elizaos_last_error`), with no imports, and installs
///   [`allocator::SizeClasses`](crate::interop::export) as the global allocator (so a WASM plugin
///   crate must not declare a `#[global_allocator]` of its own).
///
/// IPC needs no macro: a binary calls [`serve`](crate::interop::server::serve) with the plugin.
#[macro_export]
macro_rules! export_plugin {
    ($ty:ty, $ctor:expr) => {
        #[cfg(any(feature = "ffi", all(feature = "wasm", target_arch = "wasm32")))]
        #[doc(hidden)]
        static __ELIZAOS_BRIDGE: $crate::interop::export::GlobalBridge<$ty> =
            $crate::interop::export::GlobalBridge::new({
                fn __elizaos_construct() -> $ty {
                    ($ctor)()
                }
                __elizaos_construct
            });

        /// FFI: the manifest JSON; free with `elizaos_free_string`. NULL on failure.
        #[cfg(all(feature = "ffi", not(target_arch = "wasm32")))]
        #[no_mangle]
        pub extern "C" fn elizaos_get_manifest() -> *mut ::std::os::raw::c_char {
            $crate::interop::export::ffi::get_manifest(&__ELIZAOS_BRIDGE)
        }

        /// FFI: configure the plugin; returns a status (protocol.md 5.3).
        ///
        /// # Safety
        /// `config_json` is NULL or a valid NUL-terminated string.
        #[cfg(all(feature = "ffi", not(target_arch = "wasm32")))]
        #[no_mangle]
        pub unsafe extern "C" fn elizaos_init(
            config_json: *const ::std::os::raw::c_char,
        ) -> ::std::os::raw::c_int {
            // SAFETY: forwarded from the caller.
            unsafe { $crate::interop::export::ffi::init(&__ELIZAOS_BRIDGE, config_json) }
        }

        /// FFI: validate an action; returns a status (1 valid, 0 not valid, negative error).
        ///
        /// # Safety
        /// Each pointer is NULL or a valid NUL-terminated string.
        #[cfg(all(feature = "ffi", not(target_arch = "wasm32")))]
        #[no_mangle]
        pub unsafe extern "C" fn elizaos_validate_action(
            name: *const ::std::os::raw::c_char,
            memory_json: *const ::std::os::raw::c_char,
            state_json: *const ::std::os::raw::c_char,
        ) -> ::std::os::raw::c_int {
            // SAFETY: forwarded from the caller.
            unsafe {
                $crate::interop::export::ffi::validate(
                    &__ELIZAOS_BRIDGE,
                    $crate::interop::protocol::Kind::Action,
                    name,
                    memory_json,
                    state_json,
                )
            }
        }

        /// FFI: run an action; returns the ActionResult JSON (free with `elizaos_free_string`), NULL on failure.
        ///
        /// # Safety
        /// Each pointer is NULL or a valid NUL-terminated string.
        #[cfg(all(feature = "ffi", not(target_arch = "wasm32")))]
        #[no_mangle]
        pub unsafe extern "C" fn elizaos_invoke_action(
            name: *const ::std::os::raw::c_char,
            memory_json: *const ::std::os::raw::c_char,
            state_json: *const ::std::os::raw::c_char,
            options_json: *const ::std::os::raw::c_char,
        ) -> *mut ::std::os::raw::c_char {
            // SAFETY: forwarded from the caller.
            unsafe {
                $crate::interop::export::ffi::invoke(
                    &__ELIZAOS_BRIDGE,
                    $crate::interop::protocol::Kind::Action,
                    name,
                    memory_json,
                    state_json,
                    Some(options_json),
                )
            }
        }

        /// FFI: run a provider; returns the ProviderResult JSON (free with `elizaos_free_string`), NULL on failure.
        ///
        /// # Safety
        /// Each pointer is NULL or a valid NUL-terminated string.
        #[cfg(all(feature = "ffi", not(target_arch = "wasm32")))]
        #[no_mangle]
        pub unsafe extern "C" fn elizaos_get_provider(
            name: *const ::std::os::raw::c_char,
            memory_json: *const ::std::os::raw::c_char,
            state_json: *const ::std::os::raw::c_char,
        ) -> *mut ::std::os::raw::c_char {
            // SAFETY: forwarded from the caller.
            unsafe {
                $crate::interop::export::ffi::invoke(
                    &__ELIZAOS_BRIDGE,
                    $crate::interop::protocol::Kind::Provider,
                    name,
                    memory_json,
                    state_json,
                    None,
                )
            }
        }

        /// FFI: validate an evaluator; returns a status.
        ///
        /// # Safety
        /// Each pointer is NULL or a valid NUL-terminated string.
        #[cfg(all(feature = "ffi", not(target_arch = "wasm32")))]
        #[no_mangle]
        pub unsafe extern "C" fn elizaos_validate_evaluator(
            name: *const ::std::os::raw::c_char,
            memory_json: *const ::std::os::raw::c_char,
            state_json: *const ::std::os::raw::c_char,
        ) -> ::std::os::raw::c_int {
            // SAFETY: forwarded from the caller.
            unsafe {
                $crate::interop::export::ffi::validate(
                    &__ELIZAOS_BRIDGE,
                    $crate::interop::protocol::Kind::Evaluator,
                    name,
                    memory_json,
                    state_json,
                )
            }
        }

        /// FFI: run an evaluator; returns the result JSON or `null` (free with `elizaos_free_string`), NULL on failure.
        ///
        /// # Safety
        /// Each pointer is NULL or a valid NUL-terminated string.
        #[cfg(all(feature = "ffi", not(target_arch = "wasm32")))]
        #[no_mangle]
        pub unsafe extern "C" fn elizaos_invoke_evaluator(
            name: *const ::std::os::raw::c_char,
            memory_json: *const ::std::os::raw::c_char,
            state_json: *const ::std::os::raw::c_char,
        ) -> *mut ::std::os::raw::c_char {
            // SAFETY: forwarded from the caller.
            unsafe {
                $crate::interop::export::ffi::invoke(
                    &__ELIZAOS_BRIDGE,
                    $crate::interop::protocol::Kind::Evaluator,
                    name,
                    memory_json,
                    state_json,
                    None,
                )
            }
        }

        /// FFI: free a string returned by this library; NULL is a no-op.
        ///
        /// # Safety
        /// `ptr` is NULL or a string returned by this library, not yet freed.
        #[cfg(all(feature = "ffi", not(target_arch = "wasm32")))]
        #[no_mangle]
        pub unsafe extern "C" fn elizaos_free_string(ptr: *mut ::std::os::raw::c_char) {
            // SAFETY: forwarded from the caller.
            unsafe { $crate::interop::export::ffi::free_string(ptr) }
        }

        /// FFI: the error object (`{"code", "message", "data"?}`) of this thread's last failed
        /// call, handed out once (free with `elizaos_free_string`), or NULL.
        #[cfg(all(feature = "ffi", not(target_arch = "wasm32")))]
        #[no_mangle]
        pub extern "C" fn elizaos_last_error() -> *mut ::std::os::raw::c_char {
            $crate::interop::export::ffi::last_error()
        }

        /// FFI: the ABI version of this library (1: protocol.md section 6 with `elizaos_last_error`).
        #[cfg(all(feature = "ffi", not(target_arch = "wasm32")))]
        #[no_mangle]
        pub extern "C" fn elizaos_abi_version() -> ::std::os::raw::c_int {
            $crate::interop::export::ffi::ABI_VERSION
        }

        #[cfg(all(
            feature = "wasm",
            target_arch = "wasm32",
            not(target_feature = "atomics")
        ))]
        #[global_allocator]
        static __ELIZAOS_ALLOCATOR: $crate::interop::export::allocator::SizeClasses =
            $crate::interop::export::allocator::SizeClasses::new();

        #[cfg(all(feature = "wasm", target_arch = "wasm32"))]
        #[doc(hidden)]
        pub mod __elizaos_wasm_exports {
            use super::__ELIZAOS_BRIDGE as BRIDGE;
            use $crate::interop::export::wasm::{self, Arg};
            use $crate::interop::protocol::Kind;

            fn arg(ptr: i32, len: i32) -> Arg {
                // SAFETY: the ABI (protocol.md 5.2) requires every argument to come from alloc(len);
                // ownership passes to the callee.
                unsafe { Arg::take(ptr as u32 as usize as *mut u8, len as u32 as usize) }
            }

            fn ptr(p: *mut u8) -> i32 {
                p as usize as u32 as i32
            }

            #[export_name = "alloc"]
            pub extern "C" fn alloc(len: i32) -> i32 {
                ptr(wasm::alloc(len as u32 as usize))
            }

            #[export_name = "dealloc"]
            pub extern "C" fn dealloc(p: i32, len: i32) {
                // SAFETY: the host frees only blocks it got from alloc or result buffers, once.
                unsafe { wasm::dealloc(p as u32 as usize as *mut u8, len as u32 as usize) }
            }

            #[export_name = "get_manifest"]
            pub extern "C" fn get_manifest() -> i32 {
                ptr(wasm::get_manifest(&BRIDGE))
            }

            #[export_name = "init"]
            pub extern "C" fn init(cfg_ptr: i32, cfg_len: i32) -> i32 {
                wasm::init(&BRIDGE, arg(cfg_ptr, cfg_len))
            }

            #[export_name = "wasm_validate_action"]
            pub extern "C" fn validate_action(
                np: i32,
                nl: i32,
                mp: i32,
                ml: i32,
                sp: i32,
                sl: i32,
            ) -> i32 {
                wasm::validate(&BRIDGE, Kind::Action, arg(np, nl), arg(mp, ml), arg(sp, sl))
            }

            #[export_name = "wasm_invoke_action"]
            #[allow(clippy::too_many_arguments)]
            pub extern "C" fn invoke_action(
                np: i32,
                nl: i32,
                mp: i32,
                ml: i32,
                sp: i32,
                sl: i32,
                op: i32,
                ol: i32,
            ) -> i32 {
                ptr(wasm::invoke(
                    &BRIDGE,
                    Kind::Action,
                    arg(np, nl),
                    arg(mp, ml),
                    arg(sp, sl),
                    Some(arg(op, ol)),
                ))
            }

            #[export_name = "wasm_get_provider"]
            pub extern "C" fn get_provider(
                np: i32,
                nl: i32,
                mp: i32,
                ml: i32,
                sp: i32,
                sl: i32,
            ) -> i32 {
                ptr(wasm::invoke(
                    &BRIDGE,
                    Kind::Provider,
                    arg(np, nl),
                    arg(mp, ml),
                    arg(sp, sl),
                    None,
                ))
            }

            #[export_name = "wasm_validate_evaluator"]
            pub extern "C" fn validate_evaluator(
                np: i32,
                nl: i32,
                mp: i32,
                ml: i32,
                sp: i32,
                sl: i32,
            ) -> i32 {
                wasm::validate(
                    &BRIDGE,
                    Kind::Evaluator,
                    arg(np, nl),
                    arg(mp, ml),
                    arg(sp, sl),
                )
            }

            #[export_name = "wasm_invoke_evaluator"]
            pub extern "C" fn invoke_evaluator(
                np: i32,
                nl: i32,
                mp: i32,
                ml: i32,
                sp: i32,
                sl: i32,
            ) -> i32 {
                ptr(wasm::invoke(
                    &BRIDGE,
                    Kind::Evaluator,
                    arg(np, nl),
                    arg(mp, ml),
                    arg(sp, sl),
                    None,
                ))
            }

            #[export_name = "elizaos_last_error"]
            pub extern "C" fn last_error() -> i32 {
                ptr(wasm::last_error())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interop::plugin::{ActionDescriptor, ActionResult, ProviderDescriptor};
    use serde_json::json;

    /// A plugin exercising every outcome a handler can have.
    #[derive(Default)]
    struct Probe {
        inits: std::sync::Mutex<Vec<Value>>,
    }

    impl Plugin for Probe {
        fn manifest(&self) -> Manifest {
            Manifest {
                name: "probe".into(),
                description: "test".into(),
                version: "0.0.0".into(),
                language: "rust".into(),
                actions: ["ok", "boom", "panic", "raw-bad", "unsupported", "inits"]
                    .iter()
                    .map(|n| ActionDescriptor::new(*n, "a"))
                    .collect(),
                providers: vec![ProviderDescriptor::new("p", "p")],
                evaluators: vec![],
            }
        }

        fn init(&self, config: &Value) -> Result<(), PluginError> {
            if config.get("fail").is_some() {
                return Err(PluginError::new("bad config").with_exception("ConfigError"));
            }
            self.inits
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(config.clone());
            Ok(())
        }

        fn validate_action(&self, name: &str, _m: &Value, _s: &Value) -> Result<bool, PluginError> {
            match name {
                "boom" => Err(PluginError::new("validate failed")),
                "panic" => panic!("validate panic"),
                _ => Ok(true),
            }
        }

        fn invoke_action(
            &self,
            name: &str,
            _m: &Value,
            _s: &Value,
            _o: &Value,
        ) -> Result<ActionResult, PluginError> {
            match name {
                "ok" => Ok(ActionResult::success()),
                "boom" => Err(PluginError::new("boom").with_exception("Boom")),
                "panic" => panic!("handler panic {}", 7),
                "unsupported" => Err(PluginError::not_supported("nope")),
                "inits" => Ok(ActionResult::success()
                    .with_text(self.inits.lock().map(|i| i.len()).unwrap_or(0).to_string())),
                _ => Err(PluginError::new("unexpected")),
            }
        }

        fn invoke_action_json(
            &self,
            name: &str,
            m: &Value,
            s: &Value,
            o: &Value,
        ) -> Result<Value, PluginError> {
            if name == "raw-bad" {
                return Ok(json!([1]));
            }
            serde_json::to_value(self.invoke_action(name, m, s, o)?)
                .map_err(|e| PluginError::new(e.to_string()))
        }
    }

    fn args(name: &str) -> CallArgs {
        CallArgs {
            name: name.into(),
            memory: json!({"content": {}}),
            state: json!({}),
            options: json!({}),
        }
    }

    fn code(r: Result<Value, RpcError>) -> i64 {
        r.err().map_or(0, |e| e.code)
    }

    #[test]
    fn first_call_initialises_with_an_empty_config_once() {
        let b = Bridge::new(Probe::default(), Transport::Ffi);
        assert_eq!(
            b.invoke(Kind::Action, &args("inits")).ok(),
            Some(json!({"success": true, "text": "1"}))
        );
        assert_eq!(
            b.invoke(Kind::Action, &args("inits")).ok(),
            Some(json!({"success": true, "text": "1"}))
        );
        assert_eq!(*b.plugin().inits.lock().unwrap(), vec![json!({})]);
        assert!(b.init(&json!({"a": 1})).is_ok());
        assert_eq!(
            b.plugin().inits.lock().unwrap().last(),
            Some(&json!({"a": 1}))
        );
        let e = b.init(&json!({"fail": true})).err();
        assert_eq!(
            e.map(|e| (e.code, e.data)),
            Some((-32000, Some(json!({"exception": "ConfigError"}))))
        );
    }

    #[test]
    fn panics_errors_and_invalid_results_map_to_codes_and_the_bridge_keeps_serving() {
        let b = Bridge::new(Probe::default(), Transport::Ffi);
        for _ in 0..3 {
            let e = b.invoke(Kind::Action, &args("panic")).err();
            assert_eq!(
                e,
                Some(RpcError::handler_failed(
                    Kind::Action,
                    "panic",
                    "panic",
                    "handler panic 7"
                ))
            );
            assert_eq!(
                b.invoke(Kind::Action, &args("ok")).ok(),
                Some(json!({"success": true}))
            );
        }
        let e = b.validate(Kind::Action, &args("panic")).err();
        assert_eq!(e.map(|e| (e.code, e.status())), Some((-32000, -3)));
        let e = b.validate(Kind::Action, &args("boom")).err();
        assert_eq!(
            e.map(|e| e.data),
            Some(Some(
                json!({"kind": "action", "name": "boom", "exception": "PluginError"})
            ))
        );
        let e = b.invoke(Kind::Action, &args("boom")).err();
        assert_eq!(
            e.map(|e| e.data),
            Some(Some(
                json!({"kind": "action", "name": "boom", "exception": "Boom"})
            ))
        );
        assert_eq!(code(b.invoke(Kind::Action, &args("raw-bad"))), -32003);
        let e = b.invoke(Kind::Action, &args("unsupported")).err();
        assert_eq!(e, Some(RpcError::not_supported("nope")));
        assert_eq!(code(b.invoke(Kind::Action, &args("missing"))), -32001);
        assert_eq!(code(b.invoke(Kind::Evaluator, &args("ok"))), -32001);
        // providers default to -32002 when the plugin does not implement them
        assert_eq!(code(b.invoke(Kind::Provider, &args("p"))), -32002);
    }

    #[test]
    fn dispatch_routes_methods_and_rejects_unknown_ones() {
        let b = Bridge::new(Probe::default(), Transport::Ipc);
        let params = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(
            b.dispatch("getManifest", &Map::new())
                .ok()
                .map(|m| m["name"].clone()),
            Some(json!("probe"))
        );
        assert_eq!(
            b.dispatch("init", &params(json!({"config": {}}))).ok(),
            Some(json!({}))
        );
        let call = params(json!({"name": "ok", "memory": {"content": {}}}));
        assert_eq!(b.dispatch("validateAction", &call).ok(), Some(json!(true)));
        assert_eq!(
            b.dispatch("invokeAction", &call).ok(),
            Some(json!({"success": true}))
        );
        assert_eq!(code(b.dispatch("getprovider", &call)), -32601);
        assert_eq!(
            code(b.dispatch("invokeAction", &params(json!({"name": "ok"})))),
            -32602
        );
        assert_eq!(b.dispatch("shutdown", &Map::new()).ok(), Some(json!({})));
    }

    #[test]
    fn a_poisoned_global_bridge_keeps_working() {
        static G: GlobalBridge<Probe> = GlobalBridge::new(Probe::default);
        let poisoned = catch_unwind(|| G.with(Transport::Ffi, |_| panic!("poison the lock")));
        assert!(poisoned.is_err());
        let after = G.with(Transport::Ffi, |b| b.invoke(Kind::Action, &args("ok")));
        assert_eq!(after.ok(), Some(json!({"success": true})));
    }

    #[test]
    fn validate_statuses_follow_section_5_3() {
        assert_eq!(validate_status(Ok(true)).0, 1);
        assert_eq!(validate_status(Ok(false)).0, 0);
        assert_eq!(
            validate_status(Err(RpcError::unknown_name(Kind::Action, "x"))).0,
            -1
        );
        assert_eq!(validate_status(Err(RpcError::parse_error("x"))).0, -2);
        assert_eq!(
            validate_status(Err(RpcError::invalid_param("memory", "object", "array"))).0,
            -2
        );
        assert_eq!(
            validate_status(Err(RpcError::new(codes::HANDLER_FAILED, "x"))).0,
            -3
        );
        assert_eq!(validate_status(Err(RpcError::internal("x"))).0, -4);
    }

    #[test]
    fn the_empty_object_shortcut_decodes_like_the_parser() {
        for text in ["{}", "{ }", " {}", "{}\n", "{\"a\":{}}"] {
            assert_eq!(
                decode_json("state", text.as_bytes()).ok(),
                serde_json::from_str::<Value>(text).ok(),
                "{text:?}"
            );
        }
        assert_eq!(
            decode_json("state", b"{}").ok(),
            Some(Value::Object(Map::new()))
        );
    }

    #[test]
    fn bad_arguments_are_decoded_into_the_documented_errors() {
        assert_eq!(
            decode_call(b"\xff", b"{}", b"{}", None)
                .err()
                .map(|e| e.code),
            Some(-32602)
        );
        assert_eq!(
            decode_call(b"x", b"\xc3", b"{}", None)
                .err()
                .map(|e| e.code),
            Some(-32602)
        );
        assert_eq!(
            decode_call(b"x", b"{", b"{}", None).err().map(|e| e.code),
            Some(-32700)
        );
        assert_eq!(
            decode_call(b"x", b"{\"content\":{}}", b"1", None)
                .err()
                .map(|e| e.code),
            Some(-32602)
        );
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let e = decode_call(b"x", b"{\"content\":{}}", b"{}", Some(deep.as_bytes())).err();
        assert_eq!(
            e.map(|e| e.code),
            Some(-32700),
            "nesting past serde_json's limit is refused, not a crash"
        );
    }
}
