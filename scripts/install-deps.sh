#!/usr/bin/env bash
# Installs, from Debian's archive, everything pg_pipeline needs to build, run and test.
# Idempotent: packages already present are left alone. Must run as root (or via sudo).
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config git ca-certificates curl python3 procps
  postgresql-15 postgresql-server-dev-15 postgresql-15-cron postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
  libcurl4-openssl-dev zlib1g-dev libisal-dev libyaml-cpp-dev
  postgresql-plpython3-15 python3-pandas python3-yaml python3-requests python3-psycopg2
  libgtest-dev googletest libbenchmark-dev
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
