/* fuzz_record.c - record files as readers, verify, merging and writers meet them: the two
 * header copies, the class counts against the labels, block checksums, truncation, and a
 * writer that appends to (or rolls back) whatever the input holds. A writer must never lose a
 * sample the reader could read before: after an append the file reads back the samples it had
 * plus the new one. */
#include "data/mt_record.h"
#include "data/mt_record_merge.h"
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_READ 4096

static void read_all(mt_record_file *f) {
    int64_t bad[8], nbad = 0;
    mt_record_verify(f, bad, 8, &nbad, NULL);
    mt_record_sample s;
    for (int64_t i = 0; i < f->count && i < MAX_READ; i++)
        if (mt_record_read(f, i, &s) == MT_OK && mt_record_class_of(s.label) < 0) abort();
}

/* every sample of the file through a merge plan into a fresh file */
static void merge(mt_record_file *f, const char *out) {
    int64_t quota[MT_NUM_CLASSES] = {-1, -1, -1, -1};
    int group[MT_NUM_CLASSES] = {0, 0, 0, 0};
    mt_merge_plan *p;
    if (mt_merge_plan_new(&p, &f, 1, quota, group, 1, 1, 7) != MT_OK) return;
    mt_record_writer_opts o = {f->size, 0, 1, 0, 0};
    mt_record_writer *w;
    if (mt_record_writer_open(&w, out, &o) == MT_OK) {
        int64_t copied;
        if (mt_merge_plan_copy(p, 0, w, MAX_READ, &copied) == MT_OK) mt_record_writer_close(w);
        else mt_record_writer_free(w);
    }
    mt_merge_plan_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    const char *path = fuzz_file(data, n, ".rec");
    char out[600];
    snprintf(out, sizeof out, "%s.out", path);
    mt_record_file *f;
    int64_t before = -1;
    if (mt_record_open(&f, path, 0) == MT_OK) {
        before = f->count;
        read_all(f);
        merge(f, out);
        mt_record_file_release(f);
        unlink(out);
    }
    /* append one sample; what was readable stays readable */
    mt_record_writer *w;
    mt_record_writer_opts o = {0, 0, 0, 0, 0};
    if (mt_record_writer_open(&w, path, &o) == MT_OK) {
        int size = mt_record_writer_size(w);
        uint8_t *pixels = (uint8_t *)calloc((size_t)size * size * 3, 1);
        mt_record_sample s;
        memset(&s, 0, sizeof s);
        s.pixels = pixels;
        s.label = 1;
        mt_status st = mt_record_append(w, &s);
        if (st == MT_OK) st = mt_record_writer_close(w);
        else mt_record_writer_free(w);
        free(pixels);
        if (st == MT_OK && before >= 0) {
            if (mt_record_open(&f, path, 0) != MT_OK) abort();
            if (f->count != before + 1) abort();
            read_all(f);
            mt_record_file_release(f);
        }
    }
    unlink(path);
    return 0;
}
