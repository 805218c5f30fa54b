/*
 * lmt_eval.c - the Lua binding of the evaluation kernels (require
 * "mtcnn.core".eval; the public module is lua/mtcnn/eval/).
 *
 *   mat_read(path) -> {var, ...} | nil, message
 *       every variable of a MAT-file as a table: name, class ("double",
 *       "int32", "cell", "char", "struct", ...), dims, and by class
 *       values (numbers, column-major; integers for integer classes),
 *       text (char), items (cell: column-major; struct: one table of
 *       fields per element), fields (struct), logical.
 *   wider_match(gt, arith, pred) -> best, overlap
 *       gt and pred are flat lists x, y, w, h, ...; arith "int32" or
 *       "double"; best[k] is the 1-based ground-truth index (0 for none).
 *   fddb_overlaps(ellipses, rects, width, height) -> flat row-major list
 *       ellipses flat major, minor, angle, cx, cy, ...; rects flat x, y, w, h.
 *   fddb_area("ellipse" | "rect", params, width, height) -> pixels
 *   hungarian(rows) -> assign   rows: list of equal-length lists of weights;
 *       assign[i] = 1-based column of row i, or 0.
 *
 * Temporary arrays live in Lua userdata, so a raised error leaks nothing.
 * A file that cannot be read gives nil, message; bad arguments raise.
 */
#include "lmt.h"

#include "eval/mt_eval.h"
#include "eval/mt_matfile.h"

#include <string.h>

/* Reads the flat list of numbers at idx (a table or a tensor) into a new array (pushed);
 * their count must be a multiple of `multiple`. */
static const double *check_numbers(lua_State *L, int idx, int multiple, int64_t *count,
                                   const char *what) {
    mtL_rows r = mtL_checkrowsx(L, idx, 0, MTL_ROWS_ONE, NULL, what);
    if (multiple > 1 && r.cols % multiple)
        mtL_errorf(L, "%s: %d numbers, not a multiple of %d", what, r.cols, multiple);
    *count = r.cols;
    return r.d;
}

static void push_var(lua_State *L, const mt_mat_var *v);

static void push_items(lua_State *L, const mt_mat_var *v) {
    lua_createtable(L, (int)v->numel, 0);
    if (v->cls == MT_MAT_CELL) {
        for (int64_t i = 0; i < v->numel; i++) {
            push_var(L, v->items[i]);
            lua_seti(L, -2, i + 1);
        }
        return;
    }
    for (int64_t e = 0; e < v->numel; e++) { /* struct: one table of fields per element */
        lua_createtable(L, 0, v->nfields);
        for (int f = 0; f < v->nfields; f++) {
            push_var(L, v->items[e * v->nfields + f]);
            lua_setfield(L, -2, v->fields[f]);
        }
        lua_seti(L, -2, e + 1);
    }
}

static void push_var(lua_State *L, const mt_mat_var *v) {
    luaL_checkstack(L, 8, "mat_read: variables nested too deeply");
    lua_createtable(L, 0, 6);
    lua_pushstring(L, v->name ? v->name : "");
    lua_setfield(L, -2, "name");
    lua_pushstring(L, mt_mat_class_name(v->cls));
    lua_setfield(L, -2, "class");
    lua_createtable(L, v->ndims, 0);
    for (int i = 0; i < v->ndims; i++) {
        lua_pushinteger(L, (lua_Integer)v->dims[i]);
        lua_seti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "dims");
    if (v->logical) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "logical");
    }
    switch (v->cls) {
    case MT_MAT_CHAR:
        lua_pushlstring(L, v->text ? v->text : "", v->text_len);
        lua_setfield(L, -2, "text");
        break;
    case MT_MAT_CELL:
        push_items(L, v);
        lua_setfield(L, -2, "items");
        break;
    case MT_MAT_STRUCT:
        lua_createtable(L, v->nfields, 0);
        for (int f = 0; f < v->nfields; f++) {
            lua_pushstring(L, v->fields[f]);
            lua_seti(L, -2, f + 1);
        }
        lua_setfield(L, -2, "fields");
        push_items(L, v);
        lua_setfield(L, -2, "items");
        break;
    default: {
        bool integer = v->cls >= MT_MAT_INT8 && v->cls <= MT_MAT_UINT64;
        lua_createtable(L, (int)v->numel, 0);
        for (int64_t i = 0; i < v->numel; i++) {
            double x = v->values[i];
            if (integer && x >= -9007199254740992.0 && x <= 9007199254740992.0)
                lua_pushinteger(L, (lua_Integer)x);
            else
                lua_pushnumber(L, x);
            lua_seti(L, -2, i + 1);
        }
        lua_setfield(L, -2, "values");
    }
    }
}

/* The list is boxed in a userdata with a __gc, so that a Lua error raised
 * while converting (out of memory) still frees it. */
static int list_gc(lua_State *L) {
    mt_mat_list *list = lua_touserdata(L, 1);
    mt_mat_list_free(list);
    return 0;
}

