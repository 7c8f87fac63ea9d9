/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The run store and journal: atomic whole-file writes, run ids, a journal
 * that survives torn lines, and a full disk that loses nothing written.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "journal.h"
#include "store.h"
#include "test-util.h"

static char dir[] = "/tmp/hvt-test-store-XXXXXX";

static int count_entries(int dfd)
{
        int n = 0, fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY);
        DIR *d = fdopendir(fd);
        struct dirent *de;

        while ((de = readdir(d)))
                n += de->d_name[0] != '.' || (de->d_name[1] && de->d_name[1] != '.');
        closedir(d);
        return n;
}

static void test_atomic_write(void)
{
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *a = NULL, *b = NULL;

        ASSERT_OK(write_file_atomic_at(fd, "f", "first", 5));
        ASSERT_OK(write_file_atomic_at(fd, "f", "second!", 7));
        ASSERT_OK(read_file_at(fd, "f", 0, &a, NULL));
        ASSERT_STREQ(a, "second!");
        /* No temporary file is left behind. */
        ASSERT_EQ(count_entries(fd), 1);
        ASSERT_EQ(read_file_at(fd, "f", 3, &b, NULL), -EFBIG);
        ASSERT_OK(unlinkat(fd, "f", 0));
}

static void test_run_ids(void)
{
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_strv_free_ char **ids = NULL;
        char id[RUN_ID_MAX], owner[16];
        _cleanup_strv_free_ char **active = NULL;
        pid_t pid;
        int fd;

        ASSERT_OK(store_new_run_id(id));
        ASSERT_TRUE(store_run_id_valid(id));
        ASSERT_TRUE(!store_run_id_valid("../etc"));
        ASSERT_TRUE(!store_run_id_valid(".hidden"));
        ASSERT_TRUE(!store_run_id_valid(""));
        ASSERT_TRUE(!store_run_id_valid("a/b"));
        ASSERT_OK(store_open(dir, &s));
        ASSERT_OK(store_create_run(s, "20260101-000000-aaaa", &fd));
        close(fd);
        ASSERT_OK(store_create_run(s, "20250101-000000-bbbb", &fd));
        close(fd);
        ASSERT_EQ(store_create_run(s, "20250101-000000-bbbb", &fd), -EEXIST);
        ASSERT_EQ(store_create_run(s, "../x", &fd), -EINVAL);
        ASSERT_OK(store_list_runs(s, &ids));
        ASSERT_EQ(strv_length(ids), 2);
        ASSERT_STREQ(ids[0], "20250101-000000-bbbb"); /* oldest first */
        ASSERT_OK(store_list_active(s, &active));
        ASSERT_EQ(strv_length(active), 0);
        strv_free(active);
        ASSERT_OK(store_mark_active(s, ids[1], "cli"));
        ASSERT_OK(store_mark_active(s, ids[0], "daemon"));
        ASSERT_OK(store_list_active(s, &active));
        ASSERT_EQ(strv_length(active), 2);
        ASSERT_STREQ(active[0], ids[0]);
        ASSERT_OK(store_read_active(s, ids[1], owner, &pid));
        ASSERT_STREQ(owner, "cli");
        ASSERT_EQ(pid, getpid());
        ASSERT_OK(store_clear_active(s, ids[1]));
        ASSERT_OK(store_clear_active(s, ids[1])); /* twice is fine */
        strv_free(active);
        ASSERT_OK(store_list_active(s, &active));
        ASSERT_EQ(strv_length(active), 1);
        ASSERT_EQ(store_mark_active(s, "../x", "cli"), -EINVAL);
}

static int collect(json_object *rec, void *userdata)
{
        json_object *arr = userdata;
        json_object_array_add(arr, json_object_get(rec));
        return 0;
}

static void append_n(Journal *j, int from, int n)
{
        for (int i = from; i < from + n; i++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "type", json_object_new_string("test"));
                json_object_object_add(o, "i", json_object_new_int(i));
                json_object_object_add(o, "text", json_object_new_string("quote \" newline \n tab \t unicode é"));
                ASSERT_OK(journal_append(j, o, i % 2 ? JOURNAL_SYNC : JOURNAL_NOSYNC));
                json_object_put(o);
        }
}

