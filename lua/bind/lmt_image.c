/*
 * lmt_image.c - the Lua binding of images (mtcnn.image): the Image object,
 * JPEG/PNG I/O, resizing into tensors, crops, warps, alignment and drawing.
 *
 * Pixel coordinates are 0-based positions (x right, y down), as boxes are;
 * boxes are inclusive [x1, y1, x2, y2]. Tensors are planar RGB, normalised
 * with (v - 127.5) / 128 unless {normalize = false}. File problems return
 * nil, message naming the file; misuse raises.
 */
#include "lmt.h"

#include "core/mt_alloc.h"
#include "image/mt_draw.h"
#include "core/mt_file.h"
#include "image/mt_image_io.h"
#include "image/mt_resize.h"
#include "core/mt_threads.h"
#include "image/mt_warp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the Image box ------------------------------------------------------------------------- */

static void release_image(void *im) { mt_image_free((mt_image *)im); }

const mtL_class mtL_Image = {MTL_IMAGE, "image", "freed", release_image, "free"};

mt_image *mtL_testimage(lua_State *L, int idx) {
    return (mt_image *)mtL_testbox(L, idx, &mtL_Image);
}

mt_image *mtL_checkimage(lua_State *L, int idx) {
    return (mt_image *)mtL_checkbox(L, idx, &mtL_Image);
}

/* Runs a C function that makes an image into a fresh box: pushes the box,
 * then raises (or returns nil, message when soft) on failure. */
#define MAKE_IMAGE(L, call, soft)                                                                  \
    do {                                                                                           \
        mtL_box *box_ = (mtL_box *)mtL_newbox(L, &mtL_Image, sizeof *box_, 0);                     \
        mt_image *im_ = NULL;                                                                      \
        mt_status st_ = (call);                                                                    \
        if (st_ != MT_OK) return (soft) ? mtL_fail(L) : mtL_error(L, st_);                         \
        box_->obj = im_;                                                                           \
    } while (0)

/* ---- argument helpers ---------------------------------------------------------------------- */

/* A coordinate: a number truncated toward zero, kept within +-2^30. */
static int32_t to_coord(lua_State *L, lua_Number v, const char *what) {
    int32_t c;
    if (!mt_to_i32(v, -1073741823, 1073741823, &c))
        mtL_errorf(L, "%s: coordinate %g is out of range", what, (double)v);
    return c;
}

/* A coordinate to draw at: far outside the image is drawn nowhere (clamped to +-2^30, which
 * the drawing functions clip), but NaN is an error. */
static int32_t to_draw_coord(lua_State *L, lua_Number v, const char *what) {
    if (v != v) mtL_errorf(L, "%s: a coordinate is not a number (nan)", what);
    return mt_clamp_i32(v, -1073741823, 1073741823, 0);
}

/* A colour at idx: {r, g, b} or a name of mtL_colours. */
static void read_colour(lua_State *L, int idx, uint8_t rgb[3], const char *what) {
    int v;
    if (lua_type(L, idx) == LUA_TSTRING) {
        v = mtL_findenum(mtL_colours, lua_tostring(L, idx));
        if (v == MTL_NONE) mtL_errorf(L, "%s: unknown colour '%s'", what, lua_tostring(L, idx));
    } else {
        if (!lua_istable(L, idx)) mtL_errorf(L, "%s: a colour is {r, g, b} or a name", what);
        mtL_rows c = mtL_checkrowsx(L, idx, 3, MTL_ROWS_ONE, NULL, what);
        v = 0;
        for (int k = 0; k < 3; k++) {
            if (!(c.d[k] >= 0 && c.d[k] <= 255 && c.d[k] == (int)c.d[k]))
                mtL_errorf(L, "%s: colour components are integers 0..255", what);
            v = v << 8 | (int)c.d[k];
        }
        lua_pop(L, 1);
    }
    rgb[0] = (uint8_t)(v >> 16), rgb[1] = (uint8_t)(v >> 8), rgb[2] = (uint8_t)v;
}

/* The colour field name of options idx, or def. Returns 1 when present. */
static int opt_colour(lua_State *L, int idx, const char *name, uint8_t rgb[3], const uint8_t *def) {
    int present = lua_istable(L, idx) && lua_getfield(L, idx, name) != LUA_TNIL;
    if (present) read_colour(L, lua_gettop(L), rgb, name);
    else if (def) memcpy(rgb, def, 3);
    if (lua_istable(L, idx)) lua_pop(L, 1);
    return present;
}

/* The resizing method: a string argument, or field "method" of an options table. */
static mt_interp opt_interp(lua_State *L, int idx, mt_interp def) {
    if (lua_type(L, idx) == LUA_TSTRING) return (mt_interp)mtL_checkenum(L, idx, def, mtL_interps);
    return (mt_interp)mtL_optfieldenum(L, idx, "method", def, mtL_interps);
}

static mt_pixel_norm opt_norm(lua_State *L, int idx) {
    return mtL_optfieldboolean(L, idx, "normalize", 1) ? MT_NORM_MTCNN : MT_NORM_NONE;
}

