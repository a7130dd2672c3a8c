#!/usr/bin/env bash
# Re-vendor the front-end assets from the npm registry into the package, with their licences.
# The portal never loads anything from a CDN: what the pages use ships inside the wheel.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
vendor() {  # vendor NPM_SPEC DEST_DIR FILE...
  local spec=$1 dest=$here/src/devhub/static/vendor/$2; shift 2
  (cd "$work" && rm -rf package && npm pack --silent "$spec" >/dev/null && tar xzf ./*.tgz && rm ./*.tgz)
  mkdir -p "$dest"
  for f in "$@"; do cp "$work/package/$f" "$dest/"; done
  cp "$work/package/LICENSE"* "$dest/"
  echo "$spec" > "$dest/VERSION"
}
vendor htmx.org@2.0.11 htmx dist/htmx.min.js
vendor @asyncapi/specs@6.11.1 ../../specs/schemas_asyncapi NOTICE schemas/2.0.0.json schemas/2.1.0.json schemas/2.2.0.json schemas/2.3.0.json schemas/2.4.0.json schemas/2.5.0.json schemas/2.6.0.json schemas/3.0.0.json schemas/3.1.0.json
