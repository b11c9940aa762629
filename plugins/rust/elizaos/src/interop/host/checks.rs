//! What the host checks before and after a call: manifests (manifest.schema.json and section 1),
//! the nesting depth of payloads (section 2) and the shape of results, put in canonical form
//! (section 1). Liberal where protocol.md says so: unknown members are kept, a validate answer may
//! be `{"valid": bool}`.

use serde_json::Value;

use crate::interop::wire::{json_type_name, methods};

/// Deepest params nesting the host sends (the params object counts as 1).
/// protocol.md section 2 guarantees 64; deeper payloads MAY be refused. The
/// bound leaves room for the levels a response adds around echoed values, so
/// an echo never exceeds serde_json's parse limit of 128.
pub const MAX_PAYLOAD_DEPTH: usize = 120;

/// Checks that a manifest follows manifest.schema.json and the section 1
/// rules; returns every problem found.
pub fn manifest_problems(manifest: &Value) -> Vec<String> {
    let Some(obj) = manifest.as_object() else {
        return vec![format!(
            "manifest is {}, expected object",
            json_type_name(manifest)
        )];
    };
    // Must-ignore (section 1): unknown members are kept, only known members are checked.
    let mut problems = Vec::new();
    // How a received member reads in a message: its JSON text, or "missing".
    let shown = |key: &str| {
        obj.get(key)
            .map_or_else(|| "missing".to_string(), Value::to_string)
    };
    match obj.get("name").and_then(Value::as_str) {
        Some(n) if is_plugin_name(n) => {}
        _ => problems.push(format!(
            "name {} is not an npm package name (1..214 characters of [a-z0-9._~-], optionally @scope/)",
            shown("name")
        )),
    }
    if !obj.get("description").is_some_and(Value::is_string) {
        problems.push("description is missing or not a string".into());
    }
    match obj.get("version").and_then(Value::as_str) {
        Some(v) if is_semver(v) => {}
        _ => problems.push(format!(
            "version {} is not a SemVer 2.0 string",
            shown("version")
        )),
    }
    match obj.get("language").and_then(Value::as_str) {
        Some(l) if is_language(l) => {}
        _ => problems.push(format!(
            "language {} does not match ^[a-z][a-z0-9+-]*$",
            shown("language")
        )),
    }
    match obj.get("protocolVersion") {
        None => {}
        Some(v) if v.as_u64().is_some() => {}
        Some(v) => problems.push(format!(
            "protocolVersion has the wrong type ({}), expected a non-negative integer",
            json_type_name(v)
        )),
    }
    for list in ["capabilities", "services", "events", "routes", "models"] {
        match obj.get(list) {
            None => {}
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
            Some(v) => problems.push(format!(
                "{list} has the wrong type ({}), expected an array of strings",
                json_type_name(v)
            )),
        }
    }
    let kinds: [(&str, &[&str]); 3] = [
        ("actions", &["name", "description"]),
        ("providers", &["name"]),
        ("evaluators", &["name", "description"]),
    ];
    for (kind, required) in kinds {
        match obj.get(kind).and_then(Value::as_array) {
            Some(items) => descriptor_problems(kind, required, items, &mut problems),
            None => problems.push(format!("{kind} is missing or not an array")),
        }
    }
    problems
}

/// The problems of the descriptors of one kind (`actions`, ...): objects with the `required`
/// members, known members of the right type, unique non-empty names.
fn descriptor_problems(kind: &str, required: &[&str], items: &[Value], problems: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{kind}[{i}]");
        let Some(d) = item.as_object() else {
            problems.push(format!("{at} is {}, expected object", json_type_name(item)));
            continue;
        };
        for req in required {
            if !d.contains_key(*req) {
                problems.push(format!("{at}.{req} is missing"));
            }
        }
        for (key, value) in d {
            let ok = match key.as_str() {
                "name" | "description" => value.is_string(),
                "dynamic" | "private" | "alwaysRun" => value.is_boolean(),
                "similes" => value
                    .as_array()
                    .is_some_and(|a| a.iter().all(Value::is_string)),
                "position" => value.is_number(),
                _ => true,
            };
            if !ok {
                problems.push(format!(
                    "{at}.{key} has the wrong type ({})",
                    json_type_name(value)
                ));
            }
        }
        if let Some(n) = d.get("name").and_then(Value::as_str) {
            if n.is_empty() {
                problems.push(format!("{at}.name is empty"));
            } else if !seen.insert(n) {
                problems.push(format!("{at}.name {n:?} is not unique"));
            }
        }
    }
}

/// An npm package name (section 1): 1..214 characters of `[a-z0-9._~-]`, optionally scoped as
/// `@scope/name`.
pub(crate) fn is_plugin_name(n: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._~-".contains(&b))
    };
    let bare = match n.strip_prefix('@') {
        Some(scoped) => match scoped.split_once('/') {
            Some((scope, name)) => part(scope) && part(name),
            None => false,
        },
        None => part(n),
    };
    (1..=214).contains(&n.len()) && bare
}

fn is_language(l: &str) -> bool {
    let mut bytes = l.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'+' || b == b'-')
}