static mt_decode_opts read_decode_opts(lua_State *L, int idx) {
    mt_decode_opts o = mt_decode_opts_default();
    if (lua_isnoneornil(L, idx)) return o;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_Number mp = mtL_optfieldnumber(L, idx, "max_pixels", 0);
    if (!mt_to_i64(mp, 0, 9e15, &o.max_pixels)) mtL_errorf(L, "max_pixels must be a positive number");
    o.ignore_orientation = !mtL_optfieldboolean(L, idx, "orientation", 1);
    o.strict = mtL_optfieldboolean(L, idx, "strict", 0);
    o.blend_alpha = opt_colour(L, idx, "background", o.background, NULL);
    return o;
}

/* Arguments idx and idx + 1: a width and a height in min..MT_IMAGE_MAX_SIDE. */
static void check_size(lua_State *L, int idx, int min, int *w, int *h, const char *what) {
    for (int i = 0; i < 2; i++) {
        lua_Integer v = luaL_checkinteger(L, idx + i);
        if (v < min || v > MT_IMAGE_MAX_SIDE)
            mtL_errorf(L, "%s: %s: %lld is out of range %d..%d", what, i ? "height" : "width", (long long)v,
                       min, MT_IMAGE_MAX_SIDE);
        *(i ? h : w) = (int)v;
    }
}

/* Output size: a number (square) or {w, h}. */
static void read_size(lua_State *L, int idx, int *w, int *h, const char *what) {
    if (lua_istable(L, idx)) {
        lua_rawgeti(L, idx, 1);
        lua_rawgeti(L, idx, 2);
        int ok1, ok2;
        lua_Integer a = lua_tointegerx(L, -2, &ok1), b = lua_tointegerx(L, -1, &ok2);
        lua_pop(L, 2);
        if (!ok1 || !ok2) mtL_errorf(L, "%s: size must be a number or {width, height}", what);
        *w = (int)(a < 0 ? 0 : a > MT_IMAGE_MAX_SIDE ? MT_IMAGE_MAX_SIDE + 1 : a);
        *h = (int)(b < 0 ? 0 : b > MT_IMAGE_MAX_SIDE ? MT_IMAGE_MAX_SIDE + 1 : b);
    } else {
        lua_Integer s = luaL_checkinteger(L, idx);
        *w = *h = (int)(s < 0 ? 0 : s > MT_IMAGE_MAX_SIDE ? MT_IMAGE_MAX_SIDE + 1 : s);
    }
}

/* Boxes {x1, y1, x2, y2} (rows of numbers, mtL_checkrows) as int32 coordinates in a
 * userdata pushed on the stack (so that a raise cannot leak them). */
static int32_t *read_boxes(lua_State *L, int idx, int64_t *n, const char *what) {
    mtL_rows r = mtL_checkrows(L, idx, 4, what);
    int32_t *b = (int32_t *)mtL_alloc(L, r.n * 4, sizeof(int32_t));
    for (int64_t i = 0; i < r.n * 4; i++) b[i] = to_coord(L, r.d[i], what);
    *n = r.n;
    return b;
}

/* Five points: 5 rows {x, y}, or 10 planar numbers (x1..x5, y1..y5: a table or a tensor of
 * any shape), into interleaved pairs. */
static void read_points5(lua_State *L, int idx, double xy[10], const char *what) {
    int pairs = lua_istable(L, idx) && lua_rawgeti(L, idx, 1) == LUA_TTABLE;
    if (lua_istable(L, idx)) lua_pop(L, 1);
    if (pairs) {
        if (lua_rawlen(L, idx) != 5)
            mtL_errorf(L, "%s: landmarks are 5 {x, y} pairs or 10 planar numbers", what);
        mtL_rows r = mtL_checkrows(L, idx, 2, what);
        memcpy(xy, r.d, 10 * sizeof(double));
    } else {
        mtL_rows r = mtL_checkrowsx(L, idx, 10, MTL_ROWS_ONE | MTL_ROWS_EXACT, NULL, what);
        for (int i = 0; i < 5; i++) xy[2 * i] = r.d[i], xy[2 * i + 1] = r.d[5 + i];
    }
    lua_pop(L, 1);
}

/* A 2x3 matrix: 6 numbers {a, b, c, d, e, f} or 2 rows {{a, b, c}, {d, e, f}}. */
static void read_matrix(lua_State *L, int idx, double m[6], const char *what) {
    mtL_rows r = mtL_checkrowsx(L, idx, 0, 0, NULL, what);
    if (r.n * r.cols != 6 || (r.cols != 6 && r.cols != 3))
        mtL_errorf(L, "%s: a matrix is 6 numbers or 2 rows of 3", what);
    memcpy(m, r.d, 6 * sizeof(double));
    lua_pop(L, 1);
}

static void push_matrix(lua_State *L, const double m[6]) { mtL_pushrows(L, m, 1, 6, MTL_FORM_ROW); }

/* A new CPU tensor pushed on the stack (owned by Lua from the start). */
static mt_tensor *push_new_tensor(lua_State *L, int ndim, const int64_t *shape) {
    mt_tensor *t;
    MTL_CHECK(L, mt_tensor_new(&t, MT_CPU, ndim, shape));
    mtL_pushtensor(L, t);
    return t;
}

