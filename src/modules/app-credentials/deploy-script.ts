/**
 * The CI deploy script for one app (GET /apps/{id}/deploy-script). POSIX sh, checked with `sh -n`
 * and shellcheck in the tests. It carries no secret: the API key comes from SKALEDATA_API_KEY at run
 * time and reaches curl on stdin, never on a command line that `ps` would show.
 */

/** A shell word that stands for exactly `value`, whatever it contains. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Text safe inside a comment line or a file name. */
export const plainName = (value: string): string => value.replace(/[^A-Za-z0-9._-]/g, '?').slice(0, 100);

export interface DeployScriptInput {
  appId: string;
  appName: string;
  apiUrl: string;
}

export function renderDeployScript({ appId, appName, apiUrl }: DeployScriptInput): string {
  return `#!/bin/sh
# SkaleData deploy script for app ${plainName(appName)} (${plainName(appId)}).
# Builds the image, pushes it to the SkaleData registry, deploys it and waits for the rollout.
#
# Required:
#   SKALEDATA_API_KEY           an API key with the apps:deploy scope
#                               (the CI/CD combination is ["apps:deploy", "clusters:read"])
# Optional:
#   SKALEDATA_API_URL           the API to call (default: the one this script came from)
#   IMAGE_TAG                   image tag (default: the git commit, else a UTC timestamp)
#   BUILD_CONTEXT               build context directory (default: .)
#   SKALEDATA_CONTAINER_ENGINE  docker or podman (default: whichever is installed, docker first)
#   SKALEDATA_DEPLOY_TIMEOUT    seconds to wait for the rollout (default: 900)
#   SKALEDATA_POLL_INTERVAL     seconds between status checks (default: 5)
# Needs: curl, sed, tr, grep and docker or podman (no jq).
set -eu

APP_ID=${shellQuote(appId)}
DEFAULT_API_URL=${shellQuote(apiUrl)}
API_URL=\${SKALEDATA_API_URL:-$DEFAULT_API_URL}
API_URL=\${API_URL%/}
BUILD_CONTEXT=\${BUILD_CONTEXT:-.}
DEPLOY_TIMEOUT=\${SKALEDATA_DEPLOY_TIMEOUT:-900}
POLL_INTERVAL=\${SKALEDATA_POLL_INTERVAL:-5}

say() { printf 'skaledata-deploy: %s\\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

[ -n "\${SKALEDATA_API_KEY:-}" ] || fail 'SKALEDATA_API_KEY is not set: create an API key with the apps:deploy scope and export it.'
case $SKALEDATA_API_KEY in
  *[!A-Za-z0-9_]*) fail 'SKALEDATA_API_KEY does not look like a SkaleData API key (skd_...).' ;;
esac
case $DEPLOY_TIMEOUT in
  '' | *[!0-9]*) fail 'SKALEDATA_DEPLOY_TIMEOUT must be a whole number of seconds.' ;;
esac
case $POLL_INTERVAL in
  '' | *[!0-9]* | 0) fail 'SKALEDATA_POLL_INTERVAL must be a whole number of seconds above 0.' ;;
esac

if [ -z "\${IMAGE_TAG:-}" ]; then
  IMAGE_TAG=$(git rev-parse --short=12 HEAD 2>/dev/null || date -u +%Y%m%d%H%M%S)
fi
case $IMAGE_TAG in
  '' | .* | -* | *[!A-Za-z0-9_.-]*) fail "IMAGE_TAG must be letters, digits, '_', '.' or '-', not starting with '.' or '-'." ;;
esac
[ "\${#IMAGE_TAG}" -le 128 ] || fail 'IMAGE_TAG must be at most 128 characters.'

ENGINE=\${SKALEDATA_CONTAINER_ENGINE:-}
if [ -z "$ENGINE" ]; then
  if command -v docker >/dev/null 2>&1; then
    ENGINE=docker
  elif command -v podman >/dev/null 2>&1; then
    ENGINE=podman
  else
    fail 'neither docker nor podman is installed.'
  fi
fi
case $ENGINE in
  docker | podman) ;;
  *) fail 'SKALEDATA_CONTAINER_ENGINE must be docker or podman.' ;;
esac

BODY_FILE=$(mktemp)
LOGGED_IN_TO=
# On every exit, failed builds included: the engine keeps the login (the API key) until logout.
cleanup() {
  rm -f "$BODY_FILE"
  if [ -n "$LOGGED_IN_TO" ]; then "$ENGINE" logout "$LOGGED_IN_TO" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# api METHOD PATH [JSON]: prints the response body, or stops the script on any HTTP error.
api() {
  if [ $# -ge 3 ]; then
    status=$(printf 'header = "Authorization: Bearer %s"\\n' "$SKALEDATA_API_KEY" |
      curl -sS -K - -X "$1" -o "$BODY_FILE" -w '%{http_code}' -H 'Accept: application/json' \\
        -H 'Content-Type: application/json' --data "$3" "$API_URL$2") || fail "could not reach $API_URL"
  else
    status=$(printf 'header = "Authorization: Bearer %s"\\n' "$SKALEDATA_API_KEY" |
      curl -sS -K - -X "$1" -o "$BODY_FILE" -w '%{http_code}' -H 'Accept: application/json' \\
        "$API_URL$2") || fail "could not reach $API_URL"
  fi
  case $status in
    2??) cat "$BODY_FILE" ;;
    *)
      detail=$(sed -n 's/.*"detail":"\\([^"]*\\)".*/\\1/p' "$BODY_FILE")
      fail "$1 $2 answered HTTP $status\${detail:+: $detail}"
      ;;
  esac
}

# json_values NAME: each string value of the field NAME in the JSON on stdin (enough for these answers).
json_values() {
  tr ',{}[]' '[\\n*]' | sed -n "s/^[[:space:]]*\\"$1\\"[[:space:]]*:[[:space:]]*\\"\\([^\\"]*\\)\\"[[:space:]]*$/\\1/p"
}

# The registry token answer names the registry and the app's repository (and checks apps:deploy up front).
say "looking up the registry repository of app $APP_ID at $API_URL"
TOKEN_JSON=$(api POST "/apps/$APP_ID/registry-token")
REGISTRY=$(printf '%s' "$TOKEN_JSON" | json_values registry | head -n 1)
REPOSITORY=$(printf '%s' "$TOKEN_JSON" | json_values repository | head -n 1)
if [ -z "$REGISTRY" ] || [ -z "$REPOSITORY" ]; then
  fail 'the registry-token answer lacks registry or repository.'
fi
IMAGE="$REGISTRY/$REPOSITORY:$IMAGE_TAG"

# The registry sends the engine to the API's token realm (GET /registry/token) with these credentials:
# the API key is the password, so the engine renews its registry tokens itself during a long push.
say "logging in to $REGISTRY with $ENGINE"
printf '%s' "$SKALEDATA_API_KEY" | "$ENGINE" login --username skaledata --password-stdin "$REGISTRY" >/dev/null
LOGGED_IN_TO=$REGISTRY
say "building $IMAGE from $BUILD_CONTEXT"
"$ENGINE" build --tag "$IMAGE" "$BUILD_CONTEXT"
say "pushing $IMAGE"
"$ENGINE" push "$IMAGE"
"$ENGINE" logout "$REGISTRY" >/dev/null 2>&1 || true
LOGGED_IN_TO=

say "deploying $IMAGE"
DEPLOY_JSON=$(api POST "/apps/$APP_ID/deploys" "{\\"image\\":\\"$IMAGE\\"}")
DEPLOY_ID=$(printf '%s' "$DEPLOY_JSON" | json_values id | grep '^dep_' | head -n 1)
[ -n "$DEPLOY_ID" ] || fail 'the deploy answer lacks the deploy id.'

say "waiting for deploy $DEPLOY_ID (up to $DEPLOY_TIMEOUT s)"
elapsed=0
while :; do
  STATE_JSON=$(api GET "/apps/$APP_ID/deploys/$DEPLOY_ID")
  STATUS=$(printf '%s' "$STATE_JSON" | json_values status | head -n 1)
  case $STATUS in
    succeeded)
      say "deploy $DEPLOY_ID succeeded: $IMAGE is live."
      exit 0
      ;;
    failed | canceled | superseded)
      REASON=$(printf '%s' "$STATE_JSON" | sed -n 's/.*"error":"\\([^"]*\\)".*/\\1/p')
      fail "deploy $DEPLOY_ID $STATUS\${REASON:+: $REASON}"
      ;;
  esac
  [ "$elapsed" -lt "$DEPLOY_TIMEOUT" ] || fail "deploy $DEPLOY_ID is still \${STATUS:-pending} after $DEPLOY_TIMEOUT s."
  sleep "$POLL_INTERVAL"
  elapsed=$((elapsed + POLL_INTERVAL))
done
`;
}
