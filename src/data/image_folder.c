/* A folder tree of images as a labelled data set, as Keras's image_dataset_from_directory:
 * root/<class>/.../<image>.
 *
 * Steps: the class folders (sorted, or as the caller names them); each class's image files,
 * found by walking its folder tree and sorted by path, cut to max_per_class; the list shuffled
 * with the seed and split (validation = the last floor(split * N) files, as Keras does); then
 * only the chosen subset is decoded, each image converted and resized straight into its row of
 * x. Listing is cheap (a file whose name does not say PNG or JPEG has its first bytes read, to
 * tell an image from the rest), so loading the training and the validation subset in two calls
 * costs no more than one call loading both.
 */
#define _POSIX_C_SOURCE 200809L /* lstat */
#include "image.h"

#include "../tensor/tensor.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define FOLDER_MAX_DEPTH 64

dc_image_folder_opts dc_image_folder_defaults(void) {
    dc_image_folder_opts o = {.shuffle = true};
    o.image = dc_image_defaults();
    o.image.height = o.image.width = 256;
    o.image.scale = false;
    return o;
}

/* A growing list of dc_alloc'd strings. */
typedef struct str_list {
    char **v;
    int64_t n, cap;
} str_list;

static void list_free(str_list *l) {
    for (int64_t i = 0; i < l->n; i++) dc_free(l->v[i]);
    dc_free(l->v);
    memset(l, 0, sizeof *l);
}

/* Appends s (taking it); frees s and fails on allocation failure. */
static dc_status list_push(str_list *l, char *s) {
    if (!s) return DC_ERR_NOMEM;
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 16;
        char **v = dc_realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) {
            dc_free(s);
            return DC_ERR_NOMEM;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return DC_OK;
}

static char *str_dup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = dc_alloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* "a/b", dc_alloc'd */
static char *join(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *p = dc_alloc(na + nb + 2);
    if (!p) return NULL;
    memcpy(p, a, na);
    p[na] = '/';
    memcpy(p + na + 1, b, nb + 1);
    return p;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool has_image_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0);
}

/* Does the file start as a PNG or JPEG? (unreadable: no) */
static bool looks_like_image(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    unsigned char h[8];
    size_t n = fread(h, 1, sizeof h, f);
    fclose(f);
    return dc_image_sniff(h, n) != DC_IMAGE_UNKNOWN;
}

/* Adds the image files under dir (relative paths from the class folder, prefix "" at the
 * top) to files; counts other files in *ignored. Links to folders are not followed. */
