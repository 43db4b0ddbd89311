# Sourced by scripts/test, scripts/demo and .ci/run: create or update .venv from requirements-dev.txt.
# Re-installs only when a requirements file changed since the last install (a hash is kept in .venv).

ensure_venv() {
  local python="${PYTHON:-}"
  if [ -z "$python" ]; then
    for candidate in python3.11 python3; do
      if command -v "$candidate" >/dev/null 2>&1 \
        && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
        python="$candidate"
        break
      fi
    done
  fi
  if [ ! -x .venv/bin/python ]; then
    if [ -z "$python" ]; then
      echo "error: Python 3.11 is needed (python3.11 or python3 on PATH, or set PYTHON=/path/to/python3.11)." >&2
      return 1
    fi
    echo "creating .venv with $("$python" --version 2>&1)" >&2
    "$python" -m venv .venv
  fi
  local want have
  want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
  have=$(cat .venv/.requirements.sha256 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    echo "installing requirements-dev.txt into .venv" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    echo "$want" > .venv/.requirements.sha256
  fi
}
