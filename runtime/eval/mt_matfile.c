/*
 * mt_matfile.c - the MAT-file (level 5) reader declared in mt_matfile.h.
 *
 * A level-5 file is a 128-byte header followed by data elements. Each element
 * has an 8-byte tag (type, byte count; or the 4-byte "small element" form
 * with the count in the upper half of the type word) and its data, padded to
 * 8 bytes. A variable is an miMATRIX element whose data holds sub-elements:
 * array flags, dimensions, name, then the values (numeric), the characters
 * (char), one miMATRIX per element (cell) or field names plus one miMATRIX
 * per element and field (struct). miCOMPRESSED elements hold a zlib stream
 * that inflates to further elements; they are not padded.
 *
 * Every length is checked against the bytes that remain, so a malformed file
 * gives MT_ERR_FORMAT naming the byte offset instead of reading out of bounds.
 */
#include "eval/mt_matfile.h"

#include "core/mt_file.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum {
    MI_INT8 = 1,
    MI_UINT8 = 2,
    MI_INT16 = 3,
    MI_UINT16 = 4,
    MI_INT32 = 5,
    MI_UINT32 = 6,
    MI_SINGLE = 7,
    MI_DOUBLE = 9,
    MI_INT64 = 12,
    MI_UINT64 = 13,
    MI_MATRIX = 14,
    MI_COMPRESSED = 15,
    MI_UTF8 = 16,
    MI_UTF16 = 17,
    MI_UTF32 = 18,
};

#define MAT_HEADER 128
#define MAX_DEPTH 48                       /* nesting of cells/structs */
#define MAX_INFLATED ((size_t)1 << 31)     /* refuse zlib streams beyond 2 GiB */
#define MAX_NUMEL ((int64_t)1 << 40)
#define MAX_MAT_BYTES ((size_t)1 << 31)       /* the ground-truth files are a few MB */

/* The file being read: its name, byte order and nesting depth. */
typedef struct mat_ctx {
    const char *name;
    bool swap; /* the file's byte order differs from this machine's */
    int depth;
} mat_ctx;

/* A region of bytes being parsed: the file itself or an inflated stream.
 * origin is the file offset of the compressed element for inflated data
 * (reported in messages), or -1 for the file. */
typedef struct mat_buf {
    const unsigned char *data;
    size_t size;
    long long origin;
} mat_buf;

/* One data element: its type, its bytes and where it starts. */
typedef struct mat_elem {
    uint32_t type;
    uint32_t nbytes;
    const unsigned char *p;
    size_t at; /* offset of the tag within its buffer */
} mat_elem;

