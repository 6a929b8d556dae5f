/* safetensors files: a strict reader that validates every header field and an atomic writer. */
#include "model/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/util.h"

#define SM_ST_HEADER_MAX ((uint64_t)100 << 20) /* 100 MiB, as the reference implementation */
#define SM_ST_META_KEY "__metadata__"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

struct sm_st_file {
    unsigned char *buf; /* the whole file, shifted so the data section is 8-byte aligned */
    void *map;          /* or the file mapped read-only (sm_safetensors_map), map_size bytes */
    size_t map_size;
    int n;
    sm_st_tensor *tensors; /* sorted by data offset */
    char **names;
    int n_meta;
    sm_st_meta *meta;
    char **meta_strings; /* 2 * n_meta owned strings */
};

/* ---------------------------------------------------------------- dtypes */

static const struct {
    const char *name;
    size_t size;
} dtype_table[SM_DT_COUNT] = {
    [SM_DT_F32] = {"F32", 4},   [SM_DT_F16] = {"F16", 2}, [SM_DT_BF16] = {"BF16", 2},
    [SM_DT_F64] = {"F64", 8},   [SM_DT_I64] = {"I64", 8}, [SM_DT_I32] = {"I32", 4},
    [SM_DT_U8] = {"U8", 1},     [SM_DT_I8] = {"I8", 1},   [SM_DT_I16] = {"I16", 2},
    [SM_DT_U16] = {"U16", 2},   [SM_DT_U32] = {"U32", 4}, [SM_DT_U64] = {"U64", 8},
    [SM_DT_BOOL] = {"BOOL", 1},
};

size_t sm_dtype_size(sm_dtype dtype) {
    return (unsigned)dtype < SM_DT_COUNT ? dtype_table[dtype].size : 0;
}

const char *sm_dtype_name(sm_dtype dtype) {
    return (unsigned)dtype < SM_DT_COUNT ? dtype_table[dtype].name : "?";
}

int sm_dtype_parse(const char *name, sm_dtype *out) {
    for (int i = 0; i < SM_DT_COUNT; i++) {
        if (strcmp(name, dtype_table[i].name) == 0) {
            *out = (sm_dtype)i;
            return 0;
        }
    }
    return -1;
}

int sm_st_element_count(int ndim, const int64_t *shape, size_t *count) {
    size_t total = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || (uint64_t)shape[d] > (uint64_t)SIZE_MAX) return -1;
        size_t dim = (size_t)shape[d];
        if (dim != 0 && total > SIZE_MAX / dim) return -1;
        total *= dim;
    }
    *count = total;
    return 0;
}

/* Bytes of a tensor, or -1 on overflow / a bad shape. */
static int tensor_bytes(const sm_st_tensor *t, size_t *bytes) {
    size_t count;
    if (t->ndim < 0 || t->ndim > SM_ST_MAX_DIMS) return -1;
    if (sm_st_element_count(t->ndim, t->shape, &count) != 0) return -1;
    size_t size = sm_dtype_size(t->dtype);
    if (size == 0 || (count != 0 && count > SIZE_MAX / size)) return -1;
    *bytes = count * size;
    return 0;
}

/* ---------------------------------------------------------------- writer */

static json_t *tensor_entry(const sm_st_tensor *t, size_t begin, size_t end) {
    json_t *shape = json_array();
    for (int d = 0; shape && d < t->ndim; d++) {
        if (json_array_append_new(shape, json_integer((json_int_t)t->shape[d])) != 0) {
            json_decref(shape);
            shape = NULL;
        }
    }
    json_t *offsets = json_pack("[II]", (json_int_t)begin, (json_int_t)end);
    if (!shape || !offsets) {
        json_decref(shape);
        json_decref(offsets);
        return NULL;
    }
    return json_pack("{s:s, s:o, s:o}", "dtype", sm_dtype_name(t->dtype), "shape", shape,
                     "data_offsets", offsets);
}