/* The output tensor option "out" (left on the stack), or a new one of shape. */
static mt_tensor *out_tensor(lua_State *L, int opts, int ndim, const int64_t *shape) {
    if (lua_istable(L, opts) && lua_getfield(L, opts, "out") != LUA_TNIL) {
        mt_tensor *t = mtL_testtensor(L, -1);
        if (!t) mtL_fielderror(L, "out", "mtcnn.Tensor expected");
        return t;
    }
    if (lua_istable(L, opts)) lua_pop(L, 1);
    return push_new_tensor(L, ndim, shape);
}

/* ---- construction and I/O ------------------------------------------------------------------ */

/* image.load(path [, opts]) -> image | nil, message */
static int l_load(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    mt_decode_opts o = read_decode_opts(L, 2);
    MAKE_IMAGE(L, mt_image_load(&im_, path, &o), 1);
    return 1;
}

/* image.decode(bytes [, opts [, name]]) -> image | nil, message */
static int l_decode(lua_State *L) {
    size_t n;
    const char *data = luaL_checklstring(L, 1, &n);
    mt_decode_opts o = read_decode_opts(L, 2);
    const char *name = luaL_optstring(L, 3, "<memory>");
    MAKE_IMAGE(L, mt_image_decode(&im_, data, n, name, &o), 1);
    return 1;
}

/* image.info(path [, opts]) -> {width, height, format} | nil, message */
static int l_info(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    mt_decode_opts o = read_decode_opts(L, 2);
    uint8_t *buf;
    size_t n;
    if (mt_read_file(path, &buf, &n, (size_t)1 << 30) != MT_OK) return mtL_fail(L);
    mt_image_format fmt;
    int w, h;
    mt_status st = mt_image_probe(buf, n, path, &o, &fmt, &w, &h);
    free(buf);
    if (st != MT_OK) return mtL_fail(L);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, w);
    lua_setfield(L, -2, "width");
    lua_pushinteger(L, h);
    lua_setfield(L, -2, "height");
    lua_pushstring(L, fmt == MT_FORMAT_JPEG ? "jpeg" : "png");
    lua_setfield(L, -2, "format");
    return 1;
}

/* Decoding many files on the pool. The job lives in a userdata whose __gc
 * frees whatever Lua has not taken over. */
typedef struct many_job {
    int64_t n;
    const char **paths;
    mt_image **images;
    char **errors;
    mt_decode_opts opts;
} many_job;

static int many_gc(lua_State *L) {
    many_job *j = (many_job *)lua_touserdata(L, 1);
    for (int64_t i = 0; i < j->n; i++) {
        if (j->images) mt_image_free(j->images[i]);
        if (j->errors) free(j->errors[i]);
    }
    free(j->images);
    free(j->errors);
    free((void *)j->paths);
    j->images = NULL, j->errors = NULL, j->paths = NULL, j->n = 0;
    return 0;
}

static void many_task(void *ctx, int64_t i, int thread) {
    (void)thread;
    many_job *j = (many_job *)ctx;
    if (mt_image_load(&j->images[i], j->paths[i], &j->opts) != MT_OK) {
        /* the message is thread-local: copy it for the caller */
        const char *msg = mt_last_error();
        size_t len = strlen(msg);
        j->errors[i] = (char *)malloc(len + 1);
        if (j->errors[i]) memcpy(j->errors[i], msg, len + 1);
    }
}

/* image.load_many(paths [, opts]) -> images, errors: images[i] is an image
 * or false; errors[i] the message of a failed file. Decodes on the pool. */
static int l_load_many(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mt_decode_opts o = read_decode_opts(L, 2);
    int64_t n = (int64_t)lua_rawlen(L, 1);
    many_job *j = (many_job *)mtL_newguard(L, sizeof *j, many_gc);
    int jidx = lua_gettop(L);
    j->opts = o;
    j->paths = (const char **)calloc((size_t)n + 1, sizeof(char *));
    j->images = (mt_image **)calloc((size_t)n + 1, sizeof(mt_image *));
    j->errors = (char **)calloc((size_t)n + 1, sizeof(char *));
    if (!j->paths || !j->images || !j->errors) return mtL_errorf(L, "load_many: out of memory");
    j->n = n;
    for (int64_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING) return mtL_errorf(L, "load_many: path %lld is not a string", (long long)i + 1);
        j->paths[i] = lua_tostring(L, -1); /* anchored in the argument table */
        lua_pop(L, 1);
    }
    mt_parallel_tasks(n, many_task, j);
    lua_createtable(L, (int)n, 0);
    lua_createtable(L, 0, 0);
    for (int64_t i = 0; i < n; i++) {
        if (j->images[i]) {
            mtL_box *box = (mtL_box *)mtL_newbox(L, &mtL_Image, sizeof *box, 0);
            box->obj = j->images[i];
            j->images[i] = NULL;
        } else {
            lua_pushboolean(L, 0);
            lua_pushstring(L, j->errors[i] ? j->errors[i] : "load_many: out of memory");
            lua_rawseti(L, jidx + 2, (lua_Integer)i + 1);
        }
        lua_rawseti(L, jidx + 1, (lua_Integer)i + 1);
    }
    return 2;
}

