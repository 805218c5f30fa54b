/*
 * lmt_box.c - the Lua binding of box geometry (mtcnn.box).
 *
 * Boxes come in three forms, and results come back in the form given:
 *   - an [N, K] CPU tensor, K >= 4: columns x1, y1, x2, y2, then anything
 *     (score, offsets, ...), carried through unchanged; the fast form;
 *   - a table of rows {{x1, y1, x2, y2, ...}, ...}; extra entries are copied;
 *   - a single row {x1, y1, x2, y2, ...} (or a 1-d tensor) where one box is
 *     meant.
 * Boxes are 0-based and inclusive (docs/design.md, 'Pixels and boxes'); the math is in
 * double (runtime/detect/mt_box.h). Indices returned to Lua are 1-based.
 */
#include "lmt.h"

#include "detect/mt_box.h"

#include <string.h>

enum form { FORM_TENSOR, FORM_ROWS, FORM_ROW, FORM_VECTOR };

typedef struct rows {
    enum form form;
    int idx;        /* stack index of the input */
    int64_t n;      /* rows */
    int cols;       /* numbers read per row */
    double *d;      /* n * cols values, in a userdata on the stack */
} rows;

static double num_at(lua_State *L, int tidx, int i, const char *what, int row) {
    lua_rawgeti(L, tidx, i);
    int ok;
    double v = lua_tonumberx(L, -1, &ok);
    if (!ok) luaL_error(L, "%s: row %d needs at least %d numbers", what, row, i);
    lua_pop(L, 1);
    return v;
}

/* Reads the first cols numbers of every row of the value at idx. single: a
 * lone row (flat table, 1-d tensor) is accepted as one row. */
static rows read_rows(lua_State *L, int idx, int cols, int single, const char *what) {
    rows r;
    memset(&r, 0, sizeof r);
    r.idx = idx = lua_absindex(L, idx);
    r.cols = cols;
    mt_tensor *t = mtL_testtensor(L, idx);
    if (t) {
        char s[MT_SHAPE_STR];
        if (mt_tensor_device(t) != MT_CPU) luaL_error(L, "%s: the tensor must be on the cpu", what);
        if (t->ndim == 1 && single && t->shape[0] >= cols) {
            r.form = FORM_VECTOR, r.n = 1;
        } else if (t->ndim == 2 && t->shape[1] >= cols) {
            r.form = FORM_TENSOR, r.n = t->shape[0];
        } else {
            luaL_error(L, "%s: tensor %s should be Nx%d (or wider)", what, mt_tensor_shape_str(t, s), cols);
        }
        r.d = (double *)lua_newuserdatauv(L, (size_t)(r.n * cols + 1) * sizeof(double), 0);
        const float *p = mt_tensor_data(t);
        int64_t s0 = t->ndim == 2 ? t->stride[0] : 0, s1 = t->stride[t->ndim - 1];
        for (int64_t i = 0; i < r.n; i++)
            for (int k = 0; k < cols; k++) r.d[i * cols + k] = p[i * s0 + k * s1];
        return r;
    }
    if (!lua_istable(L, idx)) luaL_error(L, "%s: boxes must be a tensor or a table", what);
    lua_rawgeti(L, idx, 1);
    int first = lua_type(L, -1);
    lua_pop(L, 1);
    if (first == LUA_TNUMBER && single) {
        r.form = FORM_ROW, r.n = 1;
        r.d = (double *)lua_newuserdatauv(L, (size_t)cols * sizeof(double), 0);
        for (int k = 0; k < cols; k++) r.d[k] = num_at(L, idx, k + 1, what, 1);
        return r;
    }
    r.form = FORM_ROWS;
    r.n = (int64_t)lua_rawlen(L, idx);
    r.d = (double *)lua_newuserdatauv(L, (size_t)(r.n * cols + 1) * sizeof(double), 0);
    for (int64_t i = 0; i < r.n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        if (!lua_istable(L, -1)) luaL_error(L, "%s: row %d is not a table", what, (int)i + 1);
        int ti = lua_gettop(L);
        for (int k = 0; k < cols; k++) r.d[i * cols + k] = num_at(L, ti, k + 1, what, (int)i + 1);
        lua_pop(L, 1);
    }
    return r;
}

