//! IPC latency against its floor, measured in the same run with the same
//! pipe machinery: a `cat` ping-pong ([`PipeProbe`]) versus `invokeAction("echo")`
//! on an IPC plugin, alternating in rounds so scheduling drift hits both.
//!
//! ```text
//! cargo run --release --example ipc_latency -- [ROUNDS] [-- plugin command...]
//! ```
//! Defaults: 20 rounds of 500 calls each, plugin = the Rust conformance
//! fixture (`target/release/conformance-ipc`), memory text of 100 bytes.

use std::path::Path;
use std::time::{Duration, Instant};

use elizaos::interop::{IpcPluginLoader, PipeProbe};
use serde_json::json;

fn percentile(sorted: &[u64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx] as f64 / 1000.0
}

fn report(label: &str, samples: &mut [u64]) -> f64 {
    samples.sort_unstable();
    let median = percentile(samples, 0.5);
    println!(
        "{label:<34} n={:<6} median {median:>7.1} us  p90 {:>7.1} us  p99 {:>7.1} us",
        samples.len(),
        percentile(samples, 0.9),
        percentile(samples, 0.99)
    );
    median
}

/// Prints a failure in Display form (plugin, method, transport and cause), never as Debug.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20);
    let command: Vec<String> = match args.iter().position(|a| a == "--") {
        Some(i) => args[i + 1..].to_vec(),
        None => vec![Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/release/conformance-ipc")
            .display()
            .to_string()],
    };
    let per_round = 500;
    let plugin = IpcPluginLoader::new().load_command(&command)?;
    let memory = json!({ "content": { "text": "x".repeat(100) } });
    let (state, options) = (json!({}), json!({}));
    let request_len = format!(
        "{{\"id\":1000,\"method\":\"invokeAction\",\"params\":{}}}",
        json!({"name": "echo", "memory": memory, "state": state, "options": options})
    )
    .len();
    let mut cat100 = PipeProbe::spawn(&["cat".to_string()])?;
    let mut cat_req = PipeProbe::spawn(&["cat".to_string()])?;
    let line100 = format!("{}\n", "y".repeat(100)).into_bytes();
    let line_req = format!("{}\n", "y".repeat(request_len)).into_bytes();
    let (mut s_cat100, mut s_catreq, mut s_echo) = (Vec::new(), Vec::new(), Vec::new());
    let timeout = Duration::from_secs(10);
    for round in 0..=rounds {
        let warm = round == 0;
        for _ in 0..per_round {
            let t = Instant::now();
            cat100.round_trip(&line100, timeout)?;
            let d = t.elapsed().as_nanos() as u64;
            if !warm {
                s_cat100.push(d);
            }
        }
        for _ in 0..per_round {
            let t = Instant::now();
            cat_req.round_trip(&line_req, timeout)?;
            let d = t.elapsed().as_nanos() as u64;
            if !warm {
                s_catreq.push(d);
            }
        }
        for _ in 0..per_round {
            let t = Instant::now();
            plugin.invoke_action("echo", &memory, &state, &options)?;
            let d = t.elapsed().as_nanos() as u64;
            if !warm {
                s_echo.push(d);
            }
        }
    }
    println!(
        "plugin: {} ({}), request line {request_len} bytes",
        plugin.name(),
        command.join(" ")
    );
    let floor = report("cat ping-pong, 100-byte line", &mut s_cat100);
    let floor_req = report(
        &format!("cat ping-pong, {request_len}-byte line"),
        &mut s_catreq,
    );
    let echo = report("invokeAction(echo), 100-byte text", &mut s_echo);
    println!(
        "echo / cat(100) = {:.2}x   echo / cat(request size) = {:.2}x",
        echo / floor,
        echo / floor_req
    );
    cat100.close();
    cat_req.close();
    Ok(())
}
