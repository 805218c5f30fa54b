/*
 * lmt_gen.c - the Lua binding of multi-threaded sample generation (mtcnn.gen).
 *
 *   core.gen.start(images, {kind = "detection"|"landmarks"|"hard"|"landmark_windows", seed = n,
 *                           params = {...}})
 *     -> chunk
 *   chunk:wait(train, val, val_fraction) -> {{status = "ok"|"missing"|"bad", message,
 *                                            side = "train"|"val", windows}, ...}
 *   chunk:wait() -> true: waits and drops the chunk
 *   core.gen.split_key(name, seed) -> a number in [0, 1)
 *
 * start returns at once: the chunk is decoded and sampled on a thread of its own and the
 * worker pool while Lua writes the previous one. images: a list of {path, name (default:
 * path), index (the generator's stream), faces = rows of {x1, y1, x2, y2}} for detection,
 * {path, name, index, box = {4}, points = {10}} for landmarks, {path, name, index, faces,
 * windows = rows of {x1, y1, x2, y2} (the detector's), image (optional: the decoded image,
 * else the file is decoded)} for hard examples, whose results carry windows = the counts of
 * sample.windows (lmt_sample.c), {path, name, index, box, points, windows, image} for
 * landmark windows (one face, counts as sample.landmark_windows'); the list must not change until
 * wait. params: mtcnn.sample options by name. wait appends each sampled image's samples to
 * the train or val record writer (by the split key of its name and the seed; source: the
 * name), so that no sample passes through Lua, and frees the chunk; a writer's failure is
 * nil, message. A chunk dropped without wait is waited for by the collector.
 */
#include "lmt.h"

#include "data/mt_gen.h"

#include <stdlib.h>
#include <string.h>

/* A chunk being generated and everything it reads and fills; the images' path and name
 * strings stay in the images table, the box's user value. */
typedef struct gen_chunk {
    mt_gen_job *job; /* NULL once finished */
    mt_gen_image *images;
    const char **names;
    double *numbers;
    mt_gen_result *results;
    int64_t n;
    uint64_t seed;
    mt_gen_kind kind;
} gen_chunk;

static void release_chunk(void *obj) {
    gen_chunk *c = (gen_chunk *)obj;
    if (c->job) mt_gen_wait(c->job); /* (its status does not matter any more) */
    if (c->results) mt_gen_results_clear(c->results, c->n);
    free(c->images);
    free(c->names);
    free(c->numbers);
    free(c->results);
    free(c);
}

static const mtL_class chunk_class = {"mtcnn.GenChunk", "generation chunk", "finished",
                                      release_chunk, NULL};

static const mtL_enum kinds[] = {
    {"detection", MT_GEN_DETECTION}, {"landmarks", MT_GEN_LANDMARKS}, {"hard", MT_GEN_HARD},
    {"landmark_windows", MT_GEN_LANDMARK_WINDOWS}, {NULL, 0}};

/* whether a kind's images come with the detector's windows, and with one face and its points */
static int has_windows(mt_gen_kind k) { return k == MT_GEN_HARD || k == MT_GEN_LANDMARK_WINDOWS; }
static int one_face(mt_gen_kind k) { return k == MT_GEN_LANDMARKS || k == MT_GEN_LANDMARK_WINDOWS; }

/* Rows of 4 in field name of item i (the table on top of the stack); what names them in
 * messages. */
static int64_t count_rows(lua_State *L, int64_t i, const char *name, const char *what) {
    if (lua_getfield(L, -1, name) != LUA_TTABLE && !mtL_testtensor(L, -1))
        mtL_errorf(L, "gen: image %lld has no %s", (long long)i + 1, name);
    int64_t n = mtL_checkrows(L, lua_gettop(L), 4, what).n;
    lua_pop(L, 2);
    return n;
}

/* Faces of item i (the table on top of the stack). */
static int64_t count_faces(lua_State *L, int64_t i, mt_gen_kind kind) {
    if (!lua_istable(L, -1)) mtL_errorf(L, "gen: image %lld is not a table", (long long)i + 1);
    if (one_face(kind)) return 1;
    return count_rows(L, i, "faces", "gen: faces");
}

/* Copies the first n * cols numbers of the rows in field name of the table on top of the
 * stack to *dst, which advances. */
static void copy_rows(lua_State *L, const char *name, int cols, int flags, double **dst) {
    lua_getfield(L, -1, name);
    mtL_rows r = mtL_checkrowsx(L, lua_gettop(L), cols, flags, NULL, name);
    memcpy(*dst, r.d, (size_t)(r.n * cols) * sizeof(double));
    *dst += r.n * cols;
    lua_pop(L, 2);
}

