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

/* Environmental failures (files) give nil, message; the rest raises. */
static int soft_fail(lua_State *L, mt_status st) {
    if (st == MT_ERR_IO || st == MT_ERR_FORMAT) return mtL_fail(L);
    return mtL_error(L, st);
}

/* ---- files ------------------------------------------------------------------------------- */

typedef struct lfile {
    mt_record_file *f;
} lfile;

mt_record_file *mtL_checkrecordfile(lua_State *L, int idx) {
    lfile *u = (lfile *)luaL_checkudata(L, idx, MTL_RECORD_FILE);
    if (!u->f) luaL_error(L, "bad argument #%d: the record file was closed", idx);
    return u->f;
}

static int file_close(lua_State *L) {
    lfile *u = (lfile *)luaL_checkudata(L, 1, MTL_RECORD_FILE);
    mt_record_file_release(u->f);
    u->f = NULL;
    return 0;
}

/* record.open(path [, size]) */
static int l_open(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    lua_Integer size = luaL_optinteger(L, 2, 0);
    lfile *u = (lfile *)lua_newuserdatauv(L, sizeof *u, 0);
    u->f = NULL;
    luaL_setmetatable(L, MTL_RECORD_FILE);
    mt_status st = mt_record_open(&u->f, path, (int)size);
    if (st != MT_OK) return soft_fail(L, st);
    return 1;
}

static int64_t check_index(lua_State *L, int idx, const mt_record_file *f) {
    lua_Integer i = luaL_checkinteger(L, idx);
    if (i < 1 || i > f->count)
        luaL_error(L, "%s: sample %d out of range 1..%d", f->path, (int)i, (int)f->count);
    return (int64_t)i - 1;
}

