/*
 * lmt_record.c - the Lua binding of record files (mtcnn.record).
 *
 *   core.record.open(path [, size]) -> file | nil, message
 *   core.record.writer(path, {size =, block =, replace =, keep =}) -> writer | nil, message
 *   core.record.merge_plan(files, {quota =, group =, groups =, shuffle =, seed =}) -> plan
 *
 * file: f.path, f.size, f.count; f:info(), f:get(i), f:image(i), f:labels(),
 * f:verify([max]), f:close(). Indices are 1-based. A sample is a table
 * {index, image (an S x S mtcnn.Image), label, target {4}, landmarks {10},
 * box {4}, iou, face (1-based, 0 = none), aug, source}.
 *
 * writer: w:add(sample), w:add_samples(result [, source]) (a result of
 * mtcnn.sample), w:commit(), w:close(), w:abort(), w:count(), w:committed(),
 * w:counts(), w.path. A writer dropped without close keeps only what was
 * committed; as a to-be-closed variable it commits when the scope ends
 * normally and discards the uncommitted samples when it ends by an error.
 *
 * Misuse (bad labels, sizes, arguments) raises; file problems (I/O, damaged
 * or truncated files) return nil, message naming the file (and sample).
 */
#include "lmt.h"

#include "image/mt_image.h"
#include "data/mt_record.h"
#include "data/mt_record_merge.h"

#include <string.h>

#define MTL_RECORD_FILE "mtcnn.RecordFile"
#define MTL_RECORD_WRITER "mtcnn.RecordWriter"
#define MTL_MERGE_PLAN "mtcnn.RecordMergePlan"

static const char *const CLASS_NAMES[MT_NUM_CLASSES] = {"positive", "negative", "part", "landmark"};

/* ---- files ------------------------------------------------------------------------------- */

static void release_file(void *f) { mt_record_file_release((mt_record_file *)f); }

const mtL_class mtL_RecordFile = {MTL_RECORD_FILE, "record file", "closed", release_file, "close"};

mt_record_file *mtL_checkrecordfile(lua_State *L, int idx) {
    return (mt_record_file *)mtL_checkbox(L, idx, &mtL_RecordFile);
}

/* record.open(path [, size]) */
static int l_open(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    lua_Integer size = luaL_optinteger(L, 2, 0);
    mtL_box *box = (mtL_box *)mtL_newbox(L, &mtL_RecordFile, sizeof *box, 0);
    mt_record_file *f;
    mt_status st = mt_record_open(&f, path, (int)size);
    if (st != MT_OK) return mtL_softfail(L, st);
    box->obj = f;
    return 1;
}

static int64_t check_index(lua_State *L, int idx, const mt_record_file *f) {
    lua_Integer i = luaL_checkinteger(L, idx);
    if (i < 1 || i > f->count)
        mtL_errorf(L, "%s: sample %lld out of range 1..%lld", f->path, (long long)i, (long long)f->count);
    return (int64_t)i - 1;
}

/* Pushes n (at most 10) floats as one row. */
static void push_numbers(lua_State *L, const float *v, int n) {
    double d[10];
    for (int i = 0; i < n; i++) d[i] = v[i];
    mtL_pushrows(L, d, 1, n, MTL_FORM_ROW);
}

/* Pushes a new width x height image (pixels: its bytes, or NULL for black). */
static mt_image *push_image(lua_State *L, int width, int height, const uint8_t *pixels) {
    mtL_box *box = (mtL_box *)mtL_newbox(L, &mtL_Image, sizeof *box, 0);
    mt_image *im;
    MTL_CHECK(L, mt_image_new(&im, width, height));
    box->obj = im;
    if (pixels) memcpy(im->data, pixels, mt_image_bytes(width, height));
    return im;
}