static dc_status walk(const char *dir, const char *rel, int depth, str_list *files, int64_t *ignored) {
    if (depth > FOLDER_MAX_DEPTH)
        return dc_error(DC_ERR_FORMAT, "%s: folders nested more than %d deep", dir, FOLDER_MAX_DEPTH);
    DIR *d = opendir(dir);
    if (!d) return dc_error(DC_ERR_IO, "%s: cannot list the folder: %s", dir, strerror(errno));
    str_list names = {0};
    dc_status s = DC_OK;
    struct dirent *e;
    while (!s && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') s = list_push(&names, str_dup(e->d_name));
    closedir(d);
    for (int64_t i = 0; !s && i < names.n; i++) {
        char *path = join(dir, names.v[i]);
        char *r = rel[0] ? join(rel, names.v[i]) : str_dup(names.v[i]);
        struct stat ls, st;
        if (!path || !r) {
            s = DC_ERR_NOMEM;
        } else if (lstat(path, &ls) != 0) {
            s = dc_error(DC_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        } else if (S_ISDIR(ls.st_mode)) {
            s = walk(path, r, depth + 1, files, ignored);
        } else if (S_ISLNK(ls.st_mode) && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            /* a link to a folder is not followed (Keras's follow_links=False) */
        } else if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
                   (has_image_ext(names.v[i]) || looks_like_image(path))) {
            s = list_push(files, r); /* a file, or a link to one */
            r = NULL;
        } else {
            (*ignored)++; /* another file, a dangling link, a device */
        }
        dc_free(path);
        dc_free(r);
    }
    list_free(&names);
    return s;
}

/* The class folders of root: sub-folders (links to folders included), sorted, or the caller's. */
static dc_status find_classes(const char *root, const dc_image_folder_opts *o, str_list *classes) {
    DIR *d = opendir(root);
    if (!d) return dc_error(DC_ERR_IO, "%s: cannot list the folder: %s", root, strerror(errno));
    str_list found = {0};
    dc_status s = DC_OK;
    struct dirent *e;
    while (!s && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char *path = join(root, e->d_name);
        struct stat st;
        if (!path)
            s = DC_ERR_NOMEM;
        else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            s = list_push(&found, str_dup(e->d_name));
        dc_free(path);
    }
    closedir(d);
    if (s) {
        list_free(&found);
        return s;
    }
    if (found.n) qsort(found.v, (size_t)found.n, sizeof *found.v, cmp_str);
    if (!o->class_names) {
        if (found.n == 0)
            return dc_error(DC_ERR_FORMAT,
                            "%s: no class folders: the classes are the sub-folders of the root, and it has none", root);
        *classes = found;
        return DC_OK;
    }
    for (int64_t i = 0; !s && i < o->nclass_names; i++) {
        const char *name = o->class_names[i];
        if (!name || !name[0] || strchr(name, '/')) {
            s = dc_error(DC_ERR_ARG, "%s: class_names[%lld] must be a folder name, got \"%s\"", root, (long long)i,
                         name ? name : "(null)");
            break;
        }
        for (int64_t j = 0; j < i; j++)
            if (strcmp(o->class_names[j], name) == 0)
                s = dc_error(DC_ERR_ARG, "%s: class \"%s\" is named twice (class_names[%lld] and [%lld])", root, name,
                             (long long)j, (long long)i);
        if (!s && (!found.n || !bsearch(&name, found.v, (size_t)found.n, sizeof *found.v, cmp_str)))
            s = dc_error(DC_ERR_ARG, "%s: class_names[%lld] \"%s\" is not a sub-folder (%lld found)", root,
                         (long long)i, name, (long long)found.n);
        if (!s) s = list_push(classes, str_dup(name));
    }
    list_free(&found);
    return s;
}

static dc_status check_folder_opts(const char *root, const dc_image_folder_opts *o) {
    dc_status s = dc_image_check_opts(&o->image, root);
    if (s) return s;
    if (!(o->validation_split >= 0 && o->validation_split < 1))
        return dc_error(DC_ERR_ARG, "%s: validation_split must be in [0, 1), got %g", root, o->validation_split);
    if (o->subset != DC_SUBSET_ALL && o->subset != DC_SUBSET_TRAINING && o->subset != DC_SUBSET_VALIDATION)
        return dc_error(DC_ERR_ARG, "%s: unknown subset %d", root, (int)o->subset);
    if (o->subset == DC_SUBSET_ALL && o->validation_split != 0)
        return dc_error(DC_ERR_ARG, "%s: validation_split %g needs a subset (training or validation)", root,
                        o->validation_split);
    if (o->subset != DC_SUBSET_ALL && o->validation_split == 0)
        return dc_error(DC_ERR_ARG, "%s: a %s subset needs validation_split > 0", root,
                        o->subset == DC_SUBSET_TRAINING ? "training" : "validation");
    if (o->max_per_class < 0)
        return dc_error(DC_ERR_ARG, "%s: max_per_class must be >= 0, got %lld", root, (long long)o->max_per_class);
    if (o->class_names && o->nclass_names < 1)
        return dc_error(DC_ERR_ARG, "%s: class_names given with nclass_names %lld", root, (long long)o->nclass_names);
    return DC_OK;
}

/* Decodes the chosen files into d->x and d->y. */
static dc_status load_images(const dc_image_folder_opts *fo, char *const *paths, const int64_t *labels, int64_t n,
                             dc_image_dataset *d) {
    dc_image_opts o = fo->image;
    int64_t shape[4] = {n, 0, 0, 0}, kept = 0;
    const char *first_path = NULL;
    float *yv = dc_alloc((size_t)n * sizeof(float));
    if (!yv) return DC_ERR_NOMEM;
    dc_status s = DC_OK;
    for (int64_t i = 0; i < n && !s; i++) {
        unsigned char *data = NULL;
        size_t size = 0;
        dc_raw_image raw = {0};
        int64_t sh[3];
        dc_status e = dc_image_read_file(paths[i], &data, &size);
        if (!e) e = dc_image_decode_raw(data, size, paths[i], &o, &raw);
        dc_free(data);
        if (!e) {
            dc_image_out_shape(&raw, &o, sh);
            if (!d->x) {
                /* the first image fixes what options left open: channels and size */
                memcpy(shape + 1, sh, sizeof sh);
                o.channels = (int)sh[0];
                if (!(d->x = dc_tensor_alloc(4, shape))) e = DC_ERR_NOMEM;
                first_path = paths[i];
            } else if (sh[1] != shape[2] || sh[2] != shape[3]) {
                e = dc_error(DC_ERR_FORMAT,
                             "%s: %lld x %lld pixels, but %s is %lld x %lld; give a height and width to "
                             "resize every image to one size",
                             paths[i], (long long)raw.width, (long long)raw.height, first_path, (long long)shape[3],
                             (long long)shape[2]);
            }
        }
        if (!e) e = dc_image_convert(&raw, &o, sh, d->x->data + kept * shape[1] * shape[2] * shape[3]);
        dc_free(raw.pixels);
        if (!e) {
            yv[kept++] = (float)labels[i];
        } else if (fo->skip_bad && e != DC_ERR_NOMEM) {
            if (!d->skipped++) snprintf(d->first_error, sizeof d->first_error, "%s", dc_last_error());
        } else {
            s = e;
        }
    }
    if (!s && kept == 0)
        s = dc_error(DC_ERR_FORMAT, "none of the %lld image files could be read; the first: %s", (long long)n,
                     d->first_error);
    if (!s && kept < n) {
        /* rows of skipped files were never written: keep the first `kept` rows */
        shape[0] = kept;
        dc_tensor *x = dc_tensor_alloc(4, shape);
        if (!x) {
            s = DC_ERR_NOMEM;
        } else {
            memcpy(x->data, d->x->data, (size_t)(kept * shape[1] * shape[2] * shape[3]) * sizeof(float));
            dc_tensor_free(d->x);
            d->x = x;
        }
    }
    if (!s && !(d->y = dc_tensor_from(1, (int64_t[]){kept}, yv))) s = DC_ERR_NOMEM;
    dc_free(yv);
    return s;
}

void dc_image_dataset_free(dc_image_dataset *d) {
    if (!d) return;
    dc_tensor_free(d->x);
    dc_tensor_free(d->y);
    for (int64_t i = 0; d->class_names && i < d->nclasses; i++) dc_free(d->class_names[i]);
    dc_free(d->class_names);
    memset(d, 0, sizeof *d);
}

dc_status dc_image_folder_load(const char *root, const dc_image_folder_opts *o, dc_image_dataset *out) {
    if (out) memset(out, 0, sizeof *out);
    if (!root || !out) return dc_error(DC_ERR_ARG, "image_folder_load: root and out are required");
    dc_image_folder_opts def = dc_image_folder_defaults();
    if (!o) o = &def;
    dc_status s = check_folder_opts(root, o);
    if (s) return s;
    str_list classes = {0}, paths = {0};
    int64_t *labels = NULL, *idx = NULL;
    dc_image_dataset d = {0};
    s = find_classes(root, o, &classes);
    for (int64_t c = 0; !s && c < classes.n; c++) {
        str_list files = {0};
        char *dir = join(root, classes.v[c]);
        s = dir ? walk(dir, "", 0, &files, &d.ignored) : DC_ERR_NOMEM;
        if (!s) {
            if (files.n) qsort(files.v, (size_t)files.n, sizeof *files.v, cmp_str);
            int64_t take = o->max_per_class > 0 ? DC_MIN(files.n, o->max_per_class) : files.n;
            int64_t *more = dc_realloc(labels, (size_t)(paths.n + take + 1) * sizeof *labels);
            if (!more)
                s = DC_ERR_NOMEM;
            else
                labels = more;
            for (int64_t i = 0; !s && i < take; i++) {
                labels[paths.n] = c;
                s = list_push(&paths, join(dir, files.v[i]));
            }
        }
        list_free(&files);
        dc_free(dir);
    }
    const int64_t N = paths.n;
    if (!s && N == 0)
        s = dc_error(DC_ERR_FORMAT, "%s: no PNG or JPEG files in its %lld class folders (%lld other files)", root,
                     (long long)classes.n, (long long)d.ignored);
    if (!s && !(idx = dc_alloc((size_t)N * sizeof *idx))) s = DC_ERR_NOMEM;
    if (!s) {
        for (int64_t i = 0; i < N; i++) idx[i] = i;
        if (o->shuffle) {
            dc_rng rng;
            dc_rng_seed(&rng, o->seed);
            dc_rng_shuffle(&rng, idx, N);
        }
        /* Keras: num_val_samples = int(validation_split * len(samples)), the last ones */
        const int64_t nval = (int64_t)floor(o->validation_split * (double)N);
        int64_t from = 0, n = N;
        if (o->subset == DC_SUBSET_TRAINING) n = N - nval;
        if (o->subset == DC_SUBSET_VALIDATION) from = N - nval, n = nval;
        if (n == 0)
            s = dc_error(DC_ERR_ARG, "%s: the %s subset of %lld files with validation_split %g is empty", root,
                         o->subset == DC_SUBSET_TRAINING ? "training" : "validation", (long long)N,
                         o->validation_split);
        char **sel = s ? NULL : dc_alloc((size_t)n * sizeof *sel);
        int64_t *sel_labels = s ? NULL : dc_alloc((size_t)n * sizeof *sel_labels);
        if (!s && (!sel || !sel_labels)) s = DC_ERR_NOMEM;
        for (int64_t i = 0; !s && i < n; i++) {
            sel[i] = paths.v[idx[from + i]];
            sel_labels[i] = labels[idx[from + i]];
        }
        if (!s) s = load_images(o, sel, sel_labels, n, &d);
        dc_free(sel);
        dc_free(sel_labels);
    }
    if (!s) {
        d.class_names = classes.v;
        d.nclasses = classes.n;
        classes.v = NULL;
        classes.n = 0;
        *out = d;
    } else {
        dc_tensor_free(d.x);
        dc_tensor_free(d.y);
    }
    list_free(&classes);
    list_free(&paths);
    dc_free(labels);
    dc_free(idx);
    return s;
}
