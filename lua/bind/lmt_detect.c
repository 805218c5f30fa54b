/*
 * lmt_detect.c - the Lua binding of the cascade's candidate windows
 * (mtcnn.core.detect), used by lua/mtcnn/detector.lua.
 *
 *   local c = detect.candidates()
 *   c:add_pnet(prob, reg, scale, threshold [, image = 1, batch = 1])
 *   c:nms(threshold, "union" | "min" [, from = 1])   -- per image
 *   c:calibrate(plus_one) ; c:square() ; c:fix()
 *   c:crop(images, size, method, out)                 -- [n,3,size,size], normalised
 *   c:set_outputs(prob, reg [, pts]) ; c:filter(threshold) ; c:decode_landmarks([offset])
 *   c:drop_invalid(images) -> count                   -- windows a damaged model made
 *   c:faces([image]) -> {{box = {x1,y1,x2,y2}, score, landmarks = {{x,y} x5}}, ...}
 * Image indices are 1-based in Lua. Faces are in the project's 0-based,
 * inclusive convention (the original's numbers minus 1).
 */
#include "lmt.h"

#include "detect/mt_detect.h"
#include "image/mt_image.h"
#include "image/mt_resize.h"

#include <stdlib.h>
#include <string.h>

/* Candidate sets are values: the userdata is the mt_cands. */
static const mtL_class cands_class = {"mtcnn.Candidates", "candidate set", NULL, NULL, NULL};

static mt_cands *check_cands(lua_State *L, int idx) {
    return (mt_cands *)luaL_checkudata(L, idx, cands_class.name);
}

static mt_cands *new_cands(lua_State *L) {
    mt_cands *c = (mt_cands *)lua_newuserdatauv(L, sizeof(mt_cands), 0);
    mt_cands_init(c);
    luaL_setmetatable(L, cands_class.name);
    return c;
}

static int cands_gc(lua_State *L) {
    mt_cands_free(check_cands(L, 1));
    return 0;
}

/* detect.candidates() -> an empty set */
static int l_candidates(lua_State *L) {
    new_cands(L);
    return 1;
}

static int m_len(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)check_cands(L, 1)->n);
    return 1;
}

/* c:add_pnet(prob, reg, scale, threshold [, image, batch]) -> windows added */
static int m_add_pnet(lua_State *L) {
    mt_cands *c = check_cands(L, 1);
    mt_tensor *prob = mtL_checktensor(L, 2), *reg = mtL_checktensor(L, 3);
    double scale = luaL_checknumber(L, 4), thr = luaL_checknumber(L, 5);
    lua_Integer image = luaL_optinteger(L, 6, 1), batch = luaL_optinteger(L, 7, 1);
    int64_t before = c->n;
    MTL_CHECK(L, mt_cands_add_pnet(c, prob, reg, (int)batch - 1, scale, thr, (int32_t)image - 1));
    lua_pushinteger(L, (lua_Integer)(c->n - before));
    return 1;
}

/* c:nms(threshold, kind [, from]) */
static int m_nms(lua_State *L) {
    mt_cands *c = check_cands(L, 1);
    double thr = luaL_checknumber(L, 2);
    mt_overlap kind = (mt_overlap)mtL_checkenum(L, 3, MT_OVERLAP_UNION, mtL_overlaps);
    lua_Integer from = luaL_optinteger(L, 4, 1);
    luaL_argcheck(L, from >= 1 && from <= c->n + 1, 4, "start out of range");
    MTL_CHECK(L, mt_cands_nms(c, from - 1, thr, kind));
    return mtL_self(L);
}

static int m_calibrate(lua_State *L) {
    mt_cands_calibrate(check_cands(L, 1), lua_toboolean(L, 2));
    return mtL_self(L);
}

static int m_square(lua_State *L) {
    mt_cands_square(check_cands(L, 1));
    return mtL_self(L);
}

static int m_fix(lua_State *L) {
    mt_cands_fix(check_cands(L, 1));
    return mtL_self(L);
}

