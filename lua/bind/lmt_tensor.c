/*
 * lmt_tensor.c - the Lua binding of tensors and generators (mtcnn.tensor).
 *
 * Indices and dimensions are 1-based here (negative ones count from the end)
 * and 0-based in the C core. Methods ending in "_" work in place and return
 * the tensor itself; the others return new tensors.
 */
#include "lmt.h"

#include "core/mt_tensor_io.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- boxes ------------------------------------------------------------------------------- */

static void release_tensor(void *t) { mt_tensor_release((mt_tensor *)t); }

const mtL_class mtL_Tensor = {MTL_TENSOR, "tensor", "freed", release_tensor, "free"};

mt_tensor *mtL_testtensor(lua_State *L, int idx) {
    return (mt_tensor *)mtL_testbox(L, idx, &mtL_Tensor);
}

mt_tensor *mtL_checktensor(lua_State *L, int idx) {
    return (mt_tensor *)mtL_checkbox(L, idx, &mtL_Tensor);
}

void mtL_pushtensor(lua_State *L, mt_tensor *t) {
    mtL_box *box = (mtL_box *)mtL_newbox(L, &mtL_Tensor, sizeof *box, 0);
    box->obj = t;
}

void mtL_pushtensor_retained(lua_State *L, mt_tensor *t) {
    mt_tensor_retain(t);
    mtL_pushtensor(L, t);
}

/* Pushes the result of an op that returned a new tensor in *t, or raises. */
static int push_result(lua_State *L, mt_status st, mt_tensor **t) {
    if (st != MT_OK) return mtL_error(L, st);
    mtL_pushtensor(L, *t);
    return 1;
}

/* ---- argument helpers --------------------------------------------------------------------- */

int mtL_checkshape(lua_State *L, int first, int last, int64_t *shape, const char *what) {
    mtL_gc_pressure(L); /* a tensor is made next */
    int ndim = 0;
    if (lua_istable(L, first)) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, first);
        if (n > MT_MAX_DIMS)
            mtL_errorf(L, "%s: %lld dimensions (at most %d are supported)", what, (long long)n,
                       MT_MAX_DIMS);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, first, i);
            int ok;
            lua_Integer v = lua_tointegerx(L, -1, &ok);
            lua_pop(L, 1);
            if (!ok || v < 0)
                mtL_errorf(L, "%s: size %lld of the shape is not a non-negative integer", what,
                           (long long)i);
            shape[ndim++] = v;
        }
        return ndim;
    }
    if (last - first + 1 > MT_MAX_DIMS)
        mtL_errorf(L, "%s: %d dimensions (at most %d are supported)", what, last - first + 1,
                   MT_MAX_DIMS);
    for (int i = first; i <= last; i++) {
        lua_Integer v = luaL_checkinteger(L, i);
        if (v < 0) mtL_errorf(L, "%s: negative size %lld", what, (long long)v);
        shape[ndim++] = v;
    }
    return ndim;
}

int mtL_checkdim(lua_State *L, int idx, int ndim, const char *what) {
    lua_Integer d = luaL_checkinteger(L, idx);
    if (d < 0) d += ndim + 1;
    if (d < 1 || d > ndim)
        mtL_errorf(L, "%s: dimension %lld out of range for a %d-dimensional tensor", what,
                   (long long)luaL_checkinteger(L, idx), ndim);
    return (int)d - 1;
}

/* A 1-based (or negative) element index within a dimension of size n, 0-based. */
static int64_t check_index(lua_State *L, int idx, int64_t n, int dim, const char *what) {
    lua_Integer i = luaL_checkinteger(L, idx);
    lua_Integer j = i < 0 ? i + n + 1 : i;
    if (j < 1 || j > n)
        mtL_errorf(L, "%s: index %lld out of range 1..%lld in dimension %d", what, (long long)i, (long long)n,
                   dim + 1);
    return j - 1;
}

/* ---- generators --------------------------------------------------------------------------- */

/* Generators are values: the userdata is the mt_rng. */
static const mtL_class generator_class = {MTL_GENERATOR, "generator", NULL, NULL, NULL};

mt_rng *mtL_optgenerator(lua_State *L, int idx) {
    if (lua_isnoneornil(L, idx)) return mt_rng_default();
    return (mt_rng *)luaL_checkudata(L, idx, MTL_GENERATOR);
}

static mt_rng *check_generator(lua_State *L, int idx) {
    return (mt_rng *)luaL_checkudata(L, idx, MTL_GENERATOR);
}

static uint64_t check_seed(lua_State *L, int idx) {
    return (uint64_t)luaL_checkinteger(L, idx);
}

/* T.generator([seed [, stream]]) */
static int l_generator(lua_State *L) {
    uint64_t seed = lua_isnoneornil(L, 1) ? 0x2016 : check_seed(L, 1);
    uint64_t stream = lua_isnoneornil(L, 2) ? 54 : (uint64_t)luaL_checkinteger(L, 2);
    mt_rng *r = (mt_rng *)lua_newuserdatauv(L, sizeof(mt_rng), 0);
    mt_rng_seed(r, seed, stream);
    luaL_setmetatable(L, MTL_GENERATOR);
    return 1;
}

/* T.manual_seed(seed [, stream]) reseeds the default generator */
static int l_manual_seed(lua_State *L) {
    uint64_t stream = lua_isnoneornil(L, 2) ? 54 : (uint64_t)luaL_checkinteger(L, 2);
    mt_rng_seed(mt_rng_default(), check_seed(L, 1), stream);
    return 0;
}

