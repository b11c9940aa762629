//! The transport-independent [`Bridge`]: param validation, unknown names, lazy `init`, result
//! checks; and [`GlobalBridge`], the process-wide bridge of the FFI and WASM exports.

use super::panic::{guarded, handler_error, install_panic_hook, lifecycle_error, lock};
use crate::interop::plugin::{Manifest, Plugin};
use crate::interop::wire::{
    call_args_from_parts, check_action_result, check_evaluator_result, check_provider_result,
    codes, json_type_name, methods, parse_call_args, parse_init_config, status, take_call_args,
    CallArgs, Kind, RpcError, Transport, PROTOCOL_VERSION,
};
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

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

/// One plugin behind one transport: everything between decoded arguments and a wire result.
pub struct Bridge<P: Plugin> {
    plugin: P,
    transport: Transport,
    manifest: std::cell::OnceCell<CachedManifest>,
    initialized: std::cell::Cell<bool>,
    /// The config of the last successful `init` (`{}` before any), for the runtime proxy (11.1).
    config: std::cell::RefCell<Value>,
    /// The buffer results are serialised into before their exact-size copy is handed out,
    /// reused from call to call (see [`Bridge::with_scratch`]).
    scratch: std::cell::Cell<Vec<u8>>,
}

/// A scratch buffer kept between calls is at most this large; a larger one is released.
const KEPT_SCRATCH_BYTES: usize = 1 << 20;

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
            scratch: std::cell::Cell::new(Vec::new()),
        }
    }

    /// Runs `f` with the bridge's empty scratch buffer: a result is serialised there (no growth
    /// once warm) and copied once into an allocation of its exact size. A nested call gets a
    /// fresh buffer.
    pub fn with_scratch<R>(&self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let mut buf = self.scratch.take();
        buf.clear();
        let r = f(&mut buf);
        if buf.capacity() <= KEPT_SCRATCH_BYTES {
            self.scratch.set(buf);
        }
        r
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
                json_type_name(config),
            ));
        }
        // Any init, failed or not, is the init: no implicit one follows it (protocol.md 3.3).
        self.initialized.set(true);
        let plugin = &self.plugin;
        guarded(None, || plugin.init(config).map_err(lifecycle_error))
            .map_err(|e| self.init_failed(e))?;
        *self.config.borrow_mut() = config.clone();
        Ok(())
    }

    /// A failed `init`'s -32000 names the plugin: data `{"kind": "plugin", "name", "exception"}`
    /// (protocol.md 3.3); other codes keep their data.
    fn init_failed(&self, mut e: RpcError) -> RpcError {
        if e.code == codes::HANDLER_FAILED {
            let mut data = match e.data.take() {
                Some(Value::Object(members)) => members,
                _ => Map::new(),
            };
            let name = self
                .load_manifest()
                .map(|m| m.manifest.name.clone())
                .unwrap_or_default();
            data.insert("kind".into(), Value::from("plugin"));
            data.insert("name".into(), Value::from(name));
            e.data = Some(Value::Object(data));
        }
        e
    }

    /// The config of the last successful `init`, `{}` before any.
    pub fn config(&self) -> Value {
        self.config.borrow().clone()
    }

    /// The implicit `init({})` before the first call (protocol.md 3.3). Its failure changes nothing
    /// and nobody asked for it: it is written to stderr and the call is served, as the Python and
    /// TypeScript bridges do.
    fn ensure_init(&self) {
        if !self.initialized.get() {
            if let Err(e) = self.init(&Value::Object(Map::new())) {
                eprintln!(
                    "elizaos: implicit init({{}}) before the first call failed: {}",
                    e.message
                );
            }
        }
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
        self.ensure_init();
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
        self.ensure_init();
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

    /// [`Bridge::dispatch`] taking the params: a handler's arguments are moved out of them, not
    /// copied (a 10 KiB memory is not duplicated). Same checks, errors and answers.
    pub fn dispatch_owned(
        &self,
        method: &str,
        mut params: Map<String, Value>,
    ) -> Result<Value, RpcError> {
        let kind = match method {
            methods::VALIDATE_ACTION | methods::INVOKE_ACTION => Kind::Action,
            methods::GET_PROVIDER => Kind::Provider,
            methods::VALIDATE_EVALUATOR | methods::INVOKE_EVALUATOR => Kind::Evaluator,
            _ => return self.dispatch(method, &params),
        };
        let args = take_call_args(&mut params, method == methods::INVOKE_ACTION)?;
        match method {
            methods::VALIDATE_ACTION | methods::VALIDATE_EVALUATOR => {
                self.validate(kind, &args).map(Value::Bool)
            }
            _ => self.invoke(kind, &args),
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
fn decode_name(bytes: &[u8]) -> Result<String, RpcError> {
    std::str::from_utf8(bytes)
        .map(str::to_string)
        .map_err(|_| RpcError::invalid_param("name", "string", "invalid UTF-8"))
}

/// Decode a JSON argument: not UTF-8 is -32602, not JSON is -32700.
pub(super) fn decode_json(param: &str, bytes: &[u8]) -> Result<Value, RpcError> {
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
pub(super) fn decode_call(
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
pub(super) fn validate_status(outcome: Result<bool, RpcError>) -> (i32, Option<RpcError>) {
    match outcome {
        Ok(true) => (status::VALID, None),
        Ok(false) => (status::NOT_VALID, None),
        Err(e) => (e.status(), Some(e)),
    }
}
