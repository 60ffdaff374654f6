#!/usr/bin/env bash
# Brings docker-compose.yml up for real and checks it: a Docker engine of its own in a network namespace of its
# own (nothing it does reaches this host's network), base images built here (no registry is reachable), the two
# IDCs up, dual-master replication configured by the setup service, an image pushed with docker to IDC a and
# pulled from IDC b and through an agent of b, one pushed to b pulled from a, one instance killed with pulls
# still served; then everything torn down: containers, volumes, the engine, the namespace, its directories.
#
#   sudo bash scripts/compose-smoke.sh          # about 4 min on 2 cores (overlay2; 14 min with vfs)
#
# BERTH_SMOKE_CONSOLE=1 (test/compose/compose.test.ts sets it) adds the console walk: the script stops at two
# points, prints "compose-smoke: pause <name> ns=… a=… b=…" and reads one line from stdin. At console-setup the
# driver logs in to IDC a's console, makes a project `team`, a member and a robot, and answers
# "continue <robot> <secret>"; the script pushes with docker as that robot and pulls from IDC b. At
# console-replication the driver adds IDC b as a registry and runs a replication policy from the console.
#
# The Debian root filesystem made by debootstrap is cached in $BERTH_SMOKE_CACHE (default
# /var/cache/berth-compose-smoke; delete it, or set BERTH_SMOKE_FRESH=1, to make it again).
set -euo pipefail

if [ "$(id -u)" != 0 ]; then echo "compose-smoke: SKIP: needs root (network namespace, dockerd)"; exit 0; fi
for tool in dockerd docker docker-compose debootstrap nsenter ip tar node; do
  command -v "$tool" >/dev/null || { echo "compose-smoke: SKIP: $tool is not installed"; exit 0; }