/* image.new(width, height [, colour]) */
static int l_new(lua_State *L) {
    int w, h;
    check_size(L, 1, 0, &w, &h, "image.new");
    uint8_t rgb[3] = {0, 0, 0};
    int fill = !lua_isnoneornil(L, 3);
    if (fill) read_colour(L, 3, rgb, "image.new");
    MAKE_IMAGE(L, mt_image_new(&im_, w, h), 0);
    if (fill) mt_image_fill(mtL_checkimage(L, -1), rgb[0], rgb[1], rgb[2]);
    return 1;
}

/* image.from_tensor(t [, {normalize = true}]) */
static int l_from_tensor(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1);
    mt_pixel_norm norm = opt_norm(L, 2);
    MAKE_IMAGE(L, mt_image_from_tensor(&im_, t, norm), 0);
    return 1;
}

/* image.from_string(width, height, bytes): raw RGB rows */
static int l_from_string(lua_State *L) {
    int w, h;
    check_size(L, 1, 0, &w, &h, "from_string");
    size_t n;
    const char *s = luaL_checklstring(L, 3, &n);
    if (n != mt_image_bytes(w, h))
        return mtL_errorf(L, "from_string: %dx%d needs %zu bytes, got %zu", w, h, mt_image_bytes(w, h), n);
    MAKE_IMAGE(L, mt_image_new(&im_, w, h), 0);
    memcpy(mtL_checkimage(L, -1)->data, s, n);
    return 1;
}

/* image.to_batch(images [, {out, normalize}]) -> [N, 3, H, W] */
static int l_to_batch(lua_State *L) {
    lua_settop(L, 2); /* optional arguments keep their slots */
    luaL_checktype(L, 1, LUA_TTABLE);
    int64_t n = (int64_t)lua_rawlen(L, 1);
    if (n < 1) return mtL_errorf(L, "to_batch: no images");
    const mt_image **ims = (const mt_image **)mtL_alloc(L, n, sizeof(mt_image *));
    for (int64_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i + 1);
        ims[i] = mtL_checkimage(L, -1);
        lua_pop(L, 1);
    }
    int64_t shape[4] = {n, 3, ims[0]->height, ims[0]->width};
    mt_tensor *out = out_tensor(L, 2, 4, shape);
    MTL_CHECK(L, mt_image_to_tensor(ims, (int)n, out, opt_norm(L, 2)));
    return 1;
}

/* image.max_pixels([n]) -> the current limit (setting it first when n is given) */
static int l_max_pixels(lua_State *L) {
    if (!lua_isnoneornil(L, 1)) {
        lua_Number n = luaL_checknumber(L, 1);
        if (!(n >= 1 && n < 9e15)) return mtL_errorf(L, "max_pixels: %g is not a positive count", n);
        mt_image_set_max_pixels((int64_t)n);
    }
    lua_pushinteger(L, (lua_Integer)mt_image_max_pixels());
    return 1;
}

/* ---- geometry helpers ---------------------------------------------------------------------- */

/* image.rotation_matrix(cx, cy, angle_degrees [, scale = 1]) */
static int l_rotation_matrix(lua_State *L) {
    double m[6];
    mt_rotation_matrix(luaL_checknumber(L, 1), luaL_checknumber(L, 2), luaL_checknumber(L, 3),
                       luaL_optnumber(L, 4, 1.0), m);
    push_matrix(L, m);
    return 1;
}

static int l_invert_affine(lua_State *L) {
    double m[6], inv[6];
    read_matrix(L, 1, m, "invert_affine");
    MTL_CHECK(L, mt_affine_invert(m, inv));
    push_matrix(L, inv);
    return 1;
}

/* image.transform_points(m, points) -> new list of {x, y} */
static int l_transform_points(lua_State *L) {
    lua_settop(L, 2); /* optional arguments keep their slots */
    double m[6];
    read_matrix(L, 1, m, "transform_points");
    mtL_rows p = mtL_checkrows(L, 2, 2, "transform_points");
    mt_affine_points(m, p.d, (int)p.n);
    mtL_pushrows(L, p.d, p.n, 2, MTL_FORM_TABLE);
    return 1;
}

/* image.similarity(src_points, dst_points) -> m (least-squares similarity) */
static int l_similarity(lua_State *L) {
    lua_settop(L, 2); /* optional arguments keep their slots */
    mtL_rows a = mtL_checkrows(L, 1, 2, "similarity"), b = mtL_checkrows(L, 2, 2, "similarity");
    mtL_checkcounts(L, &a, "source points", &b, "targets", "similarity");
    double m[6];
    MTL_CHECK(L, mt_similarity_fit(a.d, b.d, (int)a.n, m));
    push_matrix(L, m);
    return 1;
}

/* image.alignment_template([w = 112, h = w]) -> 5 {x, y} */
static int l_alignment_template(lua_State *L) {
    int w = (int)luaL_optinteger(L, 1, 112);
    int h = (int)luaL_optinteger(L, 2, w);
    if (w < 1 || h < 1 || w > 8192 || h > 8192) return mtL_errorf(L, "alignment_template: bad size %dx%d", w, h);
    double t[10];
    mt_align_template(w, h, t);
    mtL_pushrows(L, t, 5, 2, MTL_FORM_TABLE);
    return 1;
}