static int gen_seed(lua_State *L) {
    uint64_t stream = lua_isnoneornil(L, 3) ? 54 : (uint64_t)luaL_checkinteger(L, 3);
    mt_rng_seed(check_generator(L, 1), check_seed(L, 2), stream);
    return mtL_self(L);
}

/* g:u32() - the raw 32-bit output */
static int gen_u32(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)mt_rng_u32(check_generator(L, 1)));
    return 1;
}

/* g:integer(lo, hi) - uniform in [lo, hi] inclusive (Lua's math.random style) */
static int gen_integer(lua_State *L) {
    mt_rng *r = check_generator(L, 1);
    lua_Integer lo = luaL_checkinteger(L, 2), hi = luaL_checkinteger(L, 3);
    luaL_argcheck(L, lo <= hi, 3, "empty interval");
    lua_pushinteger(L, (lua_Integer)mt_rng_range(r, lo, (int64_t)hi + 1));
    return 1;
}

/* g:uniform([a=0, b=1]) - a double in [a, b) */
static int gen_uniform(lua_State *L) {
    mt_rng *r = check_generator(L, 1);
    double a = luaL_optnumber(L, 2, 0.0), b = luaL_optnumber(L, 3, 1.0);
    lua_pushnumber(L, a + (b - a) * mt_rng_unit(r));
    return 1;
}

/* g:normal([mean=0, std=1]) */
static int gen_normal(lua_State *L) {
    mt_rng *r = check_generator(L, 1);
    double m = luaL_optnumber(L, 2, 0.0), s = luaL_optnumber(L, 3, 1.0);
    double z0, z1;
    mt_rng_normal2(r, &z0, &z1);
    lua_pushnumber(L, m + s * z0);
    return 1;
}

/* g:clone() - an independent copy of the current state */
static int gen_clone(lua_State *L) {
    mt_rng *r = check_generator(L, 1);
    mt_rng *c = (mt_rng *)lua_newuserdatauv(L, sizeof(mt_rng), 0);
    *c = *r;
    luaL_setmetatable(L, MTL_GENERATOR);
    return 1;
}

/* The state of r as 32 hex digits (state, then increment), for checkpoints. */
static int push_rng_state(lua_State *L, const mt_rng *r) {
    char buf[33];
    snprintf(buf, sizeof buf, "%016llx%016llx", (unsigned long long)r->state,
             (unsigned long long)r->inc);
    lua_pushstring(L, buf);
    return 1;
}

/* Sets r from a string of push_rng_state; raises on anything else. */
static void set_rng_state(lua_State *L, mt_rng *r, int idx) {
    size_t len;
    const char *s = luaL_checklstring(L, idx, &len);
    uint64_t v[2] = {0, 0};
    int ok = len == 32;
    for (size_t i = 0; ok && i < 32; i++) {
        int c = s[i], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) ok = 0;
        else v[i / 16] = v[i / 16] << 4 | (uint64_t)d;
    }
    if (!ok || (v[1] & 1) == 0) /* PCG increments are odd */
        mtL_errorf(L, "set_state: not a generator state (32 hex digits from g:state() or "
                      "T.get_rng_state())");
    r->state = v[0];
    r->inc = v[1];
}

/* g:state() -> string; g:set_state(string) -> g */
static int gen_state(lua_State *L) { return push_rng_state(L, check_generator(L, 1)); }

static int gen_set_state(lua_State *L) {
    set_rng_state(L, check_generator(L, 1), 2);
    lua_settop(L, 1);
    return 1;
}

/* T.get_rng_state() / T.set_rng_state(s): the default generator's state */
static int l_get_rng_state(lua_State *L) { return push_rng_state(L, mt_rng_default()); }

static int l_set_rng_state(lua_State *L) {
    set_rng_state(L, mt_rng_default(), 1);
    return 0;
}

static const luaL_Reg generator_methods[] = {
    {"seed", gen_seed},       {"u32", gen_u32},       {"integer", gen_integer},
    {"uniform", gen_uniform}, {"normal", gen_normal}, {"clone", gen_clone},
    {"state", gen_state},     {"set_state", gen_set_state},
    {NULL, NULL}};

/* ---- construction ------------------------------------------------------------------------- */

/* The device named by a shape table's `device` field ({2, 3, device = "cuda"}). */
static mt_device shape_device(lua_State *L, int idx) {
    return (mt_device)mtL_optfieldenum(L, idx, "device", MT_CPU, mtL_devices);
}

static int new_filled(lua_State *L, int ndim, const int64_t *shape, float value) {
    mt_tensor *t;
    return push_result(L, mt_tensor_full(&t, shape_device(L, 1), ndim, shape, value), &t);
}

static int l_zeros(lua_State *L) {
    int64_t shape[MT_MAX_DIMS];
    int ndim = mtL_checkshape(L, 1, lua_gettop(L), shape, "zeros");
    return new_filled(L, ndim, shape, 0.0f);
}

static int l_ones(lua_State *L) {
    int64_t shape[MT_MAX_DIMS];
    int ndim = mtL_checkshape(L, 1, lua_gettop(L), shape, "ones");
    return new_filled(L, ndim, shape, 1.0f);
}

