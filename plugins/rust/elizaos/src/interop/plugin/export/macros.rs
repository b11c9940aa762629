//! [`export_plugin!`](crate::export_plugin): the `extern "C"` symbols of a plugin crate.
//!
//! One macro, over 300 lines: every export is a few lines of forwarding to [`super::ffi`] or
//! [`super::wasm`], and `#[no_mangle]` symbols must be emitted in the plugin crate itself, so they
//! cannot be functions of this crate.

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
///
/// ```
/// use elizaos::interop::export::Bridge;
/// use elizaos::interop::{
///     call_args_from_parts, ActionDescriptor, ActionResult, Kind, Manifest, Plugin, PluginError,
///     Transport,
/// };
/// use serde_json::{json, Value};
///
/// #[derive(Default)]
/// pub struct Hello;
///
/// impl Plugin for Hello {
///     fn manifest(&self) -> Manifest {
///         Manifest {
///             name: "hello".into(),
///             description: "Says hello".into(),
///             version: "1.0.0".into(),
///             language: "rust".into(),
///             actions: vec![ActionDescriptor::new("hello", "Say hello")],
///             providers: vec![],
///             evaluators: vec![],
///         }
///     }
///
///     fn invoke_action(&self, _name: &str, _memory: &Value, _state: &Value, _options: &Value)
///         -> Result<ActionResult, PluginError> {
///         Ok(ActionResult::success().with_text("hello"))
///     }
/// }
///
/// // In a plugin crate with feature `ffi` (or `wasm` on wasm32) this emits the exports.
/// elizaos::export_plugin!(Hello, Hello::default);
///
/// // Every export goes through a `Bridge`: names, params and results are checked for it.
/// let bridge = Bridge::new(Hello, Transport::Ffi);
/// let memory = json!({"content": {"text": "hi"}});
/// let call = call_args_from_parts("hello".into(), memory.clone(), json!({}), Some(json!({})))?;
/// assert_eq!(bridge.invoke(Kind::Action, &call)?, json!({"success": true, "text": "hello"}));
/// let unknown = call_args_from_parts("bye".into(), memory, json!({}), Some(json!({})))?;
/// assert_eq!(bridge.invoke(Kind::Action, &unknown).unwrap_err().code, -32001);
/// # Ok::<(), elizaos::interop::RpcError>(())
/// ```
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
                    $crate::interop::Kind::Action,
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
                    $crate::interop::Kind::Action,
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
                    $crate::interop::Kind::Provider,
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
                    $crate::interop::Kind::Evaluator,
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
                    $crate::interop::Kind::Evaluator,
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
            use $crate::interop::Kind;

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
