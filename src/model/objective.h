/* model: the objective: the loss and metric tables that compile chooses from, the loss of a
 * batch, and the running sums of the loss and metrics over batches. */
#ifndef DC_OBJECTIVE_H
#define DC_OBJECTIVE_H

#include "model.h"

/* Running sums of the loss and metrics over batches. */
typedef struct dc_acc {
    double loss, metric[DC_MAX_METRICS];
    int64_t rows, elems;
} dc_acc;

/* The classes of a classifier: the output's last axis. */
int64_t dc_obj_classes(const dc_model *m);
/* Labels are class indices (one per step) rather than one value per output. */
bool dc_obj_sparse_labels(const dc_model *m, int64_t out_cols, int64_t y_cols);
/* The mean loss of a batch: out are the model's outputs (logits when the loss is fused), each
 * row weighed by its sample weight when the staged batch has them (m->batch_weighted) and each
 * class's term by the fit's class weights. out_mask: the outputs' time-step mask or NULL (the
 * CTC loss takes each sample's count of real steps as its input length). */
dc_tensor *dc_obj_loss(dc_model *m, dc_ctx *c, dc_tensor *out, const uint8_t *out_mask, dc_tensor *y);
/* The targets of the CTC loss, y [N, S]: labels in [0, C) other than the blank, then negative
 * padding; refuses a target that no alignment of the model's T steps gives, unless zero_infinity
 * (errors name the sample and the position; who names the caller). */
dc_status dc_obj_check_ctc_targets(const dc_model *m, const dc_tensor *y, const char *who);
/* Decides, from the loss, its options and the last layer, whether the loss takes the last
 * layer's logits (m->fusion). */
void dc_obj_plan_fusion(dc_model *m);
/* The loss options' schema (saved with the model's compile settings). */
extern const dc_field dc_loss_opts_fields[];
extern const int dc_loss_opts_nfields;
/* Adds the metrics of a batch to a (out as for dc_obj_loss). */
dc_status dc_obj_add_metrics(dc_model *m, dc_ctx *c, const dc_tensor *out, const dc_tensor *y, dc_acc *a);
/* The value of metric i over the batches summed in a. */
double dc_obj_metric_value(const dc_model *m, const dc_acc *a, int i);
/* Whether a history key is minimised (losses and errors) rather than maximised (accuracies). */
bool dc_obj_minimised(const char *key);

#endif
