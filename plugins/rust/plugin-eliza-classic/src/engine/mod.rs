//! The classic ELIZA engine running Weizenbaum's DOCTOR script, as specified in `docs/eliza.md`.
//!
//! Pure and deterministic: no I/O, no clock, no randomness. The same inputs given to a fresh
//! [`Eliza`] yield the same replies, byte for byte, as the Python and TypeScript ports. The script
//! is the shared data file `docs/vectors/eliza-doctor.json`, embedded at compile time.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

mod script;

pub use script::ScriptError;
use script::{doctor, Entry, Piece, Script, Token};

/// Words of a clause kept after pre-substitution; bounds the matcher's work (eliza.md 2.5).
const MAX_CLAUSE_WORDS: usize = 64;
/// Capacity of the memory queue; the oldest entry is dropped on overflow (eliza.md 6.2).
const MAX_MEMORIES: usize = 32;
/// Longest chain of `goto`s followed for one keyword before it yields `newkey` (eliza.md 4).
const MAX_GOTO_DEPTH: usize = 10;

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
    use super::script::parse_embedded;
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