/* c:set_outputs(prob, reg [, pts]) */
static int m_set_outputs(lua_State *L) {
    mt_cands *c = check_cands(L, 1);
    mt_tensor *prob = mtL_checktensor(L, 2), *reg = mtL_checktensor(L, 3);
    mt_tensor *pts = mtL_opttensor(L, 4);
    MTL_CHECK(L, mt_cands_set_outputs(c, prob, reg, pts));
    return mtL_self(L);
}

static int m_filter(lua_State *L) {
    mt_cands_filter(check_cands(L, 1), luaL_checknumber(L, 2));
    return mtL_self(L);
}

/* c:decode_landmarks([offset = 1]) */
static int m_decode_landmarks(lua_State *L) {
    mt_cands_decode_landmarks(check_cands(L, 1), luaL_optnumber(L, 2, 1.0));
    return mtL_self(L);
}

/* c:crop(images, size, method, out): the windows' (fixed) boxes cut from
 * their images, zero-filled outside, resized to size x size into out
 * ([n,3,size,size], normalised as the nets expect). images is one image or a
 * list indexed by the windows' image numbers. */
/* c:crop(images, size, interp, out [, first, count]): windows first..first+count-1 (1-based;
 * default all) cropped, resized and normalised into out [count, 3, size, size], so that a
 * caller can go through many windows a batch at a time. */
static int m_crop(lua_State *L) {
    mt_cands *c = check_cands(L, 1);
    int single = mtL_testimage(L, 2) != NULL;
    if (!single) luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer size = luaL_checkinteger(L, 3);
    mt_interp interp = (mt_interp)mtL_checkenum(L, 4, MT_INTERP_AREA, mtL_interps);
    mt_tensor *out = mtL_checktensor(L, 5);
    lua_Integer first = luaL_optinteger(L, 6, 1);
    lua_Integer count = luaL_optinteger(L, 7, c->n - first + 1);
    luaL_argcheck(L, size >= 1 && size <= 4096, 3, "crop size out of range");
    luaL_argcheck(L, first >= 1 && first <= c->n + 1, 6, "first window out of range");
    luaL_argcheck(L, count >= 0 && count <= c->n - first + 1, 7, "window count out of range");
    if (out->ndim != 4 || out->shape[0] != count || out->shape[1] != 3 || out->shape[2] != size ||
        out->shape[3] != size) {
        char s[MT_SHAPE_STR];
        return mtL_errorf(L, "crop: output %s is not %lldx3x%lldx%lld", mt_tensor_shape_str(out, s),
                          (long long)count, (long long)size, (long long)size);
    }
    if (count == 0) return 0;
    int64_t lo = first - 1, hi = lo + count;
    /* the integer boxes live in a Lua-owned buffer, so an error cannot leak them */
    int32_t *boxes = (int32_t *)mtL_alloc(L, count * 4, sizeof(int32_t));
    MTL_CHECK(L, mt_cands_crop_boxes(c, lo, count, boxes));
    /* one call per run of windows from the same image */
    for (int64_t start = lo; start < hi;) {
        int64_t end = start;
        while (end < hi && c->image[end] == c->image[start]) end++;
        const mt_image *im;
        if (single) {
            im = mtL_checkimage(L, 2);
        } else {
            lua_rawgeti(L, 2, (lua_Integer)c->image[start] + 1);
            im = mtL_testimage(L, -1);
            if (!im) return mtL_errorf(L, "crop: no image %lld in the list", (long long)c->image[start] + 1);
            lua_pop(L, 1); /* still referenced by the list */
        }
        mt_tensor *slice;
        MTL_CHECK(L, mt_tensor_narrow(&slice, out, 0, start - lo, end - start));
        mtL_pushtensor(L, slice);
        MTL_CHECK(L, mt_crop_resize_to_tensor(im, boxes + 4 * (start - lo), end - start, (int)size,
                                              (int)size, interp, slice, MT_NORM_MTCNN));
        lua_pop(L, 1);
        start = end;
    }
    return 0;
}

/* The width and height of each image of argument idx (one image, or a list of them) in a
 * userdata left on the stack; *n their count. */
