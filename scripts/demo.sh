#!/usr/bin/env bash
# `make demo`: the service, a refit worker and the dashboard on the bundled default model,
# with demo accounts and patients; the model compiled before anyone waits (scripts/
# demo_warm.py). Each step is said with its time. Ctrl-C, or a TERM to this script's PID,
# stops all three.
set -euo pipefail
T0=$SECONDS
step() { printf '[%3ds] %s\n' $((SECONDS - T0)) "$*"; }
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
export PYTENSOR_FLAGS=${PYTENSOR_FLAGS:-compiledir=$PWD/build/pytensor}  # kept across runs
step "demo accounts and three demo patients (fresh passwords on every run)"
echo "demo logins (also in $LOGINS):"
"$BIN/recovery" seed-demo --patients 3 --credentials "$LOGINS"
step "starting the service (port $PORT), a refit worker and the dashboard (port $DASH_PORT)"
"$BIN/recovery" worker > build/demo/worker.log 2>&1 &
WORKER=$!
"$BIN/recovery" dashboard --service "http://127.0.0.1:$PORT" --port "$DASH_PORT" \
    > build/demo/dashboard.log 2>&1 &
DASHBOARD=$!
"$BIN/recovery" serve --host 127.0.0.1 --port "$PORT" > build/demo/service.log 2>&1 &
SERVE=$!
# the service runs in the background and the script waits for it: bash runs a trap at once
# during `wait`, but only after a foreground command ends
trap 'kill $SERVE $WORKER $DASHBOARD 2>/dev/null || true' EXIT INT TERM
"$BIN/python" - "$PORT" <<'PY'
import sys, time, httpx
url = f"http://127.0.0.1:{sys.argv[1]}/readyz"
for _ in range(600):
    try:
        if httpx.get(url, timeout=2).status_code == 200:
            break
    except httpx.HTTPError:
        pass
    time.sleep(0.5)
PY
step "compiling the model with a first forecast (about 25 s the first time, cached after)"
"$BIN/python" scripts/demo_warm.py "http://127.0.0.1:$PORT" "$LOGINS" || \
    step "warm-up failed (see above); the first forecast will compile instead"
step "ready"
cat <<MSG

Recovery dashboard: http://127.0.0.1:$DASH_PORT   (sign in with a login above; README.md
                    says what to do first as each role)
Recovery service:   http://127.0.0.1:$PORT   (API docs: http://127.0.0.1:$PORT/docs)
  token:    curl -s -X POST -d 'username=demo-therapist&password=...' http://127.0.0.1:$PORT/v1/token
  patients: curl -s -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:$PORT/v1/patients
logs: build/demo/service.log, worker.log, dashboard.log. Ctrl-C stops everything.

MSG
wait $SERVE
