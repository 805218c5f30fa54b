/*
 * lmt.h - the binding toolkit shared by the Lua bindings (lmt_*.c), in the manner of lauxlib
 * (luaL_opt*, luaL_checkoption) and Torch7's luaT (classes, boxed handles).
 *
 *   errors       mtL_error, mtL_fail, mtL_softfail, MTL_CHECK              (lmt_aux.c)
 *   arguments    mtL_optboolean, mtL_opttensor, mtL_checkintrange          (lmt_aux.c)
 *   fields       mtL_optfield{number,integer,boolean,string,enum}          (lmt_aux.c)
 *   enums        mtL_checkenum and the name tables of every enum           (lmt_aux.c)
 *   rows         mtL_checkrows: a table of rows, one row or an N x k tensor (lmt_rows.c)
 *   classes      mtL_newclass; boxed handles mtL_newbox / mtL_checkbox     (lmt_aux.c)
 *   memory       mtL_gc_pressure: one policy for the C memory Lua cannot see (lmt_aux.c)
 *
 * Objects made in C reach Lua as boxes: a full userdata whose first member is the object's
 * pointer (mtL_box), with the metatable of its class. The box owns the object; __gc,
 * __close and the class's close method (t:free(), f:close()) release it and clear the box,
 * so that a released object raises "the tensor was freed" instead of crashing.
 *
 * Errors: misuse (wrong types, shapes, devices) raises a Lua error with the core's message;
 * environmental failures (files) return nil, message. Bindings must not hold C references
 * across a call that can raise: push new objects to Lua first (the GC then owns them) or
 * release them before raising. Scratch arrays live in userdata on the stack (mtL_alloc).
 */
#ifndef LMT_H
#define LMT_H

#include <lauxlib.h>
#include <lua.h>

#include "core/mt_ops.h"
#include "nn/mt_nn.h"

/* ---- errors ------------------------------------------------------------------------------ */

/* Raises a Lua error with the core's last message (never returns). */
int mtL_error(lua_State *L, mt_status st);
/* Raises a Lua error with a message formatted as C's printf does (never returns). The bindings
 * raise through this, not luaL_error, whose formats know no widths, precisions or 64-bit
 * integers (%lld, %zu, %g raise "invalid option" or print wrong numbers): here the compiler
 * checks each format against its arguments. */
int mtL_errorf(lua_State *L, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3), noreturn))
#endif
    ;
/* Pushes nil and the core's last message; returns 2 (the "fail" pair). */
int mtL_fail(lua_State *L);
/* File problems (I/O, format, unsupported content) give nil, message; the rest raises. */
int mtL_softfail(lua_State *L, mt_status st);
/* Raises unless st is MT_OK. */
#define MTL_CHECK(L, st)                                                                           \
    do {                                                                                           \
        mt_status mtl_st_ = (st);                                                                  \
        if (mtl_st_ != MT_OK) mtL_error((L), mtl_st_);                                             \
    } while (0)

/* ---- arguments ----------------------------------------------------------------------------- */

/* n items of size bytes (room for one at least) in a userdata pushed on the stack: scratch
 * memory that an error cannot leak. */
void *mtL_alloc(lua_State *L, int64_t n, size_t size);
/* Returns argument 1 alone: methods that work in place return their object. */
static inline int mtL_self(lua_State *L) {
    lua_settop(L, 1);
    return 1;
}
/* The truth of argument idx, or def when it is none or nil. */
int mtL_optboolean(lua_State *L, int idx, int def);
/* The tensor at idx, or NULL when it is none or nil. */
mt_tensor *mtL_opttensor(lua_State *L, int idx);
/* An integer argument in lo..hi, or raises "what: v is out of range lo..hi". */
int mtL_checkintrange(lua_State *L, int idx, lua_Integer lo, lua_Integer hi, const char *what);

/* ---- fields of option tables --------------------------------------------------------------- */

/* Field name of the table at idx, or def when the field is nil or idx holds no table. A value
 * of the wrong type raises "bad field 'name' to 'function' (number expected, got string)".
 * Numbers and integers convert as luaL_checknumber and luaL_checkinteger do; booleans take
 * any value's truth; strings must be strings (the result stays alive in the table). */
lua_Number mtL_optfieldnumber(lua_State *L, int idx, const char *name, lua_Number def);
lua_Integer mtL_optfieldinteger(lua_State *L, int idx, const char *name, lua_Integer def);
int mtL_optfieldboolean(lua_State *L, int idx, const char *name, int def);
const char *mtL_optfieldstring(lua_State *L, int idx, const char *name, const char *def);
/* Raises "bad field 'name' to 'function' (msg)" (never returns). */
int mtL_fielderror(lua_State *L, const char *name, const char *msg);

/* ---- enums --------------------------------------------------------------------------------- */

/* The spellings of an enum and their values, ended by {NULL, 0}. A value may have several
 * spellings (aliases); messages list the first spelling of each value. */