/* ---- Image methods ------------------------------------------------------------------------- */

static int m_size(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1);
    lua_pushinteger(L, im->width);
    lua_pushinteger(L, im->height);
    return 2;
}

static void check_xy(lua_State *L, const mt_image *im, int ix, int iy, int *x, int *y) {
    lua_Integer a = luaL_checkinteger(L, ix), b = luaL_checkinteger(L, iy);
    if (a < 0 || b < 0 || a >= im->width || b >= im->height)
        mtL_errorf(L, "pixel (%lld, %lld) is outside the %dx%d image (coordinates are 0-based)",
                   (long long)a, (long long)b, im->width, im->height);
    *x = (int)a, *y = (int)b;
}

/* img:get(x, y) -> r, g, b (0-based coordinates) */
static int m_get(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1);
    int x, y;
    check_xy(L, im, 2, 3, &x, &y);
    const uint8_t *p = mt_image_pixel(im, x, y);
    lua_pushinteger(L, p[0]);
    lua_pushinteger(L, p[1]);
    lua_pushinteger(L, p[2]);
    return 3;
}

/* img:set(x, y, r, g, b) or img:set(x, y, colour) */
static int m_set(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1);
    int x, y;
    check_xy(L, im, 2, 3, &x, &y);
    uint8_t rgb[3];
    if (lua_istable(L, 4) || lua_type(L, 4) == LUA_TSTRING) {
        read_colour(L, 4, rgb, "set");
    } else {
        for (int c = 0; c < 3; c++) rgb[c] = (uint8_t)mtL_checkintrange(L, 4 + c, 0, 255, "set: colour");
    }
    memcpy(mt_image_pixel(im, x, y), rgb, 3);
    return mtL_self(L);
}

static int m_clone(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1);
    MAKE_IMAGE(L, mt_image_clone(&im_, im), 0);
    return 1;
}

static int m_tostring(lua_State *L) {
    const mt_image *im = ((mtL_box *)luaL_checkudata(L, 1, MTL_IMAGE))->obj;
    if (!im) lua_pushstring(L, "[mtcnn.Image (freed)]");
    else lua_pushfstring(L, "[mtcnn.Image %dx%d]", im->width, im->height);
    return 1;
}

static int m_eq(lua_State *L) {
    mt_image *a = mtL_checkimage(L, 1), *b = mtL_checkimage(L, 2);
    lua_pushboolean(L, a->width == b->width && a->height == b->height &&
                           memcmp(a->data, b->data, mt_image_bytes(a->width, a->height)) == 0);
    return 1;
}

/* img:max_abs_diff(other) -> the largest difference of two samples */
static int m_max_abs_diff(lua_State *L) {
    mt_image *a = mtL_checkimage(L, 1), *b = mtL_checkimage(L, 2);
    if (a->width != b->width || a->height != b->height)
        return mtL_errorf(L, "max_abs_diff: sizes %dx%d and %dx%d differ", a->width, a->height,
                          b->width, b->height);
    int d = 0;
    for (size_t i = 0, n = mt_image_bytes(a->width, a->height); i < n; i++) {
        int e = abs((int)a->data[i] - (int)b->data[i]);
        if (e > d) d = e;
    }
    lua_pushinteger(L, d);
    return 1;
}

/* img:checksum() -> CRC-32C of the pixel bytes */
static int m_checksum(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1);
    lua_pushinteger(L, mt_crc32c(0, im->data, mt_image_bytes(im->width, im->height)));
    return 1;
}

/* img:mean() -> mean r, g, b */
static int m_mean(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1);
    double s[3] = {0, 0, 0};
    size_t n = (size_t)im->width * (size_t)im->height;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) s[c] += im->data[3 * i + c];
    for (int c = 0; c < 3; c++) lua_pushnumber(L, n ? s[c] / (double)n : 0.0);
    return 3;
}

static int m_to_string(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1);
    lua_pushlstring(L, (const char *)im->data, mt_image_bytes(im->width, im->height));
    return 1;
}

/* img:to_tensor([{out, normalize}]) -> [3, H, W] */
static int m_to_tensor(lua_State *L) {
    lua_settop(L, 2); /* optional arguments keep their slots */
    mt_image *im = mtL_checkimage(L, 1);
    mt_pixel_norm norm = opt_norm(L, 2);
    int64_t shape[3] = {3, im->height, im->width};
    mt_tensor *out = out_tensor(L, 2, 3, shape);
    mt_tensor *v;
    /* a [1, 3, H, W] view of the output: the batch form of the converter */
    int64_t vshape[4] = {1, 3, im->height, im->width};
    int64_t vstride[4];
    if (out->ndim == 3) {
        vstride[0] = 0, vstride[1] = out->stride[0], vstride[2] = out->stride[1], vstride[3] = out->stride[2];
    } else if (out->ndim == 4 && out->shape[0] == 1) {
        memcpy(vstride, out->stride, sizeof vstride);
    } else {
        char s[MT_SHAPE_STR];
        return mtL_errorf(L, "to_tensor: output %s should be 3x%dx%d", mt_tensor_shape_str(out, s),
                          im->height, im->width);
    }
    if (out->shape[out->ndim - 3] != 3 || out->shape[out->ndim - 2] != im->height ||
        out->shape[out->ndim - 1] != im->width) {
        char s[MT_SHAPE_STR];
        return mtL_errorf(L, "to_tensor: output %s should be 3x%dx%d", mt_tensor_shape_str(out, s),
                          im->height, im->width);
    }
    MTL_CHECK(L, mt_tensor_view(&v, out, 4, vshape, vstride, out->offset));
    const mt_image *ims[1] = {im};
    mt_status st = mt_image_to_tensor(ims, 1, v, norm); /* cannot raise: v is released next */
    mt_tensor_release(v);
    MTL_CHECK(L, st);
    return 1;
}