/* Pushes the rows in the form of like (the input at like.idx): a copy of the
 * input with its first cols columns replaced by values. */
static void push_like(lua_State *L, const rows *like, const double *values, int cols) {
    if (like->form == FORM_TENSOR || like->form == FORM_VECTOR) {
        mt_tensor *src = mtL_checktensor(L, like->idx), *t;
        MTL_CHECK(L, mt_tensor_clone(&t, src));
        mtL_pushtensor(L, t);
        float *p = mt_tensor_data(t);
        int64_t width = t->ndim == 2 ? t->shape[1] : t->shape[0];
        for (int64_t i = 0; i < like->n; i++)
            for (int k = 0; k < cols; k++) p[i * width + k] = (float)values[i * cols + k];
        return;
    }
    if (like->form == FORM_ROW) {
        int len = (int)lua_rawlen(L, like->idx);
        lua_createtable(L, len, 0);
        for (int k = 1; k <= len; k++) {
            lua_rawgeti(L, like->idx, k);
            lua_rawseti(L, -2, k);
        }
        for (int k = 0; k < cols; k++) {
            lua_pushnumber(L, values[k]);
            lua_rawseti(L, -2, k + 1);
        }
        return;
    }
    lua_createtable(L, (int)like->n, 0);
    for (int64_t i = 0; i < like->n; i++) {
        lua_rawgeti(L, like->idx, (lua_Integer)i + 1);
        int len = (int)lua_rawlen(L, -1);
        lua_createtable(L, len > cols ? len : cols, 0);
        for (int k = 1; k <= len; k++) {
            lua_rawgeti(L, -2, k);
            lua_rawseti(L, -2, k);
        }
        for (int k = 0; k < cols; k++) {
            lua_pushnumber(L, values[i * cols + k]);
            lua_rawseti(L, -2, k + 1);
        }
        lua_rawseti(L, -3, (lua_Integer)i + 1);
        lua_pop(L, 1);
    }
}

/* Pushes n rows of cols values as a new [n, cols] tensor (tensor input) or a
 * table of rows (table input), or one row for single inputs. */
