/* Step arena: bump allocation from a list of blocks, released all at once. After a reset
 * that saw several blocks, they are merged into one, so a repeated step of the same shape
 * stops calling the system allocator. */
#ifndef DC_ARENA_H
#define DC_ARENA_H

#include "base.h"

typedef struct dc_arena_block {
    struct dc_arena_block *next;
    size_t size, used;
    /* data follows, 64-aligned */
} dc_arena_block;

typedef struct dc_arena {
    dc_arena_block *head; /* block being filled */
    dc_arena_block *full; /* blocks already filled this step */
    size_t reserved;      /* bytes in all blocks */
    size_t peak_step;     /* bytes used by the largest step so far */
} dc_arena;

void dc_arena_init(dc_arena *a);
void dc_arena_release(dc_arena *a);
/* 64-byte aligned, uninitialised; NULL + error on failure. */
void *dc_arena_alloc(dc_arena *a, size_t bytes);
void *dc_arena_zalloc(dc_arena *a, size_t bytes);
void dc_arena_reset(dc_arena *a);

#endif
