# Sourced by scripts/test and .ci/run: the browser tests (tests/browser/) drive Debian's chromium through
# Playwright (its own browser download cannot work here, so Playwright is given this binary instead).
# ensure_chromium installs the Debian package when /usr/bin/chromium is missing and we are root with apt-get;
# it returns non-zero when the binary is still missing (the browser tests then skip, naming it; CI fails).

CHROMIUM_BIN=${CHROMIUM_BIN:-/usr/bin/chromium}

ensure_chromium() {
  [ -x "$CHROMIUM_BIN" ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "note: $CHROMIUM_BIN is missing and cannot be installed here (needs root and apt-get): the browser tests will skip" >&2
    return 1
  fi
  echo "installing Debian's chromium for the browser tests (once)" >&2
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o DPkg::Lock::Timeout=300)
  # A fresh machine may have no package lists yet: update only when the first attempt fails.
  "${apt[@]}" install chromium >/dev/null 2>&1 || { "${apt[@]}" update >/dev/null && "${apt[@]}" install chromium >/dev/null; } || true
  if [ ! -x "$CHROMIUM_BIN" ]; then
    echo "error: installing chromium did not give $CHROMIUM_BIN: the browser tests cannot run" >&2
    return 1
  fi
}
