# SPDX-License-Identifier: LGPL-2.1-or-later
# A private system bus for the bus suite: a dbus-daemon with the system
# bus's default-deny policy plus the policy files given (ours), and the
# daemon started on it.

# start_bus SOCKET [POLICY-FILE...]: sets bus_pid and DBUS_SYSTEM_BUS_ADDRESS.
start_bus() {
    local sock=$1 conf=$1.conf inc=""
    shift
    for f in "$@"; do inc+="  <include>$f</include>"$'\n'; done
    cat >"$conf" <<XML
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
$inc</busconfig>
XML
    chmod 755 "$(dirname "$sock")" # unprivileged clients must reach the socket
    dbus-daemon --config-file="$conf" --nofork --nopidfile &
    bus_pid=$!
    cleanup_hooks+=("kill $bus_pid")
    export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$sock
    for _ in $(seq 50); do [ -S "$sock" ] && return 0; sleep 0.1; done
    fail "dbus-daemon did not come up on $sock"
}

# start_daemon ARGS...: hvtortured on the current bus; sets daemon.
start_daemon() {
    "$HVTD" "$@" 2>>"$T/daemon.log" &
    daemon=$!
    cleanup_hooks+=("kill $daemon 2>/dev/null")
    for _ in $(seq 50); do
        busctl --system status org.hvtorture1 >/dev/null 2>&1 && return 0
        kill -0 $daemon 2>/dev/null || break
        sleep 0.1
    done
    cat "$T/daemon.log" >&2
    fail "hvtortured did not come up"
}
