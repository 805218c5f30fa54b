/*
 * lmt_nn.c - the Lua binding of the layers, the MTCNN loss, the CPU kernel choice and model
 * files (core.nn). These are the building blocks of the public modules in lua/mtcnn/nn/ and
 * lua/mtcnn/models/; their arguments are positional for speed and they are not meant to be
 * called directly by users.
 *
 * Layer functions write into output tensors given by the caller (resized in place, see
 * mt_nn.h) and return them. Misuse (shapes, devices) raises; model files that cannot be read
 * or written return nil, message naming the file.
 */
#include "lmt.h"

#include "nn/mt_model_io.h"
#include "nn/mt_nn.h"

#include <stdlib.h>
#include <string.h>

/* ---- argument helpers --------------------------------------------------------------------- */

/* Four integers from argument first: two (>= lo0, named what0), then two (>= lo1). */
static void check_four(lua_State *L, int first, int lo0, const char *what0, int lo1,
                       const char *what1, int v[4]) {
    for (int i = 0; i < 4; i++)
        v[i] = mtL_checkintrange(L, first + i, i < 2 ? lo0 : lo1, 1 << 20, i < 2 ? what0 : what1);
}

mt_conv2d_desc mtL_checkconvdesc(lua_State *L, int first) {
    int v[4];
    check_four(L, first, 1, "conv2d: stride", 0, "conv2d: padding", v);
    return (mt_conv2d_desc){.stride_h = v[0], .stride_w = v[1], .pad_h = v[2], .pad_w = v[3]};
}

mt_pool2d_desc mtL_checkpooldesc(lua_State *L, int first) {
    int v[4];
    check_four(L, first, 1, "maxpool2d: kernel size", 1, "maxpool2d: stride", v);
    return (mt_pool2d_desc){.kernel_h = v[0], .kernel_w = v[1], .stride_h = v[2], .stride_w = v[3]};
}

/* Returns the tensor at idx (the output) after a successful op. */
static int return_arg(lua_State *L, mt_status st, int idx) {
    MTL_CHECK(L, st);
    lua_pushvalue(L, idx);
    return 1;
}

/* ---- convolution -------------------------------------------------------------------------- */

/* conv2d_forward(x, w, b|nil, y, sh, sw, ph, pw [, prelu|nil [, pkh, pkw, psh, psw]]) -> y:
 * convolution, bias, PReLU, and with the pooling arguments the max pooling, in one pass */
static int l_conv2d_forward(lua_State *L) {
    mt_tensor *x = mtL_checktensor(L, 1), *w = mtL_checktensor(L, 2), *b = mtL_opttensor(L, 3);
    mt_tensor *y = mtL_checktensor(L, 4);
    mt_conv2d_desc d = mtL_checkconvdesc(L, 5);
    mt_tensor *prelu = mtL_opttensor(L, 9);
    mt_pool2d_desc pd;
    if (!lua_isnoneornil(L, 10)) pd = mtL_checkpooldesc(L, 10);
    return return_arg(L, mt_conv2d_forward(x, w, b, prelu, y, &d,
                                           lua_isnoneornil(L, 10) ? NULL : &pd), 4);
}

/* conv2d_backward_input(dy, w, dx, x, sh, sw, ph, pw) -> dx (x gives the input shape) */
static int l_conv2d_backward_input(lua_State *L) {
    mt_tensor *dy = mtL_checktensor(L, 1), *w = mtL_checktensor(L, 2), *dx = mtL_checktensor(L, 3);
    mt_tensor *x = mtL_checktensor(L, 4);
    mt_conv2d_desc d = mtL_checkconvdesc(L, 5);
    if (x->ndim != 4) return mtL_errorf(L, "conv2d_backward: the input must have 4 dimensions");
    int64_t xs[4];
    memcpy(xs, x->shape, sizeof xs);
    return return_arg(L, mt_conv2d_backward_input(dy, w, dx, xs, &d), 3);
}

