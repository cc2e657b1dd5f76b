/*
 * pending: the index of a worker's pending requests (those an async handler
 * holds) by request id, so that a late answer finds its request, or finds
 * it gone, without ever following a pointer the request no longer owns.
 * An open-addressing hash table: O(1) lookups, memory only while it grows.
 */
#ifndef FORKD_PENDING_H
#define FORKD_PENDING_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t key; /* 0: an empty slot */
    void *val;
} pending_slot_t;

/* Zeroed (or pending_init()) it is an empty index. */
typedef struct {
    pending_slot_t *slots; /* cap slots, malloc'd on the first put */
    size_t cap;            /* a power of two, or 0 */
    size_t n;              /* keys held */
} pending_t;

void pending_init(pending_t *t);

/* Free the slots; t is empty afterwards (the values are the caller's). */
void pending_free(pending_t *t);

/*
 * Add key (not 0, not already held) for val (not NULL, borrowed). 0 ok,
 * -1 out of memory (nothing changed).
 */
int pending_put(pending_t *t, uint64_t key, void *val);

/* The value held for key, or NULL. */
void *pending_get(const pending_t *t, uint64_t key);

/* Remove key; returns the value it had, or NULL when it was not held. */
void *pending_del(pending_t *t, uint64_t key);

/* How many keys are held. */
size_t pending_count(const pending_t *t);

#endif