/// SemVer 2.0: `MAJOR.MINOR.PATCH[-pre][+build]`, no leading zeros in numbers.
fn is_semver(v: &str) -> bool {
    let (rest, build) = match v.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (v, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numeric = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    };
    let ident =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && pre.map_or(true, |p| {
            p.split('.')
                .all(|id| ident(id) && (!id.bytes().all(|b| b.is_ascii_digit()) || numeric(id)))
        })
        && build.map_or(true, |b| b.split('.').all(ident))
}

/// Refuses a value the JSON profile does not carry (section 2): nesting
/// deeper than [`MAX_PAYLOAD_DEPTH`]. (Rust strings cannot hold lone
/// surrogates, and `serde_json::Value` cannot hold NaN or infinities.)
/// `path` names `value` (`params.memory`); the path of the first too deep
/// member is built only when there is one.
pub(super) fn check_depth(value: &Value, path: &str, depth: usize) -> Result<(), (String, String)> {
    if within_depth(value, depth) {
        return Ok(());
    }
    let mut path = path.to_owned();
    depth_path(value, &mut path, depth)
}

/// Whether `value`, at nesting level `depth`, stays within [`MAX_PAYLOAD_DEPTH`].
pub(super) fn within_depth(value: &Value, depth: usize) -> bool {
    match value {
        _ if depth > MAX_PAYLOAD_DEPTH => false,
        Value::Array(items) => items.iter().all(|item| within_depth(item, depth + 1)),
        Value::Object(members) => members.values().all(|item| within_depth(item, depth + 1)),
        _ => true,
    }
}

