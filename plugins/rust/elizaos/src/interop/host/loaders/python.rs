//! [`PythonPluginLoader`]: a Python plugin served by `elizaos_interop.bridge_server`.

use std::env;
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::time::Duration;

use super::{env_or, load_error, search_roots, search_upward, start};
use crate::interop::host::error::InteropError;
use crate::interop::host::ipc::IpcOptions;
use crate::interop::host::loaded::LoadedPlugin;

/// Loads Python plugins: spawns `$ELIZAOS_PYTHON` (default `python3`) with
/// `-m elizaos_interop.bridge_server <path>`.
///
/// ```
/// use elizaos::interop::PythonPluginLoader;
/// use serde_json::json;
///
/// # fn main() -> Result<(), elizaos::interop::InteropError> {
/// // The checkout's Python conformance fixture (protocol.md section 9).
/// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../python/fixtures/conformance_plugin.py");
/// let plugin = PythonPluginLoader::new().load(path)?;
/// assert_eq!(plugin.language(), "python");
/// let memory = json!({"content": {"text": "hi"}});
/// let result = plugin.invoke_action("echo", &memory, &json!({}), &json!({}))?;
/// assert_eq!(result["success"], true);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct PythonPluginLoader {
    options: IpcOptions,
    python: Option<OsString>,
    attr: Option<OsString>,
}

impl PythonPluginLoader {
    /// A loader with the default settings.
    pub fn new() -> Self {
        Self::default()
    }

    ipc_settings!();

    /// The interpreter to use instead of `$ELIZAOS_PYTHON`/`python3`.
    pub fn python(mut self, interpreter: impl AsRef<OsStr>) -> Self {
        self.python = Some(interpreter.as_ref().to_owned());
        self
    }

    /// The module attribute holding the plugin (the bridge's `--attr`),
    /// instead of `plugin` (or the module's only plugin object).
    pub fn attr(mut self, name: impl AsRef<OsStr>) -> Self {
        self.attr = Some(name.as_ref().to_owned());
        self
    }

    /// Loads the plugin at `path`: a `.py` file, a package directory, or a module name.
    ///
    /// When `elizaos_interop`'s source tree (`plugins/python/src`) is found
    /// above the plugin or the current directory, it is put first on the
    /// child's `PYTHONPATH`, so a checkout works without installing it.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<LoadedPlugin, InteropError> {
        let path = path.as_ref();
        let label = path.display().to_string();
        let text = path.to_string_lossy();
        let looks_like_path = text.contains('/') || text.ends_with(".py") || path.exists();
        if looks_like_path && !path.exists() {
            return Err(load_error(
                &label,
                format!("plugin not found: {}", path.display()),
            ));
        }
        let python = self
            .python
            .clone()
            .unwrap_or_else(|| env_or("ELIZAOS_PYTHON", "python3"));
        let mut argv = vec![
            python,
            "-m".into(),
            "elizaos_interop.bridge_server".into(),
            path.as_os_str().to_owned(),
        ];
        if let Some(attr) = &self.attr {
            argv.extend(["--attr".into(), attr.clone()]);
        }
        let mut options = self.options.clone();
        let sets_pythonpath = options.env.iter().any(|(k, _)| k == "PYTHONPATH");
        if !sets_pythonpath {
            let roots = search_roots(if looks_like_path {
                path
            } else {
                Path::new(".")
            });
            if let Some(init) =
                search_upward(&roots, &["plugins/python/src/elizaos_interop/__init__.py"])
            {
                if let Some(src) = init.parent().and_then(Path::parent) {
                    let mut value = src.as_os_str().to_owned();
                    if let Some(existing) = env::var_os("PYTHONPATH").filter(|v| !v.is_empty()) {
                        value.push(":");
                        value.push(existing);
                    }
                    options.env.push(("PYTHONPATH".into(), value));
                }
            }
        }
        start(argv, options, label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_loader_serves_the_named_attribute() {
        let dir = env::temp_dir().join(format!("elizaos-attr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let module = dir.join("pair.py");
        std::fs::write(
            &module,
            "from elizaos_interop import Plugin\nfirst = Plugin(name='first')\nsecond = Plugin(name='second')\n",
        )
        .expect("write module");
        // PYTHONPATH: the checkout's elizaos_interop, found above the crate.
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/src");
        let loaded = PythonPluginLoader::new()
            .env("PYTHONPATH", &src)
            .attr("second")
            .load(&module);
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(loaded.expect("loads").name(), "second");
    }
}
