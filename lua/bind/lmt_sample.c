/*
 * lmt_sample.c - the Lua binding of MTCNN crop sampling (mtcnn.sample).
 *
 *   core.sample.detection(img, faces, opts) -> result
 *   core.sample.landmarks(img, box, points, opts) -> result
 *   core.sample.windows(img, faces, windows, opts) -> result (hard examples)
 *   core.sample.landmark_windows(img, faces, points, windows, opts) -> result
 *   core.sample.defaults() -> the default parameters
 * faces: an [N, >=4] tensor or a table of {x1, y1, x2, y2} (inclusive);
 * points: 10 planar numbers (x1..x5, y1..y5) in image coordinates (landmark_windows: a
 * row of 10 per face, or the 10 numbers of a single face). opts
 * holds any parameter of runtime/data/mt_sample.h by name, plus seed (an integer)
 * or generator (an mtcnn.Generator), and for detection seeds (a table of N
 * booleans: the faces allowed to seed crops). Unknown keys are an error.
 * result = {size, count, images (a size x count*size strip Image), labels,
 * boxes, targets, landmarks, iou, faces (1-based, 0 = none), aug} with one
 * tensor row per sample; windows' result also has windows = {windows, small, outside,
 * between, neg_over, face_small} (mt_window_counts), landmark_windows' {windows, small,
 * outside, far, points, over}.
 */
#include "lmt.h"

#include "data/mt_sample.h"

#include <stddef.h>
#include <string.h>

typedef enum { P_INT, P_NUM, P_BOOL } ptype;

typedef struct pdesc {
    const char *name;
    ptype type;
    size_t offset;
} pdesc;

#define P(field, type) {#field, type, offsetof(mt_sample_params, field)}
static const pdesc params[] = {
    P(size, P_INT),          P(neg_count, P_INT),          P(neg_max_tries, P_INT),
    P(min_crop, P_INT),      P(neg_max_frac, P_NUM),       P(neg_iou, P_NUM),
    P(min_face, P_INT),      P(near_neg_tries, P_INT),     P(pos_tries, P_INT),
    P(side_lo, P_NUM),       P(side_hi, P_NUM),            P(jitter, P_NUM),
    P(pos_iou, P_NUM),       P(part_iou, P_NUM),           P(label_by_all_faces, P_BOOL),
    P(mirror_p, P_NUM),
    P(lmk_min_face, P_INT),  P(lmk_plain, P_BOOL),         P(lmk_shift_tries, P_INT),
    P(lmk_iou, P_NUM),       P(lmk_mirror_p, P_NUM),       P(lmk_rotate_p, P_NUM),
    P(lmk_angle, P_NUM),
    P(win_min_side, P_INT),  P(win_neg_max, P_INT),       P(win_lmk_iou, P_NUM),
    P(win_lmk_max, P_INT),   P(win_face_min_side, P_INT),
};
#undef P
#define NPARAMS (sizeof params / sizeof params[0])

/* The keys opts may hold besides the parameters ("seeds": detection only). */
static const char *const other_keys[] = {"method", "seed", "generator", "seeds", NULL};

/* Raises for a key of the options table at idx that names nothing. */
static void check_keys(lua_State *L, int idx, int allow_seeds) {
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        const char *key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        if (!key) mtL_errorf(L, "sample: option keys must be names");
        int known = 0;
        for (size_t i = 0; i < NPARAMS && !known; i++) known = strcmp(key, params[i].name) == 0;
        for (int i = 0; other_keys[i] && !known; i++)
            known = strcmp(key, other_keys[i]) == 0 && (allow_seeds || i != 3);
        if (!known) mtL_errorf(L, "sample: unknown option '%s'", key);
    }
}

/* Reads opts (a table or nil) into p; the generator is returned through rng
 * (a seeded local one in *own when opts.seed is given). */
static void read_params(lua_State *L, int idx, mt_sample_params *p, mt_rng **rng, mt_rng *own,
                        int allow_seeds) {
    *p = mt_sample_params_default();
    *rng = mt_rng_default();
    if (lua_isnoneornil(L, idx)) return;
    luaL_checktype(L, idx, LUA_TTABLE);
    check_keys(L, idx, allow_seeds);
    for (size_t i = 0; i < NPARAMS; i++) {
        const char *name = params[i].name;
        char *f = (char *)p + params[i].offset;
        if (params[i].type == P_BOOL) {
            *(int *)f = mtL_optfieldboolean(L, idx, name, *(int *)f);
        } else if (params[i].type == P_INT) {
            lua_Integer v = mtL_optfieldinteger(L, idx, name, *(int *)f);
            if (v < -1000000000 || v > 1000000000) mtL_fielderror(L, name, "integer out of range");
            *(int *)f = (int)v;
        } else {
            *(double *)f = mtL_optfieldnumber(L, idx, name, *(double *)f);
        }
    }
    p->interp = (mt_interp)mtL_optfieldenum(L, idx, "method", p->interp, mtL_interps);
    if (lua_getfield(L, idx, "seed") != LUA_TNIL) {
        mt_rng_seed(own, (uint64_t)mtL_optfieldinteger(L, idx, "seed", 0), 54);
        *rng = own;
    }
    if (lua_getfield(L, idx, "generator") != LUA_TNIL) {
        *rng = (mt_rng *)luaL_testudata(L, -1, MTL_GENERATOR);
        if (!*rng) mtL_fielderror(L, "generator", "mtcnn.Generator expected");
    }
    lua_pop(L, 2); /* the generator stays alive in the options table */
}

