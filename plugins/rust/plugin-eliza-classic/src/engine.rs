//! The classic ELIZA engine running Weizenbaum's DOCTOR script, as specified in `docs/eliza.md`.
//!
//! Pure and deterministic: no I/O, no clock, no randomness. The same inputs given to a fresh
//! [`Eliza`] yield the same replies, byte for byte, as the Python and TypeScript ports. The script
//! is the shared data file `docs/vectors/eliza-doctor.json`, embedded at compile time.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

/// The one copy of the DOCTOR script, shared with the Python and TypeScript ports.
const DOCTOR_SCRIPT: &str = include_str!("../../../../docs/vectors/eliza-doctor.json");

/// Words of a clause kept after pre-substitution; bounds the matcher's work (eliza.md 2.5).
const MAX_CLAUSE_WORDS: usize = 64;
/// Capacity of the memory queue; the oldest entry is dropped on overflow (eliza.md 6.2).
const MAX_MEMORIES: usize = 32;
/// Longest chain of `goto`s followed for one keyword before it yields `newkey` (eliza.md 4).
const MAX_GOTO_DEPTH: usize = 10;

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
enum Token {
    Star,
    Group(String),
    Alternatives(Vec<String>),
    Word(String),
}

/// One piece of a reassembly template.
#[derive(Debug)]
enum Piece {
    Text(String),
    /// Component number, 1-based.
    Slot(usize),
}

/// One reassembly entry.
#[derive(Debug)]
enum Entry {
    NewKey,
    /// Index of the target keyword.
    Goto(usize),
    Template(Vec<Piece>),
}

#[derive(Debug)]
struct Rule {
    tokens: Vec<Token>,
    reassembly: Vec<Entry>,
}

#[derive(Debug)]
struct Keyword {
    rank: i64,
    rules: Vec<Rule>,
}

/// A validated script.
#[derive(Debug)]
struct Script {
    greeting: String,
    pre: HashMap<String, Vec<String>>,
    post: HashMap<String, String>,
    synonyms: HashMap<String, HashSet<String>>,
    keywords: Vec<Keyword>,
    keyword_index: HashMap<String, usize>,
    memory_keyword: usize,
    memory_rule: Rule,
    none: Vec<String>,
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
    fn from_json(text: &str) -> Result<Script, ScriptError> {
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
fn parse_embedded(text: &str) -> Script {
    Script::from_json(text)
        .unwrap_or_else(|e| panic!("eliza-classic: the embedded DOCTOR script is invalid: {e}"))
}

fn doctor() -> &'static Arc<Script> {
    static DOCTOR: OnceLock<Arc<Script>> = OnceLock::new();
    DOCTOR.get_or_init(|| Arc::new(parse_embedded(DOCTOR_SCRIPT)))
}

/// Splits input into clauses of pre-substituted, ASCII-lowercased words (eliza.md 2).
fn tokenize(text: &str, pre: &HashMap<String, Vec<String>>) -> Vec<Vec<String>> {
    let mut clauses = Vec::new();
    let mut clause: Vec<String> = Vec::new();
    let mut word = String::new();

    fn end_clause(clause: &mut Vec<String>, clauses: &mut Vec<Vec<String>>) {
        if !clause.is_empty() {
            clause.truncate(MAX_CLAUSE_WORDS);
            clauses.push(std::mem::take(clause));
        }
    }
    let end_word = |word: &mut String, clause: &mut Vec<String>, clauses: &mut Vec<Vec<String>>| {
        let raw = word.trim_matches('\'').to_owned();
        word.clear();
        if raw.is_empty() {
            return;
        }
        if raw == "but" {
            end_clause(clause, clauses);
        } else if let Some(repl) = pre.get(&raw) {
            clause.extend(repl.iter().cloned());
        } else {
            clause.push(raw);
        }
    };

    for c in text.chars() {
        if !c.is_ascii() || c == '\'' || c.is_ascii_lowercase() || c.is_ascii_digit() {
            word.push(c);
        } else if c.is_ascii_uppercase() {
            word.push(c.to_ascii_lowercase());
        } else if matches!(c, '.' | ',' | ';' | ':' | '!' | '?') {
            end_word(&mut word, &mut clause, &mut clauses);
            end_clause(&mut clause, &mut clauses);
        } else {
            end_word(&mut word, &mut clause, &mut clauses);
        }
    }
    end_word(&mut word, &mut clause, &mut clauses);
    end_clause(&mut clause, &mut clauses);
    clauses
}

/// Collapses spaces, drops spaces before punctuation, trims, capitalises an initial ASCII letter.
fn tidy(text: &str) -> String {
    let mut out: Vec<char> = Vec::with_capacity(text.len());
    for c in text.chars() {
        if c == ' ' && matches!(out.last(), None | Some(' ')) {
            continue;
        }
        if matches!(c, '.' | ',' | ';' | ':' | '!' | '?') && out.last() == Some(&' ') {
            out.pop();
        }
        out.push(c);
    }
    while out.last() == Some(&' ') {
        out.pop();
    }
    if let Some(first) = out.first_mut() {
        if first.is_ascii_lowercase() {
            *first = first.to_ascii_uppercase();
        }
    }
    out.into_iter().collect()
}

/// One ELIZA conversation: reassembly cycling and memory are per instance (eliza.md 6.1).
#[derive(Debug)]
pub struct Eliza {
    script: Arc<Script>,
    /// `counters[k][r]`: selections of rule `r` of keyword `k` so far.
    counters: Vec<Vec<u64>>,
    memory_counter: u64,
    none_counter: u64,
    memories: VecDeque<String>,
}

impl Default for Eliza {
    fn default() -> Self {
        Eliza::new()
    }
}

impl Eliza {
    /// A fresh conversation with the embedded DOCTOR script.
    pub fn new() -> Eliza {
        Eliza::with_script(Arc::clone(doctor()))
    }

