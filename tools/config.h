/* deepc train's configuration files: one JSON object naming the data, the model (in the layout
 * of a model file's architecture, so every registered layer and option is reachable), compile,
 * fit and the outputs. The reference is docs/cli.md. */
#ifndef DEEPC_TOOLS_CONFIG_H
#define DEEPC_TOOLS_CONFIG_H

#include "deepc.h"

#include <cjson/cJSON.h>

/* A parsed configuration: the JSON and where messages point. */
typedef struct dc_config {
    const char *path;
    cJSON *root;
} dc_config;

/* Reads and parses path: a syntax error names the line and column. */
dc_status dc_config_read(const char *path, dc_config *c);
void dc_config_free(dc_config *c);

/* The model of the configuration ("model" with "compile"), built and compiled, new weights. */
dc_model *dc_config_model(const dc_config *c);

/* The data a configuration names, loaded, preprocessed and split. */
typedef struct dc_config_data {
    dc_tensor *x, *y;           /* training rows */
    dc_tensor *test_x, *test_y; /* NULL when the configuration holds no test data */
    int64_t nclasses;           /* class count when the labels are class indices, else 0 */
    double baseline;            /* test accuracy of always answering the most frequent training
                                   class; -1 when the labels are not classes or there is no test */
    char desc[256];             /* one line saying what was loaded */
} dc_config_data;

/* Loads the "data" section: formats csv, npy, idx, fortunes, series, inline (and images when
 * the library reads pictures); then "split", "scale", "one_hot". x is shaped to the model's
 * input when its rows hold as many values. */
dc_status dc_config_data_load(const dc_config *c, dc_model *m, dc_config_data *d);
void dc_config_data_free(dc_config_data *d);

/* Rows x [N, ...] reshaped in place to model input `input`'s shape [N, ...] when each row holds
 * as many values (flat 784-value rows for a [1, 28, 28] input); otherwise x is left as it is. */
dc_status dc_config_fit_input(dc_model *m, int input, dc_tensor *x);

/* "<path>: <where>: <message>" as the current error, DC_ERR_FORMAT. */
dc_status dc_config_bad(const dc_config *c, const char *where, const char *fmt, ...);

/* Every key of object o must be one of keys (NULL-ended): otherwise an error naming the
 * section, the key and the allowed keys. */
dc_status dc_config_keys(const dc_config *c, const char *where, const cJSON *o, const char *const *keys);

#endif
