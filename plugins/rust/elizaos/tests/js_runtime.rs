//! How `TypeScriptPluginLoader` finds the runtime serving a TypeScript plugin
//! (protocol.md 7.1): with a `PATH` holding only a `node` that is too old and
//! no `node_modules/.bin` beside the bridge, Bun on `PATH` serves the plugin;
//! without Bun, the load fails with the common sentence naming the old node.

mod host_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use elizaos::interop::{TsRuntime, TypeScriptPluginLoader};
use host_support::*;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A bridge copied where no `node_modules` is above it, and a `PATH`
/// directory with a Node 20 (and Bun).
fn old_node_on_path(name: &str, with_bun: bool) -> (PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("js-runtime-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&repo_file("plugins/typescript/src"), &dir.join("ts/src"));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir bin");
    let node = bin.join("node");
    std::fs::write(&node, "#!/bin/sh\necho v20.0.0\n").expect("write the fake node");
    std::fs::set_permissions(&node, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    if with_bun {
        let bun = std::fs::canonicalize(repo_file("plugins/typescript/node_modules/.bin/bun"))
            .expect("the checkout's bun");
        std::os::unix::fs::symlink(bun, bin.join("bun")).expect("symlink bun");
    }
    (dir.join("ts/src/bridge-server.ts"), bin)
}

fn loader(bridge: &Path, path: &Path) -> TypeScriptPluginLoader {
    TypeScriptPluginLoader::new()
        .bridge(bridge)
        .env("PATH", path)
        .env("ELIZAOS_NODE", "")
        .env("ELIZAOS_BUN", "")
}

#[test]
fn an_old_node_on_path_falls_back_to_bun() {
    let (bridge, bin) = old_node_on_path("bun", true);
    let plugin = loader(&bridge, &bin)
        .load(repo_file("plugins/typescript/fixtures/conformance.ts"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plugin.name(), "conformance-fixture");
}

#[test]
fn an_old_node_on_path_without_bun_is_named() {
    let (bridge, bin) = old_node_on_path("nobun", false);
    let err = loader(&bridge, &bin)
        .load(repo_file("plugins/typescript/fixtures/conformance.ts"))
        .expect_err("no runtime fits");
    assert_eq!(err.type_name(), "PluginLoadError");
    let expected = format!(
        "TypeScript plugins need Node >= 22.6 or Bun; found node v20.0.0 at {}; set ELIZAOS_NODE or install node@22",
        bin.join("node").display()
    );
    assert!(err.to_string().contains(&expected), "{err}");
}

#[test]
fn no_node_says_none_and_no_bun_names_elizaos_bun() {
    let (bridge, bin) = old_node_on_path("none", false);
    let fixture = repo_file("plugins/typescript/fixtures/conformance.ts");
    let err = loader(&bridge, Path::new("/nonexistent"))
        .load(&fixture)
        .expect_err("no node");
    assert!(
        err.to_string()
            .contains("found node (none) at node; set ELIZAOS_NODE"),
        "{err}"
    );
    let err = loader(&bridge, &bin)
        .runtime(TsRuntime::Bun)
        .load(&fixture)
        .expect_err("no bun");
    assert!(err.to_string().contains("ELIZAOS_BUN"), "{err}");
}
