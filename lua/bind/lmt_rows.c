/*
 * lmt_rows.c - the one reader of "rows of numbers" (see lmt.h): boxes, landmarks, points,
 * matrices, weights and plain lists of numbers all arrive as a table of rows, one row, or a
 * tensor, and leave the reader as doubles, row after row, in a userdata on the stack.
 */
#include "lmt.h"

#include <limits.h>
#include <string.h>

typedef struct spec {
    int cols;         /* numbers per row (0 until the first row says) */
    int from_first;   /* the width was taken from the first row */
    int exact, one;   /* MTL_ROWS_EXACT, MTL_ROWS_ONE */
    const char *item; /* the numbers' name in messages */
    const char *what; /* the messages' prefix */
} spec;

static int width_of(lua_State *L, size_t len, const spec *s) {
    if (len > INT_MAX)
        mtL_errorf(L, "%s: %d or more %s in a row is too many", s->what, INT_MAX, s->item);
    return (int)len;
}

/* Raises for row `row` (1-based) holding len entries where s->cols are wanted. */
static int short_row(lua_State *L, const spec *s, int64_t row, lua_Integer len) {
    if (s->one)
        return mtL_errorf(L, "%s needs %s%d %s", s->what, s->exact ? "" : "at least ", s->cols,
                          s->item);
    if (s->from_first)
        return mtL_errorf(L, "%s: row %lld has %lld %s, row 1 has %d", s->what, (long long)row, (long long)len,
                          s->item, s->cols);
    return mtL_errorf(L, "%s: row %lld needs %s%d %s", s->what, (long long)row, s->exact ? "" : "at least ",
                      s->cols, s->item);
}

/* Reads entries 1..cols of the row at tidx (row `row` of the input) into dst. */
static void read_row(lua_State *L, int tidx, int64_t row, const spec *s, double *dst) {
    if (s->exact && lua_rawlen(L, tidx) != (size_t)s->cols)
        short_row(L, s, row, (lua_Integer)lua_rawlen(L, tidx));
    for (int k = 0; k < s->cols; k++) {
        int ok, t = lua_rawgeti(L, tidx, k + 1);
        dst[k] = lua_tonumberx(L, -1, &ok);
        if (ok) {
            lua_pop(L, 1);
            continue;
        }
        if (t == LUA_TNIL) short_row(L, s, row, k);
        if (s->one) mtL_errorf(L, "%s: item %d is not a number", s->what, k + 1);
        mtL_errorf(L, "%s: row %lld: item %d is not a number", s->what, (long long)row, k + 1);
    }
}

/* The one-list form of a tensor: its values in row-major order, whatever its shape. */
static mtL_rows tensor_list(lua_State *L, mtL_rows r, mt_tensor *t, spec *s) {
    int64_t numel = mt_tensor_numel(t);
    if (s->cols == 0) s->cols = width_of(L, (size_t)numel, s);
    if (s->exact ? numel != s->cols : numel < s->cols)
        mtL_errorf(L, "%s needs %s%d %s, the tensor has %lld", s->what, s->exact ? "" : "at least ",
                   s->cols, s->item, (long long)numel);
    r.form = MTL_FORM_VECTOR, r.n = 1, r.cols = s->cols;
    r.d = (double *)mtL_alloc(L, s->cols, sizeof(double));
    float *v = (float *)mtL_alloc(L, numel, sizeof(float));
    MTL_CHECK(L, mt_tensor_download(t, v, numel));
    for (int k = 0; k < s->cols; k++)
        r.d[k] = v[k];
    lua_pop(L, 1);
    return r;
}

/* An [N, k] or [k] cpu tensor, read through its strides. */
static mtL_rows tensor_rows(lua_State *L, mtL_rows r, mt_tensor *t, spec *s) {
    if (s->one) return tensor_list(L, r, t, s);
    if (mt_tensor_device(t) != MT_CPU) mtL_errorf(L, "%s: the tensor must be on the cpu", s->what);
    int64_t width = t->ndim >= 1 ? t->shape[t->ndim - 1] : 0;
    if (s->cols == 0 && (t->ndim == 1 || t->ndim == 2)) s->cols = width_of(L, (size_t)width, s);
    if ((t->ndim != 1 && t->ndim != 2) || (s->exact ? width != s->cols : width < s->cols)) {
        char str[MT_SHAPE_STR];
        mtL_errorf(L, "%s: tensor %s should be Nx%d%s", s->what, mt_tensor_shape_str(t, str),
                   s->cols, s->exact ? "" : " (or wider)");
    }
    r.form = t->ndim == 2 ? MTL_FORM_TENSOR : MTL_FORM_VECTOR;
    r.n = t->ndim == 2 ? t->shape[0] : 1;
    r.cols = s->cols;
    r.d = (double *)mtL_alloc(L, r.n * r.cols, sizeof(double));
    const float *p = mt_tensor_data(t);
    int64_t s0 = t->ndim == 2 ? t->stride[0] : 0, s1 = t->stride[t->ndim - 1];
    for (int64_t i = 0; i < r.n; i++)
        for (int k = 0; k < r.cols; k++)
            r.d[i * r.cols + k] = p[i * s0 + k * s1];
    return r;
}