static int32_t *image_sizes(lua_State *L, int idx, int *n) {
    const mt_image *one = mtL_testimage(L, idx);
    if (!one) luaL_checktype(L, idx, LUA_TTABLE);
    lua_Integer len = one ? 1 : (lua_Integer)lua_rawlen(L, idx);
    if (len > INT32_MAX) mtL_errorf(L, "drop_invalid: %lld images", (long long)len);
    int32_t *sizes = (int32_t *)mtL_alloc(L, len * 2, sizeof(int32_t));
    for (lua_Integer i = 0; i < len; i++) {
        const mt_image *im = one;
        if (!one) {
            lua_rawgeti(L, idx, i + 1);
            im = mtL_testimage(L, -1);
            if (!im) mtL_errorf(L, "drop_invalid: item %lld of the list is not an image", (long long)i + 1);
            lua_pop(L, 1);
        }
        sizes[2 * i] = im->width;
        sizes[2 * i + 1] = im->height;
    }
    *n = (int)len;
    return sizes;
}

/* c:drop_invalid(images) -> the number of windows removed: those with a number that is not
 * finite or a box far outside its image (a damaged model's); images as for crop. */
static int m_drop_invalid(lua_State *L) {
    mt_cands *c = check_cands(L, 1);
    int n;
    int32_t *sizes = image_sizes(L, 2, &n);
    lua_pushinteger(L, (lua_Integer)mt_cands_drop_invalid(c, sizes, n));
    return 1;
}

/* c:append(other) */
static int m_append(lua_State *L) {
    mt_cands *c = check_cands(L, 1);
    MTL_CHECK(L, mt_cands_append(c, check_cands(L, 2)));
    return mtL_self(L);
}

/* c:faces([image], [with_landmarks = true]) -> list of faces, 0-based */
static int m_faces(lua_State *L) {
    mt_cands *c = check_cands(L, 1);
    lua_Integer only = luaL_optinteger(L, 2, 0);
    int landmarks = mtL_optboolean(L, 3, 1);
    lua_newtable(L);
    int n = 0;
    for (int64_t k = 0; k < c->n; k++) {
        if (only > 0 && c->image[k] != only - 1) continue;
        lua_createtable(L, 0, 3);
        double v[10]; /* the box, then the points as pairs, in the 0-based convention */
        for (int i = 0; i < 4; i++) v[i] = c->box[4 * k + i] - 1.0;
        mtL_pushrows(L, v, 1, 4, MTL_FORM_ROW);
        lua_setfield(L, -2, "box");
        lua_pushnumber(L, c->score[k]);
        lua_setfield(L, -2, "score");
        if (landmarks) {
            for (int i = 0; i < 5; i++) {
                v[2 * i] = c->pts[10 * k + i] - 1.0;
                v[2 * i + 1] = c->pts[10 * k + 5 + i] - 1.0;
            }
            mtL_pushrows(L, v, 5, 2, MTL_FORM_TABLE);
            lua_setfield(L, -2, "landmarks");
        }
        lua_pushinteger(L, (lua_Integer)c->image[k] + 1);
        lua_setfield(L, -2, "image");
        lua_rawseti(L, -2, ++n);
    }
    return 1;
}

