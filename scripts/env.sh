# Sourced by scripts/serve.sh and scripts/test.sh: create ./.venv if needed and install
# Spanwise into it (with the extras named in $SPANWISE_EXTRAS), pinned by pyproject.toml.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  "$PYTHON" -m venv "$ROOT/.venv"
fi
VENV_PY="$ROOT/.venv/bin/python"
STAMP="$ROOT/.venv/.spanwise-installed${SPANWISE_EXTRAS:+-$SPANWISE_EXTRAS}"
if [ ! -f "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ]; then
  "$VENV_PY" -m pip install --quiet --upgrade pip
  "$VENV_PY" -m pip install --quiet -e "$ROOT${SPANWISE_EXTRAS:+[$SPANWISE_EXTRAS]}"
  touch "$STAMP"
fi
