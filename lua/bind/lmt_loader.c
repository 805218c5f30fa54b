/*
 * lmt_loader.c - the Lua binding of the training data loader (used by
 * lua/mtcnn/loader.lua).
 *
 *   core.loader.new{size =, streams = {{files = {file, ...}, count = n}, ...}, seed =,
 *                   shuffle =, workers =, slots =, start_batch = (0-based),
 *                   epoch_batches =, mirror = (probability), mirror_part =,
 *                   jitter = false | {brightness =, contrast =, saturation =, hue =},
 *                   mean =, scale =} -> loader
 *   loader:next() -> {images, labels, boxes, landmarks, number, epoch} | nil, message
 *   loader:provenance() -> {stream = {...}, file = {...}, index = {...}, mirrored = {...}}
 *   loader:close(), loader:epoch_batches(), loader:rows(), loader:stream_samples(s),
 *   loader:wait_stats() -> {taken, waited, wait_seconds}
 *
 * A batch lives until the next call of next() (or close): its tensors are the
 * ring's buffers, so at that point the Lua tensors handed out are freed (they
 * then read as "the tensor was freed"), and a buffer that something else still
 * references (a view, a retained copy) is replaced in the ring rather than
 * overwritten. Numbers are 0-based here; the Lua module makes them 1-based.
 */
#include "lmt.h"

#include "data/mt_loader.h"

#include <string.h>

/* The box holds the loader; its close needs the Lua state (release_held), so the toolkit
 * does not release it itself. */
static const mtL_class loader_class = {"mtcnn.Loader", "loader", "closed", NULL, NULL};

typedef struct lloader {
    mtL_box box;           /* the mt_loader */
    mt_loader_batch *held; /* the batch handed out last, until the next call */
} lloader;

static lloader *checkloader(lua_State *L, int idx) {
    mtL_checkbox(L, idx, &loader_class);
    return (lloader *)lua_touserdata(L, idx);
}

