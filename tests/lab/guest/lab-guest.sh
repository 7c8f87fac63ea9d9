# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
#
# The lab's guest library, installed as /usr/lib/hvtlab/lab-guest.sh in both
# guest flavours. Scenarios source it for their helpers (lab_*); the busybox
# /init and the systemd flavour's runner use its internal part (lab__*) to
# mount the results disk, count boots, run the scenario and keep its output.
# POSIX sh: it runs under busybox ash and under Debian's dash.
#
# The results disk (mounted at /lab) survives reboots, panics and kexec:
#   /lab/scenario.sh   the scenario          /lab/lab.env   settings from the host
#   /lab/in/           files from the host   /lab/out/      what the scenario keeps
#   /lab/state/        persistent state      /lab/log/      per boot: .log .rc dmesg
#   /lab/boot-count    boots so far (the host writes 0)
# Lines starting with "hvtlab: " on the console are markers the host reads.

LAB_DIR=/lab
LAB_LIB=/usr/lib/hvtlab
LAB_IN=$LAB_DIR/in
LAB_OUT=$LAB_DIR/out
LAB_STATE=$LAB_DIR/state
LAB_LOG=$LAB_DIR/log
LAB_KVER=$(uname -r)
# Where ramoops keeps its records: the address LAB.md found to survive a reboot.
LAB_RAMOOPS_ADDR=0x10000000
LAB_FLAVOUR=${LAB_FLAVOUR:-unknown}
LAB_BOOTS=${LAB_BOOTS:-1}
LAB_INTERACTIVE=${LAB_INTERACTIVE:-0}
if [ -r "$LAB_DIR/lab.env" ]; then
        # shellcheck disable=SC1091 # written by the host for each run
        . "$LAB_DIR/lab.env"
fi
LAB_BOOT=$(cat "$LAB_DIR/boot-count" 2>/dev/null || echo 0)
export LAB_DIR LAB_LIB LAB_IN LAB_OUT LAB_STATE LAB_LOG LAB_KVER LAB_FLAVOUR LAB_BOOTS LAB_BOOT LAB_INTERACTIVE

# --- for scenarios -------------------------------------------------------------

# A line on the console (and in this boot's log) that the host shows as progress.
lab_log() {
        echo "hvtlab: $*"
}

# Ends the scenario with a failure the host prints.
lab_fail() {
        echo "hvtlab: FAIL: $*"
        exit 1
}

# Records KEY=VALUE in out/results.txt, for assert.sh's expect_result on the host.
lab_result() {
        mkdir -p "$LAB_OUT"
        echo "$1=$2" >>"$LAB_OUT/results.txt"
}

# Copies a file or directory into out/ (under NAME if given); fails if it is missing.
lab_save() {
        [ -e "$1" ] || lab_fail "lab_save: $1 does not exist"
        mkdir -p "$LAB_OUT"
        cp -a "$1" "$LAB_OUT/${2:-$(basename "$1")}" || lab_fail "lab_save: cannot copy $1"
}

# True if the kernel command line holds WORD (e.g. a marker passed by lab_kexec).
lab_cmdline_has() {
        case " $(cat /proc/cmdline) " in
        *" $1 "*) return 0 ;;
        esac
        return 1
}

