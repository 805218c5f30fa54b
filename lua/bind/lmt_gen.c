/*
 * lmt_gen.c - the Lua binding of multi-threaded sample generation (mtcnn.gen).
 *
 *   core.gen.start(images, {kind = "detection"|"landmarks", seed = n, params = {...}}) -> job
 *   job:wait() -> {{status = "ok"|"missing"|"bad", message, samples}, ...}
 *   job:wait(train, val, val_fraction) -> {{status, message, side = "train"|"val"}, ...}
 *   core.gen.split_key(name, seed) -> a number in [0, 1)
 *
 * start returns at once: the chunk is decoded and sampled on a thread of its own and the
 * worker pool while Lua writes the previous one. images: a list of {path, index (the
 * generator's stream), faces = {{x1, y1, x2, y2}, ...}} for detection, {path, index, box =
 * {4}, points = {10}} for landmarks; the list must not change until wait. params:
 * mtcnn.sample options by name. samples: a result of core.sample.detection (absent when the
 * image was skipped). Given two record writers, wait appends each image's samples to one of
 * them instead (mt_gen_write: by the split key of the image's name, default its path, and the
 * job's seed), so that no sample passes through Lua. A job dropped without wait is waited for
 * by the collector.
 */
#include "lmt.h"

#include "data/mt_gen.h"

#include <string.h>

#define MTL_GEN_JOB "mtcnn.GenJob"

/* A running chunk; its arrays and the images table live in its user values. */
typedef struct job_box {
    mt_gen_job *job; /* NULL once waited for */
    mt_gen_result *r;
    const char **names; /* the images' names (their sources), anchored by the images table */
    int64_t n;
    uint64_t seed;
} job_box;

static int job_gc(lua_State *L) {
    job_box *b = (job_box *)luaL_checkudata(L, 1, MTL_GEN_JOB);
    if (b->job) mt_gen_wait(b->job); /* (its status does not matter any more) */
    b->job = NULL;
    if (b->r) mt_gen_results_clear(b->r, b->n);
    b->n = 0;
    return 0;
}

/* Reads n numbers from the table at the top of the stack into out. */
static void numbers(lua_State *L, double *out, int n, int64_t item, const char *what) {
    if (!lua_istable(L, -1) || (int)lua_rawlen(L, -1) != n)
        luaL_error(L, "gen: image %d: %s needs %d numbers", (int)item + 1, what, n);
    for (int k = 0; k < n; k++) {
        lua_rawgeti(L, -1, k + 1);
        int ok;
        out[k] = lua_tonumberx(L, -1, &ok);
        if (!ok) luaL_error(L, "gen: image %d: %s needs %d numbers", (int)item + 1, what, n);
        lua_pop(L, 1);
    }
}

/* Faces of item i (the table on top of the stack). */
static int64_t count_faces(lua_State *L, int64_t i, mt_gen_kind kind) {
    if (kind == MT_GEN_LANDMARKS) return 1;
    lua_getfield(L, -1, "faces");
    if (!lua_istable(L, -1)) luaL_error(L, "gen: image %d has no faces table", (int)i + 1);
    int64_t n = (int64_t)lua_rawlen(L, -1);
    lua_pop(L, 1);
    return n;
}

/* Fills im[i] and its name from item i (the table on top of the stack); its numbers go to
 * *boxes and *points, which advance. */
