/*
 * lmt_plan.c - core.plan: evaluate-mode net plans (runtime/nn/mt_plan.h) for Lua.
 *
 *   local p = core.plan.new(nheads)
 *   p:add_conv(head, w, b|nil, prelu|nil, sh, sw, ph, pw [, pkh, pkw, psh, psw])
 *   p:add_linear(head, w, b|nil, prelu|nil)
 *   p:add_softmax(head)          -- head 0: the trunk; 1 .. nheads: the heads
 *   p:run({x1, ...}, {out11, ..., out1H, out21, ...})   -- outputs resized
 *
 * The userdata owns the plan (freed by __gc, __close or p:free()); the plan holds its own
 * references to the tensors it was given. lua/mtcnn/nn/Plan.lua builds plans from modules.
 */
#include "lmt.h"

#include "nn/mt_plan.h"

static void release_plan(void *p) { mt_plan_free((mt_plan *)p); }

static const mtL_class plan_class = {"mtcnn.Plan", "plan", "freed", release_plan, "free"};

static mt_plan *check_plan(lua_State *L) { return (mt_plan *)mtL_checkbox(L, 1, &plan_class); }

static int l_new(lua_State *L) {
    lua_Integer nheads = luaL_checkinteger(L, 1);
    mtL_box *box = (mtL_box *)mtL_newbox(L, &plan_class, sizeof *box, 0);
    if (nheads < 1 || nheads > MT_PLAN_MAX_HEADS)
        return mtL_errorf(L, "plan: %lld heads (1 to %d)", (long long)nheads, MT_PLAN_MAX_HEADS);
    mt_plan *p;
    MTL_CHECK(L, mt_plan_new(&p, (int)nheads));
    box->obj = p;
    return 1;
}

/* The head argument: 0 = trunk -> -1, h -> h - 1. */
static int check_head(lua_State *L, int idx) {
    return (int)luaL_checkinteger(L, idx) - 1;
}

static int l_add_conv(lua_State *L) {
    mt_plan *p = check_plan(L);
    int head = check_head(L, 2);
    mt_tensor *w = mtL_checktensor(L, 3), *b = mtL_opttensor(L, 4), *a = mtL_opttensor(L, 5);
    mt_conv2d_desc d = mtL_checkconvdesc(L, 6);
    mt_pool2d_desc pd = {0, 0, 0, 0};
    int pool = !lua_isnoneornil(L, 10); /* a fused max pooling */
    if (pool) pd = mtL_checkpooldesc(L, 10);
    MTL_CHECK(L, mt_plan_add_conv(p, head, w, b, a, &d, pool ? &pd : NULL));
    return 0;
}

static int l_add_linear(lua_State *L) {
    mt_plan *p = check_plan(L);
    int head = check_head(L, 2);
    mt_tensor *w = mtL_checktensor(L, 3), *b = mtL_opttensor(L, 4), *a = mtL_opttensor(L, 5);
    MTL_CHECK(L, mt_plan_add_linear(p, head, w, b, a));
    return 0;
}

static int l_add_softmax(lua_State *L) {
    mt_plan *p = check_plan(L);
    MTL_CHECK(L, mt_plan_add_softmax(p, check_head(L, 2)));
    return 0;
}

#define PLAN_MAX_INPUTS 64

static int l_run(lua_State *L) {
    mt_plan *p = check_plan(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    const mt_tensor *x[PLAN_MAX_INPUTS];
    mt_tensor *out[PLAN_MAX_INPUTS * MT_PLAN_MAX_HEADS];
    lua_Integer n = luaL_len(L, 2), m = luaL_len(L, 3);
    if (n < 1 || n > PLAN_MAX_INPUTS)
        return mtL_errorf(L, "plan: %lld inputs (1 to %d)", (long long)n, PLAN_MAX_INPUTS);
    if (m > PLAN_MAX_INPUTS * MT_PLAN_MAX_HEADS)
        return mtL_errorf(L, "plan: %lld outputs, too many", (long long)m);
    /* the tensors stay referenced by the argument tables during the call */
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 2, i);
        x[i - 1] = mtL_checktensor(L, -1);
        lua_pop(L, 1);
    }
    for (lua_Integer i = 1; i <= m; i++) {
        lua_geti(L, 3, i);
        out[i - 1] = mtL_checktensor(L, -1);
        lua_pop(L, 1);
    }
    int nheads = mt_plan_heads(p);
    if (m != n * nheads)
        return mtL_errorf(L, "plan: %lld inputs and %d heads need %lld outputs, got %lld", (long long)n,
                          nheads, (long long)(n * nheads), (long long)m);
    MTL_CHECK(L, mt_plan_run(p, (int)n, x, out));
    return 0;
}

static int l_heads(lua_State *L) {
    lua_pushinteger(L, mt_plan_heads(check_plan(L)));
    return 1;
}

static const luaL_Reg methods[] = {
    {"add_conv", l_add_conv}, {"add_linear", l_add_linear}, {"add_softmax", l_add_softmax},
    {"run", l_run},           {"heads", l_heads},           {NULL, NULL},
};

static const luaL_Reg funcs[] = {
    {"new", l_new},
    {NULL, NULL},
};

int mtL_open_plan(lua_State *L) {
    mtL_newclass(L, &plan_class, methods, NULL, NULL);
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    return 1;
}
