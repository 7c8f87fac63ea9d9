/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The memslot action on the real /dev/kvm: every kind of operation happens
 * while the vCPUs run, the guest's touches of removed slots come back as
 * MMIO exits, logged slots report dirty pages, and the action's end-of-step
 * check (every write lands in the memory of the slot now at that GPA, every
 * touch of an empty GPA is an MMIO exit) holds after the churn.
 */
#include "kvm-test.h"
#include "profile.h"
#include "worker.h"

extern const ActionType action_memslot;

enum { CHURNED, KVM_GONE, ENV_ERROR, FAILURE };
enum { M_OPS, M_CREATES, M_MOVES, M_DELETES, M_DIRTY_TOGGLES, M_DIRTY_PAGES, M_EXITS, M_MMIO_EXITS };

static Profile *profile_of(const char *keys)
{
        char text[1024];
        ConfErrors errs = {};
        Profile *p = NULL;

        snprintf(text, sizeof text, "[Profile]\nDuration=1min\n[Actor slots]\nAction=memslot\n%s\n", keys);
        if (profile_parse_text("test.ini", text, strlen(text), &p, &errs) < 0) {
                conf_errors_print(&errs, stderr);
                TEST_FAIL("profile did not parse: %s", keys);
        }
        return p;
}

static void test_churn(void)
{
        Profile *p = profile_of("VCPUs=2\nMemorySlots=6\nSlotSize=64K\nTouchStride=4K\nRun=30ms\nOpInterval=0..100us");
        Worker *w = NULL;
        uint64_t m[ACTION_METRICS_MAX] = {};
        StepResult r;

        ASSERT_OK(worker_new_local(&p->actors[0], 21, 0, &w));
        for (int i = 0; i < 8; i++) {
                ASSERT_OK(worker_local_step(w, &r));
                if (r.outcome != CHURNED)
                        TEST_FAIL("%s: %s", action_memslot.outcomes[r.outcome].name, r.detail);
                for (unsigned k = 0; k < ACTION_METRICS_MAX; k++)
                        m[k] += r.metrics[k];
        }
        printf("memslot churn, 8 steps: ops %" PRIu64 " creates %" PRIu64 " moves %" PRIu64 " deletes %" PRIu64
               " dirty toggles %" PRIu64 " dirty pages %" PRIu64 " exits %" PRIu64 " mmio %" PRIu64 "\n",
               (uint64_t)m[M_OPS], (uint64_t)m[M_CREATES], (uint64_t)m[M_MOVES], (uint64_t)m[M_DELETES],
               (uint64_t)m[M_DIRTY_TOGGLES], (uint64_t)m[M_DIRTY_PAGES], (uint64_t)m[M_EXITS], (uint64_t)m[M_MMIO_EXITS]);
        /*
         * Every kind of operation happened, the guest ran whole loops (OUT exits besides the MMIO
         * ones) and touched removed slots. Dirty pages are counted but not required here: on a
         * loaded machine the vCPU threads may get no CPU while a slot logs (test-kvm-util checks
         * the dirty log exactly).
         */
        ASSERT_TRUE(m[M_CREATES] > 0 && m[M_MOVES] > 0 && m[M_DELETES] > 0 && m[M_DIRTY_TOGGLES] > 0);
        ASSERT_TRUE(m[M_EXITS] > m[M_MMIO_EXITS]);
        ASSERT_TRUE(m[M_MMIO_EXITS] > 0);
        worker_free_local(w);
        profile_free(p);
}

/* Only moves (and the creates they need): the verification holds after many KVM_MR_MOVEs. */
static void test_moves_only(void)
{
        Profile *p = profile_of("VCPUs=1\nMemorySlots=3\nSlotSize=16K\nTouchStride=4K\nRun=20ms\nOps=move:10 create:1");
        Worker *w = NULL;
        StepResult r;

        ASSERT_OK(worker_new_local(&p->actors[0], 22, 0, &w));
        for (int i = 0; i < 4; i++) {
                ASSERT_OK(worker_local_step(w, &r));
                if (r.outcome != CHURNED)
                        TEST_FAIL("%s: %s", action_memslot.outcomes[r.outcome].name, r.detail);
                ASSERT_TRUE(r.metrics[M_MOVES] > 0);
                ASSERT_EQ(r.metrics[M_DELETES], 0);
        }
        worker_free_local(w);
        profile_free(p);
}

static void test_limits(void)
{
        Profile *p = profile_of("MemorySlots=40000\nSlotSize=4K");
        char *reason = NULL;

        ASSERT_TRUE(action_memslot.check_host(p->actors[0].params, &reason) < 0);
        ASSERT_CONTAINS(reason, "KVM_CAP_NR_MEMSLOTS");
        free(reason);
        profile_free(p);
}

int main(void)
{
        kvm_test_require();
        test_churn();
        test_moves_only();
        test_limits();
        kvm_test_assert_clean();
        return 0;
}
