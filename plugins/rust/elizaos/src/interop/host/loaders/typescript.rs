//! [`TypeScriptPluginLoader`]: a TypeScript plugin served by the `@elizaos/interop` bridge on
//! Node or Bun, with the bridge and runtime binary found as protocol.md 7.1 says.

use std::env;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use super::{load_error, search_roots, search_upward, start};
use crate::interop::host::error::InteropError;
use crate::interop::host::ipc::IpcOptions;
use crate::interop::host::loaded::LoadedPlugin;

/// The JavaScript runtime that runs a TypeScript plugin's bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TsRuntime {
    /// Node >= 22.6 (found as protocol.md 7.1 says; Bun when none is found).
    #[default]
    Node,
    /// Bun (`$ELIZAOS_BUN`, beside the bridge, else `bun` on `PATH`).
    Bun,
}

impl TsRuntime {
    /// `"node"` or `"bun"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TsRuntime::Node => "node",
            TsRuntime::Bun => "bun",
        }
    }
}

impl fmt::Display for TsRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TsRuntime {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "node" => Ok(TsRuntime::Node),
            "bun" => Ok(TsRuntime::Bun),
            other => Err(format!(
                "unknown TypeScript runtime {other:?}, expected \"node\" or \"bun\""
            )),
        }
    }
}

/// The bridge of an installed `@elizaos/interop` package, looked for in every
/// directory above the plugin, then above the current directory.
const INSTALLED_BRIDGE: &str = "node_modules/@elizaos/interop/dist/bridge-server.js";

/// The bridge of a checkout of this repository, looked for the same way when
/// no installed package is found.
const CHECKOUT_BRIDGE: &str = "plugins/typescript/src/bridge-server.ts";

/// Whether a `path` that does not exist names an npm package (`@scope/name`
/// or `name`) rather than a missing module file.
fn is_package_name(path: &Path) -> bool {
    let text = path.to_string_lossy();
    let module_file = [".ts", ".mts", ".cts", ".tsx", ".js", ".mjs", ".cjs"]
        .iter()
        .any(|ext| text.ends_with(ext));
    !module_file && crate::interop::host::checks::is_plugin_name(&text)
}

/// The bridge found by searching (no explicit setting): an installed package
/// above the plugin or the current directory, else a checkout's source.
fn search_bridge(plugin: &Path) -> Option<PathBuf> {
    let roots = search_roots(plugin);
    search_upward(&roots, &[INSTALLED_BRIDGE]).or_else(|| search_upward(&roots, &[CHECKOUT_BRIDGE]))
}

/// `node_modules/.bin/<name>` in the nearest directory above `bridge` that has it.
fn binary_beside(bridge: &Path, name: &str) -> Option<PathBuf> {
    let beside = format!("node_modules/.bin/{name}");
    search_upward(&[bridge.parent()?.to_path_buf()], &[&beside])
}

/// The oldest Node that runs TypeScript files without flags (type stripping).
const MIN_NODE: (u64, u64) = (22, 6);

/// `vX.Y.Z` (as `node --version` prints it) as `(X, Y)`.
fn parse_node_version(text: &str) -> Option<(u64, u64)> {
    let mut parts = text.trim().trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Where `binary` runs from: itself when it names a path, else its first
/// match on `PATH`.
fn resolve_binary(binary: &OsStr) -> Option<PathBuf> {
    let path = Path::new(binary);
    if path.components().count() > 1 {
        return Some(path.to_path_buf());
    }
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join(binary))
        .find(|candidate| candidate.is_file())
}

/// `binary --version`, trimmed, or `None` when it cannot be run.
fn node_version(binary: &OsStr) -> Option<String> {
    std::process::Command::new(binary)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|v| v.trim().to_owned())
}

/// "TypeScript plugins need Node >= 22.6 or Bun; found node <version> at <path>; ...".
fn node_sentence(version: &str, shown: &str) -> String {
    format!(
        "TypeScript plugins need Node >= 22.6 or Bun; found node {version} at {shown}; set ELIZAOS_NODE or install node@22"
    )
}

/// The common sentence for a Node too old (or missing) to run a TypeScript
/// plugin, or `None` when `binary` is a Node >= 22.6.
fn node_hint(binary: &OsStr) -> Option<String> {
    let shown = resolve_binary(binary).map_or_else(
        || binary.to_string_lossy().into_owned(),
        |p| p.display().to_string(),
    );
    let version = node_version(binary);
    match version.as_deref().and_then(parse_node_version) {
        Some(v) if v >= MIN_NODE => None,
        _ => Some(node_sentence(
            version.as_deref().unwrap_or("(none)"),
            &shown,
        )),
    }
}