static bool host_little(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static uint16_t rd16(const mat_ctx *c, const unsigned char *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return c->swap ? (uint16_t)((v >> 8) | (v << 8)) : v;
}

static uint32_t rd32(const mat_ctx *c, const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    if (c->swap)
        v = (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
    return v;
}

static uint64_t rd64(const mat_ctx *c, const unsigned char *p) {
    uint64_t lo = rd32(c, p), hi = rd32(c, p + 4);
    if (c->swap) return (lo << 32) | hi;
    return (hi << 32) | lo;
}

/* "wider.mat: byte 1234" or "wider.mat: byte 56 of the compressed element at byte 128" */
static mt_status fmt_fail(const mat_ctx *c, const mat_buf *b, size_t at, const char *what) {
    if (b->origin < 0)
        return mt_fail(MT_ERR_FORMAT, "mat_read: %s: byte %zu: %s", c->name, at, what);
    return mt_fail(MT_ERR_FORMAT, "mat_read: %s: byte %zu of the compressed element at byte %lld: %s",
                   c->name, at, b->origin, what);
}

/* Reads the element at *pos and advances *pos past it (and its padding). */
static mt_status next_elem(const mat_ctx *c, const mat_buf *b, size_t *pos, mat_elem *e) {
    size_t at = *pos;
    if (b->size - at < 8) return fmt_fail(c, b, at, "truncated element tag");
    uint32_t w0 = rd32(c, b->data + at);
    e->at = at;
    if (w0 >> 16) { /* small data element: 4 bytes of data inside the tag */
        e->type = w0 & 0xffffu;
        e->nbytes = w0 >> 16;
        if (e->nbytes > 4) return fmt_fail(c, b, at, "small element claims more than 4 bytes");
        e->p = b->data + at + 4;
        *pos = at + 8;
        return MT_OK;
    }
    e->type = w0;
    e->nbytes = rd32(c, b->data + at + 4);
    if (e->nbytes > b->size - at - 8) {
        char msg[128];
        snprintf(msg, sizeof msg, "element of type %u claims %u bytes, only %zu remain", e->type,
                 e->nbytes, b->size - at - 8);
        return fmt_fail(c, b, at, msg);
    }
    e->p = b->data + at + 8;
    size_t len = e->nbytes;
    if (e->type != MI_COMPRESSED) {
        len = (len + 7) & ~(size_t)7;
        if (len > b->size - at - 8) len = b->size - at - 8; /* tolerate a missing final pad */
    }
    *pos = at + 8 + len;
    return MT_OK;
}

static size_t type_size(uint32_t type) {
    switch (type) {
    case MI_INT8: case MI_UINT8: case MI_UTF8: return 1;
    case MI_INT16: case MI_UINT16: case MI_UTF16: return 2;
    case MI_INT32: case MI_UINT32: case MI_SINGLE: case MI_UTF32: return 4;
    case MI_DOUBLE: case MI_INT64: case MI_UINT64: return 8;
    default: return 0;
    }
}

/* Checks that element e holds n values of a numeric storage type. */
static mt_status check_numbers(const mat_ctx *c, const mat_buf *b, const mat_elem *e, int64_t n,
                               const char *what) {
    size_t sz = type_size(e->type);
    if (sz == 0 || e->type == MI_UTF8 || e->type == MI_UTF16 || e->type == MI_UTF32) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s stored as element type %u, which is not numeric", what, e->type);
        return fmt_fail(c, b, e->at, msg);
    }
    if ((uint64_t)e->nbytes != (uint64_t)n * sz) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s has %u bytes, %lld values of %zu bytes expected", what,
                 e->nbytes, (long long)n, sz);
        return fmt_fail(c, b, e->at, msg);
    }
    return MT_OK;
}

/* Converts the numeric element e (n values of any numeric storage type) to doubles. */
static mt_status read_numbers(const mat_ctx *c, const mat_buf *b, const mat_elem *e, int64_t n,
                              double *out, const char *what) {
    MT_TRY(check_numbers(c, b, e, n, what));
    size_t sz = type_size(e->type);
    const unsigned char *p = e->p;
    for (int64_t i = 0; i < n; i++, p += sz) {
        double v;
        switch (e->type) {
        case MI_INT8: v = (int8_t)p[0]; break;
        case MI_UINT8: v = p[0]; break;
        case MI_INT16: v = (int16_t)rd16(c, p); break;
        case MI_UINT16: v = rd16(c, p); break;
        case MI_INT32: v = (int32_t)rd32(c, p); break;
        case MI_UINT32: v = rd32(c, p); break;
        case MI_SINGLE: {
            uint32_t u = rd32(c, p);
            float f;
            memcpy(&f, &u, 4);
            v = f;
            break;
        }
        case MI_DOUBLE: {
            uint64_t u = rd64(c, p);
            memcpy(&v, &u, 8);
            break;
        }
        case MI_INT64: v = (double)(int64_t)rd64(c, p); break;
        default: v = (double)rd64(c, p); break; /* MI_UINT64 */
        }
        out[i] = v;
    }
    return MT_OK;
}