/* T.full(shape_table, value) or T.full(d1, ..., dn, value) */
static int l_full(lua_State *L) {
    int top = lua_gettop(L);
    luaL_argcheck(L, top >= 2, top + 1, "full: expected sizes and a value");
    float value = (float)luaL_checknumber(L, top);
    int64_t shape[MT_MAX_DIMS];
    int ndim = mtL_checkshape(L, 1, top - 1, shape, "full");
    return new_filled(L, ndim, shape, value);
}

/* T.empty(...) - uninitialised contents */
static int l_empty(lua_State *L) {
    int64_t shape[MT_MAX_DIMS];
    int ndim = mtL_checkshape(L, 1, lua_gettop(L), shape, "empty");
    mt_tensor *t;
    return push_result(L, mt_tensor_new(&t, shape_device(L, 1), ndim, shape), &t);
}

/* T.arange(stop) | T.arange(start, stop [, step]): start, start+step, ... < stop */
static int l_arange(lua_State *L) {
    double start = 0, stop, step = 1;
    if (lua_gettop(L) <= 1) {
        stop = luaL_checknumber(L, 1);
    } else {
        start = luaL_checknumber(L, 1);
        stop = luaL_checknumber(L, 2);
        step = luaL_optnumber(L, 3, 1.0);
    }
    if (step == 0 || !isfinite(start) || !isfinite(stop) || !isfinite(step))
        return mtL_errorf(L, "arange: step must be non-zero and bounds finite");
    double count = ceil((stop - start) / step);
    if (count < 0) count = 0;
    if (count > 1e12) return mtL_errorf(L, "arange: %g elements is too many", count);
    int64_t n = (int64_t)count;
    mt_tensor *t;
    MTL_CHECK(L, mt_tensor_new(&t, MT_CPU, 1, &n));
    mtL_pushtensor(L, t);
    MTL_CHECK(L, mt_fill_arange(t, start, step));
    return 1;
}

static int random_tensor(lua_State *L, bool normal) {
    int top = lua_gettop(L);
    mt_rng *r = mt_rng_default();
    if (top >= 1 && luaL_testudata(L, top, MTL_GENERATOR)) {
        r = check_generator(L, top);
        top--;
    }
    int64_t shape[MT_MAX_DIMS];
    int ndim = mtL_checkshape(L, 1, top, shape, normal ? "randn" : "rand");
    mt_tensor *t;
    MTL_CHECK(L, mt_tensor_new(&t, MT_CPU, ndim, shape));
    mtL_pushtensor(L, t);
    MTL_CHECK(L, normal ? mt_fill_normal(t, r, 0.0, 1.0) : mt_fill_uniform(t, r, 0.0, 1.0));
    return 1;
}

/* T.rand(sizes... [, generator]) - U[0, 1) */
static int l_rand(lua_State *L) { return random_tensor(L, false); }
/* T.randn(sizes... [, generator]) - N(0, 1) */
static int l_randn(lua_State *L) { return random_tensor(L, true); }

/* Walks a nested table to find its shape (the first entry at each level). */
static int table_shape(lua_State *L, int idx, int64_t *shape) {
    int ndim = 0;
    lua_pushvalue(L, idx);
    while (lua_istable(L, -1)) {
        if (ndim == MT_MAX_DIMS) {
            mtL_errorf(L, "tensor: nested deeper than %d levels", MT_MAX_DIMS);
            return 0;
        }
        shape[ndim++] = (int64_t)lua_rawlen(L, -1);
        if (lua_rawlen(L, -1) == 0) break;
        lua_rawgeti(L, -1, 1);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    return ndim;
}

/* Copies the numbers of a nested table into dst, checking it is rectangular. */
static void table_fill(lua_State *L, int idx, int depth, int ndim, const int64_t *shape,
                       float **dst) {
    if (!lua_istable(L, idx))
        mtL_errorf(L, "tensor: expected a table at depth %d, got %s", depth + 1,
                   luaL_typename(L, idx));
    int64_t n = (int64_t)lua_rawlen(L, idx);
    if (n != shape[depth])
        mtL_errorf(L, "tensor: ragged table: %lld entries at depth %d where %lld were expected",
                   (long long)n, depth + 1, (long long)shape[depth]);
    for (int64_t i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        if (depth + 1 < ndim) {
            table_fill(L, lua_gettop(L), depth + 1, ndim, shape, dst);
        } else {
            int ok;
            lua_Number v = lua_tonumberx(L, -1, &ok);
            if (!ok)
                mtL_errorf(L, "tensor: entry %lld at depth %d is a %s, not a number", (long long)i,
                           depth + 1, luaL_typename(L, -1));
            *(*dst)++ = (float)v;
        }
        lua_pop(L, 1);
    }
}

/* T.tensor(nested_table) - a CPU tensor with the table's shape and values */
static int l_tensor(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    int64_t shape[MT_MAX_DIMS];
    int ndim = table_shape(L, 1, shape);
    mt_tensor *t;
    MTL_CHECK(L, mt_tensor_new(&t, MT_CPU, ndim, shape));
    mtL_pushtensor(L, t); /* owned by Lua before table_fill may raise */
    float *p = mt_tensor_data(t);
    table_fill(L, 1, 0, ndim, shape, &p);
    return 1;
}

/* T.from_bytes(bytes, sizes...) - a CPU tensor from little-endian float32
 * bytes (e.g. a raw .f32 file or a Caffe blob); the byte count must match */
static int l_from_bytes(lua_State *L) {
    size_t len;
    const char *bytes = luaL_checklstring(L, 1, &len);
    int64_t shape[MT_MAX_DIMS];
    int ndim = mtL_checkshape(L, 2, lua_gettop(L), shape, "from_bytes");
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    if ((size_t)n * 4u != len)
        return mtL_errorf(L, "from_bytes: %lld bytes do not hold %lld floats", (long long)len, (long long)n);
    mt_tensor *t;
    MTL_CHECK(L, mt_tensor_new(&t, MT_CPU, ndim, shape));
    memcpy(mt_tensor_data(t), bytes, len);
    mtL_pushtensor(L, t);
    return 1;
}

/* T.load(path) -> tensor | nil, message */
static int l_load(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    mtL_gc_pressure(L); /* a tensor is made next */
    mt_tensor *t;
    mt_status st = mt_tensor_load(&t, path);
    if (st != MT_OK) return mtL_fail(L);
    mtL_pushtensor(L, t);
    return 1;
}

static int l_is_tensor(lua_State *L) {
    mtL_box *box = mtL_tobox(L, 1, &mtL_Tensor);
    lua_pushboolean(L, box != NULL && box->obj != NULL);
    return 1;
}

/* T.memory() -> {cpu = bytes, cuda = bytes} held by live tensors */
static int l_memory(lua_State *L) {
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)mt_buffer_bytes_live(MT_CPU));
    lua_setfield(L, -2, "cpu");
    lua_pushinteger(L, (lua_Integer)mt_buffer_bytes_live(MT_CUDA));
    lua_setfield(L, -2, "cuda");
    return 1;
}

