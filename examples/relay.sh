#!/bin/sh
# A relay as a tether command target, with no code beyond this script:
#   tetherctl serve relay -- /usr/share/doc/tether/examples/relay.sh
# (or the unit template: systemctl enable --now tether-serve@relay)
#
# Actions: on, off, toggle, get. The relay is a GPIO-style value file holding 0 or 1
# (RELAY_FILE, default /sys/class/gpio/gpio17/value; any writable file works for a
# try-out). The args arrive as a JSON object on stdin and are not needed here.
# The answer is a JSON object on stdout; an error is a non-zero exit with the reason
# as the last line on stderr.
set -eu

file=${RELAY_FILE:-/sys/class/gpio/gpio17/value}
cat >/dev/null  # the args: unused

read_state() {
  if [ -r "$file" ]; then
    tr -d ' \n' <"$file"
  else
    echo 0
  fi
}

write_state() {
  if ! printf '%s\n' "$1" >"$file" 2>/dev/null; then
    echo "cannot write $file" >&2
    exit 1
  fi
}

case "${TETHER_ACTION:-}" in
  on) write_state 1 ;;
  off) write_state 0 ;;
  toggle) if [ "$(read_state)" = 1 ]; then write_state 0; else write_state 1; fi ;;
  get) ;;
  *)
    echo "unknown action '${TETHER_ACTION:-}' (on, off, toggle, get)" >&2
    exit 2
    ;;
esac

state=$(read_state)
if [ "$state" = 1 ]; then on=true; else on=false; fi
printf '{"on":%s,"request":"%s"}\n' "$on" "${TETHER_REQUEST_ID:-}"
