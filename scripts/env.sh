# Sourced by scripts/cargo and scripts/test: makes the prebuilt libduckdb and a
# shared cargo target directory available. Safe to source more than once.
#
# CORTEX_CACHE_DIR  where libduckdb and the cargo target dir live (default ~/.cache/cortex)
# DUCKDB_LIB_DIR    use this libduckdb instead of fetching one
DUCKDB_NPM_PACKAGE="@duckdb/node-bindings-linux-x64@1.5.6-r.1"
CORTEX_CACHE_DIR="${CORTEX_CACHE_DIR:-$HOME/.cache/cortex}"
export CORTEX_CACHE_DIR

if [ -z "${DUCKDB_LIB_DIR:-}" ]; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) pkg="$DUCKDB_NPM_PACKAGE" ;;
    Linux-aarch64) pkg="${DUCKDB_NPM_PACKAGE/linux-x64/linux-arm64}" ;;
    Darwin-arm64) pkg="${DUCKDB_NPM_PACKAGE/linux-x64/darwin-arm64}" ;;
    Darwin-x86_64) pkg="${DUCKDB_NPM_PACKAGE/linux-x64/darwin-x64}" ;;
    *) echo "no prebuilt libduckdb for $(uname -sm); build with --features bundled" >&2; return 1 ;;
  esac
  DUCKDB_LIB_DIR="$CORTEX_CACHE_DIR/libduckdb-1.5.6"
  if [ ! -f "$DUCKDB_LIB_DIR/libduckdb.so" ] && [ ! -f "$DUCKDB_LIB_DIR/libduckdb.dylib" ]; then
    echo "fetching prebuilt libduckdb ($pkg) into $DUCKDB_LIB_DIR" >&2
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$pkg" >/dev/null && tar xzf ./*.tgz) || { echo "could not fetch $pkg" >&2; rm -rf "$tmp"; return 1; }
    mkdir -p "$DUCKDB_LIB_DIR"
    cp "$tmp"/package/libduckdb.* "$DUCKDB_LIB_DIR"/
    rm -rf "$tmp"
  fi
fi
export DUCKDB_LIB_DIR
export LD_LIBRARY_PATH="$DUCKDB_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CORTEX_CACHE_DIR/target}"