/* c:counts(n) -> {k1, ..., kn}: how many candidates each of images 1..n has */
static int m_counts(lua_State *L) {
    mt_cands *c = check_cands(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 0 && n <= INT32_MAX, 2, "bad image count");
    int64_t *k = (int64_t *)mtL_alloc(L, n > 0 ? n : 1, sizeof(int64_t));
    memset(k, 0, (size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    for (int64_t i = 0; i < c->n; i++)
        if (c->image[i] >= 0 && c->image[i] < n) k[c->image[i]]++;
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 0; i < n; i++) {
        lua_pushinteger(L, (lua_Integer)k[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* c:boxes() -> [n, 5] tensor of x1, y1, x2, y2, score in the ORIGINAL 1-based
 * convention (for tests and debugging) */
static int m_boxes(lua_State *L) {
    mt_cands *c = check_cands(L, 1);
    int64_t shape[2] = {c->n, 5};
    mt_tensor *t;
    MTL_CHECK(L, mt_tensor_new(&t, MT_CPU, 2, shape));
    mtL_pushtensor(L, t);
    float *p = mt_tensor_data(t);
    for (int64_t k = 0; k < c->n; k++) {
        for (int i = 0; i < 4; i++) p[5 * k + i] = (float)c->box[4 * k + i];
        p[5 * k + 4] = (float)c->score[k];
    }
    return 1;
}

static const luaL_Reg cands_methods[] = {
    {"add_pnet", m_add_pnet},
    {"nms", m_nms},
    {"calibrate", m_calibrate},
    {"square", m_square},
    {"fix", m_fix},
    {"crop", m_crop},
    {"set_outputs", m_set_outputs},
    {"filter", m_filter},
    {"decode_landmarks", m_decode_landmarks},
    {"drop_invalid", m_drop_invalid},
    {"append", m_append},
    {"faces", m_faces},
    {"boxes", m_boxes},
    {"counts", m_counts},
    {"size", m_len},
    {NULL, NULL}};

/* detect.flip_width(t) -> a copy of the CPU tensor t [n,c,h,w] mirrored left-right */
static int l_flip_width(lua_State *L) {
    mt_tensor *t = mtL_checktensor(L, 1), *c, *out;
    if (mt_tensor_device(t) != MT_CPU || t->ndim != 4)
        return mtL_errorf(L, "flip_width: expected a 4-dimensional CPU tensor");
    MTL_CHECK(L, mt_tensor_contiguous(&c, t));
    mtL_pushtensor(L, c);
    MTL_CHECK(L, mt_tensor_new(&out, MT_CPU, 4, c->shape));
    mtL_pushtensor(L, out);
    int64_t rows = c->shape[0] * c->shape[1] * c->shape[2], w = c->shape[3];
    const float *s = mt_tensor_data(c);
    float *d = mt_tensor_data(out);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t x = 0; x < w; x++) d[r * w + x] = s[r * w + (w - 1 - x)];
    return 1;
}

/* detect.mirror_average(pts, flipped) -> (pts + unflip(flipped)) / 2, where
 * flipped are the planar landmark fractions [n,10] of mirrored crops: their
 * x becomes 1 - x and the left/right eyes and mouth corners swap back (the
 * original v1 MATLAB code's test-time averaging). */
static int l_mirror_average(lua_State *L) {
    mt_tensor *a = mtL_checktensor(L, 1), *b = mtL_checktensor(L, 2), *out;
    if (a->ndim != 2 || a->shape[1] != 10 || !mt_tensor_same_shape(a, b) ||
        mt_tensor_device(a) != MT_CPU || mt_tensor_device(b) != MT_CPU)
        return mtL_errorf(L, "mirror_average: expected two CPU tensors of shape [n,10]");
    MTL_CHECK(L, mt_tensor_new(&out, MT_CPU, 2, a->shape));
    mtL_pushtensor(L, out);
    static const int swap[5] = {1, 0, 2, 4, 3};
    for (int64_t k = 0; k < a->shape[0]; k++) {
        for (int i = 0; i < 5; i++) {
            float ax, ay, bx, by;
            int64_t ix[2] = {k, i}, iy[2] = {k, 5 + i};
            int64_t jx[2] = {k, swap[i]}, jy[2] = {k, 5 + swap[i]};
            MTL_CHECK(L, mt_tensor_get(a, ix, &ax));
            MTL_CHECK(L, mt_tensor_get(a, iy, &ay));
            MTL_CHECK(L, mt_tensor_get(b, jx, &bx));
            MTL_CHECK(L, mt_tensor_get(b, jy, &by));
            MTL_CHECK(L, mt_tensor_set(out, ix, (ax + (1.0f - bx)) / 2));
            MTL_CHECK(L, mt_tensor_set(out, iy, (ay + by) / 2));
        }
    }
    return 1;
}

static const luaL_Reg detect_functions[] = {{"candidates", l_candidates},
                                            {"flip_width", l_flip_width},
                                            {"mirror_average", l_mirror_average},
                                            {NULL, NULL}};

int mtL_open_detect(lua_State *L) {
    static const luaL_Reg meta[] = {{"__gc", cands_gc}, {"__len", m_len}, {NULL, NULL}};
    mtL_newclass(L, &cands_class, cands_methods, meta, NULL);
    lua_pop(L, 1);
    luaL_newlib(L, detect_functions);
    return 1;
}
