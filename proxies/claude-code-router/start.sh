#!/bin/sh
# Starts claude-code-router in the foreground with the configuration file $1, in a HOME of its own
# (its config, PID file and logs live under ~/.claude-code-router). The suite runs this from a
# target file and stops it by its PID; the upstream is the replay server at $CONFORMANCE_REPLAY_URL,
# which the configuration names. $CONFORMANCE_PROXY_PREFIX is the folder npm installed it into.
set -eu
: "${CONFORMANCE_PROXY_PREFIX:?set it to the folder claude-code-router was installed into (npm ci there)}"
: "${CONFORMANCE_REPLAY_URL:?the suite sets it when it starts the proxy from a target file}"
home="${CONFORMANCE_PROXY_HOME:-$(mktemp -d)}"
mkdir -p "$home/.claude-code-router"
cp "$1" "$home/.claude-code-router/config.json"
rm -f "$home/.claude-code-router/.claude-code-router.pid"  # 2.0.0 leaves it behind after SIGTERM
HOME="$home" exec node "$CONFORMANCE_PROXY_PREFIX/node_modules/@musistudio/claude-code-router/dist/cli.js" start
