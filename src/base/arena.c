#include "arena.h"

#include <string.h>

#define BLOCK_HDR 64
#define MIN_BLOCK ((size_t)1 << 20)

void dc_arena_init(dc_arena *a) { memset(a, 0, sizeof *a); }

static void free_list(dc_arena_block *b) {
    while (b) {
        dc_arena_block *n = b->next;
        dc_free(b);
        b = n;
    }
}

void dc_arena_release(dc_arena *a) {
    free_list(a->head);
    free_list(a->full);
    dc_arena_init(a);
}

static dc_arena_block *new_block(dc_arena *a, size_t need) {
    size_t size = need > MIN_BLOCK ? need : MIN_BLOCK;
    dc_arena_block *b = dc_alloc(BLOCK_HDR + size);
    if (!b) return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    a->reserved += size;
    return b;
}

void *dc_arena_alloc(dc_arena *a, size_t bytes) {
    size_t need = (bytes + 63) & ~(size_t)63;
    if (need < bytes) return dc_error_null(DC_ERR_NOMEM, "arena request of %zu bytes overflows", bytes);
    if (!a->head || a->head->size - a->head->used < need) {
        /* grow: at least double what this step has used so far, so the number of blocks
         * in a first step stays logarithmic */
        size_t used = 0;
        for (dc_arena_block *b = a->full; b; b = b->next) used += b->used;
        if (a->head) used += a->head->used;
        size_t want = need > used ? need : used;
        dc_arena_block *b = new_block(a, want);
        if (!b) return NULL;
        if (a->head) {
            a->head->next = a->full;
            a->full = a->head;
        }
        a->head = b;
    }
    void *p = (char *)a->head + BLOCK_HDR + a->head->used;
    a->head->used += need;
    return p;
}

void *dc_arena_zalloc(dc_arena *a, size_t bytes) {
    void *p = dc_arena_alloc(a, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void dc_arena_reset(dc_arena *a) {
    size_t used = 0;
    for (dc_arena_block *b = a->full; b; b = b->next) used += b->used;
    if (a->head) used += a->head->used;
    if (used > a->peak_step) a->peak_step = used;
    if (a->full) {
        /* merge into one block big enough for the largest step seen */
        free_list(a->full);
        free_list(a->head);
        a->full = a->head = NULL;
        a->reserved = 0;
        a->head = new_block(a, a->peak_step);
        return;
    }
    if (a->head) a->head->used = 0;
}
