//! FFI loader: a Rust (or any C-ABI) plugin in a shared library, called in
//! process through exactly the C functions of protocol.md section 6.
//!
//! Every returned string is copied and released with `elizaos_free_string`
//! (never the host's `free`); the library stays loaded while the plugin
//! object lives.

use std::ffi::{c_char, c_int, CStr, CString};
use std::path::Path;
use std::sync::OnceLock;

use libloading::Library;
use serde_json::{Map, Value};

use super::error::{excerpt, ErrorContext, InteropError, Transport};
use super::loaded::{Backend, LoadedPlugin};
use crate::interop::protocol::{
    codes, json_type_name, methods, parse_call_args, parse_envelope, parse_init_config, status,
    status_to_code, validate_memory, Kind, RpcError, DEFAULT_MAX_MESSAGE_BYTES,
};

type GetManifestFn = unsafe extern "C" fn() -> *mut c_char;
type InitFn = unsafe extern "C" fn(*const c_char) -> c_int;
type ValidateFn = unsafe extern "C" fn(*const c_char, *const c_char, *const c_char) -> c_int;
type InvokeActionFn =
    unsafe extern "C" fn(*const c_char, *const c_char, *const c_char, *const c_char) -> *mut c_char;
type Call3Fn = unsafe extern "C" fn(*const c_char, *const c_char, *const c_char) -> *mut c_char;
type FreeFn = unsafe extern "C" fn(*mut c_char);

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
}

/// A loaded plugin library.
#[derive(Debug)]
pub(crate) struct FfiPlugin {
    exports: Exports,
    label: String,
    name: OnceLock<String>,
    max_message_bytes: usize,
    /// Keeps the code behind `exports` mapped; dropped last.
    _library: Library,
}