static void read_item(lua_State *L, int64_t i, mt_gen_kind kind, mt_gen_image *im,
                      const char **name, double **boxes, double **points) {
    if (!lua_istable(L, -1)) luaL_error(L, "gen: image %d is not a table", (int)i + 1);
    int ok;
    lua_getfield(L, -1, "path");
    im->path = lua_tostring(L, -1); /* anchored by the images table */
    lua_getfield(L, -2, "index");
    im->index = (int64_t)lua_tointegerx(L, -1, &ok);
    if (!im->path || !ok || im->index < 0)
        luaL_error(L, "gen: image %d needs a path and an index >= 0", (int)i + 1);
    lua_getfield(L, -3, "name");
    *name = lua_isstring(L, -1) ? lua_tostring(L, -1) : im->path;
    lua_pop(L, 3);
    im->nfaces = count_faces(L, i, kind);
    im->boxes = *boxes;
    im->points = NULL;
    if (kind == MT_GEN_LANDMARKS) {
        lua_getfield(L, -1, "box");
        numbers(L, *boxes, 4, i, "box");
        lua_getfield(L, -2, "points");
        numbers(L, *points, 10, i, "points");
        lua_pop(L, 2);
        im->points = *points;
        *points += 10;
    } else {
        lua_getfield(L, -1, "faces");
        for (int64_t f = 0; f < im->nfaces; f++) {
            lua_rawgeti(L, -1, (lua_Integer)f + 1);
            for (int c = 0; c < 4; c++) {
                if (lua_istable(L, -1)) lua_rawgeti(L, -1, c + 1);
                else lua_pushnil(L);
                (*boxes)[4 * f + c] = lua_tonumberx(L, -1, &ok);
                if (!ok)
                    luaL_error(L, "gen: image %d: face %d is not {x1, y1, x2, y2}", (int)i + 1,
                               (int)f + 1);
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    *boxes += 4 * im->nfaces;
}

/* core.gen.start(images, opts) */
static int l_start(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_getfield(L, 2, "kind");
    const char *k = luaL_optstring(L, -1, "detection");
    mt_gen_kind kind = strcmp(k, "landmarks") == 0 ? MT_GEN_LANDMARKS : MT_GEN_DETECTION;
    if (kind == MT_GEN_DETECTION && strcmp(k, "detection") != 0)
        return luaL_error(L, "gen: kind must be \"detection\" or \"landmarks\", got \"%s\"", k);
    lua_getfield(L, 2, "seed");
    int ok;
    uint64_t seed = (uint64_t)lua_tointegerx(L, -1, &ok);
    if (!ok) return luaL_error(L, "gen: opts.seed must be an integer");
    lua_getfield(L, 2, "params");
    mt_sample_params p;
    mtL_sampleparams(L, lua_gettop(L), &p);
    lua_settop(L, 2);

    int64_t n = (int64_t)lua_rawlen(L, 1), nfaces = 0;
    for (int64_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i + 1);
        if (!lua_istable(L, -1)) return luaL_error(L, "gen: image %d is not a table", (int)i + 1);
        nfaces += count_faces(L, i, kind);
        lua_pop(L, 1);
    }
    job_box *b = (job_box *)lua_newuserdatauv(L, sizeof *b, 5); /* 3 */
    b->job = NULL, b->r = NULL, b->n = 0, b->seed = seed;
    luaL_setmetatable(L, MTL_GEN_JOB);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, 3, 1);
    mt_gen_image *im = (mt_gen_image *)lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *im, 0);
    lua_setiuservalue(L, 3, 2);
    double *v = (double *)lua_newuserdatauv(L, (size_t)(nfaces * 14 + 1) * sizeof(double), 0);
    lua_setiuservalue(L, 3, 3);
    mt_gen_result *r = (mt_gen_result *)lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *r, 0);
    memset(r, 0, (size_t)(n + 1) * sizeof *r);
    lua_setiuservalue(L, 3, 4);
    b->names = (const char **)lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *b->names, 0);
    lua_setiuservalue(L, 3, 5);
    double *boxes = v, *points = v + 4 * nfaces;
    for (int64_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i + 1);
        read_item(L, i, kind, im + i, b->names + i, &boxes, &points);
        lua_pop(L, 1);
    }
    MTL_CHECK(L, mt_gen_start(&b->job, r, im, n, kind, &p, seed));
    b->r = r, b->n = n;
    return 1;
}

/* job:wait([train, val, val_fraction]) -> results */
static int job_wait(lua_State *L) {
    job_box *b = (job_box *)luaL_checkudata(L, 1, MTL_GEN_JOB);
    if (!b->job) return luaL_error(L, "gen: the job was waited for already");
    int write = !lua_isnoneornil(L, 2);
    struct mt_record_writer *train = NULL, *val = NULL;
    double fraction = 0;
    if (write) {
        train = mtL_checkrecordwriter(L, 2);
        val = mtL_checkrecordwriter(L, 3);
        fraction = luaL_checknumber(L, 4);
    }
    mt_status st = mt_gen_wait(b->job);
    b->job = NULL;
    MTL_CHECK(L, st);
    int8_t *side = NULL;
    if (write) {
        side = (int8_t *)lua_newuserdatauv(L, (size_t)b->n + 1, 0);
        st = mt_gen_write(b->r, b->names, b->n, b->seed, fraction, train, val, side);
        if (st != MT_OK) return mtL_fail(L); /* a writer's failure: nil, message */
    }
    static const char *const STATUS[] = {"ok", "missing", "bad"};
    lua_createtable(L, (int)b->n, 0);
    for (int64_t i = 0; i < b->n; i++) {
        mt_gen_result *r = b->r + i;
        lua_createtable(L, 0, 3);
        lua_pushstring(L, STATUS[r->status]);
        lua_setfield(L, -2, "status");
        if (r->message) {
            lua_pushstring(L, r->message);
            lua_setfield(L, -2, "message");
        }
        if (side && side[i] >= 0) {
            lua_pushstring(L, side[i] ? "val" : "train");
            lua_setfield(L, -2, "side");
        } else if (r->samples) {
            mt_sample_set *s = r->samples;
            r->samples = NULL; /* taken over by the result table */
            mtL_pushsamples(L, s);
            lua_setfield(L, -2, "samples");
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* core.gen.split_key(name, seed) */
static int l_split_key(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    lua_pushnumber(L, mt_gen_split_key(name, (uint64_t)luaL_checkinteger(L, 2)));
    return 1;
}

static const luaL_Reg gen_functions[] = {
    {"start", l_start},
    {"split_key", l_split_key},
    {NULL, NULL},
};

int mtL_open_gen(lua_State *L) {
    luaL_newmetatable(L, MTL_GEN_JOB);
    lua_pushcfunction(L, job_gc);
    lua_setfield(L, -2, "__gc");
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, job_wait);
    lua_setfield(L, -2, "wait");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newlib(L, gen_functions);
    return 1;
}