/* conv2d_backward_params(x, dy, dw, db|nil, sh, sw, ph, pw) */
static int l_conv2d_backward_params(lua_State *L) {
    mt_tensor *x = mtL_checktensor(L, 1), *dy = mtL_checktensor(L, 2), *dw = mtL_checktensor(L, 3);
    mt_tensor *db = mtL_opttensor(L, 4);
    mt_conv2d_desc d = mtL_checkconvdesc(L, 5);
    MTL_CHECK(L, mt_conv2d_backward_params(x, dy, dw, db, &d));
    return 0;
}

/* conv2d_backward(x, dy, w, dx, dw, db|nil, sh, sw, ph, pw) -> dx: both gradients at once */
static int l_conv2d_backward(lua_State *L) {
    mt_tensor *x = mtL_checktensor(L, 1), *dy = mtL_checktensor(L, 2), *w = mtL_checktensor(L, 3);
    mt_tensor *dx = mtL_checktensor(L, 4), *dw = mtL_checktensor(L, 5), *db = mtL_opttensor(L, 6);
    mt_conv2d_desc d = mtL_checkconvdesc(L, 7);
    return return_arg(L, mt_conv2d_backward(x, dy, w, dx, dw, db, &d), 4);
}

/* ---- fully connected ---------------------------------------------------------------------- */

/* linear_forward(x, w, b|nil, y [, prelu]) -> y */
static int l_linear_forward(lua_State *L) {
    mt_tensor *x = mtL_checktensor(L, 1), *w = mtL_checktensor(L, 2), *b = mtL_opttensor(L, 3);
    mt_tensor *y = mtL_checktensor(L, 4), *prelu = mtL_opttensor(L, 5);
    return return_arg(L, mt_linear_forward(x, w, b, prelu, y), 4);
}

/* linear_backward_input(dy, w, dx, x) -> dx shaped like x */
static int l_linear_backward_input(lua_State *L) {
    mt_tensor *dy = mtL_checktensor(L, 1), *w = mtL_checktensor(L, 2), *dx = mtL_checktensor(L, 3);
    mt_tensor *x = mtL_checktensor(L, 4);
    int64_t xs[MT_MAX_DIMS];
    memcpy(xs, x->shape, sizeof xs);
    return return_arg(L, mt_linear_backward_input(dy, w, dx, x->ndim, xs), 3);
}

/* linear_backward_params(x, dy, dw, db|nil) */
static int l_linear_backward_params(lua_State *L) {
    mt_tensor *x = mtL_checktensor(L, 1), *dy = mtL_checktensor(L, 2), *dw = mtL_checktensor(L, 3);
    mt_tensor *db = mtL_opttensor(L, 4);
    MTL_CHECK(L, mt_linear_backward_params(x, dy, dw, db));
    return 0;
}

/* ---- PReLU, pooling, softmax, dropout ------------------------------------------------------ */

/* prelu_forward(x, a, y) -> y (y may be x) */
static int l_prelu_forward(lua_State *L) {
    mt_tensor *x = mtL_checktensor(L, 1), *a = mtL_checktensor(L, 2), *y = mtL_checktensor(L, 3);
    return return_arg(L, mt_prelu_forward(x, a, y), 3);
}

/* prelu_backward(x, a, dy, dx|nil, da|nil) -> dx */
static int l_prelu_backward(lua_State *L) {
    mt_tensor *x = mtL_checktensor(L, 1), *a = mtL_checktensor(L, 2), *dy = mtL_checktensor(L, 3);
    mt_tensor *dx = mtL_opttensor(L, 4), *da = mtL_opttensor(L, 5);
    return return_arg(L, mt_prelu_backward(x, a, dy, dx, da), 4);
}