/* core.gen.start(images, opts) */
static int l_start(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    mt_gen_kind kind = (mt_gen_kind)mtL_optfieldenum(L, 2, "kind", MT_GEN_DETECTION, kinds);
    uint64_t seed = (uint64_t)mtL_optfieldinteger(L, 2, "seed", 1);
    mt_sample_params p;
    lua_getfield(L, 2, "params");
    mtL_sampleparams(L, 3, &p);
    lua_settop(L, 2);

    int64_t n = (int64_t)lua_rawlen(L, 1), nfaces = 0, nwindows = 0;
    for (int64_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i + 1);
        nfaces += count_faces(L, i, kind);
        if (has_windows(kind)) nwindows += count_rows(L, i, "windows", "gen: windows");
        lua_pop(L, 1);
    }
    mtL_box *box = (mtL_box *)mtL_newbox(L, &chunk_class, sizeof *box, 1); /* 3 */
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, 3, 1); /* the strings the paths and names point into */
    gen_chunk *c = (gen_chunk *)calloc(1, sizeof *c);
    if (c) {
        box->obj = c; /* freed by the collector from now on */
        c->images = (mt_gen_image *)calloc((size_t)n + 1, sizeof *c->images);
        c->names = (const char **)calloc((size_t)n + 1, sizeof *c->names);
        c->numbers = (double *)malloc((size_t)(nfaces * 14 + nwindows * 4 + 1) * sizeof(double));
        c->results = (mt_gen_result *)calloc((size_t)n + 1, sizeof *c->results);
    }
    if (!c || !c->images || !c->names || !c->numbers || !c->results)
        return mtL_errorf(L, "gen: out of memory");
    c->seed = seed;
    c->kind = kind;
    double *boxes = c->numbers, *points = c->numbers + 4 * nfaces;
    double *windows = c->numbers + 14 * nfaces;
    for (int64_t i = 0; i < n; i++) {
        mt_gen_image *g = c->images + i;
        lua_rawgeti(L, 1, (lua_Integer)i + 1);
        g->nfaces = count_faces(L, i, kind);
        g->path = mtL_optfieldstring(L, -1, "path", NULL);
        c->names[i] = mtL_optfieldstring(L, -1, "name", g->path);
        g->index = (int64_t)mtL_optfieldinteger(L, -1, "index", -1);
        if (!g->path || g->index < 0)
            return mtL_errorf(L, "gen: image %lld needs a path and an index >= 0", (long long)i + 1);
        g->boxes = boxes;
        if (one_face(kind)) {
            const int one = MTL_ROWS_ONE | MTL_ROWS_EXACT;
            copy_rows(L, "box", 4, one, &boxes);
            g->points = points;
            copy_rows(L, "points", 10, one, &points);
        } else {
            copy_rows(L, "faces", 4, 0, &boxes);
        }
        if (has_windows(kind)) {
            g->nwindows = count_rows(L, i, "windows", "gen: windows");
            g->windows = windows;
            copy_rows(L, "windows", 4, 0, &windows);
            lua_getfield(L, -1, "image"); /* kept alive by the images table */
            if (!lua_isnil(L, -1)) g->image = mtL_checkimage(L, -1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    MTL_CHECK(L, mt_gen_start(&c->job, c->results, c->images, n, kind, &p, seed));
    c->n = n;
    return 1;
}

/* chunk:wait(train, val, val_fraction) -> statuses | nil, message; chunk:wait() waits and
 * drops the samples (a run that fails) */
static int chunk_wait(lua_State *L) {
    gen_chunk *c = (gen_chunk *)mtL_checkbox(L, 1, &chunk_class);
    if (lua_isnoneornil(L, 2)) {
        mtL_releasebox(L, 1, &chunk_class);
        lua_pushboolean(L, 1);
        return 1;
    }
    struct mt_record_writer *train = mtL_checkrecordwriter(L, 2);
    struct mt_record_writer *val = mtL_checkrecordwriter(L, 3);
    double fraction = luaL_checknumber(L, 4);
    mt_status st = mt_gen_wait(c->job);
    c->job = NULL;
    if (st != MT_OK) {
        mtL_releasebox(L, 1, &chunk_class);
        return mtL_error(L, st);
    }
    int8_t *side = (int8_t *)mtL_alloc(L, c->n, 1);
    st = mt_gen_write(c->results, c->names, c->n, c->seed, fraction, train, val, side);
    if (st != MT_OK) {
        mtL_fail(L); /* a writer's failure: nil, message */
        mtL_releasebox(L, 1, &chunk_class);
        return 2;
    }
    static const char *const STATUS[] = {"ok", "missing", "bad"};
    lua_createtable(L, (int)c->n, 0);
    for (int64_t i = 0; i < c->n; i++) {
        const mt_gen_result *r = c->results + i;
        lua_createtable(L, 0, 2);
        lua_pushstring(L, STATUS[r->status]);
        lua_setfield(L, -2, "status");
        lua_pushstring(L, side[i] > 0 ? "val" : side[i] == 0 ? "train" : r->message);
        lua_setfield(L, -2, side[i] < 0 ? "message" : "side");
        if (r->status == MT_GEN_OK && has_windows(c->kind)) {
            mtL_pushwindowcounts(L, &r->windows, c->kind == MT_GEN_LANDMARK_WINDOWS);
            lua_setfield(L, -2, "windows");
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    mtL_releasebox(L, 1, &chunk_class);
    return 1;
}

/* core.gen.split_key(name, seed) */
static int l_split_key(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    lua_pushnumber(L, mt_gen_split_key(name, (uint64_t)luaL_checkinteger(L, 2)));
    return 1;
}

int mtL_open_gen(lua_State *L) {
    static const luaL_Reg chunk_methods[] = {{"wait", chunk_wait}, {NULL, NULL}};
    static const luaL_Reg functions[] = {
        {"start", l_start}, {"split_key", l_split_key}, {NULL, NULL}};
    mtL_newclass(L, &chunk_class, chunk_methods, NULL, NULL);
    lua_pop(L, 1);
    luaL_newlib(L, functions);
    return 1;
}
