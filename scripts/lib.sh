# Shared by scripts/test and scripts/build-rules (sourced, not run).

step() { printf '\n==> [%5ss] %s\n' "$SECONDS" "$*"; }
note() { printf '    %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null || return 1
  if [ "$APT_UPDATED" = 0 ]; then as_root apt-get update -qq || return 1; APT_UPDATED=1; fi
  as_root apt-get install -y -qq "$@" >/dev/null
}


# Node.js and npm (the browser tests and the Forge page build): the machine's, else Debian's.
ensure_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    note "installing Debian's nodejs and npm"
    apt_install nodejs npm || { echo "cannot install Node.js (need root and Debian's packages)" >&2; exit 1; }
  fi
}
