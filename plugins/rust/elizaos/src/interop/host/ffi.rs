//! FFI loader: a Rust (or any C-ABI) plugin in a shared library, called in
//! process through exactly the C functions of protocol.md section 6.
//!
//! Every returned string is the plain JSON value; it is parsed where the
//! plugin left it, then released with `elizaos_free_string` (never the
//! host's `free`). The arguments of a call are written, NUL-separated, into
//! one buffer reused by the calling thread. A NULL string or a
//! negative status is a failure whose error object comes from the optional
//! `elizaos_last_error`, or is built here when the library has none (a
//! library written from the seed's FFI section). The library stays loaded
//! while the plugin object lives.

use std::cell::Cell;
use std::ffi::{c_char, c_int, CStr};
use std::path::Path;
use std::sync::OnceLock;

use libloading::Library;
use serde_json::{Map, Value};

use super::error::{excerpt, ErrorContext, InteropError, Transport};
use super::loaded::{Backend, LoadedPlugin};
use crate::interop::wire::{
    borrow_call_args, codes, json_type_name, methods, parse_init_config, status, status_to_code,
    validate_memory, write_json, Kind, RpcError, DEFAULT_MAX_MESSAGE_BYTES,
};

type GetManifestFn = unsafe extern "C" fn() -> *mut c_char;
type InitFn = unsafe extern "C" fn(*const c_char) -> c_int;
type ValidateFn = unsafe extern "C" fn(*const c_char, *const c_char, *const c_char) -> c_int;
type InvokeActionFn =
    unsafe extern "C" fn(*const c_char, *const c_char, *const c_char, *const c_char) -> *mut c_char;
type Call3Fn = unsafe extern "C" fn(*const c_char, *const c_char, *const c_char) -> *mut c_char;
type FreeFn = unsafe extern "C" fn(*mut c_char);
type LastErrorFn = unsafe extern "C" fn() -> *mut c_char;
type AbiVersionFn = unsafe extern "C" fn() -> c_int;

/// The C functions of section 6, resolved once at load.
#[derive(Debug, Clone, Copy)]
struct Exports {
    get_manifest: GetManifestFn,
    init: InitFn,
    validate_action: ValidateFn,
    invoke_action: InvokeActionFn,
    get_provider: Call3Fn,
    validate_evaluator: ValidateFn,
    invoke_evaluator: Call3Fn,
    free_string: FreeFn,
    /// Optional: the error object of the last failed call on this thread.
    last_error: Option<LastErrorFn>,
}

/// A loaded plugin library.
#[derive(Debug)]
pub(crate) struct FfiPlugin {
    exports: Exports,
    label: String,
    name: OnceLock<String>,
    max_message_bytes: usize,
    /// `elizaos_abi_version()`, or 0 when the library does not export it (the seed's ABI).
    abi_version: c_int,
    /// Keeps the code behind `exports` mapped; dropped last.
    _library: Library,
}

/// Borrowed arguments of one handler call; `None` is `{}`.
struct HandlerArgs<'a> {
    name: &'a str,
    memory: &'a Value,
    state: Option<&'a Value>,
    options: Option<&'a Value>,
}