done

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${BERTH_SMOKE_CACHE:-/var/cache/berth-compose-smoke}
work=$(mktemp -d /tmp/berth-compose-smoke.XXXXXX)
ns=berth-smoke-$$
sock=$work/docker.sock
started=$(date +%s)
export DOCKER_HOST=unix://$sock DOCKER_CONFIG=$work/docker-cli COMPOSE_PROJECT_NAME=berthsmoke
export BERTH_ADMIN_PASSWORD=${BERTH_SMOKE_ADMIN_PASSWORD:-Smoke-Admin-Pass-1} MINIO_ROOT_USER=S3RVER MINIO_ROOT_PASSWORD=S3RVER
export BERTH_REPLICATION_KEY=smoke-replication-key-0123 BERTH_TRUSTED_PROXIES=198.19.0.0/16 BERTH_LOG_LEVEL=warn
compose=(docker-compose -f "$root/docker-compose.yml" -f "$root/test/compose/docker-compose.smoke.yml" --project-directory "$root")
step() { echo "compose-smoke: [$(( $(date +%s) - started ))s] $*"; }
in_ns() { nsenter --net="/var/run/netns/$ns" "$@"; }
# pause NAME: the driving test does its part in the console while the IDCs run, then answers one line on stdin
# ("continue [words]"; the words land in $reply_args).
pause() {
  echo "compose-smoke: pause $1 ns=$ns a=http://$A b=http://$B"
  local reply=''
  read -r reply || true
  [ "${reply%% *}" = continue ] || { echo "compose-smoke: the driver answered '$reply' at $1"; exit 1; }
  reply_args=${reply#continue}
}
admin() { in_ns node "$root/dist/cli/main.js" admin --user admin --password "$BERTH_ADMIN_PASSWORD" --config "$work/admin.yaml" "$@"; }

cleanup() {
  local rc=$?
  set +e
  if [ -S "$sock" ]; then
    [ $rc = 0 ] || "${compose[@]}" logs --no-color --tail 40 > "$work/../berth-compose-smoke-failure.log" 2>&1
    "${compose[@]}" down -v --remove-orphans --rmi all >/dev/null 2>&1
  fi
  if [ -f "$work/docker.pid" ]; then kill "$(cat "$work/docker.pid")" 2>/dev/null; fi
  # The engine stops its containers first; its files can go only once it is gone.
  for _ in $(seq 1 120); do kill -0 "$(cat "$work/docker.pid" 2>/dev/null)" 2>/dev/null || break; sleep 1; done
  # Mounts the engine may leave behind (container rootfs, netns files) under its directories.
  grep -o " $work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work" "$root/deploy/offline/node_modules.tar" || { sleep 5; rm -rf "$work"; }
  [ $rc = 0 ] && step "PASS" || echo "compose-smoke: FAIL (exit $rc; logs in /tmp/berth-compose-smoke-failure.log)"
}
trap cleanup EXIT

# 1. A Debian bookworm root filesystem with Node (this machine's, v20), npm, Redis and nginx: the stand-in for
#    node:20-bookworm-slim, redis:7-bookworm and nginx:1.27-bookworm, which cannot be pulled here.
if [ -n "${BERTH_SMOKE_FRESH:-}" ] || [ ! -f "$cache/rootfs.tar" ]; then
  step "debootstrap bookworm (cached in $cache)"
  mkdir -p "$cache"
  # The mirror apt uses here (a site's own, where there is one).
  mirror=${BERTH_SMOKE_MIRROR:-$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)}
  debootstrap --variant=minbase --include=redis-server,nginx-light,ca-certificates bookworm "$work/rootfs" "${mirror:-http://deb.debian.org/debian}" > "$work/debootstrap.log"
  rm -rf "$work/rootfs/var/cache/apt/archives"/*.deb "$work/rootfs/var/lib/apt/lists"/*
  tar -C "$work/rootfs" -cf "$cache/rootfs.tar" .
  rm -rf "$work/rootfs"
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" = 20 ] || { echo "compose-smoke: this machine's node is v$node_major; the stand-in base needs v20"; exit 1; }
mkdir -p "$work/base" && tar -C "$work/base" -xf "$cache/rootfs.tar"
mkdir -p "$work/base/usr/local/lib/node_modules" "$work/base/usr/local/bin"
cp "$(command -v node)" "$work/base/usr/local/bin/node"
cp -a "$(dirname "$(readlink -f "$(command -v npm)")")/.." "$work/base/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/base/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/base/usr/local/bin/npx"

# 2. This checkout's node_modules for the image's offline build (the same Debian release and Node major), and
#    the CLI built on this side for `berth admin` from the namespace.
step "npm run build; node_modules.tar for the offline image build"
(cd "$root" && npm run -s build)
# node_modules may be a symlink (a worktree's): archive what it points at, its own symlinks (.bin) kept as they are.
modules=$(readlink -f "$root/node_modules")
tar -C "$(dirname "$modules")" -cf "$root/deploy/offline/node_modules.tar" --transform "s,^$(basename "$modules"),node_modules," "$(basename "$modules")"

# 3. A network namespace with only loopback, and dockerd in it (nsenter --net, so the cgroup mounts stay visible).
#    Its networks come from 198.19.0.0/16 (benchmarking space), which exists only inside the namespace.
ip netns add "$ns"
ip -n "$ns" link set lo up
step "dockerd in namespace $ns"
# overlay2 where the kernel has overlayfs and the data root is not itself on overlayfs (every container then shares
# the image's layers); vfs, a full copy of the image per container and per build step, only where it must.
driver=vfs
if grep -qw overlay /proc/filesystems && [ "$(stat -f -c %T "$work")" != overlayfs ]; then driver=overlay2; fi
driver=${BERTH_SMOKE_STORAGE_DRIVER:-$driver}
in_ns dockerd --storage-driver="$driver" --data-root "$work/data" --exec-root "$work/exec" --pidfile "$work/docker.pid" \
  -H "$DOCKER_HOST" --bridge=none --default-address-pool base=198.19.0.0/16,size=24 > "$work/dockerd.log" 2>&1 &
for _ in $(seq 1 60); do docker version >/dev/null 2>&1 && break; sleep 1; done
docker version --format 'compose-smoke: engine {{.Server.Version}}'
docker info --format 'compose-smoke: storage driver {{.Driver}}'
tar -C "$work/base" -c . | docker import --change 'CMD ["bash"]' - node:20-bookworm-slim >/dev/null
docker tag node:20-bookworm-slim redis:7-bookworm
docker tag node:20-bookworm-slim nginx:1.27-bookworm
rm -rf "$work/base"

# 4. Up: build the image, start both IDCs, wait for the one-shot setup to finish.
# The s3rver stand-in for MinIO: this checkout's node_modules on the base image.
printf 'FROM node:20-bookworm-slim\nWORKDIR /s3\nADD node_modules.tar /s3/\n' | docker build -q -t berth-s3rver:smoke -f - "$root/deploy/offline" >/dev/null
# One build of Berth's image; every Berth service (serve, replicate, agent, setup) runs it.
step "docker-compose build"
"${compose[@]}" build berth-a1 > "$work/compose-build.log" 2>&1 || { tail -40 "$work/compose-build.log"; exit 1; }
docker images --format 'compose-smoke: image {{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'berth'
step "docker-compose up"
# A loaded machine may make an instance miss its start-up store check (it exits and is restarted): up again.
for try in 1 2 3; do
  "${compose[@]}" up -d > "$work/compose-up.log" 2>&1 && break
  [ "$try" = 3 ] && { cat "$work/compose-up.log"; exit 1; }
  step "docker-compose up failed (try $try), again in 20 s"; sleep 20
done
setup=$("${compose[@]}" ps -q setup)
for _ in $(seq 1 240); do
  [ "$(docker inspect -f '{{.State.Status}}' "$setup")" = exited ] && break
  sleep 1
done
docker logs "$setup" 2>&1 | tail -12
[ "$(docker inspect -f '{{.State.ExitCode}}' "$setup")" = 0 ] || { echo "compose-smoke: setup failed"; exit 1; }
"${compose[@]}" ps

A=127.0.0.1:${IDC_A_PORT:-5001} B=127.0.0.1:${IDC_B_PORT:-5002} AGENT_B=127.0.0.1:${AGENT_B1_PORT:-65021}
admin --url "http://$A" policies list
admin --url "http://$B" registries list

# 5. Push a small image with docker to IDC a; it must reach b by replication, and be pulled from b and through
#    b's agent. Then the other way round. (127.0.0.0/8 registries are plain HTTP for docker.)
step "docker push to IDC a"
mkdir -p "$work/img" && echo "hello from the compose smoke test $$" > "$work/img/hello.txt"
tar -C "$work/img" -cf "$work/img.tar" hello.txt
docker import "$work/img.tar" "$A/library/smoke:1" >/dev/null
echo "$BERTH_ADMIN_PASSWORD" | docker login -u admin --password-stdin "$A" >/dev/null
echo "$BERTH_ADMIN_PASSWORD" | docker login -u admin --password-stdin "$B" >/dev/null
docker push "$A/library/smoke:1" | tail -1
digest=$(docker inspect -f '{{index .RepoDigests 0}}' "$A/library/smoke:1" | cut -d@ -f2)

pull_until() { # ref: pull (retrying up to 60 s while replication runs) and print the digest pulled
  for _ in $(seq 1 60); do
    if docker pull "$1" >/dev/null 2>&1; then docker inspect -f '{{index .RepoDigests 0}}' "$1" | cut -d@ -f2; return 0; fi
    sleep 1
  done
  docker pull "$1"; return 1
}
step "pull from IDC b (replicated) and through agent-b1"
got_b=$(pull_until "$B/library/smoke:1")
[ "$got_b" = "$digest" ] || { echo "compose-smoke: b has $got_b, a pushed $digest"; exit 1; }
docker rmi "$B/library/smoke:1" >/dev/null
# Through agent-b1, as a node of IDC b would: from inside IDC b's network, since the agent hands clients the
# origin's token realm (http://nginx-b/service/token), a name that resolves there and not in this namespace.
# Berth's own OCI client does the token dance, reads the manifest and its layer through the agent, checks digests.
got_agent=$(docker run --rm --network "${COMPOSE_PROJECT_NAME}_idc-b" --entrypoint node berth:latest --input-type=module -e "
  import { OciClient } from '/app/dist/core/oci-client.js';
  import { createHash } from 'node:crypto';
  const c = new OciClient({ baseUrl: 'http://agent-b1:65001' });
  const m = await c.getManifest('library/smoke', '1');
  const layer = JSON.parse(Buffer.from(m.bytes).toString()).layers[0];
  const b = await c.getBlob('library/smoke', layer.digest);
  const chunks = [];
  for await (const x of b.stream) chunks.push(x);
  const sha = (buf) => 'sha256:' + createHash('sha256').update(buf).digest('hex');
  if (sha(Buffer.concat(chunks)) !== layer.digest) throw new Error('layer digest mismatch');
  console.log(sha(m.bytes));")
[ "$got_agent" = "$digest" ] || { echo "compose-smoke: the agent served $got_agent, expected $digest"; exit 1; }
echo "compose-smoke: $digest pushed to a, pulled from b and from b's agent"

step "docker push to IDC b, pull from IDC a (the other master)"
docker tag "$A/library/smoke:1" "$B/library/smoke:from-b"
docker push "$B/library/smoke:from-b" | tail -1
docker rmi "$B/library/smoke:from-b" "$A/library/smoke:1" >/dev/null
got_a=$(pull_until "$A/library/smoke:from-b")
[ "$got_a" = "$digest" ] || { echo "compose-smoke: a has $got_a for from-b"; exit 1; }
admin --url "http://$A" replication list -n 5

# 6. Kill one instance of IDC a: nginx sends everything to the other, pulls go on.
if [ "${BERTH_SMOKE_CONSOLE:-}" = 1 ]; then
  step "console walk on IDC a: a project, a member, a robot"
  pause console-setup
  read -r robot secret <<<"$reply_args"
  [ -n "$secret" ] || { echo "compose-smoke: no robot secret from the console walk"; exit 1; }
  step "docker push to IDC a as $robot (made in the console), pull from IDC b"
  docker logout "$A" >/dev/null
  printf '%s' "$secret" | docker login -u "$robot" --password-stdin "$A" >/dev/null
  docker tag "$A/library/smoke:from-b" "$A/team/app:1"
  docker push "$A/team/app:1" | tail -1
  docker rmi "$A/team/app:1" >/dev/null
  got_team=$(pull_until "$B/team/app:1")
  [ "$got_team" = "$digest" ] || { echo "compose-smoke: b has $got_team for team/app:1"; exit 1; }
  docker rmi "$B/team/app:1" >/dev/null
  echo "$BERTH_ADMIN_PASSWORD" | docker login -u admin --password-stdin "$A" >/dev/null
  echo "compose-smoke: the console's robot pushed team/app:1 to a; b serves it"
  step "console walk on IDC a: a registry for IDC b and a replication policy run from the console"
  pause console-replication
  admin --url "http://$A" replication list -n 3
fi

step "kill berth-a1; pull from IDC a again"
"${compose[@]}" kill berth-a1 >/dev/null 2>&1
docker rmi "$A/library/smoke:from-b" >/dev/null
for i in 1 2 3; do got=$(pull_until "$A/library/smoke:from-b"); [ "$got" = "$digest" ]; docker rmi "$A/library/smoke:from-b" >/dev/null; done
echo "compose-smoke: 3 pulls served by berth-a2 alone"

step "docker-compose down"
