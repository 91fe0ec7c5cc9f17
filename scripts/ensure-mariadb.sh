#!/usr/bin/env bash
# Start the local MariaDB server unless it is running, then wait until it is up.
#
# The MySQL tests connect to 127.0.0.1:3306 as root with an empty password,
# which is how the CI machines are set up.
set -euo pipefail

wait_seconds=60
mariadbd=/usr/sbin/mariadbd

is_running() {
    # ping succeeds whenever the server runs, even if the login is refused.
    mariadb-admin --host=127.0.0.1 --user=root --connect-timeout=2 ping \
        >/dev/null 2>&1
}

if is_running; then
    exit 0
fi
if ! command -v mariadb-admin >/dev/null || [ ! -x "$mariadbd" ]; then
    echo "MariaDB is not installed: apt-get install mariadb-server" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null; then
    as_root=(sudo)
else
    echo "MariaDB is not running and starting it needs root" >&2
    exit 1
fi

echo "Starting MariaDB"
# /run is a tmpfs, so the socket and PID folder vanish with a reboot.
"${as_root[@]}" install -d -o mysql -g mysql /run/mysqld
"${as_root[@]}" start-stop-daemon --start --oknodo --background \
    --exec "$mariadbd"
for _ in $(seq "$wait_seconds"); do
    if is_running; then
        exit 0
    fi
    sleep 1
done
echo "MariaDB did not answer on 127.0.0.1:3306 within $wait_seconds s;" \
    "see /var/log/mysql/error.log" >&2
exit 1