# The .ko path of a module name (kvm_amd and kvm-amd both work), from modules.dep.
lab_module_path() {
        _name=$(echo "$1" | tr - _)
        _rel=$(awk -F: -v want="$_name" '{
                n = $1; sub(/.*\//, "", n); sub(/\.ko.*$/, "", n); gsub(/-/, "_", n)
                if (n == want) { print $1; exit }
        }' "/lib/modules/$LAB_KVER/modules.dep")
        [ -n "$_rel" ] || return 1
        echo "/lib/modules/$LAB_KVER/$_rel"
}

# insmod NAME [PARAM=VALUE...], by name; only NAME, not its dependencies.
lab_insmod() {
        _path=$(lab_module_path "$1") || lab_fail "lab_insmod: no module '$1' in /lib/modules/$LAB_KVER (add it to '# lab-modules:')"
        shift
        insmod "$_path" "$@" || {
                dmesg | tail -n 20
                lab_fail "lab_insmod: insmod $_path $* failed"
        }
}

# modprobe NAME [PARAM=VALUE...]: the module with its dependencies.
lab_modprobe() {
        modprobe "$@" || {
                dmesg | tail -n 20
                lab_fail "lab_modprobe: modprobe $* failed"
        }
}

# Sets up ramoops as LAB.md describes; needs '# lab-append: memmap=1M$0x10000000'.
lab_ramoops() {
        lab_cmdline_has "memmap=1M\$$LAB_RAMOOPS_ADDR" ||
                lab_fail "lab_ramoops: the kernel command line lacks memmap=1M\$$LAB_RAMOOPS_ADDR (add it with '# lab-append:')"
        lab_insmod reed_solomon
        lab_insmod ramoops mem_address=$LAB_RAMOOPS_ADDR mem_size=0x100000 \
                record_size=0x10000 console_size=0x10000 ecc=16
        grep -qs ramoops /sys/module/pstore/parameters/backend ||
                lab_fail "lab_ramoops: ramoops loaded but pstore's backend is '$(cat /sys/module/pstore/parameters/backend 2>/dev/null)'"
}

# systemd flavour: load ramoops early at every later boot too (modules-load.d and
# modprobe.d on the root disk), so services started at boot already see the
# records a panic left. Still needs memmap= on the command line; call
# lab_ramoops as well for this boot.
lab_ramoops_at_boot() {
        [ "$LAB_FLAVOUR" = systemd ] || lab_fail "lab_ramoops_at_boot: only the systemd guest keeps /etc across boots"
        mkdir -p /etc/modules-load.d /etc/modprobe.d
        echo ramoops >/etc/modules-load.d/hvtlab-ramoops.conf
        echo "options ramoops mem_address=$LAB_RAMOOPS_ADDR mem_size=0x100000 record_size=0x10000 console_size=0x10000 ecc=16" \
                >/etc/modprobe.d/hvtlab-ramoops.conf
        sync
}

# Waits up to SECONDS (default 10) for PATH to exist.
lab_wait_for() {
        _n=$((${2:-10} * 10))
        while [ ! -e "$1" ] && [ "$_n" -gt 0 ]; do
                sleep 0.1
                _n=$((_n - 1))
        done
        [ -e "$1" ]
}

# Waits (at most SECONDS, default 120) until `hvtorture show --json ID` says the run has finished (show
# answers for a run in progress too); keeps its last answer in out/show.json and records waited_s and
# show_exit (the verdict's exit code).
lab_wait_run_finished() {
        _n=0
        while :; do
                timeout 30 hvtorture show --json "$1" >"$LAB_OUT/show.json" 2>"$LAB_OUT/show.err"
                _rc=$?
                jq -e '.state == "finished"' "$LAB_OUT/show.json" >/dev/null 2>&1 && break
                _n=$((_n + 1))
                [ "$_n" -lt "${2:-120}" ] || lab_fail "run $1 did not finish ${2:-120} s into boot $LAB_BOOT: $(head -c 300 "$LAB_OUT/show.json") $(cat "$LAB_OUT/show.err")"
                sleep 1
        done
        lab_result waited_s "$_n"
        lab_result show_exit "$_rc"
}

# Crashes the kernel (sysrq c); with panic=1 the guest boots again.
lab_panic() {
        lab_log "boot $LAB_BOOT: panicking on purpose (sysrq c)"
        sync
        echo 1 >/proc/sys/kernel/sysrq
        echo c >/proc/sysrq-trigger
        sleep 10
        lab_fail "lab_panic: the kernel is still running 10 s after sysrq c"
}

# A forced reboot without unmounting (like a watchdog reset, after a sync).
lab_reboot() {
        lab_log "boot $LAB_BOOT: rebooting on purpose (reboot -f)"
        sync
        reboot -f
        sleep 10
        lab_fail "lab_reboot: still running 10 s after reboot -f"
}

# kexec into the same kernel and initramfs with the current command line plus WORDS.
lab_kexec() {
        command -v kexec >/dev/null || lab_fail "lab_kexec: no kexec in the guest (busybox: '# lab-binaries: kexec')"
        _cmdline="$(cat /proc/cmdline) $*"
        kexec -s -l "/boot/vmlinuz-$LAB_KVER" --initrd="/boot/initrd.img-$LAB_KVER" --append="$_cmdline" ||
                lab_fail "lab_kexec: kexec -s -l /boot/vmlinuz-$LAB_KVER failed"
        lab_log "boot $LAB_BOOT: kexec into the same kernel (+ $*)"
        sync
        kexec -e
        lab_fail "lab_kexec: kexec -e returned"
}

# --- for the guest harness (busybox /init and the systemd runner) -------------

# The /dev node of the virtio disk QEMU gave the serial SERIAL.
lab__disk() {
        _tries=100
        while [ "$_tries" -gt 0 ]; do
                for _s in /sys/block/vd*/serial; do
                        if [ -r "$_s" ] && [ "$(cat "$_s")" = "$1" ]; then
                                _dev=${_s%/serial}
                                echo "/dev/${_dev##*/}"
                                return 0
                        fi
                done
                sleep 0.1
                _tries=$((_tries - 1))
        done
        return 1
}

lab__mount_results() {
        _dev=$(lab__disk hvtlab-results) || {
                echo "hvtlab: FATAL: no virtio disk with serial hvtlab-results"
                return 1
        }
        mkdir -p "$LAB_DIR"
        mount -t ext4 "$_dev" "$LAB_DIR" || {
                echo "hvtlab: FATAL: cannot mount $_dev (results disk) on $LAB_DIR"
                return 1
        }
        # Re-read what the host wrote, now that the disk is there.
        # shellcheck disable=SC1091
        . "$LAB_DIR/lab.env"
        mkdir -p "$LAB_IN" "$LAB_OUT" "$LAB_STATE" "$LAB_LOG"
}

# Counts this boot on the disk; fails if the scenario did not ask for this many boots.
lab__begin_boot() {
        LAB_BOOT=$(($(cat "$LAB_DIR/boot-count") + 1))
        echo "$LAB_BOOT" >"$LAB_DIR/boot-count"
        cat /proc/cmdline >"$LAB_LOG/boot-$LAB_BOOT.cmdline"
        sync
        export LAB_BOOT
        if [ "$LAB_BOOT" -gt "$LAB_BOOTS" ]; then
                echo "unexpected boot" >"$LAB_LOG/boot-$LAB_BOOT.rc"
                echo "hvtlab: FATAL: unexpected boot $LAB_BOOT (the scenario asked for $LAB_BOOTS)"
                sync
                return 1
        fi
        echo "hvtlab: boot $LAB_BOOT/$LAB_BOOTS begins ($LAB_FLAVOUR, $LAB_KVER)"
}

lab__run_scenario() {
        echo "hvtlab: boot $LAB_BOOT: running scenario $LAB_SCENARIO"
        # The exit status of sh, not tee's: written by the subshell.
        { sh "$LAB_DIR/scenario.sh" 2>&1; echo $? >"$LAB_LOG/boot-$LAB_BOOT.rc.tmp"; } |
                tee "$LAB_LOG/boot-$LAB_BOOT.log"
        mv "$LAB_LOG/boot-$LAB_BOOT.rc.tmp" "$LAB_LOG/boot-$LAB_BOOT.rc"
        echo "hvtlab: boot $LAB_BOOT: scenario exit $(cat "$LAB_LOG/boot-$LAB_BOOT.rc")"
}

# After each boot's scenario: dmesg, and under systemd the journal and a copy of
# the project's state (on the root disk there, which the host does not read).
lab__collect() {
        dmesg >"$LAB_LOG/dmesg-boot-$LAB_BOOT.txt" 2>&1
        if command -v journalctl >/dev/null && [ -d /run/systemd/system ]; then
                journalctl -b --no-pager -o short-monotonic >"$LAB_LOG/journal-boot-$LAB_BOOT.txt" 2>&1
                journalctl -b --no-pager -o export >"$LAB_LOG/journal-boot-$LAB_BOOT.export" 2>&1
        fi
        if [ "$LAB_FLAVOUR" = systemd ]; then
                for _d in /var/lib/hvtorture /var/lib/systemd/pstore; do
                        [ -d "$_d" ] || continue
                        rm -rf "${LAB_STATE:?}/${_d##*/}"
                        cp -a "$_d" "$LAB_STATE/${_d##*/}"
                done
        fi
        sync
}
