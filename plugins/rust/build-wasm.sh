#!/usr/bin/env bash
# Build the Rust WASM plugins (eliza-classic and the conformance fixture) for
# wasm32-unknown-unknown and put them where hosts look for them:
#   plugins/rust/target/wasm32-unknown-unknown/release/elizaos_plugin_eliza_classic.wasm
#   plugins/rust/target/wasm32-unknown-unknown/release/elizaos_plugin_conformance.wasm
#
# Two routes, tried in order:
#   1. a rustup toolchain with the wasm32-unknown-unknown target installed: plain cargo build;
#   2. Debian's rustc-web (/usr/bin/rustc, 1.96) with -Zbuild-std, in a separate target dir so the
#      host artefacts of the workspace target dir are not rebuilt back and forth by two compilers.
# Usage: plugins/rust/build-wasm.sh   (ELIZAOS_WASM_ROUTE=rustup|debian forces a route)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target_root="${CARGO_TARGET_DIR:-$here/target}"
out_dir="$target_root/wasm32-unknown-unknown/release"
crates=("plugin-eliza-classic:elizaos_plugin_eliza_classic" "fixtures/conformance:elizaos_plugin_conformance")
apt_packages="rustc-web cargo-web rust-web-src libstd-rust-web-dev lld-22"

have_rustup_wasm() {
    command -v rustup >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx 'wasm32-unknown-unknown'
}

# Debian's rustc-web links wasm with `rust-lld`. Older rustc-web builds shipped /usr/bin/rust-lld
# (a link to lld-22); newer ones do not, so a link named rust-lld to any lld on the machine is put
# on PATH for the build (lld is multi-call: `rust-lld -flavor wasm` works through the link).
ensure_rust_lld() {
    command -v rust-lld >/dev/null 2>&1 && return 0
    local lld shim="$target_root/.rust-lld-shim"
    for lld in /usr/bin/lld-22 /usr/bin/lld /usr/lib/llvm-*/bin/lld; do
        if [[ -x "$lld" ]]; then
            mkdir -p "$shim"
            ln -sf "$lld" "$shim/rust-lld"
            export PATH="$shim:$PATH"
            return 0
        fi
    done
    return 1
}

have_debian_web() {
    [[ -x /usr/bin/rustc ]] || return 1
    local sysroot
    sysroot="$(/usr/bin/rustc --print sysroot 2>/dev/null)" || return 1
    # build-std needs std's sources and a wasm-capable linker.
    [[ -f "$sysroot/lib/rustlib/src/rust/library/Cargo.lock" || -d "$sysroot/lib/rustlib/src/rust/library/std" ]] || return 1
    ensure_rust_lld || return 1
    rust-lld -flavor wasm --version >/dev/null 2>&1 || return 1
}

route="${ELIZAOS_WASM_ROUTE:-}"
if [[ -z "$route" ]]; then
    if have_rustup_wasm; then
        route=rustup
    elif have_debian_web; then
        route=debian
    else
        cat >&2 <<EOF
build-wasm.sh: no Rust toolchain that can build wasm32-unknown-unknown was found.
  - rustup: 'rustup target list --installed' does not list wasm32-unknown-unknown
    (where rustup can download: rustup target add wasm32-unknown-unknown);
  - Debian: /usr/bin/rustc (rustc-web) with std sources and rust-lld is missing. Install with
      apt-get install -y $apt_packages
EOF
        exit 1
    fi
fi

mkdir -p "$out_dir"
echo "build-wasm.sh: route $route" >&2
for entry in "${crates[@]}"; do
    dir="${entry%%:*}"
    lib="${entry##*:}"
    case "$route" in
        rustup)
            build_dir="$target_root"
            (cd "$here/$dir" && cargo build --release --lib --target wasm32-unknown-unknown \
                --no-default-features --features wasm)
            ;;
        debian)
            build_dir="$target_root/wasm-build"
            (cd "$here/$dir" && RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc CARGO_TARGET_DIR="$build_dir" \
                cargo build --release --lib --target wasm32-unknown-unknown \
                -Zbuild-std=std,panic_abort --no-default-features --features wasm)
            ;;
        *)
            echo "build-wasm.sh: unknown ELIZAOS_WASM_ROUTE '$route' (expected rustup or debian)" >&2
            exit 2
            ;;
    esac
    artefact="$build_dir/wasm32-unknown-unknown/release/$lib.wasm"
    if [[ ! -f "$artefact" ]]; then
        echo "build-wasm.sh: cargo finished but $artefact is missing" >&2
        exit 1
    fi
    if [[ "$artefact" != "$out_dir/$lib.wasm" ]]; then
        cp "$artefact" "$out_dir/$lib.wasm"
    fi
    echo "$out_dir/$lib.wasm ($(stat -c %s "$out_dir/$lib.wasm") bytes)"
done
