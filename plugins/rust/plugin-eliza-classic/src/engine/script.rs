//! The DOCTOR script: its types, and reading and checking the JSON file (eliza.md 1).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

/// The one copy of the DOCTOR script, shared with the Python and TypeScript ports.
const DOCTOR_SCRIPT: &str = include_str!("../../../../../docs/vectors/eliza-doctor.json");

/// A malformed script; the message names the offending location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError(String);

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "eliza script: {}", self.0)
    }
}

impl std::error::Error for ScriptError {}

fn fail<T>(where_: &str, what: impl fmt::Display) -> Result<T, ScriptError> {
    Err(ScriptError(format!("{where_}: {what}")))
}

/// One pattern component (eliza.md 1).
#[derive(Debug)]
pub(super) enum Token {
    Star,
    Group(String),
    Alternatives(Vec<String>),
    Word(String),
}

/// One piece of a reassembly template.
#[derive(Debug)]
pub(super) enum Piece {
    Text(String),
    /// Component number, 1-based.
    Slot(usize),
}

/// One reassembly entry.
#[derive(Debug)]
pub(super) enum Entry {
    NewKey,
    /// Index of the target keyword.
    Goto(usize),
    Template(Vec<Piece>),
}

#[derive(Debug)]
pub(super) struct Rule {
    pub(super) tokens: Vec<Token>,
    pub(super) reassembly: Vec<Entry>,
}

#[derive(Debug)]
pub(super) struct Keyword {
    pub(super) rank: i64,
    pub(super) rules: Vec<Rule>,
}

/// A validated script.
#[derive(Debug)]
pub(super) struct Script {
    pub(super) greeting: String,
    pub(super) pre: HashMap<String, Vec<String>>,
    pub(super) post: HashMap<String, String>,
    pub(super) synonyms: HashMap<String, HashSet<String>>,
    pub(super) keywords: Vec<Keyword>,
    pub(super) keyword_index: HashMap<String, usize>,
    pub(super) memory_keyword: usize,
    pub(super) memory_rule: Rule,
    pub(super) none: Vec<String>,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn get<'a>(obj: &'a Map<String, Value>, key: &str) -> &'a Value {
    obj.get(key).unwrap_or(&Value::Null)
}

fn as_str<'a>(v: &'a Value, where_: &str) -> Result<&'a str, ScriptError> {
    v.as_str().ok_or_else(|| {
        ScriptError(format!(
            "{where_}: expected a string, received {}",
            json_type(v)
        ))
    })
}

fn as_object<'a>(v: &'a Value, where_: &str) -> Result<&'a Map<String, Value>, ScriptError> {
    v.as_object().ok_or_else(|| {
        ScriptError(format!(
            "{where_}: expected an object, received {}",
            json_type(v)
        ))
    })
}

fn as_nonempty_array<'a>(v: &'a Value, where_: &str) -> Result<&'a Vec<Value>, ScriptError> {
    match v.as_array() {
        Some(a) if !a.is_empty() => Ok(a),
        Some(_) => fail(where_, "expected a non-empty array"),
        None => fail(
            where_,
            format!("expected an array, received {}", json_type(v)),
        ),
    }
}

fn string_list(v: &Value, where_: &str) -> Result<Vec<String>, ScriptError> {
    as_nonempty_array(v, where_)?
        .iter()
        .enumerate()
        .map(|(i, item)| as_str(item, &format!("{where_}[{i}]")).map(str::to_owned))
        .collect()
}

/// Splits a template into text and `{n}` placeholders (eliza.md 1).
fn parse_template(template: &str, where_: &str) -> Result<Vec<Piece>, ScriptError> {
    let chars: Vec<char> = template.chars().collect();
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '{' {
            let mut j = i + 1;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            if j > i + 1 && j < chars.len() && chars[j] == '}' {
                let digits: String = chars[i + 1..j].iter().collect();
                let n = digits.parse::<usize>().map_err(|_| {
                    ScriptError(format!("{where_}: placeholder {{{digits}}} is too large"))
                })?;
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Slot(n));
                i = j + 1;
                continue;
            }
        }
        text.push(chars[i]);
        i += 1;
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// Raw rule text, resolved to [`Rule`] once every keyword is known.
struct RawRule<'a> {
    pattern: &'a str,
    reassembly: Vec<String>,
    where_: String,
}