mtL_rows mtL_checkrowsx(lua_State *L, int idx, int cols, int flags, const char *item,
                        const char *what) {
    spec s = {cols,
              cols == 0,
              (flags & MTL_ROWS_EXACT) || cols == 0,
              (flags & MTL_ROWS_ONE) != 0,
              item ? item : "numbers",
              what};
    mtL_rows r;
    memset(&r, 0, sizeof r);
    r.idx = idx = lua_absindex(L, idx);
    mt_tensor *t = mtL_testtensor(L, idx);
    if (t) return tensor_rows(L, r, t, &s);
    if (!lua_istable(L, idx))
        mtL_errorf(L, "%s: expected a tensor or a table, got %s", what, luaL_typename(L, idx));
    int first = lua_rawgeti(L, idx, 1);
    lua_pop(L, 1);
    if (s.one || first == LUA_TNUMBER) { /* one row */
        if (s.cols == 0) s.cols = width_of(L, lua_rawlen(L, idx), &s);
        r.form = MTL_FORM_ROW, r.n = 1, r.cols = s.cols;
        r.d = (double *)mtL_alloc(L, s.cols, sizeof(double));
        read_row(L, idx, 1, &s, r.d);
        return r;
    }
    r.form = MTL_FORM_TABLE;
    r.n = (int64_t)lua_rawlen(L, idx);
    if (s.cols == 0 && r.n > 0 && first == LUA_TTABLE) {
        lua_rawgeti(L, idx, 1);
        s.cols = width_of(L, lua_rawlen(L, -1), &s);
        lua_pop(L, 1);
    }
    r.cols = s.cols;
    r.d = (double *)mtL_alloc(L, r.n * r.cols, sizeof(double));
    for (int64_t i = 0; i < r.n; i++) {
        if (lua_rawgeti(L, idx, (lua_Integer)i + 1) != LUA_TTABLE)
            mtL_errorf(L, "%s: row %lld is not a table", what, (long long)i + 1);
        read_row(L, lua_gettop(L), i + 1, &s, r.d + i * r.cols);
        lua_pop(L, 1);
    }
    return r;
}

mtL_rows mtL_checkrows(lua_State *L, int idx, int cols, const char *what) {
    return mtL_checkrowsx(L, idx, cols, 0, NULL, what);
}

void mtL_checkcounts(lua_State *L, const mtL_rows *r1, const char *noun1, const mtL_rows *r2,
                     const char *noun2, const char *what) {
    if (r1->n != r2->n)
        mtL_errorf(L, "%s: %lld %s but %lld %s", what, (long long)r1->n, noun1, (long long)r2->n, noun2);
}

void mtL_pushrows(lua_State *L, const double *v, int64_t n, int cols, mtL_form form) {
    if (form == MTL_FORM_TENSOR || form == MTL_FORM_VECTOR) {
        int64_t shape[2] = {n, cols};
        mt_tensor *t;
        MTL_CHECK(L, form == MTL_FORM_TENSOR ? mt_tensor_new(&t, MT_CPU, 2, shape)
                                             : mt_tensor_new(&t, MT_CPU, 1, shape + 1));
        mtL_pushtensor(L, t);
        float *p = mt_tensor_data(t);
        for (int64_t i = 0; i < n * cols; i++)
            p[i] = (float)v[i];
        return;
    }
    if (form == MTL_FORM_TABLE) lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < (form == MTL_FORM_ROW ? 1 : n); i++) {
        lua_createtable(L, cols, 0);
        for (int k = 0; k < cols; k++) {
            lua_pushnumber(L, v[i * cols + k]);
            lua_rawseti(L, -2, k + 1);
        }
        if (form == MTL_FORM_TABLE) lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}
