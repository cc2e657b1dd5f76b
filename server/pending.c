/* pending: request id -> pending request, linear probing with backward-shift deletion. */
#include "pending.h"

#include <stdlib.h>

#define PENDING_MIN_CAP 64

/* The home slot of key in a table of cap slots (cap a power of two): Fibonacci hashing. */
static size_t home(uint64_t key, size_t cap)
{
    unsigned bits = (unsigned)__builtin_ctzll((unsigned long long)cap);

    return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> (64 - bits));
}

void pending_init(pending_t *t)
{
    t->slots = NULL;
    t->cap = 0;
    t->n = 0;
}

void pending_free(pending_t *t)
{
    free(t->slots);
    pending_init(t);
}

size_t pending_count(const pending_t *t)
{
    return t->n;
}

/* The slot holding key, or the empty slot where it would go (cap > 0, never full). */
static size_t probe(const pending_t *t, uint64_t key)
{
    size_t mask = t->cap - 1, i = home(key, t->cap);

    while (t->slots[i].key != 0 && t->slots[i].key != key) {
        i = (i + 1) & mask;
    }
    return i;
}

/* Move every key to a table of cap slots. 0 ok, -1 out of memory (t unchanged). */
static int grow(pending_t *t, size_t cap)
{
    pending_t bigger = {calloc(cap, sizeof(pending_slot_t)), cap, t->n};
    size_t i;

    if (bigger.slots == NULL) {
        return -1;
    }
    for (i = 0; i < t->cap; i++) {
        if (t->slots[i].key != 0) {
            bigger.slots[probe(&bigger, t->slots[i].key)] = t->slots[i];
        }
    }
    free(t->slots);
    *t = bigger;
    return 0;
}

int pending_put(pending_t *t, uint64_t key, void *val)
{
    size_t i;

    /* at most half full: probes stay short */
    if ((t->n + 1) * 2 > t->cap && grow(t, t->cap ? t->cap * 2 : PENDING_MIN_CAP) != 0) {
        return -1;
    }
    i = probe(t, key);
    t->slots[i].key = key;
    t->slots[i].val = val;
    t->n++;
    return 0;
}

void *pending_get(const pending_t *t, uint64_t key)
{
    size_t i;

    if (t->n == 0 || key == 0) {
        return NULL;
    }
    i = probe(t, key);
    return t->slots[i].key == key ? t->slots[i].val : NULL;
}

void *pending_del(pending_t *t, uint64_t key)
{
    size_t mask = t->cap - 1, i, j;
    void *val;

    if (t->n == 0 || key == 0) {
        return NULL;
    }
    i = probe(t, key);
    if (t->slots[i].key != key) {
        return NULL;
    }
    val = t->slots[i].val;
    /*
     * Backward shift: pull each following key of the run into the hole
     * unless its home lies cyclically in (hole, its slot], so that every
     * key stays reachable from its home without tombstones.
     */
    for (j = (i + 1) & mask; t->slots[j].key != 0; j = (j + 1) & mask) {
        size_t h = home(t->slots[j].key, t->cap);
        if (((j - h) & mask) >= ((j - i) & mask)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].key = 0;
    t->slots[i].val = NULL;
    t->n--;
    return val;
}