static siamese_status add_metadata(json_t *root, const char *path, const sm_st_meta *meta,
                                   int n_meta, sm_err *err) {
    if (n_meta <= 0) return SIAMESE_OK;
    json_t *obj = json_object();
    if (!obj || json_object_set_new(root, SM_ST_META_KEY, obj) != 0)
        return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory building the header", path);
    for (int i = 0; i < n_meta; i++) {
        if (!meta[i].key || !meta[i].value)
            return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "%s: metadata entry %d is NULL", path, i);
        if (json_object_get(obj, meta[i].key))
            return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "%s: duplicate metadata key '%s'", path,
                           meta[i].key);
        json_t *value = json_string(meta[i].value);
        if (!value)
            return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "%s: metadata '%s' is not valid UTF-8",
                           path, meta[i].key);
        if (json_object_set_new(obj, meta[i].key, value) != 0)
            return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory building the header", path);
    }
    return SIAMESE_OK;
}

static siamese_status add_tensors(json_t *root, const char *path, const sm_st_tensor *tensors,
                                  int n_tensors, sm_err *err) {
    size_t offset = 0;
    for (int i = 0; i < n_tensors; i++) {
        const sm_st_tensor *t = &tensors[i];
        size_t bytes;
        if (!t->name || !t->name[0] || strcmp(t->name, SM_ST_META_KEY) == 0)
            return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "%s: tensor %d has an invalid name", path,
                           i);
        if (json_object_get(root, t->name))
            return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "%s: duplicate tensor name '%s'", path,
                           t->name);
        if (tensor_bytes(t, &bytes) != 0 || offset > SIZE_MAX - bytes ||
            offset + bytes > (size_t)INT64_MAX)
            return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "%s: tensor '%s' has an invalid shape",
                           path, t->name);
        if (bytes > 0 && !t->data)
            return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "%s: tensor '%s' has no data", path,
                           t->name);
        json_t *entry = tensor_entry(t, offset, offset + bytes);
        if (!entry || json_object_set_new(root, t->name, entry) != 0)
            return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory building the header", path);
        offset += bytes;
    }
    return SIAMESE_OK;
}

/* The JSON header padded with spaces so that 8 + length is a multiple of 8. */
static siamese_status build_header(const char *path, const sm_st_tensor *tensors, int n_tensors,
                                   const sm_st_meta *meta, int n_meta, char **out, size_t *len,
                                   sm_err *err) {
    json_t *root = json_object();
    if (!root) return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    siamese_status status = add_metadata(root, path, meta, n_meta, err);
    if (status == SIAMESE_OK) status = add_tensors(root, path, tensors, n_tensors, err);
    char *text = status == SIAMESE_OK ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (status != SIAMESE_OK) return status;
    if (!text) return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory encoding header", path);
    size_t raw = strlen(text), padded = (raw + 7) / 8 * 8;
    char *buf = malloc(padded);
    if (!buf) {
        free(text);
        return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(buf, text, raw);
    memset(buf + raw, ' ', padded - raw);
    free(text);
    *out = buf;
    *len = padded;
    return SIAMESE_OK;
}

static int write_all(FILE *fp, const void *data, size_t size) {
    return size == 0 || fwrite(data, 1, size, fp) == size ? 0 : -1;
}

siamese_status sm_safetensors_write(const char *path, const sm_st_tensor *tensors, int n_tensors,
                                    const sm_st_meta *meta, int n_meta, sm_err *err) {
    if (!path || n_tensors < 0 || n_meta < 0 || (n_tensors > 0 && !tensors) ||
        (n_meta > 0 && !meta))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "safetensors write: invalid arguments");
    char *header = NULL;
    size_t header_len = 0;
    siamese_status status =
        build_header(path, tensors, n_tensors, meta, n_meta, &header, &header_len, err);
    if (status != SIAMESE_OK) return status;

    sm_atomic_file af;
    status = sm_atomic_open(&af, path, err);
    if (status != SIAMESE_OK) {
        free(header);
        return status;
    }
    unsigned char len_le[8];
    for (int i = 0; i < 8; i++) len_le[i] = (unsigned char)((uint64_t)header_len >> (8 * i));
    int bad = write_all(af.fp, len_le, 8) || write_all(af.fp, header, header_len);
    free(header);
    for (int i = 0; !bad && i < n_tensors; i++) {
        size_t bytes = 0;
        tensor_bytes(&tensors[i], &bytes);
        bad = write_all(af.fp, tensors[i].data, bytes);
    }
    if (bad) return sm_atomic_fail(&af, err);
    return sm_atomic_commit(&af, err);
}

/* ---------------------------------------------------------------- reader */

