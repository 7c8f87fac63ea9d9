/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The /proc scan for KVM holders: first on made-up proc trees (every kind
 * of holder, ancestry, odd comms, more holders than are named), then on
 * the real /dev/kvm with real processes: a VM in the "engine" process, a
 * VM kept alive only by a vCPU mapping in its child, and a VM of a process
 * outside that tree, seen through a proc directory that shows only these
 * processes and their ancestors (so other VMs on a shared machine cannot
 * disturb the counts).
 */
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "kvm-scan.h"
#include "kvm-test.h"

static char dir[] = "/tmp/hvt-test-kvm-scan-XXXXXX";

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");
        ASSERT_TRUE(f);
        fputs(text, f);
        fclose(f);
}

/* A process in the fake proc tree at root: its comm, parent, fds (link targets) and maps. */
static void proc_add(const char *root, int pid, const char *comm, int ppid, const char *const *fds, const char *maps)
{
        char path[512], text[512];

        snprintf(path, sizeof path, "%s/%d", root, pid);
        ASSERT_OK(mkdir(path, 0755));
        snprintf(path, sizeof path, "%s/%d/fd", root, pid);
        ASSERT_OK(mkdir(path, 0755));
        for (unsigned i = 0; fds && fds[i]; i++) {
                snprintf(path, sizeof path, "%s/%d/fd/%u", root, pid, i + 3);
                ASSERT_OK(symlink(fds[i], path));
        }
        snprintf(path, sizeof path, "%s/%d/stat", root, pid);
        snprintf(text, sizeof text, "%d (%s) S %d %d %d 0 -1 4194560\n", pid, comm, ppid, pid, pid);
        write_file(path, text);
        snprintf(path, sizeof path, "%s/%d/comm", root, pid);
        snprintf(text, sizeof text, "%s\n", comm);
        write_file(path, text);
        snprintf(path, sizeof path, "%s/%d/maps", root, pid);
        write_file(path, maps ? maps : "");
}

static void fresh(char *root, size_t len, const char *name)
{
        snprintf(root, len, "%s/%s", dir, name);
        ASSERT_OK(mkdir(root, 0755));
        /* What a real /proc has beside the pids: never taken for a process. */
        snprintf(root + strlen(root), len - strlen(root), "/self");
        ASSERT_OK(mkdir(root, 0755));
        root[strlen(root) - strlen("/self")] = '\0';
}

static void test_fake(void)
{
        static const char *const vm[] = { "anon_inode:kvm-vm", "anon_inode:kvm-vcpu:0", "/dev/null", NULL };
        static const char *const two_vms[] = { "anon_inode:kvm-vm", "anon_inode:kvm-vm", NULL };
        static const char *const vcpu_only[] = { "anon_inode:kvm-vcpu:3", "socket:[123]", NULL };
        static const char *const stats_only[] = { "anon_inode:kvm-vm-stats", NULL };
        static const char *const dev[] = { "/dev/kvm", NULL };
        static const char *const nothing[] = { "/dev/null", "pipe:[77]", NULL };
        char root[600], d[200];
        KvmScan s;

        fresh(root, sizeof root, "a");
        proc_add(root, 100, "hvtortured", 1, nothing, NULL);            /* the engine */
        proc_add(root, 101, "hvt-vms", 100, NULL, NULL);                 /* a worker */
        proc_add(root, 102, "vmm", 101, vm, NULL);                       /* its VMM: ours */
        proc_add(root, 103, "peer", 102, stats_only, NULL);              /* ours, a VM only through stats */
        proc_add(root, 200, "qemu-system-x86", 1, two_vms, NULL);        /* foreign: 2 VMs */
        proc_add(root, 201, "odd) (name", 1, vcpu_only, NULL);           /* foreign, parens in comm */
        proc_add(root, 202, "libvirtd", 1, dev, NULL);                   /* /dev/kvm only */
        proc_add(root, 203, "mapper", 1, NULL,
                 "7f00-7f01 rw-s 00000000 00:0e 42   anon_inode:kvm-vcpu:0\n"); /* foreign, a mapping only */
        proc_add(root, 204, "kthreadd", 0, NULL, NULL);
        ASSERT_OK(kvm_scan_path(root, 100, &s));
        ASSERT_EQ(s.procs, 9);
        ASSERT_EQ(s.own_vms, 2);
        ASSERT_EQ(s.foreign_procs, 3);
        ASSERT_EQ(s.foreign_vms, 4);
        ASSERT_EQ(s.foreign_dev, 1);
        ASSERT_EQ(s.n_named, 4);
        ASSERT_STREQ(kvm_scan_describe_foreign(&s, d, sizeof d),
                     "4 VMs of other processes: pid 200 (qemu-system-x86) 2 VMs, pid 201 (odd) (name) 1 VM, "
                     "pid 203 (mapper) 1 VM");

        /* Another root: what was ours is foreign now, and the engine's own tree is judged by ancestry. */
        ASSERT_OK(kvm_scan_path(root, 101, &s));
        ASSERT_EQ(s.own_vms, 2);
        ASSERT_OK(kvm_scan_path(root, 102, &s));
        ASSERT_EQ(s.own_vms, 2); /* 102 itself and 103 below it */
        ASSERT_OK(kvm_scan_path(root, 103, &s));
        ASSERT_EQ(s.own_vms, 1);
        ASSERT_EQ(s.foreign_vms, 5);

        /* A holder whose parent is gone mid-walk (or never was) is not provably ours. */
        fresh(root, sizeof root, "b");
        proc_add(root, 100, "hvtortured", 1, nothing, NULL);
        proc_add(root, 300, "orphan", 299, vm, NULL);
        ASSERT_OK(kvm_scan_path(root, 100, &s));
        ASSERT_EQ(s.foreign_vms, 1);
        ASSERT_EQ(s.own_vms, 0);

        /* More holders than are named: /dev/kvm-only ones give way to VM holders; the rest are counted. */
        fresh(root, sizeof root, "c");
        for (int i = 0; i < 4; i++)
                proc_add(root, 400 + i, "probe", 1, dev, NULL);
        for (int i = 0; i < 6; i++)
                proc_add(root, 500 + i, "vmm", 1, vm, NULL);
        ASSERT_OK(kvm_scan_path(root, 1000, &s));
        ASSERT_EQ(s.foreign_vms, 6);
        ASSERT_EQ(s.foreign_dev, 4);
        ASSERT_EQ(s.n_named, KVM_SCAN_NAMED);
        for (size_t i = 0; i < s.n_named; i++)
                ASSERT_TRUE(s.named[i].vm_fds == 1);
        ASSERT_CONTAINS(kvm_scan_describe_foreign(&s, d, sizeof d), ", and 2 more processes");

        /* Nothing there: nothing found; no proc directory: an error, never "no VMs". */
        fresh(root, sizeof root, "d");
        ASSERT_OK(kvm_scan_path(root, 1, &s));
        ASSERT_EQ(s.procs, 0);
        ASSERT_EQ(s.foreign_vms + s.own_vms + s.foreign_dev, 0);
        ASSERT_EQ(kvm_scan_path("/nonexistent/proc", 1, &s), -ENOENT);
}