fn raw_rule<'a>(
    pattern: &'a Value,
    reassembly: &Value,
    where_: String,
) -> Result<RawRule<'a>, ScriptError> {
    let pattern = as_str(pattern, &format!("{where_}.pattern"))?;
    if pattern.split(' ').any(str::is_empty) {
        return fail(
            &format!("{where_}.pattern"),
            "tokens are separated by single spaces",
        );
    }
    let reassembly = string_list(reassembly, &format!("{where_}.reassembly"))?;
    Ok(RawRule {
        pattern,
        reassembly,
        where_,
    })
}

/// Each keyword's index by name, and each keyword's rank and unresolved rules, in script order.
type RawKeywords<'a> = (HashMap<String, usize>, Vec<(i64, Vec<RawRule<'a>>)>);

/// The keywords of a script (`$.keywords`): each keyword's index by name, and its rank and
/// rules, not yet resolved.
fn raw_keywords(root: &Map<String, Value>) -> Result<RawKeywords<'_>, ScriptError> {
    let raw_keywords = get(root, "keywords")
        .as_array()
        .ok_or_else(|| ScriptError("$.keywords: expected an array".to_owned()))?;
    let mut keyword_index = HashMap::new();
    let mut pending: Vec<(i64, Vec<RawRule<'_>>)> = Vec::new();
    for (i, raw) in raw_keywords.iter().enumerate() {
        let where_ = format!("$.keywords[{i}]");
        let entry = as_object(raw, &where_)?;
        let key = as_str(get(entry, "key"), &format!("{where_}.key"))?;
        if keyword_index.insert(key.to_owned(), i).is_some() {
            return fail(
                &format!("{where_}.key"),
                format!("duplicate keyword '{key}'"),
            );
        }
        let rank = get(entry, "rank")
            .as_i64()
            .ok_or_else(|| ScriptError(format!("{where_}.rank: expected an integer")))?;
        let rules = as_nonempty_array(get(entry, "rules"), &format!("{where_}.rules"))?
            .iter()
            .enumerate()
            .map(|(j, r)| {
                let at = format!("{where_}.rules[{j}]");
                let r = as_object(r, &at)?;
                raw_rule(
                    get(r, "pattern"),
                    get(r, "reassembly"),
                    format!("keyword '{key}' rule {j}"),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        pending.push((rank, rules));
    }
    Ok((keyword_index, pending))
}

/// Resolves a rule's pattern and reassembly against the script's synonym groups and keywords.
fn resolve_rule(
    raw: &RawRule<'_>,
    synonyms: &HashMap<String, HashSet<String>>,
    keyword_index: &HashMap<String, usize>,
) -> Result<Rule, ScriptError> {
    let mut tokens = Vec::new();
    for token in raw.pattern.split(' ') {
        tokens.push(if token == "*" {
            Token::Star
        } else if let Some(group) = token.strip_prefix('@') {
            if !synonyms.contains_key(group) {
                return fail(&raw.where_, format!("unknown synonym group '{token}'"));
            }
            Token::Group(group.to_owned())
        } else if token.contains('|') {
            Token::Alternatives(token.split('|').map(str::to_owned).collect())
        } else {
            Token::Word(token.to_owned())
        });
    }
    let mut reassembly = Vec::new();
    for template in &raw.reassembly {
        reassembly.push(if template == "newkey" {
            Entry::NewKey
        } else if let Some(target) = template.strip_prefix("goto ") {
            Entry::Goto(*keyword_index.get(target).ok_or_else(|| {
                ScriptError(format!(
                    "{}: goto to unknown keyword '{target}'",
                    raw.where_
                ))
            })?)
        } else {
            let pieces = parse_template(template, &raw.where_)?;
            for piece in &pieces {
                if let Piece::Slot(n) = piece {
                    if *n < 1 || *n > tokens.len() {
                        return fail(
                            &raw.where_,
                            format!(
                                "placeholder {{{n}}} in '{template}' is outside 1..{}",
                                tokens.len()
                            ),
                        );
                    }
                }
            }
            Entry::Template(pieces)
        });
    }
    Ok(Rule { tokens, reassembly })
}

impl Script {
    pub(super) fn from_json(text: &str) -> Result<Script, ScriptError> {
        let root: Value = serde_json::from_str(text)
            .map_err(|e| ScriptError(format!("$: not valid JSON: {e}")))?;
        let root = as_object(&root, "$")?;
        let greeting = as_str(get(root, "greeting"), "$.greeting")?.to_owned();
        let mut pre = HashMap::new();
        for (word, repl) in as_object(get(root, "pre"), "$.pre")? {
            let repl = as_str(repl, &format!("$.pre.{word}"))?;
            pre.insert(word.clone(), repl.split(' ').map(str::to_owned).collect());
        }
        let mut post = HashMap::new();
        for (word, repl) in as_object(get(root, "post"), "$.post")? {
            post.insert(
                word.clone(),
                as_str(repl, &format!("$.post.{word}"))?.to_owned(),
            );
        }
        let mut synonyms = HashMap::new();
        for (name, words) in as_object(get(root, "synonyms"), "$.synonyms")? {
            let words = string_list(words, &format!("$.synonyms.{name}"))?;
            synonyms.insert(name.clone(), words.into_iter().collect::<HashSet<_>>());
        }
        let (keyword_index, pending) = raw_keywords(root)?;
        let memory = as_object(get(root, "memory"), "$.memory")?;
        let memory_key = as_str(get(memory, "keyword"), "$.memory.keyword")?;
        let memory_keyword = *keyword_index.get(memory_key).ok_or_else(|| {
            ScriptError(format!("$.memory.keyword: '{memory_key}' is not a keyword"))
        })?;
        let memory_raw = raw_rule(
            get(memory, "pattern"),
            get(memory, "reassembly"),
            "memory".to_owned(),
        )?;
        if let Some(t) = memory_raw
            .reassembly
            .iter()
            .find(|t| *t == "newkey" || t.starts_with("goto "))
        {
            return fail("$.memory.reassembly", format!("'{t}' is not a template"));
        }
        let none = string_list(get(root, "none"), "$.none")?;
        for template in &none {
            if parse_template(template, "$.none")?
                .iter()
                .any(|p| matches!(p, Piece::Slot(_)))
            {
                return fail("$.none", format!("'{template}' has a placeholder"));
            }
        }
        let resolve = |raw: &RawRule<'_>| resolve_rule(raw, &synonyms, &keyword_index);
        let mut keywords = Vec::with_capacity(pending.len());
        for (rank, raws) in &pending {
            let rules = raws.iter().map(&resolve).collect::<Result<Vec<_>, _>>()?;
            keywords.push(Keyword { rank: *rank, rules });
        }
        let memory_rule = resolve(&memory_raw)?;
        Ok(Script {
            greeting,
            pre,
            post,
            synonyms,
            keywords,
            keyword_index,
            memory_keyword,
            memory_rule,
            none,
        })
    }
}

/// Parses the embedded script, panicking with a clear message if it is malformed: the script is
/// part of the build, so a bad one is a packaging bug, not a runtime condition.
pub(super) fn parse_embedded(text: &str) -> Script {
    Script::from_json(text)
        .unwrap_or_else(|e| panic!("eliza-classic: the embedded DOCTOR script is invalid: {e}"))
}

pub(super) fn doctor() -> &'static Arc<Script> {
    static DOCTOR: OnceLock<Arc<Script>> = OnceLock::new();
    DOCTOR.get_or_init(|| Arc::new(parse_embedded(DOCTOR_SCRIPT)))
}