/* The sampling parameters in the options table at idx (declared in lmt.h). */
void mtL_sampleparams(lua_State *L, int idx, mt_sample_params *p) {
    mt_rng own, *rng;
    read_params(L, idx, p, &rng, &own, 0);
}

/* sample.defaults() -> table of every parameter's default */
static int l_defaults(lua_State *L) {
    mt_sample_params p = mt_sample_params_default();
    lua_createtable(L, 0, (int)NPARAMS + 1);
    for (size_t i = 0; i < NPARAMS; i++) {
        const char *f = (const char *)&p + params[i].offset;
        if (params[i].type == P_BOOL) lua_pushboolean(L, *(const int *)f);
        else if (params[i].type == P_INT) lua_pushinteger(L, *(const int *)f);
        else lua_pushnumber(L, *(const double *)f);
        lua_setfield(L, -2, params[i].name);
    }
    lua_pushstring(L, mtL_enumname(mtL_interps, p.interp));
    lua_setfield(L, -2, "method");
    return 1;
}

/* A sample set owned by a userdata until its parts are handed to Lua. */
typedef struct holder {
    mt_sample_set *set;
} holder;

static int holder_gc(lua_State *L) {
    holder *h = (holder *)lua_touserdata(L, 1);
    mt_sample_set_free(h->set);
    h->set = NULL;
    return 0;
}

static holder *new_holder(lua_State *L) {
    return (holder *)mtL_newguard(L, sizeof(holder), holder_gc);
}

/* result[field] = an [n, cols] tensor (or [n] when cols is 1) of the values */
static void push_floats(lua_State *L, int result, const float *v, int64_t n, int cols,
                        const char *field) {
    mt_tensor *t;
    int64_t shape[2] = {n, cols};
    MTL_CHECK(L, mt_tensor_new(&t, MT_CPU, cols > 1 ? 2 : 1, shape));
    mtL_pushtensor(L, t);
    if (n > 0) memcpy(mt_tensor_data(t), v, (size_t)(n * cols) * sizeof(float));
    lua_setfield(L, result, field);
}

/* Pushes the result table of the set in h (the strip moves into an Image). */
static void push_result(lua_State *L, holder *h) {
    mt_sample_set *s = h->set;
    int64_t n = s->count;
    lua_createtable(L, 0, 12);
    int result = lua_gettop(L);
    lua_pushinteger(L, s->size);
    lua_setfield(L, -2, "size");
    lua_pushinteger(L, (lua_Integer)n);
    lua_setfield(L, -2, "count");
    mtL_box *box = (mtL_box *)mtL_newbox(L, &mtL_Image, sizeof *box, 0);
    box->obj = s->images;
    s->images = NULL;
    lua_setfield(L, -2, "images");
    /* the small integer columns as float tensors, like everything numeric */
    float *tmp = (float *)mtL_alloc(L, 3 * n, sizeof(float));
    int counts[4] = {0, 0, 0, 0}; /* positive, negative, part, landmark */
    for (int64_t i = 0; i < n; i++) {
        tmp[i] = (float)s->label[i];
        tmp[n + i] = (float)(s->face[i] + 1);
        tmp[2 * n + i] = (float)s->aug[i];
        int l = s->label[i];
        counts[l == 1 ? 0 : l == 0 ? 1 : l == -1 ? 2 : 3]++;
    }
    push_floats(L, result, tmp, n, 1, "labels");
    push_floats(L, result, tmp + n, n, 1, "faces");
    push_floats(L, result, tmp + 2 * n, n, 1, "aug");
    push_floats(L, result, s->box, n, 4, "boxes");
    push_floats(L, result, s->target, n, 4, "targets");
    push_floats(L, result, s->landmark, n, 10, "landmarks");
    push_floats(L, result, s->iou, n, 1, "iou");
    lua_pop(L, 1); /* tmp */
    lua_createtable(L, 0, 4);
    static const char *names[4] = {"positive", "negative", "part", "landmark"};
    for (int k = 0; k < 4; k++) {
        lua_pushinteger(L, counts[k]);
        lua_setfield(L, -2, names[k]);
    }
    lua_setfield(L, -2, "counts");
}