static void push_sample(lua_State *L, const mt_record_sample *s, int size, int64_t index) {
    lua_createtable(L, 0, 11);
    lua_pushinteger(L, (lua_Integer)index + 1);
    lua_setfield(L, -2, "index");
    push_image(L, size, size, s->pixels);
    lua_setfield(L, -2, "image");
    lua_pushinteger(L, s->label);
    lua_setfield(L, -2, "label");
    push_numbers(L, s->target, 4);
    lua_setfield(L, -2, "target");
    push_numbers(L, s->landmark, 10);
    lua_setfield(L, -2, "landmarks");
    push_numbers(L, s->box, 4);
    lua_setfield(L, -2, "box");
    lua_pushnumber(L, s->iou);
    lua_setfield(L, -2, "iou");
    lua_pushinteger(L, s->face + 1);
    lua_setfield(L, -2, "face");
    lua_pushinteger(L, s->aug);
    lua_setfield(L, -2, "aug");
    lua_pushstring(L, s->source);
    lua_setfield(L, -2, "source");
}

/* f:get(i) -> sample | nil, message */
static int f_get(lua_State *L) {
    mt_record_file *f = mtL_checkrecordfile(L, 1);
    int64_t i = check_index(L, 2, f);
    mt_record_sample s;
    mt_status st = mt_record_read(f, i, &s);
    if (st != MT_OK) return mtL_softfail(L, st);
    push_sample(L, &s, f->size, i);
    return 1;
}

/* f:image(i) -> Image | nil, message */
static int f_image(lua_State *L) {
    mt_record_file *f = mtL_checkrecordfile(L, 1);
    int64_t i = check_index(L, 2, f);
    mt_status st = mt_record_check(f, i);
    if (st != MT_OK) return mtL_softfail(L, st);
    push_image(L, f->size, f->size, mt_record_ptr(f, i));
    return 1;
}

/* f:labels() -> [count] tensor of labels | nil, message (every block checked) */
static int f_labels(lua_State *L) {
    mt_record_file *f = mtL_checkrecordfile(L, 1);
    mt_tensor *t;
    int64_t shape[1] = {f->count};
    MTL_CHECK(L, mt_tensor_new(&t, MT_CPU, 1, shape));
    mtL_pushtensor(L, t);
    float *d = mt_tensor_data(t);
    for (int64_t i = 0; i < f->count; i++) {
        if (i % f->block_samples == 0) {
            mt_status st = mt_record_check(f, i);
            if (st != MT_OK) return mtL_softfail(L, st);
        }
        d[i] = (float)mt_record_label_at(mt_record_ptr(f, i), f->size);
    }
    return 1;
}

static void push_counts(lua_State *L, const int64_t *counts) {
    lua_createtable(L, 0, MT_NUM_CLASSES);
    for (int c = 0; c < MT_NUM_CLASSES; c++) {
        lua_pushinteger(L, (lua_Integer)counts[c]);
        lua_setfield(L, -2, CLASS_NAMES[c]);
    }
}

/* f:info() -> header table */
static int f_info(lua_State *L) {
    mt_record_file *f = mtL_checkrecordfile(L, 1);
    lua_createtable(L, 0, 10);
    lua_pushstring(L, f->path);
    lua_setfield(L, -2, "path");
    lua_pushinteger(L, f->version);
    lua_setfield(L, -2, "version");
    lua_pushinteger(L, f->size);
    lua_setfield(L, -2, "size");
    lua_pushinteger(L, (lua_Integer)f->count);
    lua_setfield(L, -2, "count");
    lua_pushinteger(L, (lua_Integer)f->record_bytes);
    lua_setfield(L, -2, "record_bytes");
    lua_pushinteger(L, (lua_Integer)f->block_samples);
    lua_setfield(L, -2, "block_samples");
    lua_pushinteger(L, (lua_Integer)f->nblocks);
    lua_setfield(L, -2, "blocks");
    lua_pushinteger(L, (lua_Integer)f->sequence);
    lua_setfield(L, -2, "sequence");
    lua_pushinteger(L, (lua_Integer)f->map_bytes);
    lua_setfield(L, -2, "bytes");
    push_counts(L, f->class_count);
    lua_setfield(L, -2, "counts");
    return 1;
}

/* f:verify([max]) -> {blocks, nbad, bad = {{block, first, last}, ...} (1-based samples),
 * labels = the class counts of the labels in the good blocks, invalid_labels,
 * damaged_header = the damaged header copy (1 or 2) or nil, extra_bytes after the commit} */