/* maxpool2d_forward(x, y, kh, kw, sh, sw) -> y */
static int l_maxpool2d_forward(lua_State *L) {
    mt_tensor *x = mtL_checktensor(L, 1), *y = mtL_checktensor(L, 2);
    mt_pool2d_desc d = mtL_checkpooldesc(L, 3);
    return return_arg(L, mt_maxpool2d_forward(x, y, &d), 2);
}

/* maxpool2d_backward(x, dy, dx, kh, kw, sh, sw [, y]) -> dx (y: the forward output, which
 * speeds up the search of each window's maximum) */
static int l_maxpool2d_backward(lua_State *L) {
    mt_tensor *x = mtL_checktensor(L, 1), *dy = mtL_checktensor(L, 2), *dx = mtL_checktensor(L, 3);
    mt_pool2d_desc d = mtL_checkpooldesc(L, 4);
    mt_tensor *y = mtL_opttensor(L, 8);
    return return_arg(L, mt_maxpool2d_backward(x, y, dy, dx, &d), 3);
}

/* prelu_pool_forward(x, a, y, at, kh, kw, sh, sw) -> y = maxpool(PReLU(x)) (training's pair
 * in one pass; PReLU(x) is not stored; at gets the maxima's offsets in their planes) */
static int l_prelu_pool_forward(lua_State *L) {
    mt_tensor *x = mtL_checktensor(L, 1), *a = mtL_checktensor(L, 2), *y = mtL_checktensor(L, 3);
    mt_tensor *at = mtL_checktensor(L, 4);
    mt_pool2d_desc d = mtL_checkpooldesc(L, 5);
    return return_arg(L, mt_prelu_pool_forward(x, a, y, at, &d), 3);
}

/* prelu_pool_backward(x, a, at, dy, dx|nil, da|nil, kh, kw, sh, sw) -> dx (nil when not
 * wanted): the pair's gradients from the pooled gradient dy and the forward's offsets at */
static int l_prelu_pool_backward(lua_State *L) {
    mt_tensor *x = mtL_checktensor(L, 1), *a = mtL_checktensor(L, 2), *at = mtL_checktensor(L, 3);
    mt_tensor *dy = mtL_checktensor(L, 4), *dx = mtL_opttensor(L, 5), *da = mtL_opttensor(L, 6);
    mt_pool2d_desc d = mtL_checkpooldesc(L, 7);
    MTL_CHECK(L, mt_prelu_pool_backward(x, a, at, dy, dx, da, &d));
    if (dx) lua_pushvalue(L, 5);
    else lua_pushnil(L);
    return 1;
}

/* conv2d_prelu_pool_backward_params(x, z, a, at, gy, dz, dw, db|nil, da, sh, sw, ph, pw, kh,
 * kw, psh, psw): a first layer's conv -> PReLU -> pooling parameter gradients from the pooled
 * gradient gy (dz: a workspace, used only where the kernels store the conv's gradient) */
static int l_conv2d_prelu_pool_backward_params(lua_State *L) {
    mt_tensor *x = mtL_checktensor(L, 1), *z = mtL_checktensor(L, 2), *a = mtL_checktensor(L, 3);
    mt_tensor *at = mtL_checktensor(L, 4), *gy = mtL_checktensor(L, 5), *dz = mtL_checktensor(L, 6);
    mt_tensor *dw = mtL_checktensor(L, 7), *db = mtL_opttensor(L, 8), *da = mtL_checktensor(L, 9);
    mt_conv2d_desc d = mtL_checkconvdesc(L, 10);
    mt_pool2d_desc pd = mtL_checkpooldesc(L, 14);
    MTL_CHECK(L, mt_conv2d_prelu_pool_backward_params(x, z, a, at, gy, dz, dw, db, da, &d, &pd));
    return 0;
}

