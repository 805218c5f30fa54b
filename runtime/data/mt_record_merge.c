/* mt_record_merge.c - sampling classes from record files without replacement into shuffled
 * outputs (see mt_record_merge.h). A sample is named by a 64-bit id: file << 40 | index. */
#include "data/mt_record_merge.h"

#include "core/mt_rng.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define ID(file, index) (((uint64_t)(file) << 40) | (uint64_t)(index))
#define ID_FILE(id) ((int)((id) >> 40))
#define ID_INDEX(id) ((int64_t)((id) & (((uint64_t)1 << 40) - 1)))
#define MAX_GROUPS MT_NUM_CLASSES

struct mt_merge_plan {
    mt_record_file **files;
    int nfiles;
    int size;
    int64_t available[MT_NUM_CLASSES];
    int ngroups;
    uint64_t *order[MAX_GROUPS]; /* the samples of each group, in output order */
    int64_t len[MAX_GROUPS], done[MAX_GROUPS];
};

void mt_merge_plan_free(mt_merge_plan *p) {
    if (!p) return;
    for (int i = 0; i < p->nfiles; i++) mt_record_file_release(p->files[i]);
    free(p->files);
    for (int g = 0; g < MAX_GROUPS; g++) free(p->order[g]);
    free(p);
}

/* Fisher-Yates over a[0..n): a[0..k) becomes a uniform sample of k of them, in random order. */
static void partial_shuffle(uint64_t *a, int64_t n, int64_t k, mt_rng *rng) {
    for (int64_t i = 0; i < k && i < n - 1; i++) {
        int64_t j = mt_rng_range(rng, i, n);
        uint64_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* The ids of class c across the files (scanning the labels of mixed files). */
static mt_status class_pool(mt_merge_plan *p, int c, uint64_t **out, int64_t *n) {
    *out = NULL;
    *n = 0;
    uint64_t *ids = (uint64_t *)malloc((size_t)(p->available[c] > 0 ? p->available[c] : 1) * 8);
    if (!ids) return mt_fail(MT_ERR_OOM, "merge: out of memory for %" PRId64 " samples", p->available[c]);
    int64_t k = 0;
    int label = mt_record_label_of(c);
    for (int fi = 0; fi < p->nfiles; fi++) {
        mt_record_file *f = p->files[fi];
        if (f->class_count[c] == 0) continue;
        if (f->class_count[c] == f->count) { /* one class: no scan */
            for (int64_t i = 0; i < f->count; i++) ids[k++] = ID(fi, i);
            continue;
        }
        for (int64_t i = 0; i < f->count; i++) {
            if (i % f->block_samples == 0) {
                mt_status st = mt_record_check(f, i);
                if (st != MT_OK) {
                    free(ids);
                    return st;
                }
            }
            if (mt_record_label_at(mt_record_ptr(f, i), f->size) == label) {
                if (k == p->available[c]) {
                    free(ids);
                    return mt_fail(MT_ERR_FORMAT, "%s: holds more samples of label %d than its "
                                   "header counts", f->path, label);
                }
                ids[k++] = ID(fi, i);
            }
        }
    }
    if (k != p->available[c]) {
        free(ids);
        return mt_fail(MT_ERR_FORMAT, "merge: the inputs hold %" PRId64 " samples of label %d, "
                       "their headers count %" PRId64, k, label, p->available[c]);
    }
    *out = ids;
    *n = k;
    return MT_OK;
}

mt_status mt_merge_plan_new(mt_merge_plan **out, mt_record_file *const *files, int nfiles,
                            const int64_t quota[MT_NUM_CLASSES], const int group[MT_NUM_CLASSES],
                            int ngroups, int shuffle, uint64_t seed) {
    *out = NULL;
    if (nfiles < 1) return mt_fail(MT_ERR_ARG, "merge: no input files");
    if (ngroups < 1 || ngroups > MAX_GROUPS)
        return mt_fail(MT_ERR_ARG, "merge: %d outputs (1..%d)", ngroups, MAX_GROUPS);
    for (int i = 0; i < nfiles; i++) {
        if (files[i]->size != files[0]->size)
            return mt_fail(MT_ERR_FORMAT, "merge: %s holds %dx%d samples but %s holds %dx%d",
                           files[i]->path, files[i]->size, files[i]->size, files[0]->path,
                           files[0]->size, files[0]->size);
        if (files[i]->count >= ((int64_t)1 << 40) || i >= (1 << 20))
            return mt_fail(MT_ERR_ARG, "merge: too many inputs");
    }
    mt_merge_plan *p = (mt_merge_plan *)calloc(1, sizeof *p);
    if (!p) return mt_fail(MT_ERR_OOM, "merge: out of memory");
    p->files = (mt_record_file **)calloc((size_t)nfiles, sizeof *p->files);
    if (!p->files) {
        free(p);
        return mt_fail(MT_ERR_OOM, "merge: out of memory");
    }
    for (int i = 0; i < nfiles; i++) {
        p->files[i] = files[i];
        mt_record_file_retain(files[i]);
        for (int c = 0; c < MT_NUM_CLASSES; c++) p->available[c] += files[i]->class_count[c];
    }
    p->nfiles = nfiles;
    p->size = files[0]->size;
    p->ngroups = ngroups;
    mt_status st = MT_OK;
    int64_t take[MT_NUM_CLASSES];
    for (int c = 0; c < MT_NUM_CLASSES && st == MT_OK; c++) {
        if (group[c] < -1 || group[c] >= ngroups)
            st = mt_fail(MT_ERR_ARG, "merge: class %d goes to output %d of %d", c, group[c], ngroups);
        take[c] = group[c] < 0 ? 0 : quota[c] < 0 ? p->available[c] : quota[c];
        if (st == MT_OK && take[c] > p->available[c])
            st = mt_fail(MT_ERR_ARG, "merge: %" PRId64 " samples of label %d asked, %" PRId64
                         " exist (sampling is without replacement)", take[c], mt_record_label_of(c),
                         p->available[c]);
        if (group[c] >= 0) p->len[group[c]] += take[c];
    }
    for (int g = 0; g < ngroups && st == MT_OK; g++) {
        p->order[g] = (uint64_t *)malloc((size_t)(p->len[g] > 0 ? p->len[g] : 1) * 8);
        if (!p->order[g]) st = mt_fail(MT_ERR_OOM, "merge: out of memory");
    }
    mt_rng rng;
    mt_rng_seed(&rng, seed, 0x6d65726765ull);
    int64_t filled[MAX_GROUPS] = {0};
    for (int c = 0; c < MT_NUM_CLASSES && st == MT_OK; c++) {
        if (take[c] == 0) continue;
        uint64_t *pool;
        int64_t n;
        st = class_pool(p, c, &pool, &n);
        if (st != MT_OK) break;
        if (take[c] < n) partial_shuffle(pool, n, take[c], &rng);
        int g = group[c];
        memcpy(p->order[g] + filled[g], pool, (size_t)take[c] * 8);
        filled[g] += take[c];
        free(pool);
    }
    if (st == MT_OK && shuffle)
        for (int g = 0; g < ngroups; g++) partial_shuffle(p->order[g], p->len[g], p->len[g], &rng);
    if (st != MT_OK) {
        mt_merge_plan_free(p);
        return st;
    }
    *out = p;
    return MT_OK;
}

void mt_merge_plan_available(const mt_merge_plan *p, int64_t avail[MT_NUM_CLASSES]) {
    memcpy(avail, p->available, sizeof p->available);
}

int64_t mt_merge_plan_group_size(const mt_merge_plan *p, int g) {
    return g >= 0 && g < p->ngroups ? p->len[g] : 0;
}

int64_t mt_merge_plan_group_done(const mt_merge_plan *p, int g) {
    return g >= 0 && g < p->ngroups ? p->done[g] : 0;
}

mt_status mt_merge_plan_copy(mt_merge_plan *p, int g, mt_record_writer *w, int64_t max,
                             int64_t *copied) {
    *copied = 0;
    if (g < 0 || g >= p->ngroups) return mt_fail(MT_ERR_ARG, "merge: no output %d", g);
    if (mt_record_writer_size(w) != p->size)
        return mt_fail(MT_ERR_FORMAT, "merge: %s takes %dx%d samples, the inputs hold %dx%d",
                       mt_record_writer_path(w), mt_record_writer_size(w),
                       mt_record_writer_size(w), p->size, p->size);
    while (*copied < max && p->done[g] < p->len[g]) {
        uint64_t id = p->order[g][p->done[g]];
        mt_record_file *f = p->files[ID_FILE(id)];
        int64_t i = ID_INDEX(id);
        MT_TRY(mt_record_check(f, i));
        MT_TRY(mt_record_append_raw(w, mt_record_ptr(f, i)));
        p->done[g]++;
        (*copied)++;
    }
    return MT_OK;
}