/* Appends code point cp as UTF-8 to out (room for 4 bytes is guaranteed). */
static size_t put_utf8(char *out, uint32_t cp) {
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes a char array's element into code points (column-major). */
static mt_status read_chars(const mat_ctx *c, const mat_buf *b, const mat_elem *e, uint32_t **cps,
                            size_t *count) {
    size_t n = 0, cap = e->nbytes + 1;
    uint32_t *out = malloc(cap * sizeof *out);
    if (!out) return mt_fail(MT_ERR_OOM, "mat_read: %s: out of memory for a char array", c->name);
    const unsigned char *p = e->p, *end = e->p + e->nbytes;
    switch (e->type) {
    case MI_UTF8:
        while (p < end) { /* decode, tolerating malformed bytes as U+FFFD */
            uint32_t cp = *p++;
            int more = cp >= 0xf0 ? 3 : cp >= 0xe0 ? 2 : cp >= 0xc0 ? 1 : 0;
            if (cp >= 0x80 && more == 0) cp = 0xfffd;
            else if (more) {
                cp &= 0x3fu >> more;
                for (int k = 0; k < more; k++) {
                    if (p >= end || (*p & 0xc0) != 0x80) { cp = 0xfffd; break; }
                    cp = (cp << 6) | (*p++ & 0x3f);
                }
            }
            out[n++] = cp;
        }
        break;
    case MI_UINT8: case MI_INT8:
        while (p < end) out[n++] = *p++;
        break;
    case MI_UINT16: case MI_INT16: case MI_UTF16:
        if (e->nbytes % 2) { free(out); return fmt_fail(c, b, e->at, "odd byte count in UTF-16 text"); }
        for (; p < end; p += 2) out[n++] = rd16(c, p);
        break;
    case MI_UINT32: case MI_INT32: case MI_UTF32:
        if (e->nbytes % 4) { free(out); return fmt_fail(c, b, e->at, "byte count of UTF-32 text not a multiple of 4"); }
        for (; p < end; p += 4) out[n++] = rd32(c, p);
        break;
    default: {
        free(out);
        char msg[96];
        snprintf(msg, sizeof msg, "char array stored as element type %u", e->type);
        return fmt_fail(c, b, e->at, msg);
    }
    }
    *cps = out;
    *count = n;
    return MT_OK;
}

void mt_mat_var_free(mt_mat_var *v) {
    if (!v) return;
    if (v->items) {
        int64_t n = v->cls == MT_MAT_STRUCT ? v->numel * v->nfields : v->numel;
        for (int64_t i = 0; i < n; i++) mt_mat_var_free(v->items[i]);
        free(v->items);
    }
    if (v->fields) {
        for (int i = 0; i < v->nfields; i++) free(v->fields[i]);
        free(v->fields);
    }
    free(v->name);
    free(v->dims);
    free(v->values);
    free(v->text);
    free(v);
}

void mt_mat_list_free(mt_mat_list *list) {
    if (!list) return;
    for (int i = 0; i < list->count; i++) mt_mat_var_free(list->vars[i]);
    free(list->vars);
    list->vars = NULL;
    list->count = 0;
}

const char *mt_mat_class_name(mt_mat_class cls) {
    static const char *names[] = {"?",     "cell",  "struct", "object", "char",  "sparse",
                                  "double", "single", "int8", "uint8",  "int16", "uint16",
                                  "int32", "uint32", "int64", "uint64"};
    if ((int)cls >= 1 && (int)cls <= 15) return names[cls];
    return "unknown";
}

static mt_status parse_matrix(mat_ctx *c, const mat_buf *b, const mat_elem *m, mt_mat_var **out);

/* A char array's text, converted to UTF-8 in row-major order (rows concatenated). */
static mt_status fill_text(mat_ctx *c, const mat_buf *b, const mat_elem *e, mt_mat_var *v) {
    uint32_t *cps = NULL;
    size_t n = 0;
    MT_TRY(read_chars(c, b, e, &cps, &n));
    if ((int64_t)n != v->numel) {
        free(cps);
        char msg[160];
        snprintf(msg, sizeof msg, "char array '%s' has %zu characters for %lld elements", v->name,
                 n, (long long)v->numel);
        return fmt_fail(c, b, e->at, msg);
    }
    v->text = malloc(4 * n + 1);
    if (!v->text) {
        free(cps);
        return mt_fail(MT_ERR_OOM, "mat_read: %s: out of memory for a char array", c->name);
    }
    int64_t rows = v->dims[0], cols = rows ? v->numel / rows : 0;
    if (cols == 0) rows = 0; /* an empty array may still say 2^31 rows: no loop over them */
    size_t len = 0;
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t k = 0; k < cols; k++) {
            size_t i = (size_t)(r + k * rows); /* column-major index */
            /* join UTF-16 surrogate pairs */
            uint32_t cp = cps[i];
            if (cp >= 0xd800 && cp < 0xdc00 && k + 1 < cols) {
                uint32_t lo = cps[i + (size_t)rows];
                if (lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    k++;
                }
            }
            len += put_utf8(v->text + len, cp);
        }
    }
    v->text[len] = '\0';
    v->text_len = len;
    free(cps);
    return MT_OK;
}

