//! The `wire` room: the protocol vocabulary shared by every transport and by both ends
//! (`docs/protocol.md` sections 2 to 5): error codes, WASM/FFI status codes, method names, the
//! [`RpcError`] type, request parsing, response/envelope serialisation, the JSON writer and the
//! schema checks of arguments and results.
//!
//! The plugin side (WASM/FFI exports, IPC server) and the host side both use these helpers, so the
//! two ends agree on every code and every `data` member.

mod envelope;
mod error;
mod json;
mod request;
mod schema;
#[cfg(test)]
mod tests;
mod vocabulary;

pub use envelope::{
    envelope_json, envelope_value, parse_envelope, parse_line, parse_response, response_from_value,
    response_line, response_value, write_envelope, write_error_envelope, write_result_envelope_raw,
    Response,
};
pub(crate) use error::panic_message;
pub use error::RpcError;
pub use json::write_json;
/// The host's request writer (not on wasm32, which has no host).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use json::write_json_str;
pub use request::{
    is_valid_id, parse_request, request_from_value, request_line, BadRequest, Request,
};
pub use schema::{
    borrow_call_args, call_args_from_parts, check_action_result, check_evaluator_result,
    check_provider_result, parse_call_args, parse_init_config, take_call_args, validate_memory,
    CallArgs, CallArgsRef,
};
pub use vocabulary::{
    code_to_status, codes, json_type_name, methods, status, status_to_code, Kind, Transport,
    DEFAULT_MAX_MESSAGE_BYTES, MAX_SAFE_INTEGER, PROTOCOL_VERSION, RECEIVED_MISSING,
};
