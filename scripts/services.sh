#!/usr/bin/env bash
# Installs (Debian) and starts the services the production-backend tests need: PostgreSQL, Redis, RabbitMQ.
# Safe to run again: a service that already answers is left alone.
set -euo pipefail

up() { (echo > "/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1; }
wait_for() {
  local port=$1 name=$2
  for _ in $(seq 1 60); do up "$port" && return 0; sleep 1; done
  echo "services: $name did not come up on port $port" >&2
  return 1
}
need_apt=()
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql)
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v rabbitmq-server >/dev/null || need_apt+=(rabbitmq-server)
if [ ${#need_apt[@]} -gt 0 ] && ! { up 5432 && up 6379 && up 5672; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}"
  else
    echo "services: please install ${need_apt[*]}" >&2
  fi
fi

if ! up 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  wait_for 5432 PostgreSQL
fi
if ! up 6379; then
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for 6379 Redis
fi
if ! up 5672; then
  rabbitmq-server -detached
  wait_for 5672 RabbitMQ
fi
# A fresh cluster may not trust local TCP logins; the tests connect as postgres to database "test".
if ! psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
  su postgres -c "psql -Atc \"select 1 from pg_database where datname='test'\"" | grep -q 1 \
    || su postgres -c "createdb test" || true
fi
echo "services: PostgreSQL, Redis and RabbitMQ are up"