static int f_verify(lua_State *L) {
    mt_record_file *f = mtL_checkrecordfile(L, 1);
    lua_Integer max = luaL_optinteger(L, 2, 1000);
    if (max < 0) max = 0;
    if (max > 1000000) max = 1000000;
    int64_t *bad = (int64_t *)mtL_alloc(L, max, sizeof(int64_t));
    int64_t nbad, labels[MT_NUM_CLASSES + 1];
    MTL_CHECK(L, mt_record_verify(f, bad, max, &nbad, labels));
    lua_createtable(L, 0, 7);
    push_counts(L, labels);
    lua_setfield(L, -2, "labels");
    lua_pushinteger(L, (lua_Integer)labels[MT_NUM_CLASSES]);
    lua_setfield(L, -2, "invalid_labels");
    if (f->damaged_copy >= 0) {
        lua_pushinteger(L, f->damaged_copy + 1);
        lua_setfield(L, -2, "damaged_header");
    }
    lua_pushinteger(L, (lua_Integer)f->extra_bytes);
    lua_setfield(L, -2, "extra_bytes");
    lua_pushinteger(L, (lua_Integer)f->nblocks);
    lua_setfield(L, -2, "blocks");
    lua_pushinteger(L, (lua_Integer)nbad);
    lua_setfield(L, -2, "nbad");
    lua_createtable(L, (int)(nbad < max ? nbad : max), 0);
    for (int64_t k = 0; k < nbad && k < max; k++) {
        int64_t first, last;
        mt_record_block_range(f, bad[k], &first, &last);
        lua_createtable(L, 0, 3);
        lua_pushinteger(L, (lua_Integer)bad[k]);
        lua_setfield(L, -2, "block");
        lua_pushinteger(L, (lua_Integer)first + 1);
        lua_setfield(L, -2, "first");
        lua_pushinteger(L, (lua_Integer)last + 1);
        lua_setfield(L, -2, "last");
        lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    lua_setfield(L, -2, "bad");
    return 1;
}

static int f_tostring(lua_State *L) {
    const mt_record_file *f = ((mtL_box *)luaL_checkudata(L, 1, MTL_RECORD_FILE))->obj;
    if (!f) lua_pushliteral(L, "mtcnn.RecordFile (closed)");
    else
        lua_pushfstring(L, "mtcnn.RecordFile(%s: %I samples of %dx%d)", f->path, (lua_Integer)f->count,
                        f->size, f->size);
    return 1;
}

/* f.path, f.size, f.count */
static int f_path(lua_State *L) {
    lua_pushstring(L, mtL_checkrecordfile(L, 1)->path);
    return 1;
}

static int f_size(lua_State *L) {
    lua_pushinteger(L, mtL_checkrecordfile(L, 1)->size);
    return 1;
}

static int f_count(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)mtL_checkrecordfile(L, 1)->count);
    return 1;
}

static const luaL_Reg file_methods[] = {
    {"get", f_get},         {"image", f_image}, {"labels", f_labels}, {"info", f_info},
    {"verify", f_verify},   {NULL, NULL},
};

/* ---- writers ----------------------------------------------------------------------------- */

static void release_writer(void *w) { mt_record_writer_free((mt_record_writer *)w); }

/* Released without a commit (w:abort(), __gc); w:close() and __close commit. */
static const mtL_class writer_class = {MTL_RECORD_WRITER, "record writer", "closed", release_writer,
                                       "abort"};

static mt_record_writer *checkwriter(lua_State *L, int idx) {
    return (mt_record_writer *)mtL_checkbox(L, idx, &writer_class);
}

mt_record_writer *mtL_checkrecordwriter(lua_State *L, int idx) { return checkwriter(L, idx); }

