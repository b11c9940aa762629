//! Unit tests of the wire room.

use super::json::write_json_str;
use super::*;
use serde_json::{json, Map, Value};

#[test]
fn status_and_code_mapping_round_trips() {
    assert_eq!(status_to_code(1), None);
    assert_eq!(status_to_code(0), None);
    assert_eq!(status_to_code(-1), Some(codes::UNKNOWN_NAME));
    assert_eq!(status_to_code(-2), Some(codes::INVALID_PARAMS));
    assert_eq!(status_to_code(-3), Some(codes::HANDLER_FAILED));
    assert_eq!(status_to_code(-4), Some(codes::INTERNAL_ERROR));
    assert_eq!(status_to_code(-9), Some(codes::INTERNAL_ERROR));
    for s in [-1, -2, -3, -4] {
        let code = status_to_code(s).unwrap_or(0);
        assert_eq!(code_to_status(code), s);
    }
    assert_eq!(code_to_status(codes::PARSE_ERROR), status::INVALID_INPUT);
    assert_eq!(code_to_status(codes::NOT_SUPPORTED), status::HANDLER_FAILED);
}

#[test]
fn request_parsing_covers_each_error_row() {
    let ok = parse_request(br#"{"id":1,"method":"getManifest"}"#).map_err(|e| e.error);
    assert_eq!(
        ok,
        Ok(Request {
            id: json!(1),
            method: "getManifest".into(),
            params: Map::new()
        })
    );
    let crlf = parse_request(b"{\"id\":\"a\",\"method\":\"m\",\"params\":{}}\r").map(|r| r.id);
    assert_eq!(crlf, Ok(json!("a")));
    let cases: [(&[u8], Value, i64); 9] = [
        (b"not json", Value::Null, codes::PARSE_ERROR),
        (b"\xff\xfe", Value::Null, codes::PARSE_ERROR),
        (b"[1]", Value::Null, codes::INVALID_REQUEST),
        (br#"{"method":"x"}"#, Value::Null, codes::INVALID_REQUEST),
        (
            br#"{"id":-1,"method":"x"}"#,
            Value::Null,
            codes::INVALID_REQUEST,
        ),
        (
            br#"{"id":"","method":"x"}"#,
            Value::Null,
            codes::INVALID_REQUEST,
        ),
        (
            br#"{"id":9007199254740992,"method":"x"}"#,
            Value::Null,
            codes::INVALID_REQUEST,
        ),
        (br#"{"id":3,"method":5}"#, json!(3), codes::INVALID_REQUEST),
        (
            br#"{"id":4,"method":"x","params":[]}"#,
            json!(4),
            codes::INVALID_REQUEST,
        ),
    ];
    for (line, id, code) in cases {
        let err = parse_request(line).err();
        assert_eq!(
            err.as_ref().map(|e| (&e.id, e.error.code)),
            Some((&id, code)),
            "{line:?}"
        );
    }
}

#[test]
fn envelope_round_trips_and_omits_absent_data() {
    let ok = envelope_json(&Ok(json!({"a": 1})));
    assert_eq!(ok, r#"{"result":{"a":1}}"#);
    let err = RpcError::new(codes::INTERNAL_ERROR, "boom");
    assert_eq!(
        envelope_json(&Err(err.clone())),
        r#"{"error":{"code":-32603,"message":"boom"}}"#
    );
    assert_eq!(
        parse_envelope(&envelope_json(&Err(err.clone()))),
        Ok(Err(err))
    );
    let with_null = parse_envelope(r#"{"error":{"code":-32000,"message":"m","data":null}}"#);
    assert_eq!(with_null, Ok(Err(RpcError::new(-32000, "m"))));
    assert!(parse_envelope(r#"{"result":1,"error":{"code":1,"message":""}}"#).is_err());
    assert!(parse_envelope(r#"{}"#).is_err());
    assert!(parse_envelope(r#"{"result":1,"x":2}"#).is_err());
    assert!(parse_envelope(r#"{"error":{"code":"x","message":""}}"#).is_err());
}

#[test]
fn response_lines_parse() {
    let line = response_line(&json!(7), &Ok(json!(true)));
    assert_eq!(
        parse_response(line.as_bytes()),
        Ok(Response {
            id: json!(7),
            outcome: Ok(json!(true))
        })
    );
    let line = response_line(&Value::Null, &Err(RpcError::parse_error("x")));
    let parsed = parse_response(line.as_bytes()).map(|r| r.outcome.map_err(|e| e.code));
    assert_eq!(parsed, Ok(Err(codes::PARSE_ERROR)));
    assert!(parse_response(b"{\"id\":1}").is_err());
    assert!(parse_response(b"{\"id\":true,\"result\":1}").is_err());
}

#[test]
fn call_args_validation_reports_param_expected_received() {
    let p = |v: Value| v.as_object().cloned().unwrap_or_default();
    let data = |r: Result<CallArgs, RpcError>| r.err().and_then(|e| e.data);
    let args = parse_call_args(&p(json!({"name": "echo", "memory": {"content": {}}})), true);
    assert_eq!(
        args,
        Ok(CallArgs {
            name: "echo".into(),
            memory: json!({"content": {}}),
            state: json!({}),
            options: json!({})
        })
    );
    assert_eq!(
        data(parse_call_args(
            &p(json!({"memory": {"content": {}}})),
            false
        )),
        Some(json!({"param": "name", "expected": "string", "received": "missing"}))
    );
    assert_eq!(
        data(parse_call_args(
            &p(json!({"name": 1, "memory": {"content": {}}})),
            false
        )),
        Some(json!({"param": "name", "expected": "string", "received": "integer"}))
    );
    assert_eq!(
        data(parse_call_args(&p(json!({"name": "x"})), false)),
        Some(json!({"param": "memory", "expected": "object", "received": "missing"}))
    );
    assert_eq!(
        data(parse_call_args(
            &p(json!({"name": "x", "memory": []})),
            false
        )),
        Some(json!({"param": "memory", "expected": "object", "received": "array"}))
    );
    assert_eq!(
        data(parse_call_args(
            &p(json!({"name": "x", "memory": {}})),
            false
        )),
        Some(json!({"param": "memory.content", "expected": "object", "received": "missing"}))
    );
    assert_eq!(
        data(parse_call_args(
            &p(json!({"name": "x", "memory": {"content": {"text": 1.5}}})),
            false
        )),
        Some(json!({"param": "memory.content.text", "expected": "string", "received": "number"}))
    );
    assert_eq!(
        data(parse_call_args(
            &p(json!({"name": "x", "memory": {"content": {}}, "state": "s"})),
            false
        )),
        Some(json!({"param": "state", "expected": "object", "received": "string"}))
    );
    assert_eq!(
        data(parse_call_args(
            &p(json!({"name": "x", "memory": {"content": {}}, "options": 1})),
            true
        )),
        Some(json!({"param": "options", "expected": "object", "received": "integer"}))
    );
    assert_eq!(
        parse_init_config(&p(json!({}))).err().and_then(|e| e.data),
        Some(json!({"param": "config", "expected": "object", "received": "missing"}))
    );
}

#[test]
fn call_args_from_parts_agree_with_params_parsing() {
    let memories = [
        json!({"content": {"text": "hi"}, "x": [1, 2.5]}),
        json!({"content": {"text": null}}),
        json!({"content": {"text": 1}}),
        json!({"content": []}),
        json!({}),
        json!([]),
        json!(null),
    ];
    let others = [
        json!({"a": 1}),
        json!(null),
        json!("s"),
        json!(3),
        json!([]),
    ];
    for memory in &memories {
        for state in &others {
            for options in [
                None,
                Some(json!({"o": true})),
                Some(json!(1)),
                Some(json!(null)),
            ] {
                let mut params = Map::new();
                params.insert("name".into(), json!("n"));
                params.insert("memory".into(), memory.clone());
                params.insert("state".into(), state.clone());
                if let Some(o) = &options {
                    params.insert("options".into(), o.clone());
                }
                let expected = parse_call_args(&params, options.is_some());
                let got = call_args_from_parts(
                    "n".into(),
                    memory.clone(),
                    state.clone(),
                    options.clone(),
                );
                assert_eq!(got, expected, "{memory} {state} {options:?}");
            }
        }
    }
}

/// A small deterministic generator of JSON values for the writer test: strings mixing every
/// escape class, ASCII runs longer than the eight-byte scan and non-ASCII text, nested values.
struct Gen(u64);

impl Gen {
    const PIECES: [&'static str; 18] = [
        "\"",
        "\\",
        "\u{0}",
        "\u{1f}",
        "\u{7f}",
        "\n",
        "\r",
        "\t",
        "\u{8}",
        "\u{c}",
        "/",
        "abcdefgh",
        "x",
        "é",
        "\u{2028}",
        "😀",
        "0123456789abcdef",
        " ",
    ];

    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn string(&mut self) -> String {
        (0..self.next(12))
            .map(|_| Self::PIECES[self.next(Self::PIECES.len() as u64) as usize])
            .collect()
    }

    fn value(&mut self, depth: u32) -> Value {
        match self.next(if depth > 3 { 6 } else { 8 }) {
            0 => Value::Null,
            1 => Value::Bool(self.next(2) == 0),
            2 => json!(self.next(1 << 40) as i64 - (1 << 39)),
            3 => json!(f64::from_bits(self.next(u64::MAX)).clamp(-1e300, 1e300)),
            4 => json!(u64::MAX - self.next(10)),
            5 => Value::String(self.string()),
            6 => Value::Array((0..self.next(4)).map(|_| self.value(depth + 1)).collect()),
            _ => Value::Object(
                (0..self.next(4))
                    .map(|_| (self.string(), self.value(depth + 1)))
                    .collect(),
            ),
        }
    }
}

#[test]
fn json_writer_matches_serde_json_byte_for_byte() {
    let mut gen = Gen(0x2545_f491_4f6c_dd1d);
    for _ in 0..5000 {
        let v = gen.value(0);
        let mut out = Vec::new();
        write_json(&mut out, &v);
        assert_eq!(
            String::from_utf8(out).ok(),
            serde_json::to_string(&v).ok(),
            "{v:?}"
        );
    }
    for b in 0u8..0x80 {
        let s = format!("abcdefg{}hijklmnop", char::from(b));
        let mut out = Vec::new();
        write_json_str(&mut out, &s);
        assert_eq!(String::from_utf8(out).ok(), serde_json::to_string(&s).ok());
    }
}

#[test]
fn json_writer_escapes_at_every_offset_of_the_wide_scan() {
    // The plain-run scan reads 32 then 8 bytes at a time: put every byte that needs an escape
    // (and a few that do not) at every offset of a string longer than two wide steps.
    let specials = [
        '"', '\\', '\n', '\u{0}', '\u{1f}', ' ', '~', '\u{7f}', 'é', '\u{2028}',
    ];
    for c in specials {
        for at in 0..75 {
            let mut s: String = "x".repeat(75);
            s.insert(at, c);
            let mut out = Vec::new();
            write_json_str(&mut out, &s);
            assert_eq!(
                String::from_utf8(out).ok(),
                serde_json::to_string(&s).ok(),
                "{c:?} at {at}"
            );
        }
    }
}

#[test]
fn envelopes_written_in_place_equal_the_value_form() {
    let outcomes = [
        Ok(json!({"success": true, "text": "a\u{0}\u{2028}\"", "data": {"f": 0.1, "n": -0.0}})),
        Ok(Value::Null),
        Err(RpcError::unknown_name(Kind::Action, "x")),
        Err(RpcError::new(codes::INTERNAL_ERROR, "m")),
    ];
    for outcome in outcomes {
        let mut out = Vec::new();
        write_envelope(&mut out, &outcome);
        assert_eq!(out, envelope_value(&outcome).to_string().into_bytes());
        assert_eq!(parse_envelope(&envelope_json(&outcome)), Ok(outcome));
    }
    let mut raw = Vec::new();
    write_result_envelope_raw(&mut raw, br#"{"a":[1]}"#);
    assert_eq!(raw, br#"{"result":{"a":[1]}}"#);
}

#[test]
fn result_checks_canonicalise_and_reject() {
    assert_eq!(
        check_action_result(json!({"success": true, "text": null})),
        Ok(json!({"success": true}))
    );
    assert_eq!(
        check_action_result(json!({"sucess": true})),
        Err("\"success\" is missing".to_string())
    );
    assert_eq!(
        check_action_result(json!({"success": true, "sucess": true})),
        Err("unknown member \"sucess\"".to_string())
    );
    assert!(check_action_result(json!({"success": 1})).is_err());
    assert_eq!(
        check_action_result(json!({"success": true, "values": [], "text": 1, "zz": 0})),
        Err("unknown member \"zz\"".to_string())
    );
    assert_eq!(
        check_action_result(json!({"success": true, "values": [], "text": 1})),
        Err("\"text\" must be a string, received integer".to_string())
    );
    assert_eq!(
        check_action_result(json!({"success": false, "data": 2, "error": null})),
        Err("\"data\" must be an object, received integer".to_string())
    );
    assert_eq!(
        check_action_result(json!({"success": false, "data": null, "error": "e", "values": {}})),
        Ok(json!({"success": false, "error": "e", "values": {}}))
    );
    assert!(check_action_result(json!({"success": true, "values": []})).is_err());
    assert!(check_action_result(json!("x")).is_err());
    assert_eq!(
        check_provider_result(json!({"data": null, "text": "t"})),
        Ok(json!({"text": "t"}))
    );
    assert!(check_provider_result(json!({"success": true})).is_err());
    assert_eq!(check_evaluator_result(Value::Null), Ok(Value::Null));
    assert!(check_evaluator_result(json!({})).is_err());
}