void sm_safetensors_free(sm_st_file *file) {
    if (!file) return;
    for (int i = 0; file->names && i < file->n; i++) free(file->names[i]);
    for (int i = 0; file->meta_strings && i < 2 * file->n_meta; i++) free(file->meta_strings[i]);
    free(file->names);
    free(file->meta_strings);
    free(file->meta);
    free(file->tensors);
    free(file->buf);
    if (file->map) munmap(file->map, file->map_size);
    free(file);
}

int sm_safetensors_count(const sm_st_file *file) { return file ? file->n : 0; }

const sm_st_tensor *sm_safetensors_get(const sm_st_file *file, int index) {
    return file && index >= 0 && index < file->n ? &file->tensors[index] : NULL;
}

const sm_st_tensor *sm_safetensors_find(const sm_st_file *file, const char *name) {
    for (int i = 0; file && name && i < file->n; i++)
        if (strcmp(file->tensors[i].name, name) == 0) return &file->tensors[i];
    return NULL;
}

const char *sm_safetensors_meta(const sm_st_file *file, const char *key) {
    for (int i = 0; file && key && i < file->n_meta; i++)
        if (strcmp(file->meta[i].key, key) == 0) return file->meta[i].value;
    return NULL;
}

int sm_safetensors_meta_count(const sm_st_file *file) { return file ? file->n_meta : 0; }

sm_st_meta sm_safetensors_meta_get(const sm_st_file *file, int index) {
    sm_st_meta none = {NULL, NULL};
    return file && index >= 0 && index < file->n_meta ? file->meta[index] : none;
}

/* What the reader knows while checking one file. */
typedef struct reader {
    const char *path;
    sm_st_file *file;
    size_t data_len;     /* bytes after the header */
    size_t *begin, *end; /* per tensor, parallel to file->tensors before sorting */
    sm_err *err;
} reader;

static siamese_status bad(reader *r, const char *fmt, const char *a, const char *b) {
    char what[SM_ERRMSG_MAX];
    snprintf(what, sizeof what, fmt, a ? a : "", b ? b : "");
    return sm_fail(r->err, SIAMESE_ERR_FORMAT, "%s: %s", r->path, what);
}

/* Reads a non-negative JSON integer. */
static int json_size(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static siamese_status parse_metadata(reader *r, json_t *obj) {
    if (!json_is_object(obj)) return bad(r, "__metadata__ is not a JSON object", NULL, NULL);
    size_t n = json_object_size(obj);
    if (n > 65536) return bad(r, "__metadata__ has too many entries", NULL, NULL);
    sm_st_file *f = r->file;
    f->meta = calloc(n ? n : 1, sizeof *f->meta);
    f->meta_strings = calloc(2 * n + 1, sizeof *f->meta_strings);
    if (!f->meta || !f->meta_strings)
        return sm_fail(r->err, SIAMESE_ERR_NOMEM, "%s: out of memory", r->path);
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        if (!json_is_string(value))
            return bad(r, "__metadata__ value of '%s' is not a string", key, NULL);
        char *k = sm_strdup(key), *v = sm_strdup(json_string_value(value));
        f->meta_strings[2 * f->n_meta] = k;
        f->meta_strings[2 * f->n_meta + 1] = v;
        f->meta[f->n_meta].key = k;
        f->meta[f->n_meta].value = v;
        f->n_meta++;
        if (!k || !v) return sm_fail(r->err, SIAMESE_ERR_NOMEM, "%s: out of memory", r->path);
    }
    return SIAMESE_OK;
}

static siamese_status parse_shape(reader *r, const char *name, json_t *shape, sm_st_tensor *t) {
    if (!json_is_array(shape)) return bad(r, "tensor '%s': shape is not an array", name, NULL);
    size_t nd = json_array_size(shape);
    if (nd > SM_ST_MAX_DIMS)
        return bad(r, "tensor '%s': shape has too many dimensions", name, NULL);
    t->ndim = (int)nd;
    for (size_t d = 0; d < nd; d++) {
        uint64_t dim;
        if (json_size(json_array_get(shape, d), &dim) != 0 || dim > (uint64_t)INT64_MAX)
            return bad(r, "tensor '%s': shape has a negative or non-integer dimension", name, NULL);
        t->shape[d] = (int64_t)dim;
    }
    return SIAMESE_OK;
}

