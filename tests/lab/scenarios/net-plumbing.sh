#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The net action on a real kernel with sch_netem and vhost_net, on nested
# KVM: VMMs with vhost-net NICs (virtqueues in guest memory, the guest's
# doorbell as the TX kick) and netem on their taps and veths, SIGKILLed,
# closed, or losing their bridge under traffic; every link must be gone.
# Then Namespace=host after a "crashed run": a tagged bridge whose owner is
# dead must be swept, an untagged hvt-* bridge and somebody else's left.
#
# lab-flavour: busybox
# lab-modules: kvm_amd vhost_net sch_netem tun veth bridge
# lab-files: tests/lab/profiles/net-plumbing.ini tests/lab/profiles/net-host.ini
# lab-binaries: ip
# lab-deadline: 400

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh

for m in irqbypass kvm ccp kvm_amd; do
        lab_insmod "$m"
done
lab_wait_for /dev/kvm 5 || lab_fail "/dev/kvm did not appear after loading kvm_amd"
for m in tun bridge veth sch_netem vhost_net; do
        lab_modprobe "$m"
done
lab_wait_for /dev/vhost-net 5 || lab_fail "/dev/vhost-net did not appear after loading vhost_net"
lab_wait_for /dev/net/tun 5 || lab_fail "/dev/net/tun did not appear after loading tun"

# iproute2's ip (lab-binaries), not busybox's: it sets aliases.
ip=/usr/bin/ip
[ -x "$ip" ] || lab_fail "no iproute2 ip at $ip"

hvtorture check --json >"$LAB_OUT/check.json" 2>"$LAB_OUT/check.err"
$ip -o link show >"$LAB_OUT/links-before.txt"

# Everything in a private namespace per worker: netem and vhost-net required.
hvtorture run "$LAB_IN/net-plumbing.ini" --json >"$LAB_OUT/run.json" 2>"$LAB_OUT/run.err"
lab_result run_exit $?
$ip -o link show >"$LAB_OUT/links-after.txt"

# A crashed run's bridge (its tagged owner is dead), an untagged hvt-* one, somebody else's.
$ip link add hvt-dead-br type bridge || lab_fail "ip link add hvt-dead-br"
$ip link set dev hvt-dead-br alias "hvtorture owner=4000000:1 run=crashed actor=nets/0" ||
        lab_fail "ip link set alias"
$ip link add hvt-foreign type bridge || lab_fail "ip link add hvt-foreign"
$ip link add other-br type bridge || lab_fail "ip link add other-br"
$ip link set dev other-br alias "hvtorture owner=4000000:1 run=crashed actor=nets/0" || lab_fail "ip link set alias"
hvtorture run --allow-destructive "$LAB_IN/net-host.ini" --json >"$LAB_OUT/run-host.json" 2>"$LAB_OUT/run-host.err"
lab_result run_host_exit $?
$ip -o link show >"$LAB_OUT/links-after-host.txt"
cat /var/lib/hvtorture/runs/*/journal.jsonl >"$LAB_OUT/journals.jsonl"
lab_log "net plumbing ran"
