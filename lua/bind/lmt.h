/*
 * lmt.h - helpers shared by the Lua bindings (lmt_*.c).
 *
 * Tensors reach Lua as a boxed pointer (a full userdata holding one
 * mt_tensor*) with the metatable "mtcnn.Tensor". The box owns one reference;
 * __gc and __close (and t:free()) release it and clear the box, so a freed
 * tensor raises "tensor was freed" instead of crashing.
 *
 * Errors: misuse (wrong types, shapes, devices) raises a Lua error with the
 * core's message; environmental failures (files) return nil, message.
 * Bindings must not hold C references across a call that can raise: push
 * new tensors to Lua first (the GC then owns them) or release them before
 * raising.
 */
#ifndef LMT_H
#define LMT_H

#include <lauxlib.h>
#include <lua.h>

#include "core/mt_ops.h"

#define MTL_TENSOR "mtcnn.Tensor"
#define MTL_GENERATOR "mtcnn.Generator"
#define MTL_IMAGE "mtcnn.Image"

/* Returns the tensor at idx or raises "bad argument #idx (mtcnn.Tensor expected)". */
mt_tensor *mtL_checktensor(lua_State *L, int idx);
/* The tensor at idx, or NULL when the value is not a tensor (raises if freed). */
mt_tensor *mtL_testtensor(lua_State *L, int idx);
/* Pushes t as a new Lua value, taking over the caller's reference. */
void mtL_pushtensor(lua_State *L, mt_tensor *t);
/* Pushes t, adding a reference (the caller keeps its own). */
void mtL_pushtensor_retained(lua_State *L, mt_tensor *t);

/* Raises a Lua error with the core's last message (never returns). */
int mtL_error(lua_State *L, mt_status st);
/* Pushes nil and the core's last message; returns 2 (the "fail" pair). */
int mtL_fail(lua_State *L);
/* Raises unless st is MT_OK. */
#define MTL_CHECK(L, st)                                                                           \
    do {                                                                                           \
        mt_status mtl_st_ = (st);                                                                  \
        if (mtl_st_ != MT_OK) mtL_error((L), mtl_st_);                                             \
    } while (0)

/* Reads a shape from the arguments first..last: either one table of sizes or
 * a list of integers. Returns the number of dimensions. */
int mtL_checkshape(lua_State *L, int first, int last, int64_t *shape, const char *what);
/* A 1-based (or negative, from the end) dimension argument as a 0-based one. */
int mtL_checkdim(lua_State *L, int idx, int ndim, const char *what);
/* The generator at idx if it is one, else the default generator. */
mt_rng *mtL_optgenerator(lua_State *L, int idx);

/* Images (lmt_image.c): a boxed mt_image* with the metatable "mtcnn.Image",
 * owned by the box like tensors. checkimage raises on a freed image. */
struct mt_image;
struct mt_image *mtL_checkimage(lua_State *L, int idx);
struct mt_image *mtL_testimage(lua_State *L, int idx);
/* Pushes a new image box holding NULL (it reads as a freed image until
 * *box is set). Bindings push the box first and then make the image into it,
 * so that a Lua memory error cannot leak the image. */
struct mt_image **mtL_newimagebox(lua_State *L);
/* Call once a new image sits in its box: runs a collection when the pixels
 * of live images have grown by 32 MiB since the last one, so that garbage
 * images (invisible to Lua's accounting) are freed at the pace they are made. */
void mtL_image_pressure(lua_State *L, const struct mt_image *im);

/* A record file (lmt_record.c) argument, or raises (closed files too). */
struct mt_record_file;
struct mt_record_file *mtL_checkrecordfile(lua_State *L, int idx);
/* A record writer argument, or raises (closed writers too). */
struct mt_record_writer;
struct mt_record_writer *mtL_checkrecordwriter(lua_State *L, int idx);

/* Sampling (lmt_sample.c): the mt_sample_params named in the options table at idx
 * (defaults for the rest; unknown names raise), and the result table of a sample set
 * (as core.sample.detection returns it), which takes the set over. */
struct mt_sample_params;
struct mt_sample_set;
void mtL_sampleparams(lua_State *L, int idx, struct mt_sample_params *p);
void mtL_pushsamples(lua_State *L, struct mt_sample_set *s);

/* The module openers, called by luaopen_mtcnn_core (lmt_init.c). Each pushes
 * one table. */
int mtL_open_tensor(lua_State *L);
int mtL_open_cuda(lua_State *L);
int mtL_open_sys(lua_State *L);
int mtL_open_nn(lua_State *L);     /* lmt_nn.c: layers and losses */
int mtL_open_optim(lua_State *L);  /* lmt_optim.c: optimisers */
int mtL_open_image(lua_State *L);  /* lmt_image.c: images, I/O, image ops, drawing */
int mtL_open_box(lua_State *L);    /* lmt_box.c: IoU, NMS, box geometry */
int mtL_open_sample(lua_State *L); /* lmt_sample.c: MTCNN crop sampling */
int mtL_open_detect(lua_State *L); /* lmt_detect.c: candidate windows of the cascade */
int mtL_open_eval(lua_State *L);   /* lmt_eval.c: MAT-files, evaluation kernels */
int mtL_open_record(lua_State *L); /* lmt_record.c: record files, merge plans */
int mtL_open_loader(lua_State *L); /* lmt_loader.c: the training data loader */
int mtL_open_plan(lua_State *L);   /* lmt_plan.c: evaluate-mode net plans */
int mtL_open_gen(lua_State *L);    /* lmt_gen.c: multi-threaded sample generation */

#endif