static int l_mat_read(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    mt_mat_list *list = mtL_newguard(L, sizeof *list, list_gc);
    mt_status st = mt_mat_read(path, list);
    if (st != MT_OK) return mtL_softfail(L, st);
    lua_createtable(L, list->count, 0);
    for (int i = 0; i < list->count; i++) {
        push_var(L, list->vars[i]);
        lua_seti(L, -2, i + 1);
    }
    mt_mat_list_free(list); /* now, rather than at the next collection */
    return 1;
}

static int l_wider_match(lua_State *L) {
    lua_settop(L, 3); /* scratch blocks go above the arguments */
    int64_t ng, np;
    const double *gt = check_numbers(L, 1, 4, &ng, "wider_match: ground truth");
    mt_wider_arith a = (mt_wider_arith)mtL_checkenum(L, 2, MTL_NONE, mtL_wider_ariths);
    const double *pred = check_numbers(L, 3, 4, &np, "wider_match: predictions");
    ng /= 4;
    np /= 4;
    int32_t *best = mtL_alloc(L, np, sizeof *best);
    double *ov = mtL_alloc(L, np, sizeof *ov);
    MTL_CHECK(L, mt_wider_match(gt, ng, a, pred, np, best, ov));
    lua_createtable(L, (int)np, 0);
    lua_createtable(L, (int)np, 0);
    for (int64_t k = 0; k < np; k++) {
        lua_pushinteger(L, best[k] + 1);
        lua_seti(L, -3, k + 1);
        lua_pushnumber(L, ov[k]);
        lua_seti(L, -2, k + 1);
    }
    return 2;
}

static int l_fddb_overlaps(lua_State *L) {
    lua_settop(L, 4);
    int64_t ne, nr;
    const double *e = check_numbers(L, 1, 5, &ne, "fddb_overlaps: ellipses");
    const double *r = check_numbers(L, 2, 4, &nr, "fddb_overlaps: rectangles");
    lua_Integer w = luaL_optinteger(L, 3, 0), h = luaL_optinteger(L, 4, 0);
    ne /= 5;
    nr /= 4;
    mt_fddb_ellipse *ell = mtL_alloc(L, ne, sizeof *ell);
    mt_fddb_rect *rect = mtL_alloc(L, nr, sizeof *rect);
    for (int64_t i = 0; i < ne; i++)
        ell[i] = (mt_fddb_ellipse){e[5 * i], e[5 * i + 1], e[5 * i + 2], e[5 * i + 3], e[5 * i + 4]};
    for (int64_t j = 0; j < nr; j++)
        rect[j] = (mt_fddb_rect){r[4 * j], r[4 * j + 1], r[4 * j + 2], r[4 * j + 3]};
    double *out = mtL_alloc(L, ne * nr, sizeof *out);
    MTL_CHECK(L, mt_fddb_overlaps(ell, ne, rect, nr, w, h, out));
    mtL_pushrows(L, out, 1, (int)(ne * nr), MTL_FORM_ROW);
    return 1;
}

static int l_fddb_area(lua_State *L) {
    lua_settop(L, 4);
    int kind = mtL_checkenum(L, 1, MTL_NONE, mtL_fddb_shapes);
    int64_t n;
    const double *p = check_numbers(L, 2, 1, &n, "fddb_area: parameters");
    lua_Integer w = luaL_optinteger(L, 3, 0), h = luaL_optinteger(L, 4, 0);
    int64_t area;
    if (kind == 0) {
        if (n != 5) return mtL_errorf(L, "fddb_area: an ellipse has 5 parameters, got %lld", (long long)n);
        mt_fddb_ellipse e = {p[0], p[1], p[2], p[3], p[4]};
        area = mt_fddb_ellipse_area(&e, w, h);
        if (area < 0) return mtL_errorf(L, "fddb_area: out of memory");
    } else {
        if (n != 4) return mtL_errorf(L, "fddb_area: a rectangle has 4 parameters, got %lld", (long long)n);
        mt_fddb_rect r = {p[0], p[1], p[2], p[3]};
        area = mt_fddb_rect_area(&r, w, h);
    }
    lua_pushinteger(L, (lua_Integer)area);
    return 1;
}

static int l_hungarian(lua_State *L) {
    lua_settop(L, 1);
    mtL_rows w = mtL_checkrowsx(L, 1, 0, MTL_ROWS_EXACT, "weights", "hungarian");
    int64_t *assign = mtL_alloc(L, w.n, sizeof *assign);
    MTL_CHECK(L, mt_hungarian_max(w.d, w.n, w.cols, assign));
    lua_createtable(L, (int)w.n, 0);
    for (int64_t i = 0; i < w.n; i++) {
        lua_pushinteger(L, (lua_Integer)(assign[i] + 1));
        lua_seti(L, -2, i + 1);
    }
    return 1;
}

static const luaL_Reg eval_functions[] = {
    {"mat_read", l_mat_read},     {"wider_match", l_wider_match}, {"fddb_overlaps", l_fddb_overlaps},
    {"fddb_area", l_fddb_area},   {"hungarian", l_hungarian},     {NULL, NULL},
};

int mtL_open_eval(lua_State *L) {
    luaL_newlib(L, eval_functions);
    return 1;
}