/* record.writer(path, {size, block, replace, keep}) */
static int l_writer(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    mt_record_writer_opts o;
    o.size = (int)mtL_optfieldinteger(L, 2, "size", 0);
    o.block_samples = (int)mtL_optfieldinteger(L, 2, "block", 0);
    o.replace = mtL_optfieldboolean(L, 2, "replace", 0);
    o.keep = (int64_t)mtL_optfieldinteger(L, 2, "keep", LUA_MININTEGER);
    o.rollback = o.keep != LUA_MININTEGER; /* keep = n: roll an existing file back to n samples */
    mtL_box *box = (mtL_box *)mtL_newbox(L, &writer_class, sizeof *box, 0);
    mt_record_writer *w;
    mt_status st = mt_record_writer_open(&w, path, &o);
    if (st != MT_OK) return mtL_softfail(L, st);
    box->obj = w;
    return 1;
}

/* Reads n floats from field `name` of the table at idx (a table or a tensor); zeros when absent. */
static void field_floats(lua_State *L, int idx, const char *name, float *out, int n) {
    memset(out, 0, (size_t)n * sizeof(float));
    if (lua_getfield(L, idx, name) != LUA_TNIL) {
        lua_pushfstring(L, "record: sample field '%s'", name);
        const char *what = lua_tostring(L, -1);
        mtL_rows r = mtL_checkrowsx(L, -2, n, MTL_ROWS_ONE | MTL_ROWS_EXACT, NULL, what);
        for (int i = 0; i < n; i++) out[i] = (float)r.d[i];
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
}

/* Status of a writer call: nil, message for I/O; raise for misuse. */
static int writer_result(lua_State *L, mt_status st) {
    if (st != MT_OK) return mtL_softfail(L, st);
    lua_pushboolean(L, 1);
    return 1;
}

/* w:add(sample) -> true | nil, message */
static int w_add(lua_State *L) {
    mt_record_writer *w = checkwriter(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int S = mt_record_writer_size(w);
    mt_record_sample s;
    memset(&s, 0, sizeof s);
    lua_getfield(L, 2, "image");
    mt_image *im = mtL_testimage(L, -1);
    if (im) {
        if (im->width != S || im->height != S)
            return mtL_errorf(L, "%s: sample image is %dx%d, the file holds %dx%d",
                              mt_record_writer_path(w), im->width, im->height, S, S);
        s.pixels = im->data;
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        size_t n;
        const char *p = lua_tolstring(L, -1, &n);
        if (n != mt_image_bytes(S, S))
            return mtL_errorf(L, "%s: sample pixels are %lld bytes, %dx%dx3 = %lld expected",
                              mt_record_writer_path(w), (long long)n, S, S, (long long)mt_image_bytes(S, S));
        s.pixels = (const uint8_t *)p;
    } else {
        return mtL_errorf(L, "record: sample.image must be an mtcnn.Image or a string of pixels");
    }
    /* the image stays on the stack (anchored) until the append */
    lua_getfield(L, 2, "label");
    int ok;
    lua_Integer label = lua_tointegerx(L, -1, &ok);
    if (!ok) return mtL_errorf(L, "record: sample.label must be 1, 0, -1 or -2");
    lua_pop(L, 1);
    if (mt_record_class_of((int)label) < 0)
        return mtL_errorf(L, "record: label %lld is not one of 1, 0, -1, -2", (long long)label);
    s.label = (int)label;
    field_floats(L, 2, "target", s.target, 4);
    field_floats(L, 2, "landmarks", s.landmark, 10);
    field_floats(L, 2, "box", s.box, 4);
    s.aug = (int)mtL_optfieldinteger(L, 2, "aug", 0) & 0xff;
    s.face = (int32_t)(mtL_optfieldinteger(L, 2, "face", 0) - 1);
    s.iou = (float)mtL_optfieldnumber(L, 2, "iou", 0);
    mt_record_set_source(&s, mtL_optfieldstring(L, 2, "source", ""));
    return writer_result(L, mt_record_append(w, &s));
}

/* A CPU contiguous [n] or [n, cols] tensor from field name of the result at idx. */
static const float *result_column(lua_State *L, int idx, const char *name, int64_t n, int cols) {
    lua_getfield(L, idx, name);
    mt_tensor *t = mtL_testtensor(L, -1);
    if (!t || mt_tensor_device(t) != MT_CPU || !mt_tensor_is_contiguous(t) ||
        mt_tensor_numel(t) != n * cols)
        mtL_errorf(L, "record: result.%s must be a contiguous cpu tensor of %lld values", name,
                   (long long)(n * cols));
    lua_pop(L, 1); /* the result table keeps it alive */
    return mt_tensor_data(t);
}

/* w:add_samples(result [, source]) -> true | nil, message: every sample of an mtcnn.sample
 * result; source is one string for all, or a table of strings (one per sample). */
static int w_add_samples(lua_State *L) {
    mt_record_writer *w = checkwriter(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int S = mt_record_writer_size(w);
    lua_getfield(L, 2, "size");
    if (lua_tointeger(L, -1) != S)
        return mtL_errorf(L, "%s: the samples are %lldx%lld, the file holds %dx%d",
                          mt_record_writer_path(w), (long long)lua_tointeger(L, -1),
                          (long long)lua_tointeger(L, -1), S, S);
    lua_pop(L, 1);
    lua_getfield(L, 2, "count");
    int64_t n = (int64_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 2, "images");
    mt_image *strip = mtL_testimage(L, -1);
    if (!strip || strip->width != S || (int64_t)strip->height != n * S)
        return mtL_errorf(L, "record: result.images must be a %dx%lld strip image", S, (long long)(n * S));
    lua_pop(L, 1);
    const float *labels = result_column(L, 2, "labels", n, 1);
    const float *targets = result_column(L, 2, "targets", n, 4);
    const float *lmks = result_column(L, 2, "landmarks", n, 10);
    const float *boxes = result_column(L, 2, "boxes", n, 4);
    const float *iou = result_column(L, 2, "iou", n, 1);
    const float *faces = result_column(L, 2, "faces", n, 1);
    const float *aug = result_column(L, 2, "aug", n, 1);
    int per_sample = lua_istable(L, 3);
    const char *common = per_sample ? NULL : luaL_optstring(L, 3, "");
    for (int64_t i = 0; i < n; i++) {
        if (mt_record_class_of((int)labels[i]) < 0)
            return mtL_errorf(L, "record: result sample %lld has label %g", (long long)i + 1, labels[i]);
    }
    for (int64_t i = 0; i < n; i++) {
        mt_record_sample s;
        memset(&s, 0, sizeof s);
        s.pixels = strip->data + (size_t)i * mt_image_bytes(S, S);
        s.label = (int)labels[i];
        memcpy(s.target, targets + 4 * i, 16);
        memcpy(s.landmark, lmks + 10 * i, 40);
        memcpy(s.box, boxes + 4 * i, 16);
        s.iou = iou[i];
        s.face = (int32_t)faces[i] - 1;
        s.aug = (int)aug[i];
        if (per_sample) {
            lua_rawgeti(L, 3, (lua_Integer)i + 1);
            mt_record_set_source(&s, lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
            lua_pop(L, 1);
        } else {
            mt_record_set_source(&s, common);
        }
        mt_status st = mt_record_append(w, &s);
        if (st != MT_OK) return mtL_softfail(L, st);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int w_commit(lua_State *L) { return writer_result(L, mt_record_commit(checkwriter(L, 1))); }

/* Takes the writer out of its box (NULL when closed): mt_record_writer_close frees it. */
static mt_record_writer *take_writer(lua_State *L) {
    mtL_box *box = (mtL_box *)luaL_checkudata(L, 1, MTL_RECORD_WRITER);
    mt_record_writer *w = box->obj;
    box->obj = NULL;
    return w;
}

/* w:close() -> true | nil, message: commits (and renames in replace mode) */
static int w_close(lua_State *L) {
    mt_record_writer *w = take_writer(L);
    return writer_result(L, w ? mt_record_writer_close(w) : MT_OK);
}

/* to-be-closed: commit on a normal exit, discard on an error (w:abort()) */
static int w_toclose(lua_State *L) {
    if (!lua_isnoneornil(L, 2)) {
        mtL_releasebox(L, 1, &writer_class);
        return 0;
    }
    mt_record_writer *w = take_writer(L);
    if (w) MTL_CHECK(L, mt_record_writer_close(w));
    return 0;
}

static int w_count(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)mt_record_writer_count(checkwriter(L, 1)));
    return 1;
}

/* w:broken() -> true once a write failed (an output failure, not an input one) */
static int w_broken(lua_State *L) {
    lua_pushboolean(L, mt_record_writer_broken(checkwriter(L, 1)));
    return 1;
}

static int w_committed(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)mt_record_writer_committed(checkwriter(L, 1)));
    return 1;
}

static int w_counts(lua_State *L) {
    int64_t c[MT_NUM_CLASSES];
    mt_record_writer_class_counts(checkwriter(L, 1), c);
    push_counts(L, c);
    return 1;
}

/* w.path, w.size */
static int w_path(lua_State *L) {
    lua_pushstring(L, mt_record_writer_path(checkwriter(L, 1)));
    return 1;
}

static int w_size(lua_State *L) {
    lua_pushinteger(L, mt_record_writer_size(checkwriter(L, 1)));
    return 1;
}

static const luaL_Reg writer_methods[] = {
    {"add", w_add},       {"add_samples", w_add_samples}, {"commit", w_commit},
    {"close", w_close},   {"count", w_count},
    {"committed", w_committed}, {"counts", w_counts},     {"broken", w_broken},
    {NULL, NULL},
};

/* ---- merge plans ------------------------------------------------------------------------- */

static void release_plan(void *p) { mt_merge_plan_free((mt_merge_plan *)p); }

static const mtL_class plan_class = {MTL_MERGE_PLAN, "merge plan", "freed", release_plan, NULL};

static mt_merge_plan *checkplan(lua_State *L, int idx) {
    return (mt_merge_plan *)mtL_checkbox(L, idx, &plan_class);
}

/* record.merge_plan(files, {quota = {class = n | -1}, group = {class = g (1-based) | nil},
 * groups = n, shuffle = true, seed = 1}) -> plan | nil, message */
static int l_merge_plan(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    int n = (int)lua_rawlen(L, 1);
    if (n < 1) return mtL_errorf(L, "merge: no input files");
    mt_record_file **files = (mt_record_file **)mtL_alloc(L, n, sizeof *files);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, 1, i + 1);
        files[i] = mtL_checkrecordfile(L, -1); /* anchored by the argument table */
        lua_pop(L, 1);
    }
    int64_t quota[MT_NUM_CLASSES];
    int group[MT_NUM_CLASSES];
    lua_getfield(L, 2, "quota");
    int qt = lua_gettop(L);
    lua_getfield(L, 2, "group");
    int gt = lua_gettop(L);
    for (int c = 0; c < MT_NUM_CLASSES; c++) {
        quota[c] = -1;
        group[c] = -1;
        quota[c] = (int64_t)mtL_optfieldinteger(L, qt, CLASS_NAMES[c], -1);
        group[c] = (int)mtL_optfieldinteger(L, gt, CLASS_NAMES[c], 0) - 1;
    }
    int groups = (int)mtL_optfieldinteger(L, 2, "groups", 1);
    int shuffle = mtL_optfieldboolean(L, 2, "shuffle", 1);
    uint64_t seed = (uint64_t)mtL_optfieldinteger(L, 2, "seed", 1);
    mtL_box *box = (mtL_box *)mtL_newbox(L, &plan_class, sizeof *box, 0);
    mt_merge_plan *p;
    mt_status st = mt_merge_plan_new(&p, files, n, quota, group, groups, shuffle, seed);
    if (st != MT_OK) return mtL_softfail(L, st);
    box->obj = p;
    return 1;
}