static void push_numbers(lua_State *L, const float *v, int n) {
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushnumber(L, v[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

/* Pushes a new S x S image holding the pixels. */
static void push_pixels(lua_State *L, const uint8_t *pixels, int size) {
    mt_image **box = mtL_newimagebox(L);
    MTL_CHECK(L, mt_image_new(box, size, size));
    memcpy((*box)->data, pixels, mt_image_bytes(size, size));
}

static void push_sample(lua_State *L, const mt_record_sample *s, int size, int64_t index) {
    lua_createtable(L, 0, 11);
    lua_pushinteger(L, (lua_Integer)index + 1);
    lua_setfield(L, -2, "index");
    push_pixels(L, s->pixels, size);
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
    if (st != MT_OK) return soft_fail(L, st);
    push_sample(L, &s, f->size, i);
    return 1;
}

/* f:image(i) -> Image | nil, message */
static int f_image(lua_State *L) {
    mt_record_file *f = mtL_checkrecordfile(L, 1);
    int64_t i = check_index(L, 2, f);
    mt_status st = mt_record_check(f, i);
    if (st != MT_OK) return soft_fail(L, st);
    push_pixels(L, mt_record_ptr(f, i), f->size);
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
            if (st != MT_OK) return soft_fail(L, st);
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

/* f:verify([max]) -> {blocks, nbad, bad = {{block, first, last}, ...}} (1-based samples) */
static int f_verify(lua_State *L) {
    mt_record_file *f = mtL_checkrecordfile(L, 1);
    lua_Integer max = luaL_optinteger(L, 2, 1000);
    if (max < 0) max = 0;
    if (max > 1000000) max = 1000000;
    int64_t *bad = (int64_t *)lua_newuserdatauv(L, (size_t)(max + 1) * sizeof(int64_t), 0);
    int64_t nbad;
    MTL_CHECK(L, mt_record_verify(f, bad, max, &nbad));
    lua_createtable(L, 0, 3);
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
    lfile *u = (lfile *)luaL_checkudata(L, 1, MTL_RECORD_FILE);
    if (!u->f) lua_pushliteral(L, "mtcnn.RecordFile (closed)");
    else
        lua_pushfstring(L, "mtcnn.RecordFile(%s: %d samples of %dx%d)", u->f->path,
                        (int)u->f->count, u->f->size, u->f->size);
    return 1;
}

static int f_index(lua_State *L) {
    const char *key = lua_tostring(L, 2);
    if (key && (strcmp(key, "path") == 0 || strcmp(key, "size") == 0 || strcmp(key, "count") == 0)) {
        mt_record_file *f = mtL_checkrecordfile(L, 1);
        if (key[0] == 'p') lua_pushstring(L, f->path);
        else lua_pushinteger(L, key[0] == 's' ? f->size : (lua_Integer)f->count);
        return 1;
    }
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    return 1;
}

static const luaL_Reg file_methods[] = {
    {"get", f_get},         {"image", f_image}, {"labels", f_labels}, {"info", f_info},
    {"verify", f_verify},   {"close", file_close}, {NULL, NULL},
};

/* ---- writers ----------------------------------------------------------------------------- */

typedef struct lwriter {
    mt_record_writer *w;
} lwriter;

static mt_record_writer *checkwriter(lua_State *L, int idx) {
    lwriter *u = (lwriter *)luaL_checkudata(L, idx, MTL_RECORD_WRITER);
    if (!u->w) luaL_error(L, "bad argument #%d: the record writer was closed", idx);
    return u->w;
}

mt_record_writer *mtL_checkrecordwriter(lua_State *L, int idx) { return checkwriter(L, idx); }

/* Field name of the options table at idx as an integer (def when absent). */
static lua_Integer opt_int(lua_State *L, int idx, const char *name, lua_Integer def) {
    if (!lua_istable(L, idx)) return def;
    lua_getfield(L, idx, name);
    lua_Integer v = def;
    if (!lua_isnil(L, -1)) {
        int ok;
        v = lua_tointegerx(L, -1, &ok);
        if (!ok) luaL_error(L, "record: option '%s' must be an integer", name);
    }
    lua_pop(L, 1);
    return v;
}

static int opt_bool(lua_State *L, int idx, const char *name, int def) {
    if (!lua_istable(L, idx)) return def;
    lua_getfield(L, idx, name);
    int v = lua_isnil(L, -1) ? def : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* record.writer(path, {size, block, replace, keep}) */
static int l_writer(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    mt_record_writer_opts o;
    o.size = (int)opt_int(L, 2, "size", 0);
    o.block_samples = (int)opt_int(L, 2, "block", 0);
    o.replace = opt_bool(L, 2, "replace", 0);
    o.keep = (int64_t)opt_int(L, 2, "keep", LUA_MININTEGER);
    o.rollback = o.keep != LUA_MININTEGER; /* keep = n: roll an existing file back to n samples */
    lwriter *u = (lwriter *)lua_newuserdatauv(L, sizeof *u, 0);
    u->w = NULL;
    luaL_setmetatable(L, MTL_RECORD_WRITER);
    mt_status st = mt_record_writer_open(&u->w, path, &o);
    if (st != MT_OK) return soft_fail(L, st);
    return 1;
}

/* Reads n floats from field `name` of the table at idx (a table or a tensor); zeros when absent. */
static void field_floats(lua_State *L, int idx, const char *name, float *out, int n) {
    memset(out, 0, (size_t)n * sizeof(float));
    lua_getfield(L, idx, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    mt_tensor *t = mtL_testtensor(L, -1);
    if (t) {
        if (mt_tensor_numel(t) != n)
            luaL_error(L, "record: sample field '%s' needs %d values, the tensor has %d", name, n,
                       (int)mt_tensor_numel(t));
        MTL_CHECK(L, mt_tensor_download(t, out, n));
    } else {
        if (!lua_istable(L, -1) || (int)lua_rawlen(L, -1) != n)
            luaL_error(L, "record: sample field '%s' needs %d numbers", name, n);
        for (int i = 0; i < n; i++) {
            lua_rawgeti(L, -1, i + 1);
            int ok;
            out[i] = (float)lua_tonumberx(L, -1, &ok);
            if (!ok) luaL_error(L, "record: sample field '%s' needs %d numbers", name, n);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

/* Status of a writer call: nil, message for I/O; raise for misuse. */
static int writer_result(lua_State *L, mt_status st) {
    if (st != MT_OK) return soft_fail(L, st);
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
            return luaL_error(L, "%s: sample image is %dx%d, the file holds %dx%d",
                              mt_record_writer_path(w), im->width, im->height, S, S);
        s.pixels = im->data;
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        size_t n;
        const char *p = lua_tolstring(L, -1, &n);
        if (n != mt_image_bytes(S, S))
            return luaL_error(L, "%s: sample pixels are %d bytes, %dx%dx3 = %d expected",
                              mt_record_writer_path(w), (int)n, S, S, (int)mt_image_bytes(S, S));
        s.pixels = (const uint8_t *)p;
    } else {
        return luaL_error(L, "record: sample.image must be an mtcnn.Image or a string of pixels");
    }
    /* the image stays on the stack (anchored) until the append */
    lua_getfield(L, 2, "label");
    int ok;
    lua_Integer label = lua_tointegerx(L, -1, &ok);
    if (!ok) return luaL_error(L, "record: sample.label must be 1, 0, -1 or -2");
    lua_pop(L, 1);
    if (mt_record_class_of((int)label) < 0)
        return luaL_error(L, "record: label %d is not one of 1, 0, -1, -2", (int)label);
    s.label = (int)label;
    field_floats(L, 2, "target", s.target, 4);
    field_floats(L, 2, "landmarks", s.landmark, 10);
    field_floats(L, 2, "box", s.box, 4);
    s.aug = (int)opt_int(L, 2, "aug", 0) & 0xff;
    s.face = (int32_t)(opt_int(L, 2, "face", 0) - 1);
    lua_getfield(L, 2, "iou");
    s.iou = (float)luaL_optnumber(L, -1, 0);
    lua_pop(L, 1);
    lua_getfield(L, 2, "source");
    mt_record_set_source(&s, luaL_optstring(L, -1, ""));
    lua_pop(L, 1);
    return writer_result(L, mt_record_append(w, &s));
}

/* A CPU contiguous [n] or [n, cols] tensor from field name of the result at idx. */
static const float *result_column(lua_State *L, int idx, const char *name, int64_t n, int cols) {
    lua_getfield(L, idx, name);
    mt_tensor *t = mtL_testtensor(L, -1);
    if (!t || mt_tensor_device(t) != MT_CPU || !mt_tensor_is_contiguous(t) ||
        mt_tensor_numel(t) != n * cols)
        luaL_error(L, "record: result.%s must be a contiguous cpu tensor of %d values", name,
                   (int)(n * cols));
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
        return luaL_error(L, "%s: the samples are %dx%d, the file holds %dx%d",
                          mt_record_writer_path(w), (int)lua_tointeger(L, -1),
                          (int)lua_tointeger(L, -1), S, S);
    lua_pop(L, 1);
    lua_getfield(L, 2, "count");
    int64_t n = (int64_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 2, "images");
    mt_image *strip = mtL_testimage(L, -1);
    if (!strip || strip->width != S || (int64_t)strip->height != n * S)
        return luaL_error(L, "record: result.images must be a %dx%d strip image", S, (int)(n * S));
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
            return luaL_error(L, "record: result sample %d has label %g", (int)i + 1, labels[i]);
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
        if (st != MT_OK) return soft_fail(L, st);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int w_commit(lua_State *L) { return writer_result(L, mt_record_commit(checkwriter(L, 1))); }

/* w:close() -> true | nil, message: commits (and renames in replace mode) */
static int w_close(lua_State *L) {
    lwriter *u = (lwriter *)luaL_checkudata(L, 1, MTL_RECORD_WRITER);
    if (!u->w) return writer_result(L, MT_OK);
    mt_record_writer *w = u->w;
    u->w = NULL; /* freed by close in any case */
    return writer_result(L, mt_record_writer_close(w));
}

/* w:abort(): drops what was not committed */
static int w_abort(lua_State *L) {
    lwriter *u = (lwriter *)luaL_checkudata(L, 1, MTL_RECORD_WRITER);
    mt_record_writer_free(u->w);
    u->w = NULL;
    return 0;
}

/* to-be-closed: commit on a normal exit, discard on an error */
static int w_toclose(lua_State *L) {
    lwriter *u = (lwriter *)luaL_checkudata(L, 1, MTL_RECORD_WRITER);
    if (!u->w) return 0;
    if (!lua_isnoneornil(L, 2)) return w_abort(L);
    mt_record_writer *w = u->w;
    u->w = NULL;
    MTL_CHECK(L, mt_record_writer_close(w));
    return 0;
}

static int w_count(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)mt_record_writer_count(checkwriter(L, 1)));
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

static int w_index(lua_State *L) {
    const char *key = lua_tostring(L, 2);
    if (key && (strcmp(key, "path") == 0 || strcmp(key, "size") == 0)) {
        mt_record_writer *w = checkwriter(L, 1);
        if (key[0] == 'p') lua_pushstring(L, mt_record_writer_path(w));
        else lua_pushinteger(L, mt_record_writer_size(w));
        return 1;
    }
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    return 1;
}

static const luaL_Reg writer_methods[] = {
    {"add", w_add},       {"add_samples", w_add_samples}, {"commit", w_commit},
    {"close", w_close},   {"abort", w_abort},             {"count", w_count},
    {"committed", w_committed}, {"counts", w_counts},     {NULL, NULL},
};

/* ---- merge plans ------------------------------------------------------------------------- */

typedef struct lplan {
    mt_merge_plan *p;
} lplan;

static mt_merge_plan *checkplan(lua_State *L, int idx) {
    lplan *u = (lplan *)luaL_checkudata(L, idx, MTL_MERGE_PLAN);
    if (!u->p) luaL_error(L, "bad argument #%d: the merge plan was freed", idx);
    return u->p;
}

static int plan_gc(lua_State *L) {
    lplan *u = (lplan *)luaL_checkudata(L, 1, MTL_MERGE_PLAN);
    mt_merge_plan_free(u->p);
    u->p = NULL;
    return 0;
}

/* record.merge_plan(files, {quota = {class = n | -1}, group = {class = g (1-based) | nil},
 * groups = n, shuffle = true, seed = 1}) -> plan | nil, message */
static int l_merge_plan(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    int n = (int)lua_rawlen(L, 1);
    if (n < 1) return luaL_error(L, "merge: no input files");
    mt_record_file **files = (mt_record_file **)lua_newuserdatauv(L, (size_t)n * sizeof *files, 0);
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
        if (lua_istable(L, qt)) quota[c] = (int64_t)opt_int(L, qt, CLASS_NAMES[c], -1);
        if (lua_istable(L, gt)) group[c] = (int)opt_int(L, gt, CLASS_NAMES[c], 0) - 1;
    }
    int groups = (int)opt_int(L, 2, "groups", 1);
    int shuffle = opt_bool(L, 2, "shuffle", 1);
    uint64_t seed = (uint64_t)opt_int(L, 2, "seed", 1);
    lplan *u = (lplan *)lua_newuserdatauv(L, sizeof *u, 0);
    u->p = NULL;
    luaL_setmetatable(L, MTL_MERGE_PLAN);
    mt_status st = mt_merge_plan_new(&u->p, files, n, quota, group, groups, shuffle, seed);
    if (st != MT_OK) return soft_fail(L, st);
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
    if (st != MT_OK) return soft_fail(L, st);
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
    mt_image **box = mtL_newimagebox(L);
    MTL_CHECK(L, mt_image_new(box, im->width * (int)k, im->height * (int)k));
    mt_image *out = *box;
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

/* Makes a metatable with methods (exposed as <field>), an __index closure and __gc. */
static void make_class(lua_State *L, const char *name, const luaL_Reg *methods,
                       lua_CFunction index, lua_CFunction gc, const char *field) {
    luaL_newmetatable(L, name);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, field); /* module[field] = methods */
    if (index) {
        lua_pushcclosure(L, index, 1);
        lua_setfield(L, -2, "__index");
    } else {
        lua_setfield(L, -2, "__index");
    }
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
}

int mtL_open_record(lua_State *L) {
    luaL_newlib(L, record_functions);
    make_class(L, MTL_RECORD_FILE, file_methods, f_index, file_close, "file_methods");
    lua_pushcfunction(L, file_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, f_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    make_class(L, MTL_RECORD_WRITER, writer_methods, w_index, w_abort, "writer_methods");
    lua_pushcfunction(L, w_toclose);
    lua_setfield(L, -2, "__close");
    lua_pop(L, 1);
    make_class(L, MTL_MERGE_PLAN, plan_methods, NULL, plan_gc, "plan_methods");
    lua_pop(L, 1);
    lua_newtable(L);
    for (int c = 0; c < MT_NUM_CLASSES; c++) {
        lua_pushinteger(L, mt_record_label_of(c));
        lua_setfield(L, -2, CLASS_NAMES[c]);
    }
    lua_setfield(L, -2, "labels");
    return 1;
}