/* sample.detection(img, faces [, opts]) */
static int l_detection(lua_State *L) {
    lua_settop(L, 3); /* optional arguments keep their slots */
    mt_image *im = mtL_checkimage(L, 1);
    mtL_rows faces = mtL_checkrows(L, 2, 4, "sample: faces");
    int64_t n = faces.n;
    mt_sample_params p;
    mt_rng own, *rng;
    read_params(L, 3, &p, &rng, &own, 1);
    uint8_t *seeds = NULL;
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "seeds");
        if (!lua_isnil(L, -1)) {
            luaL_checktype(L, -1, LUA_TTABLE);
            if ((int64_t)lua_rawlen(L, -1) != n)
                return mtL_errorf(L, "sample: %lld faces but %lld seeds entries", (long long)n, (long long)lua_rawlen(L, -1));
            int ti = lua_gettop(L);
            seeds = (uint8_t *)mtL_alloc(L, n, 1);
            for (int64_t i = 0; i < n; i++) {
                lua_rawgeti(L, ti, (lua_Integer)i + 1);
                seeds[i] = (uint8_t)lua_toboolean(L, -1);
                lua_pop(L, 1);
            }
        }
    }
    holder *h = new_holder(L);
    MTL_CHECK(L, mt_sample_detection(&h->set, im, faces.d, seeds, n, &p, rng));
    push_result(L, h);
    return 1;
}

/* sample.landmarks(img, box, points [, opts]) */
static int l_landmarks(lua_State *L) {
    lua_settop(L, 4); /* optional arguments keep their slots */
    mt_image *im = mtL_checkimage(L, 1);
    const int flags = MTL_ROWS_ONE | MTL_ROWS_EXACT;
    const double *box = mtL_checkrowsx(L, 2, 4, flags, NULL, "sample: box {x1, y1, x2, y2}").d;
    const double *pts = mtL_checkrowsx(L, 3, 10, flags, NULL, "sample: points (x1..x5, y1..y5)").d;
    mt_sample_params p;
    mt_rng own, *rng;
    read_params(L, 4, &p, &rng, &own, 0);
    holder *h = new_holder(L);
    MTL_CHECK(L, mt_sample_landmarks(&h->set, im, box, pts, &p, rng));
    push_result(L, h);
    return 1;
}

/* Sets t.name (t on top of the stack) to the integer v. */
static void set_count(lua_State *L, const char *name, int64_t v) {
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, name);
}

/* Pushes the table of mt_window_counts k: of hard examples, or of landmark windows. */
void mtL_pushwindowcounts(lua_State *L, const mt_window_counts *k, int landmarks) {
    lua_createtable(L, 0, 6);
    set_count(L, "windows", k->windows);
    set_count(L, "small", k->small);
    set_count(L, "outside", k->outside);
    if (landmarks) {
        set_count(L, "far", k->lmk_far);
        set_count(L, "points", k->lmk_points);
        set_count(L, "over", k->lmk_over);
    } else {
        set_count(L, "between", k->between);
        set_count(L, "neg_over", k->neg_over);
        set_count(L, "face_small", k->face_small);
    }
}

/* sample.windows(img, faces, windows [, opts]) */
static int l_windows(lua_State *L) {
    lua_settop(L, 4); /* optional arguments keep their slots */
    mt_image *im = mtL_checkimage(L, 1);
    mtL_rows faces = mtL_checkrows(L, 2, 4, "sample: faces");
    mtL_rows windows = mtL_checkrows(L, 3, 4, "sample: windows");
    mt_sample_params p;
    mt_rng own, *rng;
    read_params(L, 4, &p, &rng, &own, 0);
    holder *h = new_holder(L);
    mt_window_counts k;
    MTL_CHECK(L, mt_sample_windows(&h->set, im, faces.d, faces.n, windows.d, windows.n, &p, &k));
    push_result(L, h);
    mtL_pushwindowcounts(L, &k, 0);
    lua_setfield(L, -2, "windows");
    return 1;
}

/* sample.landmark_windows(img, faces, points, windows [, opts]) */
static int l_landmark_windows(lua_State *L) {
    lua_settop(L, 5);
    mt_image *im = mtL_checkimage(L, 1);
    mtL_rows faces = mtL_checkrows(L, 2, 4, "sample: faces");
    mtL_rows points = mtL_checkrows(L, 3, 10, "sample: points");
    if (points.n != faces.n)
        return mtL_errorf(L, "sample: %lld faces but %lld sets of points", (long long)faces.n,
                          (long long)points.n);
    mtL_rows windows = mtL_checkrows(L, 4, 4, "sample: windows");
    mt_sample_params p;
    mt_rng own, *rng;
    read_params(L, 5, &p, &rng, &own, 0);
    holder *h = new_holder(L);
    mt_window_counts k;
    MTL_CHECK(L, mt_sample_landmark_windows(&h->set, im, faces.d, points.d, faces.n, windows.d,
                                            windows.n, &p, &k));
    push_result(L, h);
    mtL_pushwindowcounts(L, &k, 1);
    lua_setfield(L, -2, "windows");
    return 1;
}

static const luaL_Reg sample_functions[] = {
    {"detection", l_detection},
    {"landmarks", l_landmarks},
    {"windows", l_windows},
    {"landmark_windows", l_landmark_windows},
    {"defaults", l_defaults},
    {NULL, NULL},
};

int mtL_open_sample(lua_State *L) {
    luaL_newlib(L, sample_functions);
    return 1;
}