/* pool_out_size(in, k, s) -> Caffe ceil-mode output size */
static int l_pool_out_size(lua_State *L) {
    lua_Integer in = luaL_checkinteger(L, 1);
    int k = mtL_checkintrange(L, 2, 1, 1 << 20, "kernel");
    int s = mtL_checkintrange(L, 3, 1, 1 << 20, "stride");
    lua_pushinteger(L, (lua_Integer)mt_pool2d_out_size(in, k, s));
    return 1;
}

/* softmax_forward(x, y) -> y */
static int l_softmax_forward(lua_State *L) {
    mt_tensor *x = mtL_checktensor(L, 1), *y = mtL_checktensor(L, 2);
    return return_arg(L, mt_softmax_forward(x, y), 2);
}

/* softmax_backward(y, dy, dx) -> dx */
static int l_softmax_backward(lua_State *L) {
    mt_tensor *y = mtL_checktensor(L, 1), *dy = mtL_checktensor(L, 2), *dx = mtL_checktensor(L, 3);
    return return_arg(L, mt_softmax_backward(y, dy, dx), 3);
}

/* dropout_mask(mask, like, p [, generator]) -> mask shaped like `like`: 0 or 1/(1-p) */
static int l_dropout_mask(lua_State *L) {
    mt_tensor *mask = mtL_checktensor(L, 1), *like = mtL_checktensor(L, 2);
    double p = luaL_checknumber(L, 3);
    mt_rng *r = mtL_optgenerator(L, 4);
    int64_t shape[MT_MAX_DIMS];
    memcpy(shape, like->shape, sizeof shape);
    return return_arg(L, mt_dropout_mask(mask, like->ndim, shape, p, r), 1);
}

/* ---- the MTCNN loss ----------------------------------------------------------------------- */

/* mtcnn_loss(cls, box|nil, lmk|nil, label, box_target|nil, lmk_target|nil,
 *            dcls|nil, dbox|nil, dlmk|nil, w_cls, w_box, w_lmk, ohem_ratio, masked,
 *            element_mean)
 * -> loss, cls_loss, box_loss, lmk_loss, accuracy, n_cls, n_kept, n_box, n_lmk, n_correct */
static int l_mtcnn_loss(lua_State *L) {
    mt_mtcnn_loss_args a;
    memset(&a, 0, sizeof a);
    a.cls = mtL_checktensor(L, 1);
    a.box = mtL_opttensor(L, 2);
    a.lmk = mtL_opttensor(L, 3);
    a.label = mtL_checktensor(L, 4);
    a.box_target = mtL_opttensor(L, 5);
    a.lmk_target = mtL_opttensor(L, 6);
    a.dcls = mtL_opttensor(L, 7);
    a.dbox = mtL_opttensor(L, 8);
    a.dlmk = mtL_opttensor(L, 9);
    a.w_cls = (float)luaL_checknumber(L, 10);
    a.w_box = (float)luaL_checknumber(L, 11);
    a.w_lmk = (float)luaL_checknumber(L, 12);
    a.ohem_ratio = (float)luaL_checknumber(L, 13);
    a.masked = lua_toboolean(L, 14);
    a.element_mean = lua_toboolean(L, 15);
    MTL_CHECK(L, mt_mtcnn_loss(&a));
    lua_pushnumber(L, a.loss);
    lua_pushnumber(L, a.cls_loss);
    lua_pushnumber(L, a.box_loss);
    lua_pushnumber(L, a.lmk_loss);
    lua_pushnumber(L, a.accuracy);
    lua_pushinteger(L, (lua_Integer)a.n_cls);
    lua_pushinteger(L, (lua_Integer)a.n_kept);
    lua_pushinteger(L, (lua_Integer)a.n_box);
    lua_pushinteger(L, (lua_Integer)a.n_lmk);
    lua_pushinteger(L, (lua_Integer)a.n_correct);
    return 10;
}

/* ---- CPU kernels ---------------------------------------------------------------------------- */

