#!/usr/bin/env bash
# Refresh the web UI's vendored charting library (Apache ECharts) from the npm registry.
# A development-time step only: the files it writes are committed, so Spanwise needs no
# Node.js to install or run. The UI has no build step; its own code is plain ES modules.
set -euo pipefail
VERSION="${1:-6.1.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/src/spanwise/ui/static/vendor/echarts"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "echarts@$VERSION" >/dev/null && tar xzf "echarts-$VERSION.tgz")
mkdir -p "$DEST"
cp "$WORK/package/dist/echarts.esm.min.mjs" "$WORK/package/LICENSE" "$WORK/package/NOTICE" "$DEST/"
echo "vendored echarts $VERSION into $DEST"