/// The path and reason of the first member of `value` nested too deep.
fn depth_path(value: &Value, path: &mut String, depth: usize) -> Result<(), (String, String)> {
    if depth > MAX_PAYLOAD_DEPTH {
        return Err((
            path.clone(),
            format!(
                "nesting deeper than {MAX_PAYLOAD_DEPTH} levels (the params object counts as 1)"
            ),
        ));
    }
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                depth_path(item, path, depth + 1)?;
                path.truncate(len);
            }
        }
        Value::Object(members) => {
            for (key, item) in members {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                depth_path(item, path, depth + 1)?;
                path.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// A hint for the usual toolchain mistakes, recognised in a bridge's stderr.
pub(super) fn toolchain_hint(stderr: &str) -> Option<&'static str> {
    // A Node too old for TypeScript is diagnosed by the TypeScript loader,
    // which names the version and the binary.
    if stderr.contains("No module named 'elizaos_interop'")
        || stderr.contains("No module named elizaos_interop")
    {
        Some("the interpreter cannot import elizaos_interop; install it or set ELIZAOS_PYTHON")
    } else {
        None
    }
}

/// The part of a result a method returns, after shape checks.
enum Expect {
    Bool,
    ActionResult,
    ProviderResult,
    EvaluatorResult,
    Any,
}

fn expectation(method: &str) -> Expect {
    match method {
        methods::VALIDATE_ACTION | methods::VALIDATE_EVALUATOR => Expect::Bool,
        // Any value: our SDKs answer `{}`, the seed's `{"success": true}` (section 3.3).
        methods::INIT | methods::SHUTDOWN => Expect::Any,
        methods::INVOKE_ACTION => Expect::ActionResult,
        methods::GET_PROVIDER => Expect::ProviderResult,
        methods::INVOKE_EVALUATOR => Expect::EvaluatorResult,
        _ => Expect::Any,
    }
}

/// Checks a result object's known members and removes null optional
/// members (section 1: absent, never null, in the canonical form). Unknown
/// members are ignored and kept (must-ignore).
fn canonical_result(value: Value, action: bool) -> Result<Value, String> {
    let Value::Object(mut obj) = value else {
        return Err(format!(
            "expected an object, received {}",
            json_type_name(&value)
        ));
    };
    if action && !obj.get("success").is_some_and(Value::is_boolean) {
        return Err("\"success\" must be a boolean".into());
    }
    let mut nulls = false;
    for (key, member) in &obj {
        let ok = match key.as_str() {
            "success" if action => true,
            "text" => member.is_string() || member.is_null(),
            "error" if action => member.is_string() || member.is_null(),
            "values" | "data" => member.is_object() || member.is_null(),
            _ => true,
        };
        if !ok {
            return Err(format!(
                "{key:?} has the wrong type ({})",
                json_type_name(member)
            ));
        }
        nulls |= member.is_null();
    }
    if nulls {
        obj.retain(|_, member| !member.is_null());
    }
    Ok(Value::Object(obj))
}

pub(super) fn check_result(method: &str, value: Value) -> Result<Value, String> {
    match expectation(method) {
        Expect::Bool if value.is_boolean() => Ok(value),
        // The seed's plugins answer `{"valid": bool}` (section 12).
        Expect::Bool => match value.get("valid") {
            Some(Value::Bool(valid)) => Ok(Value::Bool(*valid)),
            _ => Err(format!(
                "expected a boolean or {{\"valid\": boolean}}, received {}",
                json_type_name(&value)
            )),
        },
        Expect::ActionResult => canonical_result(value, true),
        Expect::ProviderResult => canonical_result(value, false),
        Expect::EvaluatorResult if value.is_null() => Ok(value),
        Expect::EvaluatorResult => canonical_result(value, true),
        Expect::Any => Ok(value),
    }
}

/// The four call methods that may carry a runtime (section 3.3).
pub(super) fn is_handler_method(method: &str) -> bool {
    matches!(
        method,
        methods::VALIDATE_ACTION
            | methods::INVOKE_ACTION
            | methods::GET_PROVIDER
            | methods::VALIDATE_EVALUATOR
            | methods::INVOKE_EVALUATOR
    )
}

/// Name of the target a handler method addresses, when `params.name` is a string.
pub(super) fn target_of(params: &Value) -> Option<&str> {
    params.get("name").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn semver_accepts_and_rejects() {
        for ok in [
            "1.0.0",
            "0.1.2-alpha.1+build.5",
            "10.20.30",
            "1.0.0-0.3.7",
            "1.0.0-x-y-z.--",
        ] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in ["1.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0+", "a.b.c", ""] {
            assert!(!is_semver(bad), "{bad}");
        }
    }

    #[test]
    fn manifest_problems_are_listed() {
        let good = json!({"name": "x", "description": "", "version": "1.0.0", "language": "rust",
            "actions": [{"name": "a", "description": "d"}], "providers": [{"name": "p"}], "evaluators": []});
        assert!(manifest_problems(&good).is_empty());
        let seed = json!({"name": "@elizaos/plugin-bootstrap", "description": "", "version": "1.7.2",
            "language": "typescript", "priority": 1, "config": {}, "dependencies": ["x"],
            "actions": [{"name": "a", "description": "d", "examples": [[{"name": "u"}]]}],
            "providers": [{"name": "p", "position": 2}], "evaluators": [], "protocolVersion": 1,
            "capabilities": ["runtime"], "services": ["s"]});
        assert!(
            manifest_problems(&seed).is_empty(),
            "{:?}",
            manifest_problems(&seed)
        );
        let bad = json!({"name": "X", "version": "1", "language": "rust", "actions": [{"name": "a"}, {"name": "a", "description": "", "x": 1}],
            "providers": [{"name": "p", "position": "top"}], "evaluators": [], "extra": 1, "capabilities": "runtime"});
        let problems = manifest_problems(&bad);
        assert!(
            !problems
                .iter()
                .any(|p| p.contains("extra") || p.contains("\"x\"")),
            "unknown members are ignored: {problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("capabilities has the wrong type")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("position has the wrong type")),
            "{problems:?}"
        );
        for name in ["@scope/x", "a~b", "x"] {
            assert!(is_plugin_name(name), "{name}");
        }
        for name in ["@scope", "@/x", "@a/b/c", "X", ""] {
            assert!(!is_plugin_name(name), "{name}");
        }
        assert!(
            problems
                .iter()
                .any(|p| p.contains("actions[0].description is missing")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("not unique")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("description is missing")),
            "{problems:?}"
        );
    }

    #[test]
    fn results_are_canonical_and_checked() {
        assert_eq!(
            check_result(
                methods::INVOKE_ACTION,
                json!({"success": true, "text": null, "data": {"a": null}})
            ),
            Ok(json!({"success": true, "data": {"a": null}}))
        );
        assert!(check_result(methods::INVOKE_ACTION, json!({"sucess": true})).is_err());
        assert_eq!(
            check_result(
                methods::INVOKE_ACTION,
                json!({"success": true, "extra": [1]})
            ),
            Ok(json!({"success": true, "extra": [1]})),
            "unknown members are kept"
        );
        assert_eq!(
            check_result(methods::VALIDATE_ACTION, json!({"valid": false})),
            Ok(json!(false))
        );
        assert!(check_result(methods::VALIDATE_ACTION, json!({"valid": 1})).is_err());
        assert_eq!(
            check_result(methods::INIT, json!({"success": true})),
            Ok(json!({"success": true}))
        );
        assert_eq!(check_result(methods::INIT, json!(null)), Ok(json!(null)));
        assert!(check_result(methods::INVOKE_ACTION, json!({"success": true, "text": 1})).is_err());
        assert!(check_result(methods::GET_PROVIDER, json!({"text": 1})).is_err());
        assert_eq!(
            check_result(methods::INVOKE_EVALUATOR, Value::Null),
            Ok(Value::Null)
        );
        assert!(check_result(methods::VALIDATE_ACTION, json!(1)).is_err());
    }

    #[test]
    fn depth_limit_reports_the_path() {
        let mut deep = json!(1);
        for _ in 0..MAX_PAYLOAD_DEPTH {
            deep = json!({ "k": deep });
        }
        let err = check_depth(&deep, "params.memory", 2).err();
        assert!(err.is_some_and(|(p, _)| p.starts_with("params.memory.k.k")));
        assert!(check_depth(&json!({"a": [[1]]}), "params", 1).is_ok());
    }
}
