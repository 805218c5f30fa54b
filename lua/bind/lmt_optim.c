/*
 * lmt_optim.c - the Lua binding of the optimisers (core.optim): one call updates a whole
 * list of parameters in C. Used by lua/mtcnn/optim/init.lua, which owns the state tensors.
 */
#include "lmt.h"

#include "nn/mt_optim.h"

#include <string.h>

/* Reads a list of tensors at idx into an array owned by a userdata left on the stack (so
 * the collector cannot take it during the call); nil entries allowed when optional. */
static mt_tensor **list_arg(lua_State *L, int idx, int *n, int optional, const char *what) {
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
    if (len > 100000) mtL_errorf(L, "%s: list too long", what);
    mt_tensor **a = (mt_tensor **)mtL_alloc(L, len, sizeof(mt_tensor *));
    for (lua_Integer i = 1; i <= len; i++) {
        lua_rawgeti(L, idx, i);
        if (optional && lua_isnil(L, -1)) {
            a[i - 1] = NULL;
        } else {
            a[i - 1] = mtL_testtensor(L, -1);
            if (!a[i - 1]) mtL_errorf(L, "%s: entry %lld is not a tensor", what, (long long)i);
        }
        lua_pop(L, 1);
    }
    *n = (int)len;
    return a;
}

/* Per-parameter weight decays: a number for all, or a list of numbers (NULL: use the
 * number in *common). */
static float *decay_arg(lua_State *L, int idx, int n, float *common) {
    if (lua_type(L, idx) == LUA_TNUMBER || lua_isnoneornil(L, idx)) {
        *common = (float)luaL_optnumber(L, idx, 0.0);
        return NULL;
    }
    mtL_rows r = mtL_checkrowsx(L, idx, 0, MTL_ROWS_ONE, NULL, "weight decay list");
    if (r.cols != n) mtL_errorf(L, "weight decay list has %d entries for %d parameters", r.cols, n);
    float *d = (float *)mtL_alloc(L, n, sizeof(float));
    for (int i = 0; i < n; i++) d[i] = (float)r.d[i];
    *common = 0.0f;
    return d;
}

static void same_length(lua_State *L, int a, int b, const char *what) {
    if (a != b) mtL_errorf(L, "%s: lists of %d and %d entries", what, a, b);
}

/* sgd_step(params, grads, bufs, lr, momentum, dampening, weight_decay, nesterov, first) */
static int l_sgd_step(lua_State *L) {
    int np, ng, nb;
    mt_tensor **p = list_arg(L, 1, &np, 0, "sgd_step");
    mt_tensor **g = list_arg(L, 2, &ng, 0, "sgd_step");
    mt_tensor **b = list_arg(L, 3, &nb, 1, "sgd_step");
    same_length(L, np, ng, "sgd_step");
    mt_sgd_args a;
    memset(&a, 0, sizeof a);
    a.lr = (float)luaL_checknumber(L, 4);
    a.momentum = (float)luaL_checknumber(L, 5);
    if (nb == 0 && a.momentum == 0.0f) {
        /* no momentum: no state tensors */
        b = (mt_tensor **)mtL_alloc(L, np, sizeof(mt_tensor *));
        for (int i = 0; i < np; i++) b[i] = NULL;
    } else {
        same_length(L, np, nb, "sgd_step");
    }
    a.dampening = (float)luaL_checknumber(L, 6);
    float *wd = decay_arg(L, 7, np, &a.weight_decay);
    a.nesterov = lua_toboolean(L, 8);
    a.first = lua_toboolean(L, 9);
    MTL_CHECK(L, mt_sgd_step(np, p, (const mt_tensor *const *)g, b, wd, &a));
    return 0;
}

/* adam_step(params, grads, m, v, lr, beta1, beta2, eps, weight_decay, step) */
static int l_adam_step(lua_State *L) {
    int np, ng, nm, nv;
    mt_tensor **p = list_arg(L, 1, &np, 0, "adam_step");
    mt_tensor **g = list_arg(L, 2, &ng, 0, "adam_step");
    mt_tensor **m = list_arg(L, 3, &nm, 0, "adam_step");
    mt_tensor **v = list_arg(L, 4, &nv, 0, "adam_step");
    same_length(L, np, ng, "adam_step");
    same_length(L, np, nm, "adam_step");
    same_length(L, np, nv, "adam_step");
    mt_adam_args a;
    memset(&a, 0, sizeof a);
    a.lr = (float)luaL_checknumber(L, 5);
    a.beta1 = (float)luaL_checknumber(L, 6);
    a.beta2 = (float)luaL_checknumber(L, 7);
    a.eps = (float)luaL_checknumber(L, 8);
    float *wd = decay_arg(L, 9, np, &a.weight_decay);
    a.step = (int64_t)luaL_checkinteger(L, 10);
    MTL_CHECK(L, mt_adam_step(np, p, (const mt_tensor *const *)g, m, v, wd, &a));
    return 0;
}

/* l2_penalty(params, grads|nil, coef) -> coef/2 * sum ||p||^2 (and grads += coef p) */
static int l_l2_penalty(lua_State *L) {
    int np, ng = 0;
    mt_tensor **p = list_arg(L, 1, &np, 0, "l2_penalty");
    mt_tensor **g = NULL;
    if (!lua_isnil(L, 2)) {
        g = list_arg(L, 2, &ng, 0, "l2_penalty");
        same_length(L, np, ng, "l2_penalty");
    }
    double value = 0.0;
    MTL_CHECK(L, mt_l2_penalty(np, p, g, (float)luaL_checknumber(L, 3), &value));
    lua_pushnumber(L, value);
    return 1;
}

static const luaL_Reg optim_functions[] = {
    {"sgd_step", l_sgd_step},
    {"adam_step", l_adam_step},
    {"l2_penalty", l_l2_penalty},
    {NULL, NULL},
};

int mtL_open_optim(lua_State *L) {
    luaL_newlib(L, optim_functions);
    return 1;
}
