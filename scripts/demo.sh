#!/usr/bin/env bash
# `make demo`: the service, a refit worker and the dashboard on the bundled default model,
# with demo accounts and patients. Ctrl-C, or a TERM to this script's PID, stops all three.
set -euo pipefail
BIN=${BIN:-.venv/bin}
PORT=${PORT:-8000}
DASH_PORT=${DASH_PORT:-8501}
LOGINS=${LOGINS:-build/demo/logins.json}
mkdir -p build/demo
export RECOVERY_DATABASE_URL=${RECOVERY_DATABASE_URL:-sqlite:///build/demo/recovery.db}
export RECOVERY_MODELS_DIR=${RECOVERY_MODELS_DIR:-build/demo/models}
export RECOVERY_COHORTS_DIR=${RECOVERY_COHORTS_DIR:-build/demo/cohorts}
if [ -z "${RECOVERY_SECRET_KEY:-}" ]; then
    # one key per demo database, kept beside it (never printed)
    KEYFILE=build/demo/secret_key
    [ -s "$KEYFILE" ] || { umask 077; "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$KEYFILE"; }
    RECOVERY_SECRET_KEY=$(cat "$KEYFILE")
    export RECOVERY_SECRET_KEY
fi
echo "demo logins (also in $LOGINS):"
"$BIN/recovery" seed-demo --patients 3 --credentials "$LOGINS"
"$BIN/recovery" worker > build/demo/worker.log 2>&1 &
WORKER=$!
"$BIN/recovery" dashboard --service "http://127.0.0.1:$PORT" --port "$DASH_PORT" \
    > build/demo/dashboard.log 2>&1 &
DASHBOARD=$!
"$BIN/recovery" serve --host 127.0.0.1 --port "$PORT" &
SERVE=$!
# the service runs in the background and the script waits for it: bash runs a trap at once
# during `wait`, but only after a foreground command ends
trap 'kill $SERVE $WORKER $DASHBOARD 2>/dev/null || true' EXIT INT TERM
cat <<MSG

Recovery dashboard: http://127.0.0.1:$DASH_PORT   (sign in with a login above)
Recovery service:   http://127.0.0.1:$PORT   (API docs: http://127.0.0.1:$PORT/docs)
  token:    curl -s -X POST -d 'username=demo-therapist&password=...' http://127.0.0.1:$PORT/v1/token
  patients: curl -s -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:$PORT/v1/patients
logs: build/demo/worker.log, build/demo/dashboard.log. Ctrl-C stops everything.

MSG
wait $SERVE
