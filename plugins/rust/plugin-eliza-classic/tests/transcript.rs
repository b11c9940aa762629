//! Replays the shared transcript (`docs/vectors/eliza-transcript.json`) through the Rust engine:
//! every session on a fresh instance, every reply compared byte for byte.

use elizaos_plugin_eliza_classic::engine::Eliza;
use serde_json::Value;

const TRANSCRIPT: &str = include_str!("../../../../docs/vectors/eliza-transcript.json");

fn sessions() -> Vec<Value> {
    let doc: Value = serde_json::from_str(TRANSCRIPT).expect("transcript is JSON");
    doc["sessions"]
        .as_array()
        .expect("sessions is an array")
        .clone()
}

#[test]
fn every_session_replays_exactly() {
    let sessions = sessions();
    assert!(sessions.len() >= 2, "transcript has sessions");
    let mut checked = 0;
    for session in &sessions {
        let name = session["name"].as_str().expect("session name");
        let mut eliza = Eliza::new();
        for (step, exchange) in session["exchanges"]
            .as_array()
            .expect("exchanges")
            .iter()
            .enumerate()
        {
            let input = exchange["input"].as_str().expect("input is a string");
            let expected = exchange["reply"].as_str().expect("reply is a string");
            assert_eq!(
                eliza.respond(input),
                expected,
                "session {name} step {step}: input {input:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 60, "only {checked} exchanges checked");
}

#[test]
fn seed_demo_reply() {
    assert_eq!(
        Eliza::new().respond("I am feeling sad"),
        "I am sorry to hear you are sad."
    );
}

#[test]
fn greeting_matches_transcript() {
    let doc: Value = serde_json::from_str(TRANSCRIPT).expect("transcript is JSON");
    assert_eq!(
        Eliza::greeting(),
        doc["greeting"].as_str().expect("greeting")
    );
}

/// An edit that breaks a valid script.
type Mutation = Box<dyn Fn(&mut Value)>;

#[test]
fn bad_scripts_are_rejected_with_their_location() {
    let script: Value =
        serde_json::from_str(include_str!("../../../../docs/vectors/eliza-doctor.json"))
            .expect("script is JSON");
    let cases: Vec<(Mutation, &str)> = vec![
        (
            Box::new(|s| {
                s["keywords"][0]["rules"][0]["reassembly"]
                    .as_array_mut()
                    .unwrap()
                    .push("goto nowhere".into())
            }),
            "nowhere",
        ),
        (
            Box::new(|s| {
                s["keywords"][0]["rules"][0]["reassembly"]
                    .as_array_mut()
                    .unwrap()
                    .push("say {9}".into())
            }),
            "{9}",
        ),
        (
            Box::new(|s| {
                let k = s["keywords"][0].clone();
                s["keywords"].as_array_mut().unwrap().push(k)
            }),
            "duplicate keyword",
        ),
        (
            Box::new(|s| s["keywords"][0]["rules"][0]["pattern"] = "* @nogroup *".into()),
            "@nogroup",
        ),
        (
            Box::new(|s| s["memory"]["keyword"] = "zzz".into()),
            "$.memory.keyword",
        ),
        (Box::new(|s| s["none"] = Value::Array(vec![])), "$.none"),
        (
            Box::new(|s| s["keywords"][1]["rank"] = "5".into()),
            "$.keywords[1].rank",
        ),
        (
            Box::new(|s| {
                s["memory"]["reassembly"]
                    .as_array_mut()
                    .unwrap()
                    .push("newkey".into())
            }),
            "$.memory.reassembly",
        ),
    ];
    for (mutate, needle) in cases {
        let mut bad = script.clone();
        mutate(&mut bad);
        let err = Eliza::from_script_json(&bad.to_string())
            .expect_err(needle)
            .to_string();
        assert!(
            err.contains(needle),
            "error {err:?} should mention {needle:?}"
        );
    }
    assert!(Eliza::from_script_json("{").is_err());
    assert!(Eliza::from_script_json(&script.to_string()).is_ok());
}