/* ---- geometry ----------------------------------------------------------------------------- */

static int m_dim(lua_State *L) {
    lua_pushinteger(L, mtL_checktensor(L, 1)->ndim);
    return 1;
}

static int push_dims(lua_State *L, const mt_tensor *t, const int64_t *v, int idx) {
    if (lua_isnoneornil(L, idx)) {
        lua_createtable(L, t->ndim, 0);
        for (int i = 0; i < t->ndim; i++) {
            lua_pushinteger(L, (lua_Integer)v[i]);
            lua_rawseti(L, -2, i + 1);
        }
        return 1;
    }
    lua_pushinteger(L, (lua_Integer)v[mtL_checkdim(L, idx, t->ndim, "size")]);
    return 1;
}

/* t:size() -> {d1, ...} ; t:size(d) -> number */
static int m_size(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1);
    return push_dims(L, t, t->shape, 2);
}

static int m_stride(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1);
    return push_dims(L, t, t->stride, 2);
}

static int m_numel(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)mt_tensor_numel(mtL_checktensor(L, 1)));
    return 1;
}

static int m_is_contiguous(lua_State *L) {
    lua_pushboolean(L, mt_tensor_is_contiguous(mtL_checktensor(L, 1)));
    return 1;
}

static int m_device(lua_State *L) {
    lua_pushstring(L, mt_device_name(mt_tensor_device(mtL_checktensor(L, 1))));
    return 1;
}

static int m_is_cuda(lua_State *L) {
    lua_pushboolean(L, mt_tensor_device(mtL_checktensor(L, 1)) == MT_CUDA);
    return 1;
}

/* Reads ndim 1-based indices starting at argument first. */
static void check_indices(lua_State *L, const mt_tensor *t, int first, int count,
                          int64_t *index, const char *what) {
    if (count != t->ndim)
        mtL_errorf(L, "%s: %d indices for a %d-dimensional tensor", what, count, t->ndim);
    for (int i = 0; i < t->ndim; i++)
        index[i] = check_index(L, first + i, t->shape[i], i, what);
}

/* t:get(i, j, ...) */
static int m_get(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1);
    int64_t index[MT_MAX_DIMS];
    check_indices(L, t, 2, lua_gettop(L) - 1, index, "get");
    float v;
    MTL_CHECK(L, mt_tensor_get(t, index, &v));
    lua_pushnumber(L, v);
    return 1;
}

/* t:set(i, j, ..., value) -> t */
static int m_set(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1);
    int top = lua_gettop(L);
    float v = (float)luaL_checknumber(L, top);
    int64_t index[MT_MAX_DIMS];
    check_indices(L, t, 2, top - 2, index, "set");
    MTL_CHECK(L, mt_tensor_set(t, index, v));
    return mtL_self(L);
}

/* ---- views -------------------------------------------------------------------------------- */

/* t:view(sizes...) - a view; fails on non-contiguous tensors. A size may be -1. */
static int m_view(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1);
    int64_t shape[MT_MAX_DIMS];
    int ndim = 0, top = lua_gettop(L);
    if (lua_istable(L, 2)) {
        int n = (int)lua_rawlen(L, 2);
        if (n > MT_MAX_DIMS) return mtL_errorf(L, "view: at most %d dimensions", MT_MAX_DIMS);
        for (int i = 1; i <= n; i++) {
            lua_rawgeti(L, 2, i);
            shape[ndim++] = luaL_checkinteger(L, -1);
            lua_pop(L, 1);
        }
    } else {
        if (top - 1 > MT_MAX_DIMS) return mtL_errorf(L, "view: at most %d dimensions", MT_MAX_DIMS);
        for (int i = 2; i <= top; i++) shape[ndim++] = luaL_checkinteger(L, i);
    }
    mt_tensor *v;
    return push_result(L, mt_tensor_reshape(&v, t, ndim, shape), &v);
}