/* Reads the sub-elements of a struct array after its name: field names, then
 * numel * nfields miMATRIX elements. */
static mt_status fill_struct(mat_ctx *c, const mat_buf *b, size_t *pos, size_t end, mt_mat_var *v) {
    mat_buf sub = *b;
    sub.size = end;
    mat_elem e = {0};
    MT_TRY(next_elem(c, &sub, pos, &e));
    if (e.type != MI_INT32 || e.nbytes != 4) return fmt_fail(c, b, e.at, "struct without a field name length");
    int32_t flen = (int32_t)rd32(c, e.p);
    MT_TRY(next_elem(c, &sub, pos, &e));
    if (e.type != MI_INT8 && e.type != MI_UINT8) return fmt_fail(c, b, e.at, "struct without field names");
    if (flen <= 0) {
        if (e.nbytes != 0) return fmt_fail(c, b, e.at, "bad struct field name length");
        v->nfields = 0;
    } else {
        if (e.nbytes % (uint32_t)flen) return fmt_fail(c, b, e.at, "struct field names do not fill their length");
        v->nfields = (int)(e.nbytes / (uint32_t)flen);
    }
    if (v->nfields > 0) {
        v->fields = calloc((size_t)v->nfields, sizeof *v->fields);
        if (!v->fields) return mt_fail(MT_ERR_OOM, "mat_read: %s: out of memory", c->name);
        for (int f = 0; f < v->nfields; f++) {
            const char *s = (const char *)e.p + (size_t)f * (size_t)flen;
            size_t l = strnlen(s, (size_t)flen);
            v->fields[f] = malloc(l + 1);
            if (!v->fields[f]) return mt_fail(MT_ERR_OOM, "mat_read: %s: out of memory", c->name);
            memcpy(v->fields[f], s, l);
            v->fields[f][l] = '\0';
        }
    }
    int64_t n = v->numel * v->nfields;
    if (n > (int64_t)((end - *pos) / 8)) { /* every value takes at least a tag */
        char msg[160];
        snprintf(msg, sizeof msg, "struct array '%s' claims %lld values in %zu bytes", v->name,
                 (long long)n, end - *pos);
        return fmt_fail(c, b, e.at, msg);
    }
    if (n > 0) {
        v->items = calloc((size_t)n, sizeof *v->items);
        if (!v->items) return mt_fail(MT_ERR_OOM, "mat_read: %s: out of memory", c->name);
    }
    for (int64_t i = 0; i < n; i++) {
        MT_TRY(next_elem(c, &sub, pos, &e));
        if (e.type != MI_MATRIX) return fmt_fail(c, b, e.at, "struct field value is not a matrix element");
        MT_TRY(parse_matrix(c, b, &e, &v->items[i]));
        char *fname = v->fields[i % v->nfields];
        free(v->items[i]->name);
        v->items[i]->name = strdup(fname);
        if (!v->items[i]->name) return mt_fail(MT_ERR_OOM, "mat_read: %s: out of memory", c->name);
    }
    return MT_OK;
}