/* Frees the Lua tensors of the held batch and gives its buffers back to the ring. */
static void release_held(lua_State *L, int idx, lloader *u, int renew) {
    if (!u->held) return;
    if (lua_getiuservalue(L, idx, 1) == LUA_TTABLE) {
        for (int k = 1; k <= 4; k++) {
            lua_rawgeti(L, -1, k);
            mtL_releasebox(L, -1, &mtL_Tensor);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    if (renew) MTL_CHECK(L, mt_loader_batch_renew(u->held)); /* on failure the batch stays held */
    mt_loader_release(u->box.obj, u->held);
    u->held = NULL;
}

/* loader:close(), __gc and __close */
static int loader_close(lua_State *L) {
    lloader *u = (lloader *)luaL_checkudata(L, 1, loader_class.name);
    if (!u->box.obj) return 0;
    release_held(L, 1, u, 0);
    mt_loader_free(u->box.obj);
    u->box.obj = NULL;
    return 0;
}

/* loader.new(cfg) */
static int l_new(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mt_loader_config cfg = mt_loader_config_default();
    cfg.size = (int)mtL_optfieldinteger(L, 1, "size", 0);
    cfg.seed = (uint64_t)mtL_optfieldinteger(L, 1, "seed", 1);
    cfg.shuffle = mtL_optfieldboolean(L, 1, "shuffle", 1);
    cfg.workers = (int)mtL_optfieldinteger(L, 1, "workers", 1);
    cfg.slots = (int)mtL_optfieldinteger(L, 1, "slots", 0);
    cfg.start_batch = (int64_t)mtL_optfieldinteger(L, 1, "start_batch", 0);
    cfg.epoch_batches = (int64_t)mtL_optfieldinteger(L, 1, "epoch_batches", 0);
    cfg.mirror_p = mtL_optfieldnumber(L, 1, "mirror", 0.5);
    cfg.mirror_part = mtL_optfieldboolean(L, 1, "mirror_part", 0);
    cfg.norm.mean = (float)mtL_optfieldnumber(L, 1, "mean", 127.5);
    cfg.norm.scale = (float)mtL_optfieldnumber(L, 1, "scale", 0.0078125);
    lua_getfield(L, 1, "jitter");
    if (lua_istable(L, -1)) {
        int j = lua_gettop(L);
        cfg.jitter_on = 1;
        cfg.jitter.brightness = mtL_optfieldnumber(L, j, "brightness", cfg.jitter.brightness);
        cfg.jitter.contrast = mtL_optfieldnumber(L, j, "contrast", cfg.jitter.contrast);
        cfg.jitter.saturation = mtL_optfieldnumber(L, j, "saturation", cfg.jitter.saturation);
        cfg.jitter.hue = mtL_optfieldnumber(L, j, "hue", cfg.jitter.hue);
    } else if (lua_toboolean(L, -1)) {
        cfg.jitter_on = 1;
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "streams");
    int st_idx = lua_gettop(L);
    if (!lua_istable(L, st_idx)) return mtL_errorf(L, "loader: 'streams' must be a list");
    int ns = (int)lua_rawlen(L, st_idx);
    if (ns < 1 || ns > MT_LOADER_MAX_STREAMS)
        return mtL_errorf(L, "loader: %d streams (1..%d)", ns, MT_LOADER_MAX_STREAMS);
    cfg.nstreams = ns;
    for (int s = 0; s < ns; s++) {
        lua_rawgeti(L, st_idx, s + 1);
        int e = lua_gettop(L);
        if (!lua_istable(L, e)) return mtL_errorf(L, "loader: stream %d must be a table", s + 1);
        cfg.streams[s].per_batch = (int)mtL_optfieldinteger(L, e, "count", 0);
        lua_getfield(L, e, "files");
        int fl = lua_gettop(L);
        if (!lua_istable(L, fl)) return mtL_errorf(L, "loader: stream %d has no files list", s + 1);
        int nf = (int)lua_rawlen(L, fl);
        if (nf < 1) return mtL_errorf(L, "loader: stream %d has no files", s + 1);
        /* a Lua-owned array, anchored in the stream table until the loader is made */
        mt_record_file **files = (mt_record_file **)mtL_alloc(L, nf, sizeof *files);
        lua_setfield(L, e, "__files");
        for (int k = 0; k < nf; k++) {
            lua_rawgeti(L, fl, k + 1);
            files[k] = mtL_checkrecordfile(L, -1);
            lua_pop(L, 1);
        }
        cfg.streams[s].files = files;
        cfg.streams[s].nfiles = nf;
        lua_pop(L, 2); /* files list, stream */
    }
    lloader *u = (lloader *)mtL_newbox(L, &loader_class, sizeof *u, 1);
    mt_loader *ld = NULL;
    mt_status st = mt_loader_new(&ld, &cfg);
    u->box.obj = ld;
    for (int s = 0; s < ns; s++) { /* the loader retained the files: drop the anchors */
        lua_rawgeti(L, st_idx, s + 1);
        lua_pushnil(L);
        lua_setfield(L, -2, "__files");
        lua_pop(L, 1);
    }
    MTL_CHECK(L, st);
    return 1;
}

/* loader:next() -> batch | nil, message */
static int m_next(lua_State *L) {
    lloader *u = checkloader(L, 1);
    release_held(L, 1, u, 1);
    mt_loader_batch *b;
    mt_status st = mt_loader_next(u->box.obj, &b);
    if (st != MT_OK) return mtL_softfail(L, st);
    u->held = b;
    lua_createtable(L, 4, 0); /* the boxes, freed at the next call */
    lua_createtable(L, 0, 6);
    mt_tensor *ts[4] = {b->images, b->labels, b->boxes, b->landmarks};
    static const char *names[4] = {"images", "labels", "boxes", "landmarks"};
    for (int k = 0; k < 4; k++) {
        mtL_pushtensor_retained(L, ts[k]);
        lua_pushvalue(L, -1);
        lua_rawseti(L, -4, k + 1);
        lua_setfield(L, -2, names[k]);
    }
    lua_pushinteger(L, (lua_Integer)b->number);
    lua_setfield(L, -2, "number");
    lua_pushinteger(L, (lua_Integer)b->epoch);
    lua_setfield(L, -2, "epoch");
    lua_pushvalue(L, -2);
    lua_setiuservalue(L, 1, 1);
    return 1;
}

static void push_int_list(lua_State *L, int64_t n, const void *v, int kind, int plus) {
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_Integer x = kind == 0   ? ((const int32_t *)v)[i]
                        : kind == 1 ? (lua_Integer)((const int64_t *)v)[i]
                                    : ((const uint8_t *)v)[i];
        if (kind == 2) lua_pushboolean(L, x != 0);
        else lua_pushinteger(L, x + plus);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

/* loader:provenance() -> where each row of the current batch came from (1-based) */
static int m_provenance(lua_State *L) {
    lloader *u = checkloader(L, 1);
    if (!u->held) {
        lua_pushnil(L);
        return 1;
    }
    mt_loader_batch *b = u->held;
    lua_createtable(L, 0, 4);
    push_int_list(L, b->rows, b->stream, 0, 1);
    lua_setfield(L, -2, "stream");
    push_int_list(L, b->rows, b->file, 0, 1);
    lua_setfield(L, -2, "file");
    push_int_list(L, b->rows, b->index, 1, 1);
    lua_setfield(L, -2, "index");
    push_int_list(L, b->rows, b->mirrored, 2, 0);
    lua_setfield(L, -2, "mirrored");
    return 1;
}

static int m_epoch_batches(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)mt_loader_epoch_batches(checkloader(L, 1)->box.obj));
    return 1;
}

/* loader:wait_stats() -> {taken, waited, wait_seconds} */
static int m_wait_stats(lua_State *L) {
    int64_t taken, waited;
    double seconds;
    mt_loader_wait_stats(checkloader(L, 1)->box.obj, &taken, &waited, &seconds);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)taken);
    lua_setfield(L, -2, "taken");
    lua_pushinteger(L, (lua_Integer)waited);
    lua_setfield(L, -2, "waited");
    lua_pushnumber(L, seconds);
    lua_setfield(L, -2, "wait_seconds");
    return 1;
}

static int m_rows(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)mt_loader_batch_rows(checkloader(L, 1)->box.obj));
    return 1;
}

static int m_stream_samples(lua_State *L) {
    lloader *u = checkloader(L, 1);
    int s = (int)luaL_checkinteger(L, 2) - 1;
    lua_pushinteger(L, (lua_Integer)mt_loader_stream_samples(u->box.obj, s));
    return 1;
}

static const luaL_Reg loader_methods[] = {
    {"next", m_next},
    {"provenance", m_provenance},
    {"close", loader_close},
    {"epoch_batches", m_epoch_batches},
    {"rows", m_rows},
    {"wait_stats", m_wait_stats},
    {"stream_samples", m_stream_samples},
    {NULL, NULL},
};

static const luaL_Reg loader_functions[] = {
    {"new", l_new},
    {NULL, NULL},
};

int mtL_open_loader(lua_State *L) {
    luaL_newlib(L, loader_functions);
    static const luaL_Reg meta[] = {
        {"__gc", loader_close}, {"__close", loader_close}, {NULL, NULL}};
    mtL_newclass(L, &loader_class, loader_methods, meta, NULL);
    lua_getfield(L, -1, "methods");
    lua_setfield(L, -3, "methods");
    lua_pop(L, 1);
    return 1;
}
