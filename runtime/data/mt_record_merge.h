/*
 * mt_record_merge.h - building a net's training set from sample files (the
 * seed's gen_imglist step; docs/design.md, 'Training sets and sampling
 * ratios'): take so many samples of each class
 * from a set of record files, WITHOUT replacement, and copy them, shuffled,
 * into one output per group of classes (PNet: every class into one file;
 * RNet and ONet: one file per class).
 *
 * A plan is made first (which samples go where, from the seed), then copied
 * in pieces so that the caller can show progress. The input files may hold
 * one class each (their header counts say so and nothing is scanned) or a
 * mix (their labels are read, every block checked).
 *
 * Ownership: a plan retains its input files and is freed with
 * mt_merge_plan_free. Errors: MT_ERR_ARG (a quota above what exists, bad
 * groups), MT_ERR_FORMAT (a damaged input: file, sample and block named),
 * MT_ERR_IO / MT_ERR_OOM.
 */
#ifndef MT_RECORD_MERGE_H
#define MT_RECORD_MERGE_H

#include "data/mt_record.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_merge_plan mt_merge_plan;

/* quota[c]: samples of class c to take (-1: all of them); group[c]: the output
 * (0 .. ngroups - 1) that class c goes to, -1 to leave it out. Within a group
 * the samples are shuffled when shuffle is 1, else in class then file order. */
mt_status mt_merge_plan_new(mt_merge_plan **out, mt_record_file *const *files, int nfiles,
                            const int64_t quota[MT_NUM_CLASSES], const int group[MT_NUM_CLASSES],
                            int ngroups, int shuffle, uint64_t seed);

/* Samples of each class in the inputs. */
void mt_merge_plan_available(const mt_merge_plan *p, int64_t avail[MT_NUM_CLASSES]);

/* Samples planned for group g, and those already copied. */
int64_t mt_merge_plan_group_size(const mt_merge_plan *p, int g);
int64_t mt_merge_plan_group_done(const mt_merge_plan *p, int g);

/* Copies up to max more samples of group g into w (same sample side), byte for
 * byte; *copied receives how many (0 once the group is done). */
mt_status mt_merge_plan_copy(mt_merge_plan *p, int g, mt_record_writer *w, int64_t max,
                             int64_t *copied);

void mt_merge_plan_free(mt_merge_plan *p);

#ifdef __cplusplus
}
#endif

#endif