static void push_new_rows(lua_State *L, const rows *like, const double *values, int64_t n, int cols) {
    if (like->form == FORM_TENSOR || like->form == FORM_VECTOR) {
        mt_tensor *t;
        int64_t shape[2] = {n, cols};
        if (like->form == FORM_VECTOR) MTL_CHECK(L, mt_tensor_new(&t, MT_CPU, 1, shape + 1));
        else MTL_CHECK(L, mt_tensor_new(&t, MT_CPU, 2, shape));
        mtL_pushtensor(L, t);
        float *p = mt_tensor_data(t);
        for (int64_t i = 0; i < n * cols; i++) p[i] = (float)values[i];
        return;
    }
    if (like->form == FORM_ROW) {
        lua_createtable(L, cols, 0);
        for (int k = 0; k < cols; k++) {
            lua_pushnumber(L, values[k]);
            lua_rawseti(L, -2, k + 1);
        }
        return;
    }
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_createtable(L, cols, 0);
        for (int k = 0; k < cols; k++) {
            lua_pushnumber(L, values[i * cols + k]);
            lua_rawseti(L, -2, k + 1);
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

static mt_overlap check_overlap(lua_State *L, int idx) {
    const char *m = luaL_optstring(L, idx, "union");
    if (strcmp(m, "union") == 0 || strcmp(m, "Union") == 0) return MT_OVERLAP_UNION;
    if (strcmp(m, "min") == 0 || strcmp(m, "Min") == 0) return MT_OVERLAP_MIN;
    return (mt_overlap)luaL_error(L, "overlap method must be \"union\" or \"min\", not \"%s\"", m);
}

/* box.iou(box, boxes [, "union" | "min"]) -> overlaps ([N] tensor or table) */
static int l_iou(lua_State *L) {
    lua_settop(L, 3); /* optional arguments keep their slots */
    rows a = read_rows(L, 1, 4, 1, "iou");
    if (a.n != 1) return luaL_error(L, "iou: the first argument must be one box");
    rows b = read_rows(L, 2, 4, 0, "iou");
    mt_overlap kind = check_overlap(L, 3);
    double *o = (double *)lua_newuserdatauv(L, (size_t)(b.n + 1) * sizeof(double), 0);
    mt_box_overlaps(a.d, b.d, b.n, kind, o);
    if (b.form == FORM_TENSOR) {
        mt_tensor *t;
        MTL_CHECK(L, mt_tensor_new(&t, MT_CPU, 1, &b.n));
        mtL_pushtensor(L, t);
        float *p = mt_tensor_data(t);
        for (int64_t i = 0; i < b.n; i++) p[i] = (float)o[i];
    } else {
        lua_createtable(L, (int)b.n, 0);
        for (int64_t i = 0; i < b.n; i++) {
            lua_pushnumber(L, o[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
    }
    return 1;
}

/* box.nms(boxes, threshold [, "union" | "min" [, scores]]) -> kept 1-based
 * indices in the order kept. Scores: the given tensor/table, else column 5. */
static int l_nms(lua_State *L) {
    lua_settop(L, 4); /* optional arguments keep their slots */
    double threshold = luaL_checknumber(L, 2);
    mt_overlap kind = check_overlap(L, 3);
    int has_scores = !lua_isnoneornil(L, 4);
    rows b = read_rows(L, 1, has_scores ? 4 : 5, 0, "nms");
    double *boxes = b.d, *scores;
    int64_t n = b.n;
    if (has_scores) {
        scores = (double *)lua_newuserdatauv(L, (size_t)(n + 1) * sizeof(double), 0);
        mt_tensor *t = mtL_testtensor(L, 4);
        if (t) {
            if (mt_tensor_numel(t) != n || mt_tensor_device(t) != MT_CPU)
                return luaL_error(L, "nms: %d boxes but %d scores", (int)n, (int)mt_tensor_numel(t));
            float *tmp = (float *)lua_newuserdatauv(L, (size_t)(n + 1) * sizeof(float), 0);
            MTL_CHECK(L, mt_tensor_download(t, tmp, n));
            for (int64_t i = 0; i < n; i++) scores[i] = tmp[i];
        } else {
            luaL_checktype(L, 4, LUA_TTABLE);
            if ((int64_t)lua_rawlen(L, 4) != n)
                return luaL_error(L, "nms: %d boxes but %d scores", (int)n, (int)lua_rawlen(L, 4));
            for (int64_t i = 0; i < n; i++) scores[i] = num_at(L, 4, (int)i + 1, "nms: scores", 1);
        }
    } else {
        /* boxes were read with 5 columns: split them */
        boxes = (double *)lua_newuserdatauv(L, (size_t)(n * 4 + 1) * sizeof(double), 0);
        scores = (double *)lua_newuserdatauv(L, (size_t)(n + 1) * sizeof(double), 0);
        for (int64_t i = 0; i < n; i++) {
            memcpy(boxes + 4 * i, b.d + 5 * i, 4 * sizeof(double));
            scores[i] = b.d[5 * i + 4];
        }
    }
    int64_t *keep = (int64_t *)lua_newuserdatauv(L, (size_t)(n + 1) * sizeof(int64_t), 0);
    int64_t nkeep;
    MTL_CHECK(L, mt_box_nms(boxes, scores, n, threshold, kind, keep, &nkeep));
    lua_createtable(L, (int)nkeep, 0);
    for (int64_t i = 0; i < nkeep; i++) {
        lua_pushinteger(L, (lua_Integer)keep[i] + 1);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static mt_square_mode check_square_mode(lua_State *L, const char *m) {
    if (strcmp(m, "rerec") == 0) return MT_SQUARE_REREC;
    if (strcmp(m, "inclusive") == 0) return MT_SQUARE_INCLUSIVE;
    return (mt_square_mode)luaL_error(L, "square mode must be \"rerec\" or \"inclusive\", not \"%s\"", m);
}

/* option helpers: field name of the table at idx */
static int opt_bool(lua_State *L, int idx, const char *name, int def) {
    if (!lua_istable(L, idx)) return def;
    lua_getfield(L, idx, name);
    int v = lua_isnil(L, -1) ? def : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static const char *opt_string(lua_State *L, int idx, const char *name, const char *def) {
    if (!lua_istable(L, idx)) return def;
    lua_getfield(L, idx, name);
    const char *v = def;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "option '%s' must be a string", name);
        v = lua_tostring(L, -1);
    }
    lua_pop(L, 1); /* the string stays alive in the options table */
    return v;
}

/* box.square(boxes [, mode = "rerec" | {mode, fix}]) */
static int l_square(lua_State *L) {
    lua_settop(L, 2); /* optional arguments keep their slots */
    rows b = read_rows(L, 1, 4, 1, "square");
    const char *mode = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : opt_string(L, 2, "mode", "rerec");
    mt_box_square(b.d, b.n, check_square_mode(L, mode));
    if (opt_bool(L, 2, "fix", 0)) mt_box_fix(b.d, b.n);
    push_like(L, &b, b.d, 4);
    return 1;
}

/* box.calibrate(boxes, reg [, {plus_one = true, square = nil | mode, fix = false}]) */
static int l_calibrate(lua_State *L) {
    lua_settop(L, 3); /* optional arguments keep their slots */
    rows b = read_rows(L, 1, 4, 1, "calibrate");
    rows r = read_rows(L, 2, 4, 1, "calibrate: offsets");
    if (r.n != b.n) return luaL_error(L, "calibrate: %d boxes but %d offsets", (int)b.n, (int)r.n);
    mt_box_calibrate(b.d, r.d, b.n, opt_bool(L, 3, "plus_one", 1));
    const char *sq = opt_string(L, 3, "square", NULL);
    if (sq) mt_box_square(b.d, b.n, check_square_mode(L, sq));
    if (opt_bool(L, 3, "fix", 0)) mt_box_fix(b.d, b.n);
    push_like(L, &b, b.d, 4);
    return 1;
}

/* box.fix(boxes): coordinates truncated toward zero */
static int l_fix(lua_State *L) {
    lua_settop(L, 1); /* optional arguments keep their slots */
    rows b = read_rows(L, 1, 4, 1, "fix");
    mt_box_fix(b.d, b.n);
    push_like(L, &b, b.d, 4);
    return 1;
}

/* box.targets(crops, gts) -> regression targets, one row of 4 per crop */
static int l_targets(lua_State *L) {
    lua_settop(L, 2); /* optional arguments keep their slots */
    rows c = read_rows(L, 1, 4, 1, "targets");
    rows g = read_rows(L, 2, 4, 1, "targets: ground truth");
    if (c.n != g.n) return luaL_error(L, "targets: %d crops but %d boxes", (int)c.n, (int)g.n);
    double *t = (double *)lua_newuserdatauv(L, (size_t)(c.n * 4 + 1) * sizeof(double), 0);
    mt_box_targets(c.d, g.d, c.n, t);
    push_new_rows(L, &c, t, c.n, 4);
    return 1;
}

/* box.landmarks_to_box(points, boxes [, offset = 0.5]) and the inverse
 * landmarks_from_box: planar rows of 10 against rows of boxes. */
static int landmarks_map(lua_State *L, int to) {
    lua_settop(L, 3); /* optional arguments keep their slots */
    const char *what = to ? "landmarks_to_box" : "landmarks_from_box";
    rows p = read_rows(L, 1, 10, 1, what);
    rows b = read_rows(L, 2, 4, 1, what);
    double offset = luaL_optnumber(L, 3, 0.5);
    if (p.n != b.n) return luaL_error(L, "%s: %d landmark rows but %d boxes", what, (int)p.n, (int)b.n);
    double *o = (double *)lua_newuserdatauv(L, (size_t)(p.n * 10 + 1) * sizeof(double), 0);
    for (int64_t i = 0; i < p.n; i++) {
        if (to) mt_landmarks_to_box(p.d + 10 * i, b.d + 4 * i, offset, o + 10 * i);
        else mt_landmarks_from_box(p.d + 10 * i, b.d + 4 * i, offset, o + 10 * i);
    }
    push_like(L, &p, o, 10);
    return 1;
}
static int l_landmarks_to_box(lua_State *L) { return landmarks_map(L, 1); }
static int l_landmarks_from_box(lua_State *L) { return landmarks_map(L, 0); }

/* box.mirror_landmarks(norm): u -> 1 - u, eyes and mouth corners swapped */
static int l_mirror_landmarks(lua_State *L) {
    lua_settop(L, 1); /* optional arguments keep their slots */
    rows p = read_rows(L, 1, 10, 1, "mirror_landmarks");
    for (int64_t i = 0; i < p.n; i++) mt_landmarks_mirror(p.d + 10 * i);
    push_like(L, &p, p.d, 10);
    return 1;
}

/* box.mirror_targets(t): (dx1, dy1, dx2, dy2) -> (-dx2, dy1, -dx1, dy2) */
static int l_mirror_targets(lua_State *L) {
    lua_settop(L, 1); /* optional arguments keep their slots */
    rows t = read_rows(L, 1, 4, 1, "mirror_targets");
    for (int64_t i = 0; i < t.n; i++) mt_targets_mirror(t.d + 4 * i);
    push_like(L, &t, t.d, 4);
    return 1;
}

/* box.select(t, indices) -> the rows of tensor t (first dimension) at the
 * 1-based indices, as a new contiguous tensor */
static int l_select(lua_State *L) {
    lua_settop(L, 2); /* optional arguments keep their slots */
    mt_tensor *t = mtL_checktensor(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (t->ndim < 1 || mt_tensor_device(t) != MT_CPU)
        return luaL_error(L, "select: needs a cpu tensor with at least one dimension");
    int64_t k = (int64_t)lua_rawlen(L, 2);
    mt_tensor *c;
    MTL_CHECK(L, mt_tensor_contiguous(&c, t));
    mtL_pushtensor(L, c); /* owned by Lua from here */
    int64_t shape[MT_MAX_DIMS];
    memcpy(shape, c->shape, sizeof shape);
    shape[0] = k;
    int64_t row = c->shape[0] ? mt_tensor_numel(c) / c->shape[0] : 0;
    mt_tensor *o;
    MTL_CHECK(L, mt_tensor_new(&o, MT_CPU, c->ndim, shape));
    mtL_pushtensor(L, o);
    const float *src = mt_tensor_data(c);
    float *dst = mt_tensor_data(o);
    for (int64_t i = 0; i < k; i++) {
        lua_rawgeti(L, 2, (lua_Integer)i + 1);
        int ok;
        lua_Integer j = lua_tointegerx(L, -1, &ok);
        lua_pop(L, 1);
        if (!ok || j < 1 || j > c->shape[0])
            return luaL_error(L, "select: index %d (entry %d) is not in 1..%d", (int)j, (int)i + 1,
                              (int)c->shape[0]);
        memcpy(dst + i * row, src + (j - 1) * row, (size_t)row * sizeof(float));
    }
    return 1;
}

static const luaL_Reg box_functions[] = {
    {"iou", l_iou},
    {"nms", l_nms},
    {"square", l_square},
    {"calibrate", l_calibrate},
    {"fix", l_fix},
    {"targets", l_targets},
    {"landmarks_to_box", l_landmarks_to_box},
    {"landmarks_from_box", l_landmarks_from_box},
    {"mirror_landmarks", l_mirror_landmarks},
    {"mirror_targets", l_mirror_targets},
    {"select", l_select},
    {NULL, NULL},
};

int mtL_open_box(lua_State *L) {
    luaL_newlib(L, box_functions);
    return 1;
}
