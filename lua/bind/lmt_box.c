/*
 * lmt_box.c - the Lua binding of box geometry (mtcnn.box).
 *
 * Boxes are rows of numbers (mtL_checkrows), and results come back in the form given:
 *   - an [N, K] CPU tensor, K >= 4: columns x1, y1, x2, y2, then anything
 *     (score, offsets, ...), carried through unchanged; the fast form;
 *   - a table of rows {{x1, y1, x2, y2, ...}, ...}; extra entries are copied;
 *   - a single row {x1, y1, x2, y2, ...} or a 1-d tensor: one box.
 * Boxes are 0-based and inclusive (docs/design.md, 'Pixels and boxes'); the math is in
 * double (runtime/detect/mt_box.h). Indices returned to Lua are 1-based.
 */
#include "lmt.h"

#include "detect/mt_box.h"

#include <string.h>

/* Pushes the rows in the form of like (the input at like->idx): a copy of the input with its
 * first cols columns replaced by values. */
static void push_like(lua_State *L, const mtL_rows *like, const double *values, int cols) {
    if (like->form == MTL_FORM_TENSOR || like->form == MTL_FORM_VECTOR) {
        mt_tensor *src = mtL_checktensor(L, like->idx), *t;
        MTL_CHECK(L, mt_tensor_clone(&t, src));
        mtL_pushtensor(L, t);
        float *p = mt_tensor_data(t);
        int64_t width = t->shape[t->ndim - 1];
        for (int64_t i = 0; i < like->n; i++)
            for (int k = 0; k < cols; k++) p[i * width + k] = (float)values[i * cols + k];
        return;
    }
    int one = like->form == MTL_FORM_ROW;
    if (!one) lua_createtable(L, (int)like->n, 0);
    for (int64_t i = 0; i < like->n; i++) {
        if (one) lua_pushvalue(L, like->idx);
        else lua_rawgeti(L, like->idx, (lua_Integer)i + 1);
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
        lua_remove(L, -2);
        if (!one) lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

/* box.iou(box, boxes [, "union" | "min"]) -> overlaps ([N] tensor or table) */
static int l_iou(lua_State *L) {
    lua_settop(L, 3); /* optional arguments keep their slots */
    mtL_rows a = mtL_checkrows(L, 1, 4, "iou");
    if (a.n != 1) return mtL_errorf(L, "iou: the first argument must be one box");
    mtL_rows b = mtL_checkrows(L, 2, 4, "iou");
    mt_overlap kind = (mt_overlap)mtL_checkenum(L, 3, MT_OVERLAP_UNION, mtL_overlaps);
    double *o = (double *)mtL_alloc(L, b.n, sizeof(double));
    mt_box_overlaps(a.d, b.d, b.n, kind, o);
    int tensor = b.form == MTL_FORM_TENSOR || b.form == MTL_FORM_VECTOR;
    mtL_pushrows(L, o, 1, (int)b.n, tensor ? MTL_FORM_VECTOR : MTL_FORM_ROW);
    return 1;
}

/* box.nms(boxes, threshold [, "union" | "min" [, scores]]) -> kept 1-based
 * indices in the order kept. Scores: the given tensor/table, else column 5. */
static int l_nms(lua_State *L) {
    lua_settop(L, 4); /* optional arguments keep their slots */
    double threshold = luaL_checknumber(L, 2);
    mt_overlap kind = (mt_overlap)mtL_checkenum(L, 3, MT_OVERLAP_UNION, mtL_overlaps);
    int has_scores = !lua_isnoneornil(L, 4);
    mtL_rows b = mtL_checkrows(L, 1, has_scores ? 4 : 5, "nms");
    double *boxes = b.d, *scores;
    int64_t n = b.n;
    if (has_scores) {
        mtL_rows s = mtL_checkrowsx(L, 4, 0, MTL_ROWS_ONE, NULL, "nms: scores");
        if (s.cols != n) return mtL_errorf(L, "nms: %lld boxes but %d scores", (long long)n, s.cols);
        scores = s.d;
    } else {
        /* boxes were read with 5 columns: split them */
        boxes = (double *)mtL_alloc(L, n * 4, sizeof(double));
        scores = (double *)mtL_alloc(L, n, sizeof(double));
        for (int64_t i = 0; i < n; i++) {
            memcpy(boxes + 4 * i, b.d + 5 * i, 4 * sizeof(double));
            scores[i] = b.d[5 * i + 4];
        }
    }
    int64_t *keep = (int64_t *)mtL_alloc(L, n, sizeof(int64_t));
    int64_t nkeep;
    MTL_CHECK(L, mt_box_nms(boxes, scores, n, threshold, kind, keep, &nkeep));
    lua_createtable(L, (int)nkeep, 0);
    for (int64_t i = 0; i < nkeep; i++) {
        lua_pushinteger(L, (lua_Integer)keep[i] + 1);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* box.square(boxes [, mode = "rerec" | {mode, fix}]) */
static int l_square(lua_State *L) {
    lua_settop(L, 2); /* optional arguments keep their slots */
    mtL_rows b = mtL_checkrows(L, 1, 4, "square");
    int mode = lua_type(L, 2) == LUA_TSTRING
                   ? mtL_checkenum(L, 2, MTL_NONE, mtL_square_modes)
                   : mtL_optfieldenum(L, 2, "mode", MT_SQUARE_REREC, mtL_square_modes);
    mt_box_square(b.d, b.n, (mt_square_mode)mode);
    if (mtL_optfieldboolean(L, 2, "fix", 0)) mt_box_fix(b.d, b.n);
    push_like(L, &b, b.d, 4);
    return 1;
}

/* box.calibrate(boxes, reg [, {plus_one = true, square = nil | mode, fix = false}]) */
static int l_calibrate(lua_State *L) {
    lua_settop(L, 3); /* optional arguments keep their slots */
    mtL_rows b = mtL_checkrows(L, 1, 4, "calibrate");
    mtL_rows r = mtL_checkrows(L, 2, 4, "calibrate: offsets");
    mtL_checkcounts(L, &b, "boxes", &r, "offsets", "calibrate");
    mt_box_calibrate(b.d, r.d, b.n, mtL_optfieldboolean(L, 3, "plus_one", 1));
    int square = mtL_optfieldenum(L, 3, "square", MTL_NONE, mtL_square_modes);
    if (square != MTL_NONE) mt_box_square(b.d, b.n, (mt_square_mode)square);
    if (mtL_optfieldboolean(L, 3, "fix", 0)) mt_box_fix(b.d, b.n);
    push_like(L, &b, b.d, 4);
    return 1;
}

/* Applies f to every row of cols numbers of argument 1; the result takes its form. */
static int map_rows(lua_State *L, int cols, void (*f)(double *row), const char *what) {
    lua_settop(L, 1); /* optional arguments keep their slots */
    mtL_rows r = mtL_checkrows(L, 1, cols, what);
    for (int64_t i = 0; i < r.n; i++) f(r.d + (int64_t)cols * i);
    push_like(L, &r, r.d, cols);
    return 1;
}

static void fix_row(double *box) { mt_box_fix(box, 1); }

/* box.fix(boxes): coordinates truncated toward zero */
static int l_fix(lua_State *L) { return map_rows(L, 4, fix_row, "fix"); }
/* box.mirror_landmarks(norm): u -> 1 - u, eyes and mouth corners swapped */
static int l_mirror_landmarks(lua_State *L) {
    return map_rows(L, 10, mt_landmarks_mirror, "mirror_landmarks");
}
/* box.mirror_targets(t): (dx1, dy1, dx2, dy2) -> (-dx2, dy1, -dx1, dy2) */
static int l_mirror_targets(lua_State *L) {
    return map_rows(L, 4, mt_targets_mirror, "mirror_targets");
}

/* box.targets(crops, gts) -> regression targets, one row of 4 per crop */
static int l_targets(lua_State *L) {
    lua_settop(L, 2); /* optional arguments keep their slots */
    mtL_rows c = mtL_checkrows(L, 1, 4, "targets");
    mtL_rows g = mtL_checkrows(L, 2, 4, "targets: ground truth");
    mtL_checkcounts(L, &c, "crops", &g, "boxes", "targets");
    double *t = (double *)mtL_alloc(L, c.n * 4, sizeof(double));
    mt_box_targets(c.d, g.d, c.n, t);
    mtL_pushrows(L, t, c.n, 4, c.form);
    return 1;
}

/* box.landmarks_to_box(points, boxes [, offset = 0.5]) and the inverse
 * landmarks_from_box: planar rows of 10 against rows of boxes. */
static int landmarks_map(lua_State *L, int to) {
    lua_settop(L, 3); /* optional arguments keep their slots */
    const char *what = to ? "landmarks_to_box" : "landmarks_from_box";
    mtL_rows p = mtL_checkrows(L, 1, 10, what);
    mtL_rows b = mtL_checkrows(L, 2, 4, what);
    double offset = luaL_optnumber(L, 3, 0.5);
    mtL_checkcounts(L, &p, "landmark rows", &b, "boxes", what);
    double *o = (double *)mtL_alloc(L, p.n * 10, sizeof(double));
    for (int64_t i = 0; i < p.n; i++) {
        if (to) mt_landmarks_to_box(p.d + 10 * i, b.d + 4 * i, offset, o + 10 * i);
        else mt_landmarks_from_box(p.d + 10 * i, b.d + 4 * i, offset, o + 10 * i);
    }
    push_like(L, &p, o, 10);
    return 1;
}
static int l_landmarks_to_box(lua_State *L) { return landmarks_map(L, 1); }
static int l_landmarks_from_box(lua_State *L) { return landmarks_map(L, 0); }

/* box.select(t, indices) -> the rows of tensor t (first dimension) at the
 * 1-based indices, as a new contiguous tensor */
static int l_select(lua_State *L) {
    lua_settop(L, 2); /* optional arguments keep their slots */
    mt_tensor *t = mtL_checktensor(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (t->ndim < 1 || mt_tensor_device(t) != MT_CPU)
        return mtL_errorf(L, "select: needs a cpu tensor with at least one dimension");
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
            return mtL_errorf(L, "select: index %lld (entry %lld) is not in 1..%lld", (long long)j, (long long)i + 1,
                              (long long)c->shape[0]);
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