/* Parses one miMATRIX element m (of buffer b) into *out. */
static mt_status parse_matrix(mat_ctx *c, const mat_buf *b, const mat_elem *m, mt_mat_var **out) {
    *out = NULL;
    if (c->depth >= MAX_DEPTH) return fmt_fail(c, b, m->at, "cells or structs nested too deeply");
    mt_mat_var *v = calloc(1, sizeof *v);
    if (!v) return mt_fail(MT_ERR_OOM, "mat_read: %s: out of memory", c->name);
    *out = v;
    if (m->nbytes == 0) { /* an empty element: [] inside a cell */
        v->cls = MT_MAT_DOUBLE;
        v->ndims = 2;
        v->dims = calloc(2, sizeof *v->dims);
        v->name = strdup("");
        if (!v->dims || !v->name) return mt_fail(MT_ERR_OOM, "mat_read: %s: out of memory", c->name);
        return MT_OK;
    }
    size_t pos = (size_t)(m->p - b->data), end = pos + m->nbytes;
    mat_buf sub = *b;
    sub.size = end; /* sub-elements must stay inside the matrix element */
    mat_elem flags = {0}, dims = {0}, name = {0};
    MT_TRY(next_elem(c, &sub, &pos, &flags));
    if (flags.type != MI_UINT32 || flags.nbytes != 8) return fmt_fail(c, b, flags.at, "matrix without array flags");
    uint32_t f0 = rd32(c, flags.p);
    v->cls = (mt_mat_class)(f0 & 0xff);
    v->logical = (f0 & 0x200) != 0;
    bool complex = (f0 & 0x800) != 0;
    MT_TRY(next_elem(c, &sub, &pos, &dims));
    if (dims.type != MI_INT32 || dims.nbytes < 8 || dims.nbytes % 4)
        return fmt_fail(c, b, dims.at, "matrix without a dimensions array");
    v->ndims = (int)(dims.nbytes / 4);
    v->dims = malloc((size_t)v->ndims * sizeof *v->dims);
    if (!v->dims) return mt_fail(MT_ERR_OOM, "mat_read: %s: out of memory", c->name);
    v->numel = 1;
    for (int i = 0; i < v->ndims; i++) {
        int32_t d = (int32_t)rd32(c, dims.p + 4 * i);
        if (d < 0) return fmt_fail(c, b, dims.at, "negative dimension");
        v->dims[i] = d;
        /* checked before multiplying: a product of several large dimensions wraps around */
        if (v->numel > 0 && d > MAX_NUMEL / v->numel) return fmt_fail(c, b, dims.at, "array too large");
        v->numel *= d;
    }
    MT_TRY(next_elem(c, &sub, &pos, &name));
    if (name.type != MI_INT8 && name.type != MI_UINT8) return fmt_fail(c, b, name.at, "matrix without a name");
    v->name = malloc((size_t)name.nbytes + 1);
    if (!v->name) return mt_fail(MT_ERR_OOM, "mat_read: %s: out of memory", c->name);
    memcpy(v->name, name.p, name.nbytes);
    v->name[name.nbytes] = '\0';

    const char *label = v->name[0] ? v->name : "(unnamed)";
    if (complex)
        return mt_fail(MT_ERR_UNSUPPORTED, "mat_read: %s: variable '%s' is complex, which is not supported",
                       c->name, label);
    mat_elem e = {0};
    switch (v->cls) {
    case MT_MAT_DOUBLE: case MT_MAT_SINGLE: case MT_MAT_INT8: case MT_MAT_UINT8:
    case MT_MAT_INT16: case MT_MAT_UINT16: case MT_MAT_INT32: case MT_MAT_UINT32:
    case MT_MAT_INT64: case MT_MAT_UINT64:
        MT_TRY(next_elem(c, &sub, &pos, &e));
        MT_TRY(check_numbers(c, b, &e, v->numel, label)); /* before allocating numel values */
        if (v->numel > 0) {
            v->values = malloc((size_t)v->numel * sizeof *v->values);
            if (!v->values) return mt_fail(MT_ERR_OOM, "mat_read: %s: out of memory for '%s'", c->name, label);
        }
        return read_numbers(c, b, &e, v->numel, v->values, label);
    case MT_MAT_CHAR:
        if (v->numel == 0 && pos >= end) { /* '' may come without a data element */
            v->text = strdup("");
            return v->text ? MT_OK : mt_fail(MT_ERR_OOM, "mat_read: %s: out of memory", c->name);
        }
        MT_TRY(next_elem(c, &sub, &pos, &e));
        return fill_text(c, b, &e, v);
    case MT_MAT_CELL:
        if (v->numel > (int64_t)((end - pos) / 8)) { /* every item takes at least a tag */
            char msg[160];
            snprintf(msg, sizeof msg, "cell array '%s' claims %lld items in %zu bytes", label,
                     (long long)v->numel, end - pos);
            return fmt_fail(c, b, m->at, msg);
        }
        if (v->numel > 0) {
            v->items = calloc((size_t)v->numel, sizeof *v->items);
            if (!v->items) return mt_fail(MT_ERR_OOM, "mat_read: %s: out of memory for '%s'", c->name, label);
        }
        c->depth++;
        for (int64_t i = 0; i < v->numel; i++) {
            mt_status st = next_elem(c, &sub, &pos, &e);
            if (st == MT_OK && e.type != MI_MATRIX) st = fmt_fail(c, b, e.at, "cell item is not a matrix element");
            if (st == MT_OK) st = parse_matrix(c, b, &e, &v->items[i]);
            if (st != MT_OK) {
                c->depth--;
                return st;
            }
        }
        c->depth--;
        return MT_OK;
    case MT_MAT_STRUCT: {
        c->depth++;
        mt_status st = fill_struct(c, b, &pos, end, v);
        c->depth--;
        return st;
    }
    case MT_MAT_SPARSE:
        return mt_fail(MT_ERR_UNSUPPORTED, "mat_read: %s: variable '%s' is a sparse array, which is not supported",
                       c->name, label);
    case MT_MAT_OBJECT:
        return mt_fail(MT_ERR_UNSUPPORTED, "mat_read: %s: variable '%s' is an object, which is not supported",
                       c->name, label);
    default:
        return mt_fail(MT_ERR_UNSUPPORTED,
                       "mat_read: %s: variable '%s' has array class %d (function handle, opaque "
                       "object, ...), which is not supported",
                       c->name, label, (int)v->cls);
    }
}