/* t:reshape(sizes...) - a view when possible, else a contiguous copy */
static int m_reshape(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1);
    if (mt_tensor_is_contiguous(t)) return m_view(L);
    mt_tensor *c;
    MTL_CHECK(L, mt_tensor_contiguous(&c, t));
    mtL_pushtensor(L, c);
    lua_replace(L, 1);
    return m_view(L);
}

/* t:narrow(dim, start, length) */
static int m_narrow(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1);
    int d = mtL_checkdim(L, 2, t->ndim, "narrow");
    lua_Integer start = luaL_checkinteger(L, 3), len = luaL_checkinteger(L, 4);
    if (start < 0) start += t->shape[d] + 1;
    mt_tensor *v;
    return push_result(L, mt_tensor_narrow(&v, t, d, start - 1, len), &v);
}

/* t:select(dim, index) - drops dim; on a 1-d tensor returns the number */
static int m_select(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1);
    int d = mtL_checkdim(L, 2, t->ndim, "select");
    int64_t i = check_index(L, 3, t->shape[d], d, "select");
    if (t->ndim == 1) {
        float v;
        MTL_CHECK(L, mt_tensor_get(t, &i, &v));
        lua_pushnumber(L, v);
        return 1;
    }
    mt_tensor *v;
    return push_result(L, mt_tensor_select(&v, t, d, i), &v);
}

/* t:transpose(d1, d2); t:t() for 2-d tensors */
static int m_transpose(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1);
    int a = mtL_checkdim(L, 2, t->ndim, "transpose"), b = mtL_checkdim(L, 3, t->ndim, "transpose");
    mt_tensor *v;
    return push_result(L, mt_tensor_transpose(&v, t, a, b), &v);
}

static int m_t(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1);
    if (t->ndim != 2) return mtL_errorf(L, "t: expected a 2-dimensional tensor, got %d", t->ndim);
    mt_tensor *v;
    return push_result(L, mt_tensor_transpose(&v, t, 0, 1), &v);
}

/* t:permute(d1, d2, ...) - dimension k of the result is dimension dk of t */
static int m_permute(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1);
    int n = lua_gettop(L) - 1;
    int order[MT_MAX_DIMS];
    if (n != t->ndim)
        return mtL_errorf(L, "permute: %d dimensions given for a %d-dimensional tensor", n,
                          t->ndim);
    for (int i = 0; i < n; i++) order[i] = mtL_checkdim(L, i + 2, t->ndim, "permute");
    mt_tensor *v;
    return push_result(L, mt_tensor_permute(&v, t, order), &v);
}

/* t:unsqueeze(d) - inserts a dimension of size 1 at position d (1..ndim+1) */
static int m_unsqueeze(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1);
    lua_Integer d = luaL_checkinteger(L, 2);
    if (d < 0) d += t->ndim + 2;
    mt_tensor *v;
    return push_result(L, mt_tensor_unsqueeze(&v, t, (int)d - 1), &v);
}

/* t:squeeze([d]) - drops dimension d (or every dimension) of size 1 */
static int m_squeeze(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1);
    int d = lua_isnoneornil(L, 2) ? -1 : mtL_checkdim(L, 2, t->ndim, "squeeze");
    mt_tensor *v;
    return push_result(L, mt_tensor_squeeze(&v, t, d), &v);
}

static int m_contiguous(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1), *c;
    return push_result(L, mt_tensor_contiguous(&c, t), &c);
}

static int m_clone(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1), *c;
    return push_result(L, mt_tensor_clone(&c, t), &c);
}

/* t:copy_(src) - copies src's values (same element count, any device) -> t */
static int m_copy_(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1), *s = mtL_checktensor(L, 2);
    MTL_CHECK(L, mt_copy_any(t, s));
    return mtL_self(L);
}

/* ---- devices ------------------------------------------------------------------------------ */

static int to_device(lua_State *L, mt_device dev) {
    mt_tensor *t = mtL_checktensor(L, 1), *m;
    return push_result(L, mt_tensor_to_device(&m, t, dev), &m);
}

/* t:cuda() - a copy on the GPU (t itself if it is already there and contiguous) */
static int m_cuda(lua_State *L) { return to_device(L, MT_CUDA); }
static int m_cpu(lua_State *L) { return to_device(L, MT_CPU); }

/* t:to("cpu" | "cuda") */
static int m_to(lua_State *L) {
    return to_device(L, (mt_device)mtL_checkenum(L, 2, MTL_NONE, mtL_devices));
}

/* t:move_("cpu" | "cuda") -> t: the same Lua object, its values now on that device (a
 * contiguous copy there; nothing happens when t is already there). Everything that holds t
 * (an optimiser's parameter list, a loss's) then sees the moved tensor; views taken from t
 * before keep the old storage. */
static int m_move_(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1), *m;
    mt_device dev = (mt_device)mtL_checkenum(L, 2, MTL_NONE, mtL_devices);
    if (mt_tensor_device(t) == dev) return mtL_self(L);
    MTL_CHECK(L, mt_tensor_to_device(&m, t, dev));
    mtL_box *box = mtL_tobox(L, 1, &mtL_Tensor);
    box->obj = m;
    mt_tensor_release(t);
    return mtL_self(L);
}

/* ---- elementwise -------------------------------------------------------------------------- */