/* img:encode(format [, quality = 95]) -> bytes */
static int m_encode(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1);
    mt_image_format fmt = (mt_image_format)mtL_checkenum(L, 2, MTL_NONE, mtL_image_formats);
    int q = (int)luaL_optinteger(L, 3, 95);
    int s444 = lua_toboolean(L, 4);
    uint8_t *buf;
    size_t n;
    MTL_CHECK(L, mt_image_encode(im, fmt, q, s444, &buf, &n));
    lua_pushlstring(L, (const char *)buf, n); /* may raise: copy the bytes out first */
    free(buf);
    return 1;
}

/* img:save(path [, quality = 95]) -> true | nil, message */
static int m_save(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1);
    const char *path = luaL_checkstring(L, 2);
    int q = (int)luaL_optinteger(L, 3, 95);
    if (q < 1 || q > 100) return mtL_errorf(L, "save: JPEG quality %d is not in 1..100", q);
    if (mt_image_format_of_path(path) == MT_FORMAT_UNKNOWN)
        return mtL_errorf(L, "save: %s: unknown image extension (use .jpg, .jpeg or .png)", path);
    if (mt_image_save(im, path, q) != MT_OK) return mtL_fail(L);
    lua_pushboolean(L, 1);
    return 1;
}

/* img:crop(x1, y1, x2, y2) -> image (inclusive box, black outside) */
static int m_crop(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1);
    int32_t b[4];
    for (int k = 0; k < 4; k++) b[k] = to_coord(L, luaL_checknumber(L, 2 + k), "crop");
    MAKE_IMAGE(L, mt_image_crop(&im_, im, b[0], b[1], b[2], b[3]), 0);
    return 1;
}

/* img:resize_to_tensor(width, height [, {method = "area", out, normalize}]) -> [1, 3, h, w] */
static int m_resize_to_tensor(lua_State *L) {
    lua_settop(L, 4); /* optional arguments keep their slots */
    mt_image *im = mtL_checkimage(L, 1);
    int w, h;
    check_size(L, 2, 1, &w, &h, "resize_to_tensor");
    mt_interp m = opt_interp(L, 4, MT_INTERP_AREA);
    mt_pixel_norm norm = opt_norm(L, 4);
    int64_t shape[4] = {1, 3, h, w};
    mt_tensor *out = out_tensor(L, 4, 4, shape);
    MTL_CHECK(L, mt_resize_to_tensor(im, w, h, m, out, norm));
    return 1;
}

/* img:crop_resize(boxes, size [, {method = "area", out, normalize}]) -> [N, 3, h, w] */
static int m_crop_resize(lua_State *L) {
    lua_settop(L, 4); /* optional arguments keep their slots */
    mt_image *im = mtL_checkimage(L, 1);
    int w, h;
    read_size(L, 3, &w, &h, "crop_resize");
    mt_interp m = opt_interp(L, 4, MT_INTERP_AREA);
    mt_pixel_norm norm = opt_norm(L, 4);
    int64_t n;
    int32_t *boxes = read_boxes(L, 2, &n, "crop_resize");
    int64_t shape[4] = {n, 3, h, w};
    mt_tensor *out = out_tensor(L, 4, 4, shape);
    if (n == 0 && out->ndim == 4 && out->shape[0] == 0) return 1;
    MTL_CHECK(L, mt_crop_resize_to_tensor(im, boxes, n, w, h, m, out, norm));
    return 1;
}

/* img:resize(width, height [, method = "bilinear"]) -> image ;
 * image.resize_tensor(t, width, height [, method = "bilinear"]) -> tensor */
static int resize(lua_State *L, int tensor) {
    int w, h;
    check_size(L, 2, 1, &w, &h, tensor ? "resize_tensor" : "resize");
    mt_interp m = opt_interp(L, 4, MT_INTERP_BILINEAR);
    if (!tensor) {
        mt_image *im = mtL_checkimage(L, 1);
        MAKE_IMAGE(L, mt_resize_image(&im_, im, w, h, m), 0);
        return 1;
    }
    mt_tensor *out;
    MTL_CHECK(L, mt_resize_tensor(&out, mtL_checktensor(L, 1), w, h, m));
    mtL_pushtensor(L, out);
    return 1;
}
static int m_resize(lua_State *L) { return resize(L, 0); }
static int l_resize_tensor(lua_State *L) { return resize(L, 1); }

/* img:flip() -> mirrored copy */
static int m_flip(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1);
    MAKE_IMAGE(L, mt_image_clone(&im_, im), 0);
    mt_image_flip_inplace(mtL_checkimage(L, -1));
    return 1;
}