/* kernels() -> the CPU kernel set in use ("avx512", "avx2", "generic", "blas", "ref") */
static int l_kernels(lua_State *L) {
    lua_pushstring(L, mt_cpu_kernels());
    return 1;
}

/* set_kernels(name) -> the previous set; raises for an unknown or unsupported name */
static int l_set_kernels(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    lua_pushstring(L, mt_cpu_kernels());
    MTL_CHECK(L, mt_cpu_set_kernels(name));
    return 1;
}

/* ---- model files ---------------------------------------------------------------------------- */

/* Holds a loaded model's C resources until Lua owns them, so that nothing leaks if building
 * the result raises (out of memory). */
typedef struct model_holder {
    char *header;
    size_t len;
    int n;
    mt_tensor **tensors;
} model_holder;

static void holder_free(model_holder *h) {
    mt_model_free(h->header, h->n, h->tensors);
    memset(h, 0, sizeof *h);
}

static int holder_gc(lua_State *L) {
    holder_free((model_holder *)lua_touserdata(L, 1));
    return 0;
}

/* save_model(path, header, {tensors}) -> true | nil, message */
static int l_save_model(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    size_t len;
    const char *header = luaL_checklstring(L, 2, &len);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_Integer n = (lua_Integer)lua_rawlen(L, 3);
    luaL_argcheck(L, n < 100000, 3, "too many tensors");
    const mt_tensor **ts = (const mt_tensor **)mtL_alloc(L, n, sizeof(mt_tensor *));
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 3, i);
        ts[i - 1] = mtL_checktensor(L, -1);
        lua_pop(L, 1); /* the table keeps it alive */
    }
    if (mt_model_save(path, header, len, (int)n, ts) != MT_OK) return mtL_fail(L);
    lua_pushboolean(L, 1);
    return 1;
}

/* load_model(path) -> header, {tensors} | nil, message */
static int l_load_model(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    model_holder *h = (model_holder *)mtL_newguard(L, sizeof *h, holder_gc);
    if (mt_model_load(path, &h->header, &h->len, &h->n, &h->tensors) != MT_OK) return mtL_fail(L);
    lua_pushlstring(L, h->header, h->len);
    lua_createtable(L, h->n, 0);
    for (int i = 0; i < h->n; i++) {
        mtL_pushtensor_retained(L, h->tensors[i]); /* the holder still owns its reference */
        lua_rawseti(L, -2, i + 1);
    }
    holder_free(h); /* drop the holder's references now that Lua holds its own */
    return 2;
}

static const luaL_Reg nn_functions[] = {
    {"conv2d_forward", l_conv2d_forward},
    {"conv2d_backward_input", l_conv2d_backward_input},
    {"conv2d_backward_params", l_conv2d_backward_params},
    {"conv2d_backward", l_conv2d_backward},
    {"linear_forward", l_linear_forward},
    {"linear_backward_input", l_linear_backward_input},
    {"linear_backward_params", l_linear_backward_params},
    {"prelu_forward", l_prelu_forward},
    {"prelu_backward", l_prelu_backward},
    {"maxpool2d_forward", l_maxpool2d_forward},
    {"maxpool2d_backward", l_maxpool2d_backward},
    {"prelu_pool_forward", l_prelu_pool_forward},
    {"conv2d_prelu_pool_backward_params", l_conv2d_prelu_pool_backward_params},
    {"prelu_pool_backward", l_prelu_pool_backward},
    {"pool_out_size", l_pool_out_size},
    {"softmax_forward", l_softmax_forward},
    {"softmax_backward", l_softmax_backward},
    {"dropout_mask", l_dropout_mask},
    {"mtcnn_loss", l_mtcnn_loss},
    {"kernels", l_kernels},
    {"set_kernels", l_set_kernels},
    {"save_model", l_save_model},
    {"load_model", l_load_model},
    {NULL, NULL},
};

int mtL_open_nn(lua_State *L) {
    luaL_newlib(L, nn_functions);
    return 1;
}