thread_local! {
    /// The argument buffer of this thread's calls, reused from call to call (taken out while a
    /// call runs, so a nested call on the same thread gets a fresh one).
    static ARGS: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A buffer kept between calls is at most this large; a larger one is released after its call.
const KEPT_ARGS_BYTES: usize = 1 << 20;

/// The C strings of one call, NUL-terminated one after the other in one buffer: `name`, then
/// the JSON arguments, each at its offset.
struct ArgBuffer {
    bytes: Vec<u8>,
    offsets: [usize; 4],
    count: usize,
}

impl ArgBuffer {
    fn take() -> Self {
        let mut bytes = ARGS.with(Cell::take);
        bytes.clear();
        ArgBuffer {
            bytes,
            offsets: [0; 4],
            count: 0,
        }
    }

    /// The `i`-th string as a C pointer, valid while `self` lives unchanged.
    fn ptr(&self, i: usize) -> *const c_char {
        debug_assert!(i < self.count);
        self.bytes[self.offsets[i]..].as_ptr().cast()
    }

    /// Starts the next string; returns its offset.
    fn start(&mut self) -> usize {
        let at = self.bytes.len();
        self.offsets[self.count] = at;
        self.count += 1;
        at
    }
}

impl Drop for ArgBuffer {
    fn drop(&mut self) {
        if self.bytes.capacity() <= KEPT_ARGS_BYTES {
            let bytes = std::mem::take(&mut self.bytes);
            ARGS.with(|slot| slot.set(bytes));
        }
    }
}

impl FfiPlugin {
    fn open(path: &Path, max_message_bytes: usize) -> Result<Self, InteropError> {
        let label = path.display().to_string();
        let load_err = |cause: String| InteropError::Load {
            context: ErrorContext::boxed(label.clone(), "load", None, Transport::Ffi),
            cause,
        };
        if !path.exists() {
            return Err(load_err(format!(
                "shared library not found: {}",
                path.display()
            )));
        }
        // SAFETY: loading a library runs its initialisers; loading a plugin
        // library is the documented purpose of this call.
        let library = unsafe { Library::new(path) }.map_err(|e| {
            let why = architecture_mismatch(path).map_or_else(String::new, |m| format!("; {m}"));
            load_err(format!("cannot load the shared library: {e}{why}"))
        })?;
        /// Resolves one symbol to a plain function pointer.
        unsafe fn sym<T: Copy>(lib: &Library, name: &str) -> Result<T, String> {
            lib.get::<T>(name.as_bytes())
                .map(|s| *s)
                .map_err(|e| format!("missing export {name}: {e}"))
        }
        // SAFETY: the types are the C signatures of protocol.md section 6; the
        // pointers stay valid while `library` is loaded, which it is for the
        // life of the returned value.
        let exports = unsafe {
            (|| -> Result<Exports, String> {
                Ok(Exports {
                    get_manifest: sym(&library, "elizaos_get_manifest")?,
                    init: sym(&library, "elizaos_init")?,
                    validate_action: sym(&library, "elizaos_validate_action")?,
                    invoke_action: sym(&library, "elizaos_invoke_action")?,
                    get_provider: sym(&library, "elizaos_get_provider")?,
                    validate_evaluator: sym(&library, "elizaos_validate_evaluator")?,
                    invoke_evaluator: sym(&library, "elizaos_invoke_evaluator")?,
                    free_string: sym(&library, "elizaos_free_string")?,
                    last_error: sym(&library, "elizaos_last_error").ok(),
                })
            })()
        }
        .map_err(|e| load_err(format!("not an elizaOS plugin library: {e}")))?;
        // SAFETY: the optional export has the C signature of section 6 and stays valid while
        // `library` is loaded.
        let abi_version = unsafe { sym::<AbiVersionFn>(&library, "elizaos_abi_version") }
            // SAFETY: a function without arguments returning an int.
            .map_or(0, |f| unsafe { f() });
        Ok(FfiPlugin {
            exports,
            label,
            name: OnceLock::new(),
            max_message_bytes,
            abi_version,
            _library: library,
        })
    }

    pub(crate) fn set_name(&self, name: &str) {
        let _ = self.name.set(name.to_owned());
    }

    fn context(&self, method: &str, target: Option<&str>) -> Box<ErrorContext> {
        let plugin = self.name.get().map(String::as_str).unwrap_or(&self.label);
        ErrorContext::boxed(plugin, method, target, Transport::Ffi)
    }

    /// `elizaos_free_string(NULL)`: the in-process latency floor.
    pub(crate) fn noop(&self) {
        // SAFETY: freeing NULL is a documented no-op (section 6).
        unsafe { (self.exports.free_string)(std::ptr::null_mut()) }
    }

    /// The ABI version the library reports (`elizaos_abi_version`), 0 for the seed's ABI.
    pub(crate) fn abi_version(&self) -> c_int {
        self.abi_version
    }

    /// The error object behind a NULL string or a negative status: from
    /// `elizaos_last_error` when the library exports it and has one, else `None`.
    fn last_error(&self) -> Option<Result<RpcError, String>> {
        let f = self.exports.last_error?;
        // SAFETY: no arguments; the result is NULL or a string owned by the plugin.
        let ptr = unsafe { f() };
        if ptr.is_null() {
            return None;
        }
        let bytes = self.copy_and_free(ptr);
        Some(
            std::str::from_utf8(&bytes)
                .map_err(|e| format!("elizaos_last_error returned text that is not UTF-8 ({e})"))
                .and_then(|text| {
                    serde_json::from_str::<Value>(text).map_err(|e| {
                        format!("elizaos_last_error returned text that is not JSON ({e})")
                    })
                })
                .and_then(|v| RpcError::from_value(&v)),
        )
    }

    /// Copies a string returned by the plugin and releases it exactly once.
    fn copy_and_free(&self, ptr: *mut c_char) -> Vec<u8> {
        // SAFETY: a non-NULL return is a NUL-terminated string owned by the
        // plugin; we copy it before releasing it exactly once.
        let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes().to_vec();
        // SAFETY: `ptr` came from this library and is released exactly once.
        unsafe { (self.exports.free_string)(ptr) };
        bytes
    }

    /// The error of a failed call: the library's own error object, or one built from
    /// `fallback_code` and a message naming the C function and the name.
    fn failure(
        &self,
        method: &str,
        target: Option<&str>,
        fallback_code: i64,
        what: String,
    ) -> InteropError {
        match self.last_error() {
            Some(Ok(err)) => self.call_error(method, target, err),
            Some(Err(reason)) => InteropError::Protocol {
                context: self.context(method, target),
                reason,
                excerpt: String::new(),
            },
            None => self.call_error(method, target, RpcError::new(fallback_code, what)),
        }
    }

    /// Reads a returned JSON value in place, then frees it; NULL is a failure.
    fn take_value(
        &self,
        method: &str,
        target: Option<&str>,
        ptr: *mut c_char,
    ) -> Result<Value, InteropError> {
        if ptr.is_null() {
            let call = c_call(method, target);
            return Err(self.failure(
                method,
                target,
                codes::HANDLER_FAILED,
                format!("{call} returned NULL"),
            ));
        }
        // SAFETY: a non-NULL return is a NUL-terminated string owned by the plugin, read
        // (parsed, no copy) before it is released below.
        let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
        let protocol = |reason: String| InteropError::Protocol {
            context: self.context(method, target),
            reason,
            excerpt: excerpt(bytes),
        };
        let parsed = std::str::from_utf8(bytes)
            .map_err(|e| protocol(format!("the returned string is not UTF-8 ({e})")))
            .and_then(|text| {
                serde_json::from_str(text)
                    .map_err(|e| protocol(format!("the returned string is not JSON ({e})")))
            });
        // SAFETY: `ptr` came from this library and is released exactly once; `bytes` is not
        // used after this.
        unsafe { (self.exports.free_string)(ptr) };
        parsed
    }

    fn call_error(&self, method: &str, target: Option<&str>, err: RpcError) -> InteropError {
        InteropError::Call {
            context: self.context(method, target),
            code: err.code,
            message: err.message,
            data: err.data,
        }
    }

    /// Maps a status return (section 5.3) to a value or a call error.
    fn status_result(
        &self,
        method: &str,
        kind: Option<Kind>,
        target: Option<&str>,
        rc: c_int,
    ) -> Result<Value, InteropError> {
        let validate = kind.is_some();
        match rc {
            status::VALID if validate => Ok(Value::Bool(true)),
            status::NOT_VALID if validate => Ok(Value::Bool(false)),
            status::OK if !validate => Ok(Value::Object(Map::new())),
            rc if rc < 0 => {
                let code = status_to_code(rc).unwrap_or(codes::INTERNAL_ERROR);
                let what = format!(
                    "{} returned status {rc} ({})",
                    c_call(method, target),
                    status_meaning(rc)
                );
                match (self.last_error(), kind, target) {
                    (Some(Ok(err)), _, _) => Err(self.call_error(method, target, err)),
                    (Some(Err(reason)), _, _) => Err(InteropError::Protocol {
                        context: self.context(method, target),
                        reason,
                        excerpt: String::new(),
                    }),
                    (None, Some(kind), Some(name)) if code == codes::UNKNOWN_NAME => {
                        let mut err = RpcError::unknown_name(kind, name);
                        err.message = what;
                        Err(self.call_error(method, target, err))
                    }
                    (None, _, _) => Err(self.call_error(method, target, RpcError::new(code, what))),
                }
            }
            // `elizaos_init` may answer any non-negative status for success.
            rc if !validate && rc > 0 => Ok(Value::Object(Map::new())),
            rc => Err(InteropError::Protocol {
                context: self.context(method, target),
                reason: format!(
                    "{} returned status {rc}; expected 1 (valid), 0 (not valid) or a negative status",
                    c_call(method, target)
                ),
                excerpt: String::new(),
            }),
        }
    }

    /// Appends `name` as the next C string of `buf`; a name with U+0000 cannot cross the ABI.
    fn push_name(&self, buf: &mut ArgBuffer, method: &str, name: &str) -> Result<(), InteropError> {
        if name.as_bytes().contains(&0) {
            return Err(InteropError::InvalidPayload {
                context: self.context(method, Some(name)),
                path: "params.name".into(),
                reason: "a name cannot contain U+0000 over FFI".into(),
            });
        }
        buf.start();
        buf.bytes.extend_from_slice(name.as_bytes());
        buf.bytes.push(0);
        Ok(())
    }

    /// Appends one JSON argument (`None` is `{}`) as the next C string of `buf`, enforcing the
    /// size limit. The writer escapes U+0000 as `\u0000`, so the text has no interior NUL.
    fn push_json(
        &self,
        buf: &mut ArgBuffer,
        (method, target): (&str, Option<&str>),
        param: &str,
        value: Option<&Value>,
    ) -> Result<(), InteropError> {
        let at = buf.start();
        match value {
            Some(v) => write_json(&mut buf.bytes, v),
            None => buf.bytes.extend_from_slice(b"{}"),
        }
        let len = buf.bytes.len() - at;
        if len > self.max_message_bytes {
            return Err(InteropError::InvalidPayload {
                context: self.context(method, target),
                path: format!("params.{param}"),
                reason: format!(
                    "the argument is {len} bytes, over the limit of {} bytes (maxMessageBytes)",
                    self.max_message_bytes
                ),
            });
        }
        buf.bytes.push(0);
        Ok(())
    }

    /// `elizaos_get_manifest`.
    pub(crate) fn get_manifest(&self) -> Result<Value, InteropError> {
        // SAFETY: no arguments; the result is handled by `take_envelope`.
        let ptr = unsafe { (self.exports.get_manifest)() };
        self.take_value(methods::GET_MANIFEST, None, ptr)
    }

    fn init(&self, config: &Value) -> Result<Value, InteropError> {
        let mut buf = ArgBuffer::take();
        self.push_json(&mut buf, (methods::INIT, None), "config", Some(config))?;
        // SAFETY: a valid C string in `buf`, which outlives the call.
        let rc = unsafe { (self.exports.init)(buf.ptr(0)) };
        self.status_result(methods::INIT, None, None, rc)
    }

    /// One handler call: the arguments are written into one reused buffer (no per-argument
    /// strings), the answer is parsed where the plugin left it.
    fn handler(&self, method: &str, args: &HandlerArgs<'_>) -> Result<Value, InteropError> {
        let target = Some(args.name);
        let at = (method, target);
        let mut buf = ArgBuffer::take();
        self.push_name(&mut buf, method, args.name)?;
        self.push_json(&mut buf, at, "memory", Some(args.memory))?;
        self.push_json(&mut buf, at, "state", args.state)?;
        if method == methods::INVOKE_ACTION {
            self.push_json(&mut buf, at, "options", args.options)?;
        }
        let e = self.exports;
        let (name, memory, state) = (buf.ptr(0), buf.ptr(1), buf.ptr(2));
        // SAFETY (all arms): every pointer is a valid C string in `buf`, which outlives the call.
        match method {
            methods::VALIDATE_ACTION | methods::VALIDATE_EVALUATOR => {
                let (f, kind) = if method == methods::VALIDATE_ACTION {
                    (e.validate_action, Kind::Action)
                } else {
                    (e.validate_evaluator, Kind::Evaluator)
                };
                let rc = unsafe { f(name, memory, state) };
                self.status_result(method, Some(kind), target, rc)
            }
            methods::INVOKE_ACTION => {
                let ptr = unsafe { (e.invoke_action)(name, memory, state, buf.ptr(3)) };
                self.take_value(method, target, ptr)
            }
            methods::GET_PROVIDER => {
                let ptr = unsafe { (e.get_provider)(name, memory, state) };
                self.take_value(method, target, ptr)
            }
            methods::INVOKE_EVALUATOR => {
                let ptr = unsafe { (e.invoke_evaluator)(name, memory, state) };
                self.take_value(method, target, ptr)
            }
            other => Err(self.call_error(other, target, RpcError::method_not_found(other))),
        }
    }

    /// Calls `method` with params in their IPC form (section 3.3), checking
    /// them exactly as a plugin would, so errors match the IPC transport.
    pub(crate) fn call(&self, method: &str, params: &Value) -> Result<Value, InteropError> {
        let target = params.get("name").and_then(Value::as_str);
        let Some(map) = params.as_object() else {
            let err = RpcError::invalid_request(format!(
                "\"params\" must be an object, received {}",
                json_type_name(params)
            ));
            return Err(self.call_error(method, target, err));
        };
        match method {
            methods::GET_MANIFEST => self.get_manifest(),
            methods::INIT => {
                let config =
                    parse_init_config(map).map_err(|e| self.call_error(method, None, e))?;
                self.init(&config)
            }
            methods::VALIDATE_ACTION
            | methods::INVOKE_ACTION
            | methods::GET_PROVIDER
            | methods::VALIDATE_EVALUATOR
            | methods::INVOKE_EVALUATOR => {
                let args = borrow_call_args(map, method == methods::INVOKE_ACTION)
                    .map_err(|e| self.call_error(method, target, e))?;
                self.handler(
                    method,
                    &HandlerArgs {
                        name: args.name,
                        memory: args.memory,
                        state: args.state,
                        options: args.options,
                    },
                )
            }
            other => Err(self.call_error(other, target, RpcError::method_not_found(other))),
        }
    }

    /// Calls a handler method with borrowed, typed arguments (no copies).
    pub(crate) fn call_handler(
        &self,
        method: &str,
        name: &str,
        memory: &Value,
        state: &Value,
        options: Option<&Value>,
    ) -> Result<Value, InteropError> {
        let checks = validate_memory("memory", memory)
            .and_then(|()| object_param("state", state))
            .and_then(|()| options.map_or(Ok(()), |o| object_param("options", o)));
        checks.map_err(|e| self.call_error(method, Some(name), e))?;
        self.handler(
            method,
            &HandlerArgs {
                name,
                memory,
                state: Some(state),
                options,
            },
        )
    }

    /// `init` with a typed config.
    pub(crate) fn call_init(&self, config: &Value) -> Result<Value, InteropError> {
        object_param("config", config).map_err(|e| self.call_error(methods::INIT, None, e))?;
        self.init(config)
    }
}

fn object_param(param: &str, value: &Value) -> Result<(), RpcError> {
    if value.is_object() {
        Ok(())
    } else {
        Err(RpcError::invalid_param(
            param,
            "object",
            json_type_name(value),
        ))
    }
}

/// The C function behind a protocol method, with the name argument: `elizaos_invoke_action("greet")`.
/// The architecture an ELF `e_machine` names (the ones Rust targets commonly).
fn elf_machine_name(machine: u16) -> Option<&'static str> {
    Some(match machine {
        0x03 => "x86",
        0x08 => "mips",
        0x14 => "powerpc",
        0x15 => "powerpc64",
        0x16 => "s390x",
        0x28 => "arm",
        0x3E => "x86_64",
        0xB7 => "aarch64",
        0xF3 => "riscv64",
        0x102 => "loongarch64",
        _ => return None,
    })
}

