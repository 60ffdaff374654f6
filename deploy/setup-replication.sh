#!/bin/sh
# One-shot setup of dual-master replication between two Berth IDCs, with `berth admin` only:
# on each side a registry endpoint for the other and an event-based push policy toward it (deletes included).
# Idempotent: what exists is left alone, so the service may run on every `docker-compose up`.
#   IDC_A_URL, IDC_B_URL      how this container reaches each IDC (its proxy)
#   IDC_A_NAME, IDC_B_NAME    endpoint names (default idc-a, idc-b)
#   BERTH_ADMIN_USER, BERTH_ADMIN_PASSWORD   an admin of both IDCs
#   REPLICATE_REPOS           repository filter (default: everything)
set -eu
: "${IDC_A_URL:?}" "${IDC_B_URL:?}" "${BERTH_ADMIN_PASSWORD:?}"
A_NAME=${IDC_A_NAME:-idc-a}
B_NAME=${IDC_B_NAME:-idc-b}
USER=${BERTH_ADMIN_USER:-admin}
export BERTH_ADMIN_USER="$USER"

wait_for() {
  i=0
  until berth admin --url "$1" whoami >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -lt 120 ] || { echo "setup: $1 did not answer in 120 s" >&2; berth admin --url "$1" whoami; exit 1; }
    sleep 1
  done
}

# link FROM_URL TO_NAME TO_URL: an endpoint on FROM for TO and a push policy FROM → TO.
link() {
  from=$1 to_name=$2 to_url=$3
  if berth admin --url "$from" --json registries list | grep -q "\"name\": \"$to_name\""; then
    echo "setup: $from already has registry $to_name"
  else
    printf '%s' "$BERTH_ADMIN_PASSWORD" | berth admin --url "$from" registries create "$to_name" "$to_url" \
      --type berth --access-key "$USER" --access-secret-stdin --description "dual-master peer"
  fi
  berth admin --url "$from" registries ping "$to_name"
  policy="to-$to_name"
  if berth admin --url "$from" --json policies list | grep -q "\"name\": \"$policy\""; then
    echo "setup: $from already has policy $policy"
  else
    set -- --dest "$to_name" --trigger event --deletion
    [ -z "${REPLICATE_REPOS:-}" ] || set -- "$@" --repos "$REPLICATE_REPOS"
    berth admin --url "$from" policies create "$policy" "$@"
  fi
}

wait_for "$IDC_A_URL"
wait_for "$IDC_B_URL"
link "$IDC_A_URL" "$B_NAME" "$IDC_B_URL"
link "$IDC_B_URL" "$A_NAME" "$IDC_A_URL"
berth admin --url "$IDC_A_URL" policies list
berth admin --url "$IDC_B_URL" policies list
echo "setup: dual-master replication between $A_NAME and $B_NAME is configured"