static int fill_inplace(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1);
    MTL_CHECK(L, mt_fill(t, (float)luaL_checknumber(L, 2)));
    return mtL_self(L);
}

static int zero_inplace(lua_State *L) {
    MTL_CHECK(L, mt_fill(mtL_checktensor(L, 1), 0.0f));
    return mtL_self(L);
}

/* t:uniform_([a=0, b=1, generator]) ; t:normal_([mean=0, std=1, generator]) */
static int random_inplace(lua_State *L, bool normal) {
    mt_tensor *t = mtL_checktensor(L, 1);
    double a = luaL_optnumber(L, 2, 0.0), b = luaL_optnumber(L, 3, 1.0);
    mt_rng *r = mtL_optgenerator(L, 4);
    MTL_CHECK(L, normal ? mt_fill_normal(t, r, a, b) : mt_fill_uniform(t, r, a, b));
    return mtL_self(L);
}
static int uniform_inplace(lua_State *L) { return random_inplace(L, false); }
static int normal_inplace(lua_State *L) { return random_inplace(L, true); }

static int unary(lua_State *L, mt_unary_op op, bool inplace) {
    mt_tensor *t = mtL_checktensor(L, 1);
    if (inplace) {
        MTL_CHECK(L, mt_unary_into(op, t, t));
        return mtL_self(L);
    }
    mt_tensor *r;
    return push_result(L, mt_unary(op, &r, t), &r);
}

/* t op x where x is a tensor of t's shape or a number */
static int binary(lua_State *L, mt_binary_op op, bool inplace) {
    mt_tensor *t = mtL_checktensor(L, 1);
    mt_tensor *o = mtL_testtensor(L, 2);
    if (!o && !lua_isnumber(L, 2))
        return mtL_errorf(L, "%s: expected a tensor or a number, got %s", mt_binary_name(op),
                          luaL_typename(L, 2));
    if (inplace) {
        MTL_CHECK(L, o ? mt_binary_into(op, t, t, o)
                       : mt_binary_scalar_into(op, t, t, (float)lua_tonumber(L, 2)));
        return mtL_self(L);
    }
    mt_tensor *r;
    mt_status st = o ? mt_binary(op, &r, t, o) : mt_binary_scalar(op, &r, t, (float)lua_tonumber(L, 2));
    return push_result(L, st, &r);
}

#define UNARY_METHODS(name, op)                                                                    \
    static int m_##name(lua_State *L) { return unary(L, op, false); }                              \
    static int m_##name##_(lua_State *L) { return unary(L, op, true); }
UNARY_METHODS(neg, MT_UN_NEG)
UNARY_METHODS(abs, MT_UN_ABS)
UNARY_METHODS(sqrt, MT_UN_SQRT)
UNARY_METHODS(exp, MT_UN_EXP)
UNARY_METHODS(log, MT_UN_LOG)
#undef UNARY_METHODS

#define BINARY_METHODS(name, op)                                                                   \
    static int m_##name(lua_State *L) { return binary(L, op, false); }                             \
    static int m_##name##_(lua_State *L) { return binary(L, op, true); }
BINARY_METHODS(add, MT_BIN_ADD)
BINARY_METHODS(sub, MT_BIN_SUB)
BINARY_METHODS(mul, MT_BIN_MUL)
BINARY_METHODS(div, MT_BIN_DIV)
BINARY_METHODS(pow, MT_BIN_POW)
BINARY_METHODS(cmax, MT_BIN_MAX)
BINARY_METHODS(cmin, MT_BIN_MIN)
#undef BINARY_METHODS

/* Metamethod arithmetic: either operand may be the number. */
static int arith(lua_State *L, mt_binary_op op, mt_binary_op reversed) {
    mt_tensor *a = mtL_testtensor(L, 1);
    if (a) return binary(L, op, false);
    mt_tensor *b = mtL_checktensor(L, 2);
    if (!lua_isnumber(L, 1))
        return mtL_errorf(L, "%s: expected a tensor or a number, got %s", mt_binary_name(op),
                          luaL_typename(L, 1));
    mt_tensor *r;
    return push_result(L, mt_binary_scalar(reversed, &r, b, (float)lua_tonumber(L, 1)), &r);
}

static int mm_add(lua_State *L) { return arith(L, MT_BIN_ADD, MT_BIN_ADD); }
static int mm_sub(lua_State *L) { return arith(L, MT_BIN_SUB, MT_BIN_RSUB); }
static int mm_mul(lua_State *L) { return arith(L, MT_BIN_MUL, MT_BIN_MUL); }
static int mm_div(lua_State *L) { return arith(L, MT_BIN_DIV, MT_BIN_RDIV); }
static int mm_unm(lua_State *L) { return unary(L, MT_UN_NEG, false); }
static int mm_pow(lua_State *L) {
    if (!mtL_testtensor(L, 1)) return mtL_errorf(L, "pow: the base must be a tensor");
    return binary(L, MT_BIN_POW, false);
}

/* ---- reductions --------------------------------------------------------------------------- */

/* t:sum() -> number ; t:sum(d) -> tensor with dimension d of size 1 (also mean) */
static int reduce_plain(lua_State *L, mt_reduce_op op) {
    mt_tensor *t = mtL_checktensor(L, 1);
    if (lua_isnoneornil(L, 2)) {
        double v;
        int64_t ix;
        MTL_CHECK(L, mt_reduce_all(op, t, &v, &ix));
        lua_pushnumber(L, v);
        return 1;
    }
    int d = mtL_checkdim(L, 2, t->ndim, mt_reduce_name(op));
    mt_tensor *v;
    return push_result(L, mt_reduce_dim(op, &v, NULL, t, d), &v);
}