    /// A fresh conversation with a script given as JSON text (same format as the DOCTOR script).
    pub fn from_script_json(text: &str) -> Result<Eliza, ScriptError> {
        Script::from_json(text).map(|s| Eliza::with_script(Arc::new(s)))
    }

    fn with_script(script: Arc<Script>) -> Eliza {
        let counters = script
            .keywords
            .iter()
            .map(|k| vec![0; k.rules.len()])
            .collect();
        Eliza {
            script,
            counters,
            memory_counter: 0,
            none_counter: 0,
            memories: VecDeque::new(),
        }
    }

    /// The opening line of the DOCTOR script.
    pub fn greeting() -> &'static str {
        &doctor().greeting
    }

    /// The reply to one line of user input; advances this conversation's state.
    pub fn respond(&mut self, input: &str) -> String {
        let script = Arc::clone(&self.script);
        for clause in tokenize(input, &script.pre) {
            let keys = keywords_of(&script, &clause);
            if keys.is_empty() {
                continue;
            }
            if keys[0] == script.memory_keyword {
                self.memorise(&script, &clause);
            }
            for key in keys {
                if let Some(reply) = self.try_keyword(&script, key, &clause, 0) {
                    return reply;
                }
            }
            break;
        }
        self.fallback(&script)
    }

    fn try_keyword(
        &mut self,
        script: &Script,
        key: usize,
        words: &[String],
        depth: usize,
    ) -> Option<String> {
        let keyword = &script.keywords[key];
        for (index, rule) in keyword.rules.iter().enumerate() {
            let Some(parts) = match_pattern(script, &rule.tokens, words) else {
                continue;
            };
            let count = self.counters[key][index];
            self.counters[key][index] = count + 1;
            match &rule.reassembly[(count % rule.reassembly.len() as u64) as usize] {
                Entry::NewKey => return None,
                Entry::Goto(target) => {
                    if depth >= MAX_GOTO_DEPTH {
                        return None;
                    }
                    return self.try_keyword(script, *target, words, depth + 1);
                }
                Entry::Template(pieces) => return Some(assemble(script, pieces, words, &parts)),
            }
        }
        None
    }

    fn memorise(&mut self, script: &Script, clause: &[String]) {
        let rule = &script.memory_rule;
        let Some(parts) = match_pattern(script, &rule.tokens, clause) else {
            return;
        };
        let entry = &rule.reassembly[(self.memory_counter % rule.reassembly.len() as u64) as usize];
        self.memory_counter += 1;
        if let Entry::Template(pieces) = entry {
            self.memories
                .push_back(assemble(script, pieces, clause, &parts));
            if self.memories.len() > MAX_MEMORIES {
                self.memories.pop_front();
            }
        }
    }

    fn fallback(&mut self, script: &Script) -> String {
        if let Some(memory) = self.memories.pop_front() {
            return memory;
        }
        let reply = script.none[(self.none_counter % script.none.len() as u64) as usize].clone();
        self.none_counter += 1;
        reply
    }
}

