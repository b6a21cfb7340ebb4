#!/usr/bin/env bash
# Runs every test: unit, property, integration and differential tests.
# The integration tests drive the real Redis tools (redis-cli,
# redis-benchmark) and compare replies with a real redis-server, so this
# installs Debian's packages first when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-sentinel >/dev/null || need+=(redis-sentinel)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v redis-benchmark >/dev/null || need+=(redis-tools)
command -v script >/dev/null || need+=(bsdutils)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# redis-py, for the client-library integration tests (tests/python/).
python3 -c "import redis" 2>/dev/null || python3 -m pip install -q "redis>=5,<6"

cargo test --all-targets "$@"