/* t:max() -> value, 1-based flat index ; t:max(d) -> values, 1-based indices (also min) */
static int reduce_extreme(lua_State *L, mt_reduce_op op, bool only_index) {
    mt_tensor *t = mtL_checktensor(L, 1);
    if (lua_isnoneornil(L, 2)) {
        double v;
        int64_t ix;
        MTL_CHECK(L, mt_reduce_all(op, t, &v, &ix));
        if (only_index) {
            lua_pushinteger(L, (lua_Integer)ix + 1);
            return 1;
        }
        lua_pushnumber(L, v);
        lua_pushinteger(L, (lua_Integer)ix + 1);
        return 2;
    }
    int d = mtL_checkdim(L, 2, t->ndim, mt_reduce_name(op));
    mt_tensor *v, *ix;
    MTL_CHECK(L, mt_reduce_dim(op, &v, &ix, t, d));
    mtL_pushtensor(L, v);
    mtL_pushtensor(L, ix);
    MTL_CHECK(L, mt_binary_scalar_into(MT_BIN_ADD, ix, ix, 1.0f)); /* 1-based */
    return only_index ? 1 : 2;
}

static int m_sum(lua_State *L) { return reduce_plain(L, MT_RED_SUM); }
static int m_mean(lua_State *L) { return reduce_plain(L, MT_RED_MEAN); }
static int m_max(lua_State *L) { return reduce_extreme(L, MT_RED_MAX, false); }
static int m_min(lua_State *L) { return reduce_extreme(L, MT_RED_MIN, false); }

/* t:argmax() -> 1-based flat index ; t:argmax(d) -> 1-based indices (also argmin) */
static int m_argmax(lua_State *L) { return reduce_extreme(L, MT_RED_MAX, true); }
static int m_argmin(lua_State *L) { return reduce_extreme(L, MT_RED_MIN, true); }

/* ---- comparison --------------------------------------------------------------------------- */

/* t:max_abs_diff(o) -> largest |t - o| */
static int m_max_abs_diff(lua_State *L) {
    double d;
    MTL_CHECK(L, mt_max_abs_diff(mtL_checktensor(L, 1), mtL_checktensor(L, 2), &d));
    lua_pushnumber(L, d);
    return 1;
}

/* t:allclose(o [, rtol=1e-5, atol=1e-8]) -> |t - o| <= atol + rtol |o| everywhere */
static int m_allclose(lua_State *L) {
    mt_tensor *a = mtL_checktensor(L, 1), *b = mtL_checktensor(L, 2);
    double rtol = luaL_optnumber(L, 3, 1e-5), atol = luaL_optnumber(L, 4, 1e-8);
    if (!mt_tensor_same_shape(a, b)) {
        lua_pushboolean(L, 0);
        return 1;
    }
    bool ok;
    MTL_CHECK(L, mt_allclose(a, b, rtol, atol, &ok));
    lua_pushboolean(L, ok);
    return 1;
}

/* t:equal(o) -> same shape and exactly the same values */
static int m_equal(lua_State *L) {
    mt_tensor *a = mtL_checktensor(L, 1), *b = mtL_checktensor(L, 2);
    if (!mt_tensor_same_shape(a, b)) {
        lua_pushboolean(L, 0);
        return 1;
    }
    double d;
    MTL_CHECK(L, mt_max_abs_diff(a, b, &d));
    lua_pushboolean(L, d == 0.0);
    return 1;
}

/* ---- conversion and files ----------------------------------------------------------------- */

static void build_table(lua_State *L, const float **p, const int64_t *shape, int ndim, int depth) {
    lua_createtable(L, (int)shape[depth], 0);
    for (int64_t i = 0; i < shape[depth]; i++) {
        if (depth + 1 < ndim) build_table(L, p, shape, ndim, depth + 1);
        else lua_pushnumber(L, *(*p)++);
        lua_rawseti(L, -2, i + 1);
    }
}

/* t:to_table() -> nested Lua tables (a number for a 0-d tensor) */
static int m_to_table(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1), *c;
    MTL_CHECK(L, mt_tensor_to_device(&c, t, MT_CPU));
    mtL_pushtensor(L, c);
    const float *p = mt_tensor_data(c);
    if (c->ndim == 0) lua_pushnumber(L, *p);
    else build_table(L, &p, c->shape, c->ndim, 0);
    return 1;
}

/* t:to_bytes() -> the values as little-endian float32 bytes, row-major */
static int m_to_bytes(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1), *c;
    MTL_CHECK(L, mt_tensor_to_device(&c, t, MT_CPU));
    mtL_pushtensor(L, c);
    lua_pushlstring(L, (const char *)mt_tensor_data(c), (size_t)mt_tensor_numel(c) * 4u);
    return 1;
}

/* t:save(path) -> true | nil, message (written to a temporary file, then renamed) */
static int m_save(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1);
    const char *path = luaL_checkstring(L, 2);
    if (mt_tensor_save(t, path) != MT_OK) return mtL_fail(L);
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- indexing metamethods ----------------------------------------------------------------- */

