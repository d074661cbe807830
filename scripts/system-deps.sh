#!/usr/bin/env bash
# Install the Debian packages GridGov needs, if any is missing. As root it installs them; with
# passwordless sudo it uses sudo; otherwise it prints the exact command and fails.
set -euo pipefail
# chromium and a CJK font: the browser tests (Playwright drives Debian's chromium), screenshots, and the
# PDFs and charts (WeasyPrint draws with pango; matplotlib and WeasyPrint both use the CJK font).
# nodejs: tests/web/test_offline.py runs the field forms' checks (app/static/js/checks.js) under node.
pkgs=(postgresql-15 postgresql-15-postgis-3 python3-venv python3-dev redis-server chromium
      fonts-wqy-microhei libpango-1.0-0 libpangoft2-1.0-0 nodejs ${EXTRA_DEBS:-})
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) == 0 ]]; then
  echo "==> installing ${missing[*]}"
  bash -c "$cmd"
elif sudo -n true 2>/dev/null; then
  echo "==> installing ${missing[*]} (sudo)"
  sudo bash -c "$cmd"
else
  echo "GridGov needs these Debian packages: ${missing[*]}" >&2
  echo "Install them as root, then run make again:" >&2
  echo "  sudo sh -c '$cmd'" >&2
  exit 1
fi