/// Why a library that failed to load cannot load here when it was built for
/// another architecture: an ELF file whose machine is not this host's. `None`
/// when it is not ELF, cannot be read, or matches.
fn architecture_mismatch(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut header = [0u8; 20];
    std::fs::File::open(path)
        .ok()?
        .read_exact(&mut header)
        .ok()?;
    if header[..4] != *b"\x7fELF" {
        return None;
    }
    let raw = [header[18], header[19]];
    let machine = if header[5] == 2 {
        u16::from_be_bytes(raw)
    } else {
        u16::from_le_bytes(raw)
    };
    let built = elf_machine_name(machine)
        .map_or_else(|| format!("ELF machine {machine:#x}"), str::to_owned);
    let here = std::env::consts::ARCH;
    (built != here).then(|| {
        format!("it is built for {built} and this host is {here} (architecture mismatch): build it for this machine")
    })
}

fn c_call(method: &str, target: Option<&str>) -> String {
    let function = match method {
        methods::GET_MANIFEST => "elizaos_get_manifest",
        methods::INIT => "elizaos_init",
        methods::VALIDATE_ACTION => "elizaos_validate_action",
        methods::INVOKE_ACTION => "elizaos_invoke_action",
        methods::GET_PROVIDER => "elizaos_get_provider",
        methods::VALIDATE_EVALUATOR => "elizaos_validate_evaluator",
        methods::INVOKE_EVALUATOR => "elizaos_invoke_evaluator",
        other => other,
    };
    match target {
        Some(name) => format!("{function}({name:?})"),
        None => format!("{function}()"),
    }
}