static siamese_status parse_offsets(reader *r, const char *name, json_t *offs,
                                    const sm_st_tensor *t, size_t *begin, size_t *end) {
    uint64_t b, e;
    if (!json_is_array(offs) || json_array_size(offs) != 2 ||
        json_size(json_array_get(offs, 0), &b) != 0 || json_size(json_array_get(offs, 1), &e) != 0)
        return bad(r, "tensor '%s': data_offsets is not a pair of non-negative integers", name,
                   NULL);
    char range[96];
    snprintf(range, sizeof range, "[%llu, %llu]", (unsigned long long)b, (unsigned long long)e);
    if (b > e) return bad(r, "tensor '%s': data_offsets %s end before they begin", name, range);
    if (e > r->data_len)
        return bad(r, "tensor '%s': data_offsets %s lie beyond the end of the file", name, range);
    size_t bytes;
    if (tensor_bytes(t, &bytes) != 0)
        return bad(r, "tensor '%s': shape has too many elements", name, NULL);
    if ((uint64_t)bytes != e - b)
        return bad(r, "tensor '%s': data_offsets %s do not match its shape and dtype", name, range);
    *begin = (size_t)b;
    *end = (size_t)e;
    return SIAMESE_OK;
}

static siamese_status parse_tensor(reader *r, const char *name, json_t *entry, int index) {
    sm_st_tensor *t = &r->file->tensors[index];
    if (!json_is_object(entry)) return bad(r, "tensor '%s' is not a JSON object", name, NULL);
    const char *key;
    json_t *value;
    json_object_foreach(entry, key, value) {
        if (strcmp(key, "dtype") != 0 && strcmp(key, "shape") != 0 &&
            strcmp(key, "data_offsets") != 0)
            return bad(r, "tensor '%s' has an unknown field '%s'", name, key);
    }
    json_t *dtype = json_object_get(entry, "dtype");
    json_t *shape = json_object_get(entry, "shape");
    json_t *offs = json_object_get(entry, "data_offsets");
    if (!dtype || !shape || !offs)
        return bad(r, "tensor '%s' lacks dtype, shape or data_offsets", name, NULL);
    if (!json_is_string(dtype)) return bad(r, "tensor '%s': dtype is not a string", name, NULL);
    if (sm_dtype_parse(json_string_value(dtype), &t->dtype) != 0)
        return bad(r, "tensor '%s' has unknown dtype '%s'", name, json_string_value(dtype));
    siamese_status status = parse_shape(r, name, shape, t);
    if (status != SIAMESE_OK) return status;
    status = parse_offsets(r, name, offs, t, &r->begin[index], &r->end[index]);
    if (status != SIAMESE_OK) return status;
    r->file->names[index] = sm_strdup(name);
    if (!r->file->names[index])
        return sm_fail(r->err, SIAMESE_ERR_NOMEM, "%s: out of memory", r->path);
    t->name = r->file->names[index];
    return SIAMESE_OK;
}

/* Sorts the tensors by data offset (insertion sort keeps equal offsets in header order). */
static void sort_by_offset(reader *r) {
    sm_st_file *f = r->file;
    for (int i = 1; i < f->n; i++) {
        sm_st_tensor t = f->tensors[i];
        char *name = f->names[i];
        size_t b = r->begin[i], e = r->end[i];
        int j = i - 1;
        while (j >= 0 && (r->begin[j] > b || (r->begin[j] == b && r->end[j] > e))) {
            f->tensors[j + 1] = f->tensors[j];
            f->names[j + 1] = f->names[j];
            r->begin[j + 1] = r->begin[j];
            r->end[j + 1] = r->end[j];
            j--;
        }
        f->tensors[j + 1] = t;
        f->names[j + 1] = name;
        r->begin[j + 1] = b;
        r->end[j + 1] = e;
    }
}

/* Checks the sorted tensors tile the data section exactly: no gaps, overlaps or trailing bytes. */
static siamese_status check_contiguous(reader *r) {
    size_t expect = 0;
    for (int i = 0; i < r->file->n; i++) {
        char range[96];
        snprintf(range, sizeof range, "[%zu, %zu]", r->begin[i], r->end[i]);
        const char *name = r->file->tensors[i].name;
        if (r->begin[i] < expect)
            return bad(r, "tensor '%s': data_offsets %s overlap the previous tensor", name, range);
        if (r->begin[i] > expect)
            return bad(r, "tensor '%s': data_offsets %s leave a gap after the previous tensor",
                       name, range);
        expect = r->end[i];
    }
    if (expect != r->data_len) {
        char extra[64];
        snprintf(extra, sizeof extra, "%zu", r->data_len - expect);
        return bad(r, "%s bytes of trailing data after the last tensor", extra, NULL);
    }
    return SIAMESE_OK;
}