/// Borrowed arguments of one handler call.
struct HandlerArgs<'a> {
    name: &'a str,
    memory: &'a Value,
    state: &'a Value,
    options: &'a Value,
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
        let library = unsafe { Library::new(path) }
            .map_err(|e| load_err(format!("cannot load the shared library: {e}")))?;
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
                })
            })()
        }
        .map_err(|e| load_err(format!("not an elizaOS plugin library: {e}")))?;
        Ok(FfiPlugin {
            exports,
            label,
            name: OnceLock::new(),
            max_message_bytes,
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

    /// Copies and frees a returned envelope, then reads it.
    fn take_envelope(
        &self,
        method: &str,
        target: Option<&str>,
        ptr: *mut c_char,
    ) -> Result<Value, InteropError> {
        if ptr.is_null() {
            return Err(InteropError::Call {
                context: self.context(method, target),
                code: codes::INTERNAL_ERROR,
                message: "the plugin returned NULL (allocation failure)".into(),
                data: None,
            });
        }
        // SAFETY: a non-NULL return is a NUL-terminated string owned by the
        // plugin; we copy it before releasing it exactly once.
        let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes().to_vec();
        // SAFETY: `ptr` came from this library and is released exactly once.
        unsafe { (self.exports.free_string)(ptr) };
        let protocol = |reason: String| InteropError::Protocol {
            context: self.context(method, target),
            reason,
            excerpt: excerpt(&bytes),
        };
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| protocol(format!("envelope is not UTF-8 ({e})")))?;
        match parse_envelope(text).map_err(protocol)? {
            Ok(value) => Ok(value),
            Err(err) => Err(self.call_error(method, target, err)),
        }
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
            rc => match status_to_code(rc) {
                Some(code) => {
                    let err = match (code, kind, target) {
                        (codes::UNKNOWN_NAME, Some(kind), Some(name)) => {
                            RpcError::unknown_name(kind, name)
                        }
                        _ => RpcError::new(
                            code,
                            format!("the plugin returned status {rc} ({})", status_meaning(rc)),
                        ),
                    };
                    Err(self.call_error(method, target, err))
                }
                None => Err(InteropError::Protocol {
                    context: self.context(method, target),
                    reason: format!("unexpected status {rc}"),
                    excerpt: String::new(),
                }),
            },
        }
    }

    /// Serialises one JSON argument as a C string, enforcing the size limit.
    fn json_arg(
        &self,
        method: &str,
        target: Option<&str>,
        param: &str,
        value: &Value,
    ) -> Result<CString, InteropError> {
        let text = serde_json::to_string(value).map_err(|e| InteropError::InvalidPayload {
            context: self.context(method, target),
            path: format!("params.{param}"),
            reason: format!("cannot encode: {e}"),
        })?;
        if text.len() > self.max_message_bytes {
            return Err(InteropError::InvalidPayload {
                context: self.context(method, target),
                path: format!("params.{param}"),
                reason: format!(
                    "the argument is {} bytes, over the limit of {} bytes (maxMessageBytes)",
                    text.len(),
                    self.max_message_bytes
                ),
            });
        }
        // serde_json escapes U+0000 as \u0000, so the text has no interior NUL.
        CString::new(text).map_err(|_| InteropError::InvalidPayload {
            context: self.context(method, target),
            path: format!("params.{param}"),
            reason: "the encoded JSON contains a NUL byte".into(),
        })
    }

    fn name_arg(&self, method: &str, name: &str) -> Result<CString, InteropError> {
        CString::new(name).map_err(|_| InteropError::InvalidPayload {
            context: self.context(method, Some(name)),
            path: "params.name".into(),
            reason: "a name cannot contain U+0000 over FFI".into(),
        })
    }

    /// `elizaos_get_manifest`.
    pub(crate) fn get_manifest(&self) -> Result<Value, InteropError> {
        // SAFETY: no arguments; the result is handled by `take_envelope`.
        let ptr = unsafe { (self.exports.get_manifest)() };
        self.take_envelope(methods::GET_MANIFEST, None, ptr)
    }

    fn init(&self, config: &Value) -> Result<Value, InteropError> {
        let cfg = self.json_arg(methods::INIT, None, "config", config)?;
        // SAFETY: `cfg` is a valid C string borrowed for the call.
        let rc = unsafe { (self.exports.init)(cfg.as_ptr()) };
        self.status_result(methods::INIT, None, None, rc)
    }

    fn handler(&self, method: &str, args: &HandlerArgs<'_>) -> Result<Value, InteropError> {
        let target = Some(args.name);
        let name = self.name_arg(method, args.name)?;
        let memory = self.json_arg(method, target, "memory", args.memory)?;
        let state = self.json_arg(method, target, "state", args.state)?;
        let e = self.exports;
        // SAFETY (all arms): every pointer is a valid C string that outlives the call.
        match method {
            methods::VALIDATE_ACTION | methods::VALIDATE_EVALUATOR => {
                let (f, kind) = if method == methods::VALIDATE_ACTION {
                    (e.validate_action, Kind::Action)
                } else {
                    (e.validate_evaluator, Kind::Evaluator)
                };
                let rc = unsafe { f(name.as_ptr(), memory.as_ptr(), state.as_ptr()) };
                self.status_result(method, Some(kind), target, rc)
            }
            methods::INVOKE_ACTION => {
                let options = self.json_arg(method, target, "options", args.options)?;
                let ptr = unsafe {
                    (e.invoke_action)(
                        name.as_ptr(),
                        memory.as_ptr(),
                        state.as_ptr(),
                        options.as_ptr(),
                    )
                };
                self.take_envelope(method, target, ptr)
            }
            methods::GET_PROVIDER => {
                let ptr =
                    unsafe { (e.get_provider)(name.as_ptr(), memory.as_ptr(), state.as_ptr()) };
                self.take_envelope(method, target, ptr)
            }
            methods::INVOKE_EVALUATOR => {
                let ptr =
                    unsafe { (e.invoke_evaluator)(name.as_ptr(), memory.as_ptr(), state.as_ptr()) };
                self.take_envelope(method, target, ptr)
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
                let args = parse_call_args(map, method == methods::INVOKE_ACTION)
                    .map_err(|e| self.call_error(method, target, e))?;
                self.handler(
                    method,
                    &HandlerArgs {
                        name: &args.name,
                        memory: &args.memory,
                        state: &args.state,
                        options: &args.options,
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
        let empty = Value::Object(Map::new());
        let checks = validate_memory("memory", memory)
            .and_then(|()| object_param("state", state))
            .and_then(|()| options.map_or(Ok(()), |o| object_param("options", o)));
        checks.map_err(|e| self.call_error(method, Some(name), e))?;
        self.handler(
            method,
            &HandlerArgs {
                name,
                memory,
                state,
                options: options.unwrap_or(&empty),
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

fn status_meaning(rc: c_int) -> &'static str {
    match rc {
        status::UNKNOWN_NAME => "unknown name",
        status::INVALID_INPUT => "invalid input",
        status::HANDLER_FAILED => "handler failed or panicked",
        _ => "internal error",
    }
}

/// Loads native plugins from shared libraries (protocol.md section 6).
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