typedef struct mtL_enum {
    const char *name;
    int value;
} mtL_enum;

/* As a default: none (a missing argument raises; a missing field gives MTL_NONE). */
#define MTL_NONE (-1)

/* The value of the string argument idx, or def when it is none or nil; raises
 * "bad argument #idx to 'f' ("union" or "min" expected, got 'max')". */
int mtL_checkenum(lua_State *L, int idx, int def, const mtL_enum *names);
/* The value of string field name of the table at idx, or def (see mtL_optfieldnumber). */
int mtL_optfieldenum(lua_State *L, int idx, const char *name, int def, const mtL_enum *names);
/* The value spelled s, or MTL_NONE. */
int mtL_findenum(const mtL_enum *names, const char *s);
/* The first spelling of value (NULL when there is none). */
const char *mtL_enumname(const mtL_enum *names, int value);

/* Every enum the bindings read, with every accepted spelling (lmt_aux.c). */
extern const mtL_enum mtL_overlaps[];      /* mt_overlap: "union" | "Union", "min" | "Min" */
extern const mtL_enum mtL_interps[];       /* mt_interp: "area", "bilinear" */
extern const mtL_enum mtL_square_modes[];  /* mt_square_mode: "rerec", "inclusive" */
extern const mtL_enum mtL_image_formats[]; /* mt_image_format: "jpg" | "jpeg", "png" */
extern const mtL_enum mtL_devices[];       /* mt_device: "cpu", "cuda" */
extern const mtL_enum mtL_wider_ariths[];  /* mt_wider_arith: "int32", "double" */
extern const mtL_enum mtL_fddb_shapes[];   /* 0: "ellipse", 1: "rect" */
extern const mtL_enum mtL_colours[];       /* 0xRRGGBB: "red", "green", ..., "grey" | "gray" */

/* ---- rows of numbers (lmt_rows.c) ---------------------------------------------------------- */

/* The forms a rows argument takes (results are given back in the form given). */
typedef enum mtL_form {
    MTL_FORM_TENSOR, /* an [N, k] cpu tensor */
    MTL_FORM_VECTOR, /* a [k] tensor: one row */
    MTL_FORM_TABLE,  /* a table of rows {{...}, {...}} */
    MTL_FORM_ROW,    /* one row {...} */
} mtL_form;

typedef struct mtL_rows {
    mtL_form form;
    int idx;   /* absolute stack index of the input */
    int64_t n; /* rows */
    int cols;  /* numbers read per row */
    double *d; /* n * cols numbers, row after row, in a userdata left on the stack */
} mtL_rows;

/* Flags of mtL_checkrowsx. */
#define MTL_ROWS_EXACT 1 /* a row holds exactly cols numbers (else at least; the rest ignored) */
#define MTL_ROWS_ONE 2   /* one list of numbers: a table, or a tensor of any shape */

/* Reads the first cols numbers of every row of the value at idx: an [N, >= cols] cpu tensor,
 * a [>= cols] tensor (one row), a table of rows or one row. what starts the messages. */
mtL_rows mtL_checkrows(lua_State *L, int idx, int cols, const char *what);
/* The same with flags; cols 0 takes the width of the first row (the whole list with
 * MTL_ROWS_ONE); item names the numbers in messages (NULL: "numbers"). */
mtL_rows mtL_checkrowsx(lua_State *L, int idx, int cols, int flags, const char *item,
                        const char *what);
/* Raises "what: n1 noun1 but n2 noun2" unless r1 and r2 hold as many rows. */
void mtL_checkcounts(lua_State *L, const mtL_rows *r1, const char *noun1, const mtL_rows *r2,
                     const char *noun2, const char *what);
/* Pushes n rows of cols values in a form: a new [n, cols] tensor (TENSOR), a [cols] tensor
 * (VECTOR, n = 1), a table of rows (TABLE) or one row (ROW, n = 1). */
void mtL_pushrows(lua_State *L, const double *v, int64_t n, int cols, mtL_form form);

/* ---- classes and boxed handles ------------------------------------------------------------- */

/* A class of userdata. A handle class (release set) boxes a C object: mtL_newbox makes the
 * box, mtL_checkbox reads it and raises "bad argument #1: the <what> was <gone>" once the
 * object is released. */
typedef struct mtL_class {
    const char *name;           /* the metatable's registry name (and __name) */
    const char *what;           /* the object in messages: "tensor", "record file" */
    const char *gone;           /* how a released box reads: "freed", "closed" */
    void (*release)(void *obj); /* frees the boxed object (NULL: not released by the toolkit) */
    const char *close;          /* the method that releases it ("free", "close"), or NULL */
} mtL_class;

/* The first member of every box. */
typedef struct mtL_box {
    void *obj;
} mtL_box;

/* Registers c's metatable and leaves it on the stack. __index is the method table, which the
 * metatable also keeps as field "methods"; with getters, a key that names no method reads as
 * getter(object) (properties such as img.width). A handle class gets __gc, __close and the
 * method c->close releasing the box. meta adds or replaces metamethods. */
