#!/usr/bin/env bash
# A throwaway one-node Ceph cluster with radosgw, on loopback, for tests and
# benches that need a real S3 server with UploadPartCopy (s3rver has none).
#
#   scripts/radosgw.sh start    # idempotent: a running one is kept
#   scripts/radosgw.sh stop
#   scripts/radosgw.sh status   # exit 0 when S3 answers
#
# One monitor and one OSD whose objects live in RAM (memstore, capped by
# GAMEDOCK_RGW_MEMSTORE_BYTES), pools of size 1, no cephx: nothing here is
# for production. Monitor ports are fixed, so there is one such cluster per
# machine; test files share it. Needs Debian's ceph-mon, ceph-osd, radosgw
# and ceph-common.
#
# Endpoint http://127.0.0.1:$GAMEDOCK_RGW_PORT (default 7480), region
# "default", user "gamedock" with the access key and secret below.
set -euo pipefail

DIR=${GAMEDOCK_RGW_DIR:-/tmp/gamedock-radosgw}
PORT=${GAMEDOCK_RGW_PORT:-7480}
MEMSTORE_BYTES=${GAMEDOCK_RGW_MEMSTORE_BYTES:-3221225472}
ACCESS_KEY=gamedock-test-access
SECRET_KEY=gamedock-test-secret
CONF=$DIR/ceph.conf
ceph_() { ceph -c "$CONF" --connect-timeout 10 "$@"; }

s3_answers() {
  # Any HTTP answer from the beast frontend means radosgw is up.
  curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$PORT/" | grep -q '^[1-5]'
}

write_conf() {
  local fsid=$1
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:3300,v1:127.0.0.1:6789]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
# With auth none, clients cannot reach the monitor unless crc is allowed.
ms mon client mode = crc
ms client mode = crc
ms mon service mode = crc
ms service mode = crc
ms cluster mode = crc
# Pool creation waits on each proposal: 2 s to start instead of 13.
paxos propose interval = 0.05
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
mon data = $DIR/mon/\$id
osd data = $DIR/osd/\$id
keyring = $DIR/keyring
# Deleted objects are reclaimed quickly: memstore holds what is written in RAM.
rgw gc obj min wait = 10
rgw gc processor period = 10

[client.rgw.gamedock]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw dns name = 127.0.0.1
EOF
}

start() {
  if s3_answers; then
    echo "radosgw: already answering on 127.0.0.1:$PORT"
    return 0
  fi
  stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
  mkdir -p "$DIR"/{run,log,mon,osd}
  local fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  write_conf "$fsid"
  # The monitor's store needs a keyring even when auth is off.
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  monmaptool --create --fsid "$fsid" --addv a '[v2:127.0.0.1:3300,v1:127.0.0.1:6789]' "$DIR/monmap" >/dev/null
  mkdir -p "$DIR/mon/a"
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring"
  ceph-mon -c "$CONF" -i a

  local uuid id
  uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(ceph_ osd new "$uuid")
  mkdir -p "$DIR/osd/$id"
  ceph-osd -c "$CONF" -i "$id" --mkfs --osd-uuid "$uuid" >/dev/null 2>&1
  ceph-osd -c "$CONF" -i "$id" 2>>"$DIR/log/osd-start.log"

  radosgw -c "$CONF" -n client.rgw.gamedock
  for _ in $(seq 1 120); do
    s3_answers && break
    sleep 0.5
  done
  s3_answers || {
    echo "radosgw: no answer on 127.0.0.1:$PORT; logs in $DIR/log" >&2
    return 1
  }
  radosgw-admin -c "$CONF" user create --uid gamedock --display-name gamedock \
    --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" >/dev/null
  echo "radosgw: answering on http://127.0.0.1:$PORT (access key $ACCESS_KEY)"
}

stop_pidfile() {
  local file=$1
  [[ -f $file ]] || return 0
  local pid
  pid=$(cat "$file")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

stop() {
  # radosgw first: stopped together with the OSD it can sit in a 120 s shutdown alarm.
  stop_pidfile "$DIR/run/client.rgw.gamedock.pid"
  for f in "$DIR"/run/osd.*.pid; do stop_pidfile "$f"; done
  stop_pidfile "$DIR/run/mon.a.pid"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) s3_answers ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
