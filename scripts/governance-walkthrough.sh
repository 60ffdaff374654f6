#!/usr/bin/env bash
# Governance as a new admin meets it (issue 13), on two Berths on loopback: curl sets a 100 MiB quota, "keep the newest 3" retention, an
# immutable v* rule and a webhook; skopeo, podman and replication obey them; the receiver shows the events.
set -uo pipefail
B="$(cd "$(dirname "$0")/.." && pwd)/dist/cli/main.js" # run `npm run build` first; needs root for podman's storage
W=$(mktemp -d /tmp/walk-XXXX); PW=Walk-Admin-12345
cleanup() { kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PA=$(port); PB=$(port); PR=$(port)
start() { BERTH_IDC=$1 BERTH_AUTH=token BERTH_ADMIN_PASSWORD=$PW BERTH_ADDR=127.0.0.1:$2 BERTH_DATA_DIR=$W/$1 BERTH_LOG_LEVEL=warn \
  BERTH_REPLICATION_POLL_MS=100 node $B serve >$W/$1.log 2>&1 & }
start a $PA; start b $PB
# The webhook receiver: prints each event's type and resources.
node -e "require('http').createServer((q,r)=>{let b='';q.on('data',c=>b+=c);q.on('end',()=>{const e=JSON.parse(b);console.log('webhook', e.type, (e.event_data?.resources||[]).map(x=>x.tag||x.digest).join(','), q.headers.authorization||'');r.end()})}).listen($PR,'127.0.0.1')" >$W/hook.log 2>&1 &
for p in $PA $PB; do for i in $(seq 100); do curl -sf http://127.0.0.1:$p/healthz >/dev/null && break; sleep 0.2; done; done
A=http://127.0.0.1:$PA; api() { curl -s -u admin:$PW -H 'Content-Type: application/json' "$@"; }
echo "== curl: project with a 100 MiB quota, retention keep-newest-3, immutable v*, webhook"
api -X POST $A/api/v2.0/projects -d '{"project_name":"team","storage_limit":104857600,"metadata":{"public":"false"}}' -o /dev/null -w 'project %{http_code}\n'
PID=$(api $A/api/v2.0/projects/team | python3 -c 'import sys,json;print(json.load(sys.stdin)["project_id"])')
api -X POST $A/api/v2.0/retentions -d "{\"algorithm\":\"or\",\"rules\":[{\"template\":\"latestPushedK\",\"params\":{\"latestPushedK\":3},\"tag_selectors\":[{\"kind\":\"doublestar\",\"decoration\":\"matches\",\"pattern\":\"**\"}],\"scope_selectors\":{\"repository\":[{\"kind\":\"doublestar\",\"decoration\":\"repoMatches\",\"pattern\":\"**\"}]}}],\"trigger\":{\"kind\":\"Schedule\",\"settings\":{}},\"scope\":{\"level\":\"project\",\"ref\":$PID}}" -D - -o /dev/null | grep -i '^location' | tee $W/ret
RID=$(sed -E 's#.*/##; s/\r//' $W/ret)
api -X POST $A/api/v2.0/projects/team/immutabletagrules -d '{"action":"immutable","template":"immutable_template","tag_selectors":[{"kind":"doublestar","decoration":"matches","pattern":"v*"}],"scope_selectors":{"repository":[{"kind":"doublestar","decoration":"repoMatches","pattern":"**"}]}}' -o /dev/null -w 'immutable rule %{http_code}\n'
api -X POST $A/api/v2.0/projects/team/webhook/policies -d "{\"name\":\"hook\",\"enabled\":true,\"event_types\":[\"PUSH_ARTIFACT\",\"DELETE_ARTIFACT\",\"QUOTA_EXCEED\",\"REPLICATION\"],\"targets\":[{\"type\":\"http\",\"address\":\"http://127.0.0.1:$PR/hook\",\"auth_header\":\"Bearer walk\"}]}" -o /dev/null -w 'webhook %{http_code}\n'
echo "== replication a -> b (event-based, deletes too)"
api -X POST $A/api/v2.0/registries -d "{\"name\":\"b\",\"type\":\"berth\",\"url\":\"http://127.0.0.1:$PB\",\"credential\":{\"access_key\":\"admin\",\"access_secret\":\"$PW\"}}" -o /dev/null -w 'registry %{http_code}\n'
api -X POST $A/api/v2.0/replication/policies -d '{"name":"a-to-b","dest_registry":{"id":1},"trigger":{"type":"event_based"},"replicate_deletion":true,"override":true,"enabled":true,"filters":[]}' -o /dev/null -w 'policy %{http_code}\n'
# Images: skopeo pushes from OCI layouts made here; podman pushes one it imported.
mk() { mkdir -p $W/img/$1 && head -c $2 /dev/urandom > $W/img/$1/data && tar -C $W/img/$1 -cf $W/img/$1.tar data; }
export REGISTRY_AUTH_FILE=$W/auth.json; echo '{"auths":{}}' > $REGISTRY_AUTH_FILE
POL=$W/policy.json; echo '{"default":[{"type":"insecureAcceptAnything"}]}' > $POL
PODMAN="podman --root $W/pm/root --runroot $W/pm/run --storage-driver vfs --events-backend file --cgroup-manager cgroupfs"
push_podman() { mk $1 $2; $PODMAN import $W/img/$1.tar 127.0.0.1:$PA/team/app:$1 >/dev/null && $PODMAN push --tls-verify=false --creds admin:$PW 127.0.0.1:$PA/team/app:$1 2>&1 | tail -1; }
for t in v1 dev1 dev2 dev3 dev4; do rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb; echo "podman push team/app:$t: $(push_podman $t 100000 && echo ok)"; sleep 1; done
echo "== immutable: podman and skopeo overwrite of v1"
mk v1b 1000; $PODMAN import $W/img/v1b.tar 127.0.0.1:$PA/team/app:v1 >/dev/null
$PODMAN push --tls-verify=false --creds admin:$PW 127.0.0.1:$PA/team/app:v1 2>&1 | tail -1
skopeo --policy $POL copy --src-tls-verify=false --dest-tls-verify=false --src-creds admin:$PW --dest-creds admin:$PW docker://127.0.0.1:$PA/team/app:dev4 docker://127.0.0.1:$PA/team/app:v1 2>&1 | tail -1
echo "== quota: a 120 MiB layer"
mk big 125829120; $PODMAN import $W/img/big.tar 127.0.0.1:$PA/team/app:big >/dev/null
rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb
$PODMAN push --tls-verify=false --creds admin:$PW 127.0.0.1:$PA/team/app:big 2>&1 | tail -1
api $A/api/v2.0/projects/team/summary | python3 -c 'import sys,json;q=json.load(sys.stdin)["quota"];print("quota used",q["used"]["storage"],"of",q["hard"]["storage"])'
echo "== retention: keep the newest 3 (v1 is immutable: kept)"
sleep 2
api -X POST $A/api/v2.0/retentions/$RID/executions -d '{"dry_run":false}' -o /dev/null -w 'run %{http_code}\n'
sleep 3
EID=$(api "$A/api/v2.0/retentions/$RID/executions" | python3 -c 'import sys,json;print(json.load(sys.stdin)[0]["id"])')
TID=$(api "$A/api/v2.0/retentions/$RID/executions/$EID/tasks" | python3 -c 'import sys,json;print(json.load(sys.stdin)[0]["id"])')
api "$A/api/v2.0/retentions/$RID/executions/$EID/tasks/$TID" | sed 's/sha256:[0-9a-f]*/<digest>/'
echo "tags on a: $(skopeo list-tags --tls-verify=false --creds admin:$PW docker://127.0.0.1:$PA/team/app | python3 -c 'import sys,json;print(sorted(json.load(sys.stdin)["Tags"]))')"
for i in $(seq 50); do T=$(skopeo list-tags --tls-verify=false --creds admin:$PW docker://127.0.0.1:$PB/team/app 2>/dev/null | python3 -c 'import sys,json;print(sorted(json.load(sys.stdin)["Tags"]))' 2>/dev/null); [[ "$T" == "['dev2', 'dev3', 'dev4', 'v1']" ]] && break; sleep 0.5; done
echo "tags on b (replicated, deletes included): $T"
echo "== skopeo pull from b: $(skopeo --policy $POL copy --src-tls-verify=false --src-creds admin:$PW docker://127.0.0.1:$PB/team/app:v1 dir:$W/pulled 2>&1 | tail -1 && echo ok)"
sleep 3; echo "== the webhook receiver saw:"; sort $W/hook.log | uniq -c