/// The clause's distinct keywords in order of first occurrence, stably sorted by rank, highest first.
fn keywords_of(script: &Script, clause: &[String]) -> Vec<usize> {
    let mut found: Vec<usize> = Vec::new();
    for word in clause {
        if let Some(&k) = script.keyword_index.get(word) {
            if !found.contains(&k) {
                found.push(k);
            }
        }
    }
    found.sort_by_key(|&k| std::cmp::Reverse(script.keywords[k].rank));
    found
}

fn matches_one(script: &Script, token: &Token, word: &str) -> bool {
    match token {
        Token::Star => false,
        Token::Group(g) => script.synonyms.get(g).is_some_and(|s| s.contains(word)),
        Token::Alternatives(alts) => alts.iter().any(|a| a == word),
        Token::Word(w) => w == word,
    }
}

/// Leftmost-shortest match (eliza.md 4): one `(start, end)` word range per pattern component.
fn match_pattern(
    script: &Script,
    tokens: &[Token],
    words: &[String],
) -> Option<Vec<(usize, usize)>> {
    struct Matcher<'a> {
        script: &'a Script,
        tokens: &'a [Token],
        words: &'a [String],
        failed: HashSet<(usize, usize)>,
        parts: Vec<(usize, usize)>,
    }
    impl Matcher<'_> {
        fn go(&mut self, ti: usize, wi: usize) -> bool {
            if ti == self.tokens.len() {
                return wi == self.words.len();
            }
            if self.failed.contains(&(ti, wi)) {
                return false;
            }
            match &self.tokens[ti] {
                Token::Star => {
                    for end in wi..=self.words.len() {
                        if self.go(ti + 1, end) {
                            self.parts[ti] = (wi, end);
                            return true;
                        }
                    }
                }
                token => {
                    if wi < self.words.len()
                        && matches_one(self.script, token, &self.words[wi])
                        && self.go(ti + 1, wi + 1)
                    {
                        self.parts[ti] = (wi, wi + 1);
                        return true;
                    }
                }
            }
            self.failed.insert((ti, wi));
            false
        }
    }
    let mut m = Matcher {
        script,
        tokens,
        words,
        failed: HashSet::new(),
        parts: vec![(0, 0); tokens.len()],
    };
    if m.go(0, 0) {
        Some(m.parts)
    } else {
        None
    }
}

/// Fills a template with reflected captures, then tidies it (eliza.md 5).
fn assemble(
    script: &Script,
    pieces: &[Piece],
    words: &[String],
    parts: &[(usize, usize)],
) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Slot(n) => {
                let (start, end) = parts.get(n - 1).copied().unwrap_or((0, 0));
                let reflected: Vec<&str> = words[start..end]
                    .iter()
                    .map(|w| script.post.get(w).map_or(w.as_str(), String::as_str))
                    .collect();
                out.push_str(&reflected.join(" "));
            }
        }
    }
    tidy(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_script_parses() {
        assert_eq!(
            Eliza::greeting(),
            "How do you do. Please tell me your problem."
        );
    }

    #[test]
    #[should_panic(
        expected = "eliza-classic: the embedded DOCTOR script is invalid: eliza script: $.greeting"
    )]
    fn bad_embedded_script_panics_with_its_location() {
        parse_embedded("{}");
    }

    #[test]
    fn tokenize_folds_ascii_only_and_splits_clauses() {
        let pre: HashMap<String, Vec<String>> =
            [("i'm".to_owned(), vec!["i".to_owned(), "am".to_owned()])]
                .into_iter()
                .collect();
        assert_eq!(
            tokenize("I'm SÄD, but 'OK'!  x", &pre),
            vec![vec!["i", "am", "sÄd"], vec!["ok"], vec!["x"]]
        );
        assert!(tokenize("", &pre).is_empty());
        assert!(tokenize(" .,;:!? ", &pre).is_empty());
    }

    #[test]
    fn long_clause_is_cut_to_64_words() {
        let text: Vec<String> = (0..100).map(|i| format!("w{i}")).collect();
        let clauses = tokenize(&text.join(" "), &HashMap::new());
        assert_eq!(clauses, vec![text[..64].to_vec()]);
    }

    #[test]
    fn tidy_rules() {
        assert_eq!(tidy("  why do   you want  ?  "), "Why do you want?");
        assert_eq!(tidy("éa"), "éa");
    }
}