static int plan_available(lua_State *L) {
    int64_t a[MT_NUM_CLASSES];
    mt_merge_plan_available(checkplan(L, 1), a);
    push_counts(L, a);
    return 1;
}

static int plan_size(lua_State *L) {
    mt_merge_plan *p = checkplan(L, 1);
    lua_pushinteger(L, (lua_Integer)mt_merge_plan_group_size(p, (int)luaL_checkinteger(L, 2) - 1));
    return 1;
}

static int plan_done(lua_State *L) {
    mt_merge_plan *p = checkplan(L, 1);
    lua_pushinteger(L, (lua_Integer)mt_merge_plan_group_done(p, (int)luaL_checkinteger(L, 2) - 1));
    return 1;
}

/* plan:copy(g, writer, max) -> copied | nil, message */
static int plan_copy(lua_State *L) {
    mt_merge_plan *p = checkplan(L, 1);
    int g = (int)luaL_checkinteger(L, 2) - 1;
    mt_record_writer *w = checkwriter(L, 3);
    lua_Integer max = luaL_checkinteger(L, 4);
    int64_t copied;
    mt_status st = mt_merge_plan_copy(p, g, w, (int64_t)max, &copied);
    if (st != MT_OK) return mtL_softfail(L, st);
    lua_pushinteger(L, (lua_Integer)copied);
    return 1;
}