/* img:flip_() mirrors in place, returns img */
static int m_flip_(lua_State *L) {
    mt_image_flip_inplace(mtL_checkimage(L, 1));
    return mtL_self(L);
}

/* img:warp_affine(m, width, height [, {border = colour}]) -> image */
static int m_warp_affine(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1);
    double m[6];
    read_matrix(L, 2, m, "warp_affine");
    int w, h;
    check_size(L, 3, 1, &w, &h, "warp_affine");
    uint8_t border[3] = {0, 0, 0};
    opt_colour(L, 5, "border", border, border);
    MAKE_IMAGE(L, mt_warp_affine(&im_, im, m, w, h, border), 0);
    return 1;
}

/* img:rotate(angle [, {cx, cy, scale, border}]) -> image of the same size,
 * turned about (cx, cy) (default: the image centre); positive = anticlockwise */
static int m_rotate(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1);
    double angle = luaL_checknumber(L, 2);
    double cx = mtL_optfieldnumber(L, 3, "cx", (im->width - 1) / 2.0);
    double cy = mtL_optfieldnumber(L, 3, "cy", (im->height - 1) / 2.0);
    double scale = mtL_optfieldnumber(L, 3, "scale", 1.0);
    uint8_t border[3] = {0, 0, 0};
    opt_colour(L, 3, "border", border, border);
    double m[6];
    mt_rotation_matrix(cx, cy, angle, scale, m);
    MAKE_IMAGE(L, mt_warp_affine(&im_, im, m, im->width, im->height, border), 0);
    push_matrix(L, m);
    return 2;
}

/* img:align_face(landmarks [, {size = 112 | {w, h}}]) -> aligned image, matrix */
static int m_align_face(lua_State *L) {
    lua_settop(L, 3); /* optional arguments keep their slots */
    mt_image *im = mtL_checkimage(L, 1);
    double xy[10], m[6];
    read_points5(L, 2, xy, "align_face");
    int w = 112, h = 112;
    if (lua_istable(L, 3)) lua_getfield(L, 3, "size");
    if (!lua_isnoneornil(L, 4)) read_size(L, 4, &w, &h, "align_face");
    MAKE_IMAGE(L, mt_align_face(&im_, im, xy, w, h, m), 0);
    push_matrix(L, m);
    return 2;
}

/* img:fill(colour) */
static int m_fill(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1);
    uint8_t rgb[3];
    read_colour(L, 2, rgb, "fill");
    mt_image_fill(im, rgb[0], rgb[1], rgb[2]);
    return mtL_self(L);
}

/* img:paste(src, x, y) */
static int m_paste(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1), *src = mtL_checkimage(L, 2);
    mt_image_paste(im, src, to_coord(L, luaL_checknumber(L, 3), "paste"),
                   to_coord(L, luaL_checknumber(L, 4), "paste"));
    return mtL_self(L);
}

static const uint8_t default_colour[3] = {0, 255, 0};

/* The arguments of draw_rect and draw_line: four coordinates from argument 2 (rounded), and
 * the colour and thickness (clamped to 1..256) of the options (argument 6). */
static mt_image *read_stroke(lua_State *L, int32_t p[4], uint8_t rgb[3], int *thickness, int def,
                             const char *what) {
    mt_image *im = mtL_checkimage(L, 1);
    for (int k = 0; k < 4; k++) p[k] = to_draw_coord(L, floor(luaL_checknumber(L, 2 + k) + 0.5), what);
    opt_colour(L, 6, "color", rgb, default_colour);
    *thickness = mt_clamp_i32(mtL_optfieldnumber(L, 6, "thickness", def), 1, 256, 1);
    return im;
}

/* img:draw_rect(x1, y1, x2, y2 [, {color, thickness = 2, fill = false}]) */
static int m_draw_rect(lua_State *L) {
    int32_t b[4];
    uint8_t rgb[3];
    int t;
    mt_image *im = read_stroke(L, b, rgb, &t, 2, "draw_rect");
    if (mtL_optfieldboolean(L, 6, "fill", 0)) mt_draw_fill_rect(im, b[0], b[1], b[2], b[3], rgb);
    else mt_draw_rect(im, b[0], b[1], b[2], b[3], rgb, t);
    return mtL_self(L);
}

/* img:draw_line(x0, y0, x1, y1 [, {color, thickness = 1}]) */
static int m_draw_line(lua_State *L) {
    int32_t p[4];
    uint8_t rgb[3];
    int t;
    mt_image *im = read_stroke(L, p, rgb, &t, 1, "draw_line");
    mt_draw_line(im, p[0], p[1], p[2], p[3], rgb, t);
    return mtL_self(L);
}

/* img:draw_circle(x, y, r [, {color, fill = true}]); img:draw_point(x, y [, {color, radius = 2}]) */
static int m_draw_circle(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1);
    double x = luaL_checknumber(L, 2), y = luaL_checknumber(L, 3), r = luaL_checknumber(L, 4);
    uint8_t rgb[3];
    opt_colour(L, 5, "color", rgb, default_colour);
    if (!(r >= 0 && r < 1e6)) return mtL_errorf(L, "draw_circle: bad radius %g", r);
    mt_draw_circle(im, x, y, r, rgb, mtL_optfieldboolean(L, 5, "fill", 1));
    return mtL_self(L);
}