fn status_meaning(rc: c_int) -> &'static str {
    match rc {
        status::UNKNOWN_NAME => "unknown name",
        status::INVALID_INPUT => "invalid input",
        status::HANDLER_FAILED => "handler failed or panicked",
        _ => "internal error",
    }
}

/// Loads native plugins from shared libraries (protocol.md section 6).
///
/// The library may be ours (`export_plugin!` with feature `ffi`) or any library exporting the
/// seed's C functions. Every failure is an [`InteropError`] whose message names the library:
///
/// ```
/// use elizaos::interop::{FfiPluginLoader, InteropError};
///
/// let err = FfiPluginLoader::new().load("/nonexistent/libplugin.so").unwrap_err();
/// assert!(matches!(err, InteropError::Load { .. }));
/// assert!(err.to_string().contains("/nonexistent/libplugin.so"));
/// ```
///
/// A loaded library answers through [`LoadedPlugin`], as every
/// transport does.
#[derive(Debug, Clone)]
pub struct FfiPluginLoader {
    max_message_bytes: usize,
}

impl Default for FfiPluginLoader {
    fn default() -> Self {
        FfiPluginLoader {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

impl FfiPluginLoader {
    /// A loader with the default 16 MiB argument limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// Largest JSON argument the host passes, in bytes.
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// Loads the library at `path`, resolves the eight exports, and reads and
    /// checks the manifest.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<LoadedPlugin, InteropError> {
        let path = path.as_ref();
        let plugin = FfiPlugin::open(path, self.max_message_bytes)?;
        LoadedPlugin::from_backend(Backend::Ffi(plugin), &path.display().to_string(), None)
    }
}