static siamese_status parse_header(reader *r, json_t *root, const unsigned char *data) {
    if (!json_is_object(root)) return bad(r, "header is not a JSON object", NULL, NULL);
    json_t *meta = json_object_get(root, SM_ST_META_KEY);
    size_t n = json_object_size(root) - (meta ? 1 : 0);
    if (n > (size_t)SM_ST_HEADER_MAX) return bad(r, "too many tensors", NULL, NULL);
    sm_st_file *f = r->file;
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    f->names = calloc(n ? n : 1, sizeof *f->names);
    r->begin = calloc(n ? n : 1, sizeof *r->begin);
    r->end = calloc(n ? n : 1, sizeof *r->end);
    if (!f->tensors || !f->names || !r->begin || !r->end)
        return sm_fail(r->err, SIAMESE_ERR_NOMEM, "%s: out of memory", r->path);
    if (meta) {
        siamese_status status = parse_metadata(r, meta);
        if (status != SIAMESE_OK) return status;
    }
    const char *name;
    json_t *entry;
    json_object_foreach(root, name, entry) {
        if (strcmp(name, SM_ST_META_KEY) == 0) continue;
        if (!name[0]) return bad(r, "a tensor has an empty name", NULL, NULL);
        siamese_status status = parse_tensor(r, name, entry, f->n);
        f->n++; /* counts the slot even on failure so its name is freed */
        if (status != SIAMESE_OK) return status;
    }
    sort_by_offset(r);
    siamese_status status = check_contiguous(r);
    if (status != SIAMESE_OK) return status;
    for (int i = 0; i < f->n; i++) f->tensors[i].data = data + r->begin[i];
    return SIAMESE_OK;
}

/* Reads and checks the header length of a file of size bytes. */
static siamese_status header_length(reader *r, const unsigned char *buf, size_t size,
                                    size_t *header_len) {
    if (size < 8) return bad(r, "file is too short for a safetensors header", NULL, NULL);
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = (len << 8) | buf[i];
    if (len < 2) return bad(r, "header length is too small", NULL, NULL);
    if (len > SM_ST_HEADER_MAX) /* a PNG, a JPEG, a text file...: any file of another kind */
        return bad(r,
                   "not a safetensors file (its first 8 bytes are not a plausible header length)",
                   NULL, NULL);
    if (len > size - 8) return bad(r, "header length runs past the end of the file", NULL, NULL);
    *header_len = (size_t)len;
    r->data_len = size - 8 - (size_t)len;
    return SIAMESE_OK;
}

/* Reads the header length and moves the data section to an 8-byte aligned address. */
static siamese_status frame_file(reader *r, unsigned char **buf, size_t size, size_t *header_len,
                                 size_t *shift) {
    siamese_status status = header_length(r, *buf, size, header_len);
    if (status != SIAMESE_OK) return status;
    *shift = (8 - (8 + *header_len) % 8) % 8;
    if (*shift) {
        unsigned char *grown = realloc(*buf, size + 8);
        if (!grown) return sm_fail(r->err, SIAMESE_ERR_NOMEM, "%s: out of memory", r->path);
        memmove(grown + *shift, grown, size);
        *buf = grown;
    }
    return SIAMESE_OK;
}

/* Parses the JSON header at base + 8 (header_len bytes) and the tensors after it. */
static siamese_status parse_framed(reader *r, const unsigned char *base, size_t header_len) {
    json_error_t jerr;
    json_t *root = json_loadb((const char *)base + 8, header_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root && strstr(jerr.text, "duplicate"))
        return bad(r, "header repeats a name (%s)", jerr.text, NULL);
    if (!root) {
        char where[64];
        snprintf(where, sizeof where, "%d", jerr.position);
        return bad(r, "header is not valid JSON (%s at byte %s)", jerr.text, where);
    }
    siamese_status status = parse_header(r, root, base + 8 + header_len);
    json_decref(root);
    return status;
}

static siamese_status read_into(reader *r) {
    unsigned char *buf;
    size_t size, header_len = 0, shift = 0;
    siamese_status status = sm_read_file(r->path, &buf, &size, r->err);
    if (status != SIAMESE_OK) return status;
    r->file->buf = buf;
    status = frame_file(r, &r->file->buf, size, &header_len, &shift);
    if (status != SIAMESE_OK) return status;
    return parse_framed(r, r->file->buf + shift, header_len);
}