/* A proc directory showing only pid and its ancestors (links into the real /proc). */
static void link_with_ancestors(const char *root, pid_t pid)
{
        for (int depth = 0; pid > 0 && depth < 64; depth++) {
                char path[600], target[64];
                snprintf(path, sizeof path, "%s/%d", root, (int)pid);
                snprintf(target, sizeof target, "/proc/%d", (int)pid);
                if (symlink(target, path) < 0 && errno != EEXIST)
                        TEST_FAIL("symlink %s: %m", path);
                if (pid == 1)
                        break;
                pid = kvm_test_ppid_of(pid);
        }
}

static int make_vm(int *ret_vcpu_run_size)
{
        int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm;
        ASSERT_TRUE(kvm >= 0);
        vm = ioctl(kvm, KVM_CREATE_VM, 0);
        ASSERT_TRUE(vm >= 0);
        if (ret_vcpu_run_size)
                *ret_vcpu_run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
        close(kvm);
        return vm;
}

static void test_real(void)
{
        int ready[2], go[2], vm;
        char root[600], c;
        pid_t engine;
        KvmScan s;

        ASSERT_OK(pipe2(ready, O_CLOEXEC));
        ASSERT_OK(pipe2(go, O_CLOEXEC));
        engine = fork();
        ASSERT_TRUE(engine >= 0);
        if (engine == 0) {
                /* The "engine": a VM of its own, and a child whose VM lives only in a vCPU mapping. */
                int own;
                pid_t child;

                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(go[1]); /* so that our parent closing its end is the end */
                close(ready[0]);
                own = make_vm(NULL);
                child = fork();
                if (child == 0) {
                        int size, vcpu, cvm;
                        void *run;

                        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                        cvm = make_vm(&size);
                        vcpu = ioctl(cvm, KVM_CREATE_VCPU, 0);
                        run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
                        if (vcpu < 0 || run == MAP_FAILED)
                                _exit(1);
                        close(vcpu);
                        close(cvm);
                        (void)!write(ready[1], "c", 1);
                        (void)!read(go[0], &c, 1);
                        _exit(0);
                }
                (void)!write(ready[1], "e", 1);
                (void)!read(go[0], &c, 1);
                waitpid(child, NULL, 0);
                close(own);
                _exit(0);
        }
        close(ready[1]);
        close(go[0]);
        ASSERT_EQ(read(ready[0], &c, 1), 1);
        ASSERT_EQ(read(ready[0], &c, 1), 1);
        close(ready[0]);
        vm = make_vm(NULL); /* ours, here: foreign to the "engine" */

        snprintf(root, sizeof root, "%s/real", dir);
        ASSERT_OK(mkdir(root, 0755));
        link_with_ancestors(root, getpid());
        link_with_ancestors(root, engine);
        {
                /* The engine's child: the only child of engine. */
                char path[64], buf[64] = "";
                FILE *f;
                snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)engine, (int)engine);
                f = fopen(path, "re");
                ASSERT_TRUE(f);
                ASSERT_TRUE(fgets(buf, sizeof buf, f));
                fclose(f);
                link_with_ancestors(root, (pid_t)atoi(buf));
        }

        ASSERT_OK(kvm_scan_path(root, engine, &s));
        ASSERT_EQ(s.own_vms, 2);
        ASSERT_EQ(s.foreign_vms, 1);
        ASSERT_EQ(s.foreign_procs, 1);
        ASSERT_EQ(s.named[0].pid, getpid());
        ASSERT_EQ(s.named[0].vm_fds, 1);

        /* From our side: all three VMs are ours (the engine is our child). */
        ASSERT_OK(kvm_scan_path(root, getpid(), &s));
        ASSERT_EQ(s.own_vms, 3);
        ASSERT_EQ(s.foreign_vms, 0);

        close(vm);
        close(go[1]);
        ASSERT_EQ(waitpid(engine, NULL, 0), engine);
        ASSERT_EQ(kvm_test_count_kvm_fds(), 0);
}

int main(void)
{
        char cmd[200];

        ASSERT_TRUE(mkdtemp(dir));
        test_fake();
        if (access("/dev/kvm", R_OK | W_OK) == 0)
                test_real();
        else
                printf("no usable /dev/kvm: the scan of real VMs is skipped\n");
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        (void)!system(cmd);
        return 0;
}
