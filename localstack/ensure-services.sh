#!/usr/bin/env bash
# Make sure Postgres (5432), Redis (6379) and RabbitMQ (5672) answer on 127.0.0.1 for the tests, and that
# Debian's Chromium is installed for the console's browser tests.
# Starts them with the machine's own commands when they are down; installs them with apt on a bare
# Debian machine. Idempotent and quiet when everything is already up.
set -euo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {  # port, name, seconds
  for _ in $(seq 1 "$3"); do up "$1" && return 0; sleep 1; done
  echo "ensure-services: $2 did not come up on 127.0.0.1:$1" >&2; return 1
}

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { $SUDO apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# --- PostgreSQL --------------------------------------------------------------------------------------
if ! up 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "ensure-services: installing PostgreSQL"
    apt_install postgresql
    fresh_pg=1
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ -n "${fresh_pg:-}" ]; then
    # Tests connect as postgres over TCP without a password, as on the project's machines.
    hba=/etc/postgresql/$version/main/pg_hba.conf
    $SUDO sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/; s/^(local\s+all\s+postgres\s+)\S+/\1trust/' "$hba"
  fi
  echo "ensure-services: starting PostgreSQL $version"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for 5432 PostgreSQL 60
fi
if command -v psql >/dev/null; then
  psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE test" || true
fi

# --- Redis -------------------------------------------------------------------------------------------
if ! up 6379; then
  command -v redis-server >/dev/null || { echo "ensure-services: installing Redis"; apt_install redis-server; }
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  echo "ensure-services: starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for 6379 Redis 30
fi

# --- RabbitMQ ----------------------------------------------------------------------------------------
if ! up 5672; then
  command -v rabbitmq-server >/dev/null || { echo "ensure-services: installing RabbitMQ"; apt_install rabbitmq-server; }
  echo "ensure-services: starting RabbitMQ"
  rabbitmq-server -detached || true
  wait_for 5672 RabbitMQ 120
fi

# --- Chromium (the console's end-to-end tests drive Debian's build headless) ---------------------------
if [ ! -x /usr/bin/chromium ]; then
  echo "ensure-services: installing Chromium"
  apt_install chromium
fi