static mt_status push_var(const mat_ctx *c, mt_mat_list *out, mt_mat_var *v) {
    mt_mat_var **vars = realloc(out->vars, (size_t)(out->count + 1) * sizeof *vars);
    if (!vars) {
        mt_mat_var_free(v);
        return mt_fail(MT_ERR_OOM, "mat_read: %s: out of memory", c->name);
    }
    out->vars = vars;
    out->vars[out->count++] = v;
    return MT_OK;
}

/* Inflates a compressed element into a new buffer (caller frees *data). */
static mt_status inflate_elem(const mat_ctx *c, const mat_buf *b, const mat_elem *e,
                              unsigned char **data, size_t *size) {
    size_t cap = (size_t)e->nbytes * 4 + 4096, len = 0;
    unsigned char *out = malloc(cap);
    if (!out) return mt_fail(MT_ERR_OOM, "mat_read: %s: out of memory inflating an element", c->name);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit(&zs) != Z_OK) {
        free(out);
        return mt_fail(MT_ERR_OOM, "mat_read: %s: zlib could not start", c->name);
    }
    zs.next_in = (Bytef *)e->p;
    zs.avail_in = e->nbytes;
    int zr;
    for (;;) {
        zs.next_out = out + len;
        zs.avail_out = (uInt)(cap - len > UINT_MAX ? UINT_MAX : cap - len);
        uInt before = zs.avail_out;
        zr = inflate(&zs, Z_NO_FLUSH);
        len += before - zs.avail_out;
        if (zr == Z_STREAM_END) break;
        if (zr != Z_OK && zr != Z_BUF_ERROR) break;
        if (zs.avail_out == 0) { /* output full: grow */
            if (cap >= MAX_INFLATED) {
                inflateEnd(&zs);
                free(out);
                return fmt_fail(c, b, e->at, "compressed element inflates beyond 2 GiB");
            }
            size_t ncap = cap * 2 > MAX_INFLATED ? MAX_INFLATED : cap * 2;
            unsigned char *n = realloc(out, ncap);
            if (!n) {
                inflateEnd(&zs);
                free(out);
                return mt_fail(MT_ERR_OOM, "mat_read: %s: out of memory inflating an element", c->name);
            }
            out = n;
            cap = ncap;
        } else if (zs.avail_in == 0) {
            break; /* input ended before the stream did */
        }
    }
    inflateEnd(&zs);
    if (zr != Z_STREAM_END) {
        free(out);
        char msg[160];
        snprintf(msg, sizeof msg, "corrupt compressed element (zlib: %s)",
                 zr == Z_OK || zr == Z_BUF_ERROR ? "stream truncated" : zs.msg ? zs.msg : "error");
        return fmt_fail(c, b, e->at, msg);
    }
    *data = out;
    *size = len;
    return MT_OK;
}