static const luaL_Reg plan_methods[] = {
    {"available", plan_available}, {"size", plan_size}, {"done", plan_done},
    {"copy", plan_copy},           {NULL, NULL},
};

/* ---- module ------------------------------------------------------------------------------ */

/* record.upscale(img, k) -> img enlarged k times by repeating pixels (contact sheets show
 * the samples' pixels as they are, without interpolation) */
static int l_upscale(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1);
    lua_Integer k = luaL_checkinteger(L, 2);
    luaL_argcheck(L, k >= 1 && k <= 64 && (lua_Integer)im->width * k <= MT_IMAGE_MAX_SIDE &&
                         (lua_Integer)im->height * k <= MT_IMAGE_MAX_SIDE, 2, "scale out of range");
    mt_image *out = push_image(L, im->width * (int)k, im->height * (int)k, NULL);
    for (int y = 0; y < out->height; y++)
        for (int x = 0; x < out->width; x++)
            memcpy(mt_image_pixel(out, x, y), mt_image_pixel(im, x / (int)k, y / (int)k), 3);
    return 1;
}

static int l_bytes(lua_State *L) {
    lua_Integer s = luaL_checkinteger(L, 1);
    luaL_argcheck(L, s >= 1 && s <= MT_RECORD_MAX_SIZE, 1, "sample side out of range");
    lua_pushinteger(L, (lua_Integer)mt_record_bytes((int)s));
    return 1;
}

