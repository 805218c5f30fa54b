/*
 * mt_matfile.h - a reader for MATLAB level-5 MAT-files (the format MATLAB
 * writes with save -v6 / -v7), enough for evaluation ground truth such as
 * the .mat files of WIDER FACE's eval_tools/ground_truth folder.
 *
 * Supported: numeric arrays of every class (real part; stored in any numeric
 * type and converted to double), logical arrays, char arrays (UTF-8, UTF-16,
 * UTF-32 and 8-bit storage, returned as UTF-8), cell arrays, struct arrays,
 * zlib-compressed elements (miCOMPRESSED), both byte orders.
 * Not supported (MT_ERR_UNSUPPORTED naming the variable): complex and sparse
 * arrays, objects, function handles, v7.3 (HDF5) and level-4 files.
 *
 * Ownership: mt_mat_read returns a list that the caller frees with
 * mt_mat_list_free; every variable owns its name, data and children.
 * Errors: MT_ERR_IO when the file cannot be read, MT_ERR_FORMAT naming the
 * file, the byte offset and the problem when its content is malformed,
 * MT_ERR_OOM when memory runs out.
 */
#ifndef MT_MATFILE_H
#define MT_MATFILE_H

#include "core/mt_common.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* MATLAB array classes (the low byte of the array flags). */
typedef enum mt_mat_class {
    MT_MAT_CELL = 1,
    MT_MAT_STRUCT = 2,
    MT_MAT_OBJECT = 3,
    MT_MAT_CHAR = 4,
    MT_MAT_SPARSE = 5,
    MT_MAT_DOUBLE = 6,
    MT_MAT_SINGLE = 7,
    MT_MAT_INT8 = 8,
    MT_MAT_UINT8 = 9,
    MT_MAT_INT16 = 10,
    MT_MAT_UINT16 = 11,
    MT_MAT_INT32 = 12,
    MT_MAT_UINT32 = 13,
    MT_MAT_INT64 = 14,
    MT_MAT_UINT64 = 15,
} mt_mat_class;

typedef struct mt_mat_var mt_mat_var;

/* One MATLAB array. Elements are in MATLAB's column-major order. */
struct mt_mat_var {
    char *name;        /* variable or field name; "" for cell elements */
    mt_mat_class cls;  /* the array's class */
    bool logical;      /* a logical array (class uint8 with the logical flag) */
    int ndims;         /* >= 2 */
    int64_t *dims;     /* ndims sizes */
    int64_t numel;     /* product of dims */
    double *values;    /* numeric and logical: numel values (NULL when empty) */
    char *text;        /* char: the characters as UTF-8, column-major, NUL-ended */
    size_t text_len;   /* bytes in text, without the NUL */
    int nfields;       /* struct: number of fields */
    char **fields;     /* struct: the field names */
    mt_mat_var **items; /* cell: numel items; struct: numel * nfields items,
                           element-major (item e, field f at e * nfields + f) */
};

typedef struct mt_mat_list {
    int count;
    mt_mat_var **vars;
} mt_mat_list;

/* Reads every variable of the MAT-file at path into *out (emptied first). */
mt_status mt_mat_read(const char *path, mt_mat_list *out);

/* The same from a file already in memory (name is used in messages). */
mt_status mt_mat_parse(const unsigned char *data, size_t size, const char *name, mt_mat_list *out);

/* Frees every variable of the list and empties it (NULL-safe). */
void mt_mat_list_free(mt_mat_list *list);

/* Frees one variable and its children (NULL-safe). */
void mt_mat_var_free(mt_mat_var *v);

/* The class's MATLAB name ("double", "int32", "cell", ...). */
const char *mt_mat_class_name(mt_mat_class cls);

#ifdef __cplusplus
}
#endif

#endif