static int m_draw_point(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1);
    double x = luaL_checknumber(L, 2), y = luaL_checknumber(L, 3);
    static const uint8_t red[3] = {255, 0, 0};
    uint8_t rgb[3];
    opt_colour(L, 4, "color", rgb, red);
    double r = mtL_optfieldnumber(L, 4, "radius", 2);
    if (!(r >= 0 && r < 1e6)) return mtL_errorf(L, "draw_point: bad radius %g", r);
    mt_draw_circle(im, x, y, r, rgb, 1);
    return mtL_self(L);
}

/* img:draw_text(x, y, text [, {color = white, scale = 1, background}]) */
static int m_draw_text(lua_State *L) {
    mt_image *im = mtL_checkimage(L, 1);
    int x = to_draw_coord(L, luaL_checknumber(L, 2), "draw_text");
    int y = to_draw_coord(L, luaL_checknumber(L, 3), "draw_text");
    const char *text = luaL_checkstring(L, 4);
    static const uint8_t white[3] = {255, 255, 255};
    uint8_t rgb[3], bg[3];
    opt_colour(L, 5, "color", rgb, white);
    int has_bg = opt_colour(L, 5, "background", bg, NULL);
    int scale = mt_clamp_i32(mtL_optfieldnumber(L, 5, "scale", 1), 1, 64, 1);
    mt_draw_text(im, x, y, text, rgb, scale, has_bg ? bg : NULL);
    return mtL_self(L);
}

/* image.memory() -> {live = pixel bytes of live images, cached = bytes kept for reuse} */
static int l_memory(lua_State *L) {
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)mt_image_bytes_live());
    lua_setfield(L, -2, "live");
    lua_pushinteger(L, (lua_Integer)mt_image_bytes_cached());
    lua_setfield(L, -2, "cached");
    return 1;
}

/* image.release_cache(): frees the pixel buffers kept for reuse */
static int l_release_cache(lua_State *L) {
    (void)L;
    mt_image_release_cache();
    return 0;
}

/* image.text_size(text [, scale]) -> width, height */
static int l_text_size(lua_State *L) {
    int w, h;
    mt_text_size(luaL_checkstring(L, 1), (int)luaL_optinteger(L, 2, 1), &w, &h);
    lua_pushinteger(L, w);
    lua_pushinteger(L, h);
    return 2;
}

static const luaL_Reg image_methods[] = {
    /* pixels and comparison */
    {"size", m_size}, {"get", m_get}, {"set", m_set}, {"clone", m_clone}, {"equal", m_eq},
    {"max_abs_diff", m_max_abs_diff}, {"checksum", m_checksum}, {"mean", m_mean},
    /* conversion and files */
    {"to_string", m_to_string}, {"to_tensor", m_to_tensor}, {"encode", m_encode}, {"save", m_save},
    /* geometry */
    {"crop", m_crop}, {"resize", m_resize}, {"resize_to_tensor", m_resize_to_tensor},
    {"crop_resize", m_crop_resize}, {"flip", m_flip}, {"flip_", m_flip_},
    {"warp_affine", m_warp_affine}, {"rotate", m_rotate}, {"align_face", m_align_face},
    /* drawing */
    {"fill", m_fill}, {"paste", m_paste}, {"draw_rect", m_draw_rect}, {"draw_line", m_draw_line},
    {"draw_circle", m_draw_circle}, {"draw_point", m_draw_point}, {"draw_text", m_draw_text},
    {NULL, NULL},
};

/* img.width, img.height */
static int g_width(lua_State *L) {
    lua_pushinteger(L, mtL_checkimage(L, 1)->width);
    return 1;
}

static int g_height(lua_State *L) {
    lua_pushinteger(L, mtL_checkimage(L, 1)->height);
    return 1;
}

static const luaL_Reg image_functions[] = {
    /* files and construction */
    {"load", l_load}, {"decode", l_decode}, {"info", l_info}, {"load_many", l_load_many},
    {"new", l_new}, {"from_tensor", l_from_tensor}, {"from_string", l_from_string},
    {"to_batch", l_to_batch}, {"resize_tensor", l_resize_tensor}, {"max_pixels", l_max_pixels},
    /* geometry */
    {"rotation_matrix", l_rotation_matrix}, {"invert_affine", l_invert_affine},
    {"transform_points", l_transform_points}, {"similarity", l_similarity},
    {"alignment_template", l_alignment_template}, {"text_size", l_text_size},
    /* memory */
    {"memory", l_memory}, {"release_cache", l_release_cache},
    {NULL, NULL},
};

int mtL_open_image(lua_State *L) {
    static const luaL_Reg meta[] = {{"__tostring", m_tostring}, {"__eq", m_eq}, {NULL, NULL}};
    static const luaL_Reg getters[] = {{"width", g_width}, {"height", g_height}, {NULL, NULL}};
    mtL_newclass(L, &mtL_Image, image_methods, meta, getters);
    luaL_newlib(L, image_functions);
    lua_insert(L, -2);
    lua_setfield(L, -2, "metatable");
    return 1;
}