static const luaL_Reg record_functions[] = {
    {"open", l_open}, {"writer", l_writer}, {"merge_plan", l_merge_plan}, {"record_bytes", l_bytes},
    {"upscale", l_upscale},
    {NULL, NULL},
};

/* Registers class c and exposes its methods as module[field] (the module is below). */
static void add_class(lua_State *L, const mtL_class *c, const luaL_Reg *methods,
                      const luaL_Reg *meta, const luaL_Reg *getters, const char *field) {
    mtL_newclass(L, c, methods, meta, getters);
    lua_getfield(L, -1, "methods");
    lua_setfield(L, -3, field);
    lua_pop(L, 1);
}

int mtL_open_record(lua_State *L) {
    luaL_newlib(L, record_functions);
    static const luaL_Reg file_meta[] = {{"__tostring", f_tostring}, {NULL, NULL}};
    static const luaL_Reg file_getters[] = {
        {"path", f_path}, {"size", f_size}, {"count", f_count}, {NULL, NULL}};
    add_class(L, &mtL_RecordFile, file_methods, file_meta, file_getters, "file_methods");
    static const luaL_Reg writer_meta[] = {{"__close", w_toclose}, {NULL, NULL}};
    static const luaL_Reg writer_getters[] = {{"path", w_path}, {"size", w_size}, {NULL, NULL}};
    add_class(L, &writer_class, writer_methods, writer_meta, writer_getters, "writer_methods");
    add_class(L, &plan_class, plan_methods, NULL, NULL, "plan_methods");
    lua_newtable(L);
    for (int c = 0; c < MT_NUM_CLASSES; c++) {
        lua_pushinteger(L, mt_record_label_of(c));
        lua_setfield(L, -2, CLASS_NAMES[c]);
    }
    lua_setfield(L, -2, "labels");
    return 1;
}