/* t[i]: the number of a 1-d tensor, else select(1, i); other keys are methods */
static int mm_index(lua_State *L) {
    if (lua_type(L, 2) == LUA_TNUMBER) {
        lua_settop(L, 2);
        lua_pushinteger(L, 1);
        lua_insert(L, 2);
        return m_select(L);
    }
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    return 1;
}

/* t[i] = v: sets an element of a 1-d tensor, or fills / copies into select(1, i) */
static int mm_newindex(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1);
    if (lua_type(L, 2) != LUA_TNUMBER)
        return mtL_errorf(L, "tensor: cannot set field '%s' (only numeric indices)",
                          lua_tostring(L, 2) ? lua_tostring(L, 2) : luaL_typename(L, 2));
    int64_t i = check_index(L, 2, t->ndim ? t->shape[0] : 0, 0, "index");
    if (t->ndim == 1) {
        MTL_CHECK(L, mt_tensor_set(t, &i, (float)luaL_checknumber(L, 3)));
        return 0;
    }
    mt_tensor *row;
    MTL_CHECK(L, mt_tensor_select(&row, t, 0, i));
    mtL_pushtensor(L, row);
    mt_tensor *src = mtL_testtensor(L, 3);
    MTL_CHECK(L, src ? mt_copy_any(row, src) : mt_fill(row, (float)luaL_checknumber(L, 3)));
    return 0;
}

static int mm_len(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1);
    lua_pushinteger(L, t->ndim ? (lua_Integer)t->shape[0] : 0);
    return 1;
}

static const luaL_Reg tensor_methods[] = {
    {"dim", m_dim},
    {"size", m_size},
    {"stride", m_stride},
    {"numel", m_numel},
    {"is_contiguous", m_is_contiguous},
    {"device", m_device},
    {"is_cuda", m_is_cuda},
    {"get", m_get},
    {"set", m_set},
    {"view", m_view},
    {"reshape", m_reshape},
    {"narrow", m_narrow},
    {"select", m_select},
    {"transpose", m_transpose},
    {"t", m_t},
    {"permute", m_permute},
    {"unsqueeze", m_unsqueeze},
    {"squeeze", m_squeeze},
    {"contiguous", m_contiguous},
    {"clone", m_clone},
    {"copy_", m_copy_},
    {"cuda", m_cuda},
    {"cpu", m_cpu},
    {"to", m_to},
    {"move_", m_move_},
    {"fill_", fill_inplace},
    {"zero_", zero_inplace},
    {"uniform_", uniform_inplace},
    {"normal_", normal_inplace},
    {"neg", m_neg},
    {"neg_", m_neg_},
    {"abs", m_abs},
    {"abs_", m_abs_},
    {"sqrt", m_sqrt},
    {"sqrt_", m_sqrt_},
    {"exp", m_exp},
    {"exp_", m_exp_},
    {"log", m_log},
    {"log_", m_log_},
    {"add", m_add},
    {"add_", m_add_},
    {"sub", m_sub},
    {"sub_", m_sub_},
    {"mul", m_mul},
    {"mul_", m_mul_},
    {"div", m_div},
    {"div_", m_div_},
    {"pow", m_pow},
    {"pow_", m_pow_},
    {"cmax", m_cmax},
    {"cmax_", m_cmax_},
    {"cmin", m_cmin},
    {"cmin_", m_cmin_},
    {"sum", m_sum},
    {"mean", m_mean},
    {"max", m_max},
    {"min", m_min},
    {"argmax", m_argmax},
    {"argmin", m_argmin},
    {"max_abs_diff", m_max_abs_diff},
    {"allclose", m_allclose},
    {"equal", m_equal},
    {"to_table", m_to_table},
    {"to_bytes", m_to_bytes},
    {"save", m_save},
    {NULL, NULL}};

static const luaL_Reg tensor_functions[] = {
    {"tensor", l_tensor},   {"zeros", l_zeros},           {"ones", l_ones},
    {"full", l_full},       {"empty", l_empty},           {"arange", l_arange},
    {"rand", l_rand},       {"randn", l_randn},           {"generator", l_generator},
    {"manual_seed", l_manual_seed}, {"load", l_load},     {"is_tensor", l_is_tensor},
    {"from_bytes", l_from_bytes},
    {"get_rng_state", l_get_rng_state}, {"set_rng_state", l_set_rng_state},
    {"memory", l_memory},   {NULL, NULL}};

int mtL_open_tensor(lua_State *L) {
    mtL_newclass(L, &generator_class, generator_methods, NULL, NULL);
    lua_pop(L, 1);
    /* tensors: __index is a function (numeric keys) over the methods; the Lua side adds
     * __tostring and more methods through module.metatable */
    static const luaL_Reg meta[] = {
        {"__newindex", mm_newindex}, {"__len", mm_len}, {"__add", mm_add}, {"__sub", mm_sub},
        {"__mul", mm_mul},           {"__div", mm_div}, {"__unm", mm_unm}, {"__pow", mm_pow},
        {NULL, NULL}};
    mtL_newclass(L, &mtL_Tensor, tensor_methods, meta, NULL);
    lua_getfield(L, -1, "methods");
    lua_pushcclosure(L, mm_index, 1);
    lua_setfield(L, -2, "__index");
    luaL_newlib(L, tensor_functions);
    lua_insert(L, -2);
    lua_setfield(L, -2, "metatable");
    return 1;
}