/* Parses the elements of buffer b as top-level variables. */
static mt_status parse_elements(mat_ctx *c, const mat_buf *b, size_t pos, mt_mat_list *out) {
    while (pos < b->size) {
        mat_elem e = {0};
        MT_TRY(next_elem(c, b, &pos, &e));
        if (e.type == MI_COMPRESSED) {
            unsigned char *data = NULL;
            size_t size = 0;
            MT_TRY(inflate_elem(c, b, &e, &data, &size));
            mat_buf inner = {data, size, b->origin < 0 ? (long long)e.at : b->origin};
            mt_status st = parse_elements(c, &inner, 0, out);
            free(data);
            MT_TRY(st);
        } else if (e.type == MI_MATRIX) {
            mt_mat_var *v;
            mt_status st = parse_matrix(c, b, &e, &v);
            if (st != MT_OK) {
                mt_mat_var_free(v);
                return st;
            }
            MT_TRY(push_var(c, out, v));
        } else {
            char msg[96];
            snprintf(msg, sizeof msg, "top-level element of type %u (a variable expected)", e.type);
            return fmt_fail(c, b, e.at, msg);
        }
    }
    return MT_OK;
}

mt_status mt_mat_parse(const unsigned char *data, size_t size, const char *name, mt_mat_list *out) {
    out->count = 0;
    out->vars = NULL;
    if (size >= 8 && memcmp(data, "\x89HDF\r\n\x1a\n", 8) == 0)
        return mt_fail(MT_ERR_UNSUPPORTED,
                       "mat_read: %s: a v7.3 (HDF5) MAT-file; save it with -v7 to read it here", name);
    if (size >= 512 + 8 && memcmp(data + 512, "\x89HDF\r\n\x1a\n", 8) == 0)
        return mt_fail(MT_ERR_UNSUPPORTED,
                       "mat_read: %s: a v7.3 (HDF5) MAT-file; save it with -v7 to read it here", name);
    if (size < MAT_HEADER)
        return mt_fail(MT_ERR_FORMAT, "mat_read: %s: %zu bytes, too short for a MAT-file header", name, size);
    mat_ctx c = {name, false, 0};
    if (data[126] == 'I' && data[127] == 'M') c.swap = !host_little();
    else if (data[126] == 'M' && data[127] == 'I') c.swap = host_little();
    else
        return mt_fail(MT_ERR_FORMAT,
                       "mat_read: %s: not a level-5 MAT-file (no endian indicator at byte 126; "
                       "level-4 files are not supported)", name);
    uint16_t version = rd16(&c, data + 124);
    if (version != 0x0100)
        return mt_fail(MT_ERR_UNSUPPORTED, "mat_read: %s: MAT-file version 0x%04x (0x0100 expected)",
                       name, version);
    mat_buf b = {data, size, -1};
    mt_status st = parse_elements(&c, &b, MAT_HEADER, out);
    if (st != MT_OK) mt_mat_list_free(out);
    return st;
}

mt_status mt_mat_read(const char *path, mt_mat_list *out) {
    out->count = 0;
    out->vars = NULL;
    uint8_t *data;
    size_t size;
    mt_status st = mt_read_file(path, &data, &size, MAX_MAT_BYTES);
    if (st != MT_OK) return mt_error_prefix(st, "mat_read");
    st = mt_mat_parse(data, size, path, out);
    free(data);
    return st;
}