static siamese_status map_into(reader *r) {
    int fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sm_fail(r->err, SIAMESE_ERR_IO, "%s: cannot open (%s)", r->path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sm_fail(r->err, SIAMESE_ERR_IO, "%s: not a regular file", r->path);
    }
    size_t size = (size_t)st.st_size;
    void *map = size > 0 ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (map == MAP_FAILED)
        return sm_fail(r->err, SIAMESE_ERR_IO, "%s: cannot map (%s)", r->path, strerror(errno));
    r->file->map = map;
    r->file->map_size = size;
    size_t header_len = 0;
    siamese_status status = header_length(r, map, size, &header_len);
    return status == SIAMESE_OK ? parse_framed(r, map, header_len) : status;
}

/* Reads (or maps) path into a validated file. */
static siamese_status open_file(const char *path, int mapped, sm_st_file **out, sm_err *err) {
    *out = NULL;
    if (!path) return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "safetensors read: no path");
    reader r = {.path = path, .err = err};
    r.file = calloc(1, sizeof *r.file);
    if (!r.file) return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    siamese_status status = mapped ? map_into(&r) : read_into(&r);
    free(r.begin);
    free(r.end);
    if (status != SIAMESE_OK) {
        sm_safetensors_free(r.file);
        return status;
    }
    *out = r.file;
    return SIAMESE_OK;
}

siamese_status sm_safetensors_read(const char *path, sm_st_file **out, sm_err *err) {
    return open_file(path, 0, out, err);
}

siamese_status sm_safetensors_map(const char *path, sm_st_file **out, sm_err *err) {
    return open_file(path, 1, out, err);
}

/* ---------------------------------------------------------------- views */

static int has_prefix(const char *text, const char *prefix) {
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

static int count_prefixed_tensors(const sm_st_file *file, const char *prefix) {
    int n = 0;
    for (int i = 0; i < file->n; i++) n += has_prefix(file->tensors[i].name, prefix);
    return n;
}

static int count_prefixed_meta(const sm_st_file *file, const char *prefix) {
    int n = 0;
    for (int i = 0; i < file->n_meta; i++) n += has_prefix(file->meta[i].key, prefix);
    return n;
}

siamese_status sm_safetensors_view(const sm_st_file *file, const char *prefix, sm_st_file **out,
                                   sm_err *err) {
    *out = NULL;
    size_t skip = strlen(prefix);
    int n = count_prefixed_tensors(file, prefix), n_meta = count_prefixed_meta(file, prefix);
    sm_st_file *view = calloc(1, sizeof *view);
    if (view) {
        view->tensors = calloc((size_t)n + 1, sizeof *view->tensors);
        view->names = calloc((size_t)n + 1, sizeof *view->names);
        view->meta = calloc((size_t)n_meta + 1, sizeof *view->meta);
        view->meta_strings = calloc(2 * (size_t)n_meta + 1, sizeof *view->meta_strings);
    }
    int ok = view && view->tensors && view->names && view->meta && view->meta_strings;
    for (int i = 0; ok && i < file->n; i++) {
        if (!has_prefix(file->tensors[i].name, prefix)) continue;
        view->tensors[view->n] = file->tensors[i]; /* the data stays the parent's */
        view->names[view->n] = sm_strdup(file->tensors[i].name + skip);
        ok = view->names[view->n] != NULL;
        view->tensors[view->n].name = view->names[view->n];
        view->n++;
    }
    for (int i = 0; ok && i < file->n_meta; i++) {
        if (!has_prefix(file->meta[i].key, prefix)) continue;
        char **strings = view->meta_strings + 2 * view->n_meta;
        strings[0] = sm_strdup(file->meta[i].key + skip);
        strings[1] = sm_strdup(file->meta[i].value);
        view->n_meta++; /* counted before the check: sm_safetensors_free frees both */
        ok = strings[0] && strings[1];
        view->meta[view->n_meta - 1] = (sm_st_meta){strings[0], strings[1]};
    }
    if (!ok) {
        sm_safetensors_free(view);
        return sm_fail(err, SIAMESE_ERR_NOMEM, "safetensors view: out of memory");
    }
    *out = view;
    return SIAMESE_OK;
}