/// `name` in the first directory of `path` (a `PATH` value) that has it as a file.
fn on_path(path: Option<&OsStr>, name: &str) -> Option<PathBuf> {
    env::split_paths(path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Loads TypeScript plugins through the `@elizaos/interop` bridge server.
///
/// ```
/// use elizaos::interop::TypeScriptPluginLoader;
/// use serde_json::json;
///
/// # fn main() -> Result<(), elizaos::interop::InteropError> {
/// // The checkout's TypeScript conformance fixture, on Node (the default runtime).
/// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../typescript/fixtures/conformance.ts");
/// let plugin = TypeScriptPluginLoader::new().load(path)?;
/// assert_eq!(plugin.language(), "typescript");
/// let valid = plugin.validate_action("echo", &json!({"content": {"text": "hi"}}), &json!({}))?;
/// assert!(valid);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct TypeScriptPluginLoader {
    options: IpcOptions,
    runtime: TsRuntime,
    binary: Option<OsString>,
    bun: Option<OsString>,
    bridge: Option<PathBuf>,
}

impl TypeScriptPluginLoader {
    /// A loader running Node, with the default settings.
    pub fn new() -> Self {
        Self::default()
    }

    ipc_settings!();

    /// Runs the bridge on Node or Bun.
    pub fn runtime(mut self, runtime: TsRuntime) -> Self {
        self.runtime = runtime;
        self
    }

    /// The runtime binary to use instead of `$ELIZAOS_NODE`/`$ELIZAOS_BUN`
    /// (used as given).
    pub fn runtime_binary(mut self, binary: impl AsRef<OsStr>) -> Self {
        self.binary = Some(binary.as_ref().to_owned());
        self
    }

    /// The Bun binary to use instead of `$ELIZAOS_BUN`: runs a Bun plugin, or
    /// a Node plugin when no Node >= 22.6 is found (protocol.md 7.1).
    pub fn bun_binary(mut self, binary: impl AsRef<OsStr>) -> Self {
        self.bun = Some(binary.as_ref().to_owned());
        self
    }

    /// An environment variable as the plugin process sees it: set with
    /// [`env`](Self::env), else inherited; empty counts as unset.
    fn setting(&self, key: &str) -> Option<OsString> {
        self.options
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .or_else(|| env::var_os(key))
            .filter(|v| !v.is_empty())
    }

    /// The bridge script to use instead of `$ELIZAOS_TS_BRIDGE` or the search.
    pub fn bridge(mut self, script: impl AsRef<Path>) -> Self {
        self.bridge = Some(script.as_ref().to_owned());
        self
    }

    /// The bridge script: explicit, `$ELIZAOS_TS_BRIDGE`, an installed
    /// `@elizaos/interop` (`node_modules/@elizaos/interop/dist/bridge-server.js`
    /// above the plugin, then above the current directory), else this
    /// repository's `plugins/typescript/src/bridge-server.ts`.
    fn find_bridge(&self, plugin: &Path, label: &str) -> Result<PathBuf, InteropError> {
        if let Some(bridge) = &self.bridge {
            return Ok(bridge.clone());
        }
        if let Some(bridge) = env::var_os("ELIZAOS_TS_BRIDGE").filter(|v| !v.is_empty()) {
            let bridge = PathBuf::from(bridge);
            if !bridge.is_file() {
                return Err(load_error(
                    label,
                    format!(
                        "ELIZAOS_TS_BRIDGE points to {}, which does not exist",
                        bridge.display()
                    ),
                ));
            }
            return Ok(bridge);
        }
        search_bridge(plugin).ok_or_else(|| {
                load_error(
                    label,
                    format!(
                        "cannot find the TypeScript bridge server: set ELIZAOS_TS_BRIDGE, or install @elizaos/interop \
                         (looked for {INSTALLED_BRIDGE} and {CHECKOUT_BRIDGE} above {} and the current directory)",
                        plugin.display()
                    ),
            )
        })
    }

    /// The binary serving the plugin and the runtime it is (protocol.md 7.1).
    /// Node: explicit, `$ELIZAOS_NODE`, `node_modules/.bin/node` nearest above
    /// the bridge, `node` on `PATH` if it is >= 22.6, else Bun found as for a
    /// Bun plugin, else the common sentence. Bun: explicit, `$ELIZAOS_BUN`,
    /// beside the bridge, `bun` on `PATH`. A chosen binary is used as given;
    /// only a `node` found on `PATH` is asked its version.
    fn find_binary(
        &self,
        bridge: &Path,
        label: &str,
    ) -> Result<(OsString, TsRuntime), InteropError> {
        let path = self.setting("PATH");
        let bun = || {
            self.bun
                .clone()
                .or_else(|| self.setting("ELIZAOS_BUN"))
                .or_else(|| binary_beside(bridge, "bun").map(PathBuf::into_os_string))
                .or_else(|| on_path(path.as_deref(), "bun").map(PathBuf::into_os_string))
        };
        if self.runtime == TsRuntime::Bun {
            return match self.binary.clone().or_else(bun) {
                Some(binary) => Ok((binary, TsRuntime::Bun)),
                None => Err(load_error(
                    label,
                    format!(
                        "runtime \"bun\" needs Bun: no bun on PATH or in node_modules/.bin beside the TS bridge {}; set ELIZAOS_BUN or install bun",
                        bridge.display()
                    ),
                )),
            };
        }
        let chosen = self
            .binary
            .clone()
            .or_else(|| self.setting("ELIZAOS_NODE"))
            .or_else(|| binary_beside(bridge, "node").map(PathBuf::into_os_string));
        if let Some(binary) = chosen {
            return Ok((binary, TsRuntime::Node));
        }
        let node = on_path(path.as_deref(), "node");
        let version = node.as_deref().and_then(|n| node_version(n.as_os_str()));
        if let Some(node) = &node {
            if version
                .as_deref()
                .and_then(parse_node_version)
                .is_some_and(|v| v >= MIN_NODE)
            {
                return Ok((node.clone().into_os_string(), TsRuntime::Node));
            }
        }
        if let Some(binary) = bun() {
            return Ok((binary, TsRuntime::Bun));
        }
        let shown = node.map_or_else(|| "node".to_owned(), |n| n.display().to_string());
        let version = version.filter(|v| parse_node_version(v).is_some());
        Err(load_error(
            label,
            node_sentence(version.as_deref().unwrap_or("(none)"), &shown),
        ))
    }

    /// Loads the TypeScript plugin at `path` (protocol.md 7.1): a module
    /// file (`plugin.ts`; its `plugin` export, else its default export), a
    /// package directory, or the name of a package installed in a
    /// `node_modules` from the working directory upwards
    /// (`@elizaos/plugin-bootstrap`).
    pub fn load(&self, path: impl AsRef<Path>) -> Result<LoadedPlugin, InteropError> {
        let path = path.as_ref();
        let label = path.display().to_string();
        if !path.exists() && !is_package_name(path) {
            return Err(load_error(
                &label,
                format!("plugin not found: {}", path.display()),
            ));
        }
        // A package name is resolved by the bridge from the working directory upwards.
        let search_from = if path.exists() { path } else { Path::new(".") };
        let bridge = self.find_bridge(search_from, &label)?;
        let (binary, runtime) = self.find_binary(&bridge, &label)?;
        let argv = vec![
            binary.clone(),
            bridge.into_os_string(),
            path.as_os_str().to_owned(),
        ];
        match start(argv, self.options.clone(), label) {
            // A Node that cannot run the bridge is the usual cause: say so in full.
            Err(InteropError::Load { context, cause }) if runtime == TsRuntime::Node => {
                let cause = match node_hint(&binary) {
                    Some(hint) => format!("{cause}\nhint: {hint}"),
                    None => cause,
                };
                Err(InteropError::Load { context, cause })
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_versions_are_read_and_compared() {
        assert_eq!(parse_node_version("v22.6.0\n"), Some((22, 6)));
        assert_eq!(parse_node_version("v20.19.1"), Some((20, 19)));
        assert_eq!(parse_node_version("bun"), None);
        assert!(parse_node_version("v22.5.1").is_some_and(|v| v < MIN_NODE));
        assert!(parse_node_version("v23.0.0").is_some_and(|v| v >= MIN_NODE));
    }

    #[test]
    fn an_installed_bridge_wins_over_the_checkout_and_node_is_taken_beside_it() {
        let root = env::temp_dir().join(format!("elizaos-bridge-search-{}", std::process::id()));
        let project = root.join("plugins/typescript/src");
        let installed = root.join("app/node_modules/@elizaos/interop/dist");
        let bin = root.join("app/node_modules/.bin");
        for dir in [&project, &installed, &bin, &root.join("app/src")] {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        std::fs::write(project.join("bridge-server.ts"), "").expect("write");
        std::fs::write(installed.join("bridge-server.js"), "").expect("write");
        std::fs::write(bin.join("node"), "").expect("write");
        std::fs::write(root.join("app/src/plugin.ts"), "").expect("write");
        let found = search_bridge(&root.join("app/src/plugin.ts"));
        assert_eq!(found, Some(installed.join("bridge-server.js")));
        assert_eq!(
            binary_beside(&installed.join("bridge-server.js"), "node"),
            Some(bin.join("node"))
        );
        // Without an installed package, the checkout's source is used.
        std::fs::create_dir_all(root.join("other")).expect("mkdir");
        std::fs::write(root.join("other/plugin.ts"), "").expect("write");
        let checkout = search_bridge(&root.join("other/plugin.ts"));
        assert_eq!(checkout, Some(project.join("bridge-server.ts")));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn package_names_are_told_from_missing_files() {
        assert!(is_package_name(Path::new("@elizaos/plugin-bootstrap")));
        assert!(is_package_name(Path::new("plugin-x")));
        assert!(!is_package_name(Path::new("plugin.ts")));
        assert!(!is_package_name(Path::new("./dir/plugin")));
        assert!(!is_package_name(Path::new("/nonexistent/plugin.ts")));
    }

    #[test]
    fn a_missing_node_gets_the_common_sentence() {
        let hint = node_hint(OsStr::new("/nonexistent/node")).expect("a hint");
        assert_eq!(
            hint,
            "TypeScript plugins need Node >= 22.6 or Bun; found node (none) at /nonexistent/node; set ELIZAOS_NODE or install node@22"
        );
    }
}