static void test_journal(void)
{
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        Journal *j = NULL;
        json_object *arr = json_object_new_array();
        unsigned bad = 99;
        int raw;

        ASSERT_OK(journal_open(fd, "j.jsonl", &j));
        append_n(j, 0, 10);
        ASSERT_EQ(journal_lines(j), 10);
        journal_free(j);

        /* A crash mid-write leaves a torn last line; a reader keeps everything before it. */
        raw = openat(fd, "j.jsonl", O_WRONLY | O_APPEND);
        ASSERT_EQ(write(raw, "{\"type\":\"torn", 13), 13);
        close(raw);
        ASSERT_OK(journal_read(fd, "j.jsonl", collect, arr, &bad));
        ASSERT_EQ(bad, 1);
        ASSERT_EQ(json_object_array_length(arr), 10);
        ASSERT_EQ(json_object_get_int(json_object_object_get(json_object_array_get_idx(arr, 9), "i")), 9);
        ASSERT_STREQ(json_object_get_string(json_object_object_get(json_object_array_get_idx(arr, 3), "text")),
                     "quote \" newline \n tab \t unicode é");
        json_object_put(arr);

        /* Reopened after that crash, appends start on a line of their own: only the torn line is lost. */
        ASSERT_OK(journal_open(fd, "j.jsonl", &j));
        append_n(j, 10, 2);
        journal_free(j);
        arr = json_object_new_array();
        ASSERT_OK(journal_read(fd, "j.jsonl", collect, arr, &bad));
        ASSERT_EQ(bad, 1);
        ASSERT_EQ(json_object_array_length(arr), 12);
        ASSERT_EQ(json_object_get_int(json_object_object_get(json_object_array_get_idx(arr, 10), "i")), 10);
        json_object_put(arr);

        /* A forced reboot after unsynced writes: the file ends in zeros the records never reached. */
        raw = openat(fd, "j.jsonl", O_WRONLY | O_APPEND);
        {
                char zeros[5000] = {};
                ASSERT_EQ(write(raw, zeros, sizeof zeros), (ssize_t)sizeof zeros);
        }
        close(raw);
        ASSERT_OK(journal_open(fd, "j.jsonl", &j));
        append_n(j, 12, 1);
        journal_free(j);
        arr = json_object_new_array();
        ASSERT_OK(journal_read(fd, "j.jsonl", collect, arr, &bad));
        ASSERT_EQ(bad, 1); /* still only the torn line */
        ASSERT_EQ(json_object_array_length(arr), 13);
        ASSERT_EQ(json_object_get_int(json_object_object_get(json_object_array_get_idx(arr, 12), "i")), 12);
        json_object_put(arr);
        ASSERT_OK(unlinkat(fd, "j.jsonl", 0));
}

/* A full disk: the failed line is cut back off, so every later line is whole. */
static void test_journal_disk_full(void)
{
        char mnt[] = "/tmp/hvt-test-full-XXXXXX";
        _cleanup_close_ int fd = -1;
        Journal *j = NULL;
        json_object *arr, *big;
        char *filler;
        unsigned bad = 99;
        int r = 0, ok_lines = 0;

        if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0) {
                printf("disk-full part skipped: needs root to mount a small tmpfs\n");
                return;
        }
        ASSERT_OK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
        ASSERT_TRUE(mkdtemp(mnt));
        ASSERT_OK(mount("tmpfs", mnt, "tmpfs", 0, "size=64k"));
        fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_OK(journal_open(fd, "j.jsonl", &j));

        filler = malloc(1000);
        memset(filler, 'x', 999);
        filler[999] = '\0';
        big = json_object_new_object();
        json_object_object_add(big, "type", json_object_new_string("filler"));
        json_object_object_add(big, "x", json_object_new_string(filler));
        while ((r = journal_append(j, big, JOURNAL_NOSYNC)) >= 0)
                ok_lines++;
        ASSERT_EQ(r, -ENOSPC);
        ASSERT_TRUE(ok_lines > 10);
        journal_free(j);

        arr = json_object_new_array();
        ASSERT_OK(journal_read(fd, "j.jsonl", collect, arr, &bad));
        ASSERT_EQ(bad, 0); /* no torn line */
        ASSERT_EQ((int)json_object_array_length(arr), ok_lines);
        json_object_put(arr);
        json_object_put(big);
        free(filler);
        umount(mnt);
        rmdir(mnt);
}

int main(void)
{
        ASSERT_TRUE(mkdtemp(dir));
        test_atomic_write();
        test_run_ids();
        test_journal();
        test_journal_disk_full();
        {
                char cmd[128];
                snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
                ASSERT_EQ(system(cmd), 0);
        }
        return 0;
}