void mtL_newclass(lua_State *L, const mtL_class *c, const luaL_Reg *methods, const luaL_Reg *meta,
                  const luaL_Reg *getters);
/* Pushes a new zeroed box of size bytes (>= sizeof(mtL_box)) of class c with nuv user values;
 * runs mtL_gc_pressure first. Bindings push the box before they make the object into it, so
 * that a Lua memory error cannot leak the object. */
void *mtL_newbox(lua_State *L, const mtL_class *c, size_t size, int nuv);
/* The box at idx if it is of class c (released or not), else NULL. */
mtL_box *mtL_tobox(lua_State *L, int idx, const mtL_class *c);
/* The object in the box at idx, NULL when idx holds no box of class c; raises when released. */
void *mtL_testbox(lua_State *L, int idx, const mtL_class *c);
/* The same, raising "bad argument #idx (<name> expected, got ...)" for other values. */
void *mtL_checkbox(lua_State *L, int idx, const mtL_class *c);
/* Releases the object of the box at idx (a box of class c; anything else is left alone). */
void mtL_releasebox(lua_State *L, int idx, const mtL_class *c);
/* A userdata of size zeroed bytes whose __gc is gc: it owns C resources while a binding
 * builds its result, so that an error on the way leaks nothing. */
void *mtL_newguard(lua_State *L, size_t size, lua_CFunction gc);

/* ---- memory -------------------------------------------------------------------------------- */

/* Lua sees a tensor or an image as a few bytes, so garbage ones pile up unseen. Called
 * whenever a box is made (and before a tensor is made): runs a full collection once the C
 * memory held by tensors and images has grown, since the last collection, by as much as was
 * held then (32 MiB at least). It and mtL_testbox also make L the state in which a failed
 * allocation collects garbage before it tries again (mt_set_gc_hook). */
void mtL_gc_pressure(lua_State *L);
/* Installs that allocation hook (once, by luaopen_mtcnn_core). */
void mtL_install_gc_hook(lua_State *L);

/* ---- tensors, generators, images, record files --------------------------------------------- */

#define MTL_TENSOR "mtcnn.Tensor"
#define MTL_GENERATOR "mtcnn.Generator"
#define MTL_IMAGE "mtcnn.Image"

extern const mtL_class mtL_Tensor;     /* lmt_tensor.c */
extern const mtL_class mtL_Image;      /* lmt_image.c */
extern const mtL_class mtL_RecordFile; /* lmt_record.c */

/* Typed mtL_checkbox and mtL_testbox of those classes. */
struct mt_image;
struct mt_record_file;
struct mt_image *mtL_checkimage(lua_State *L, int idx);
struct mt_image *mtL_testimage(lua_State *L, int idx);
struct mt_record_file *mtL_checkrecordfile(lua_State *L, int idx);
struct mt_record_writer;
struct mt_record_writer *mtL_checkrecordwriter(lua_State *L, int idx); /* lmt_record.c */

/* The mt_sample_params named in the options table at idx, defaults for the rest; unknown
 * names raise (lmt_sample.c). */
struct mt_sample_params;
void mtL_sampleparams(lua_State *L, int idx, struct mt_sample_params *p);
/* Pushes a table of the counts of mt_sample_windows (lmt_sample.c). */
struct mt_window_counts;
void mtL_pushwindowcounts(lua_State *L, const struct mt_window_counts *k, int landmarks);

/* The tensor at idx or raises "bad argument #idx (mtcnn.Tensor expected)". */
mt_tensor *mtL_checktensor(lua_State *L, int idx);
/* The tensor at idx, or NULL when the value is not a tensor (raises if freed). */
mt_tensor *mtL_testtensor(lua_State *L, int idx);
/* Pushes t as a new Lua value, taking over the caller's reference. */
void mtL_pushtensor(lua_State *L, mt_tensor *t);
/* Pushes t, adding a reference (the caller keeps its own). */
void mtL_pushtensor_retained(lua_State *L, mt_tensor *t);

/* Reads a shape from the arguments first..last: either one table of sizes or
 * a list of integers. Returns the number of dimensions. */
int mtL_checkshape(lua_State *L, int first, int last, int64_t *shape, const char *what);
/* A 1-based (or negative, from the end) dimension argument as a 0-based one. */
int mtL_checkdim(lua_State *L, int idx, int ndim, const char *what);
/* The generator at idx if it is one, else the default generator. */
mt_rng *mtL_optgenerator(lua_State *L, int idx);

/* Four integer arguments from first: a convolution's strides and paddings, a pooling's
 * kernel sizes and strides (lmt_nn.c). */
mt_conv2d_desc mtL_checkconvdesc(lua_State *L, int first);
mt_pool2d_desc mtL_checkpooldesc(lua_State *L, int first);

/* ---- module openers ------------------------------------------------------------------------ */

/* Called by luaopen_mtcnn_core (lmt_init.c); each pushes one table. */
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
