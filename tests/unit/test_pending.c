/* test_pending: the index of pending requests by id (server/pending.c) against a plain model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pending.h"

#define MODEL_KEYS 4096

static void test_empty_index_finds_nothing(void **state)
{
    pending_t t;
    (void)state;

    pending_init(&t);
    assert_null(pending_get(&t, 1));
    assert_null(pending_del(&t, 1));
    assert_null(pending_get(&t, 0));
    assert_int_equal(pending_count(&t), 0);
    pending_free(&t);
}

/* Request ids come in order: a long run of them, then every other one removed. */
static void test_sequential_ids(void **state)
{
    static int vals[20000];
    pending_t t;
    uint64_t k;
    (void)state;

    pending_init(&t);
    for (k = 1; k <= 20000; k++) {
        assert_int_equal(pending_put(&t, k, &vals[k - 1]), 0);
    }
    assert_int_equal(pending_count(&t), 20000);
    for (k = 1; k <= 20000; k += 2) {
        assert_ptr_equal(pending_del(&t, k), &vals[k - 1]);
    }
    for (k = 1; k <= 20000; k++) {
        assert_ptr_equal(pending_get(&t, k), k % 2 ? NULL : &vals[k - 1]);
    }
    assert_null(pending_get(&t, 20001));
    assert_int_equal(pending_count(&t), 10000);
    pending_free(&t);
    assert_int_equal(pending_count(&t), 0);
    assert_null(pending_get(&t, 2));
}

/* xorshift64: the same pseudo-random sequence on every run. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/*
 * Random puts and deletes over a small key space (so keys come back after
 * being deleted, and runs of colliding keys form, wrap and get holes),
 * checked after every step against an array of what should be there: a
 * deletion that breaks a probe run loses a key the model still has.
 */
static void test_random_against_model(void **state)
{
    static char model[MODEL_KEYS + 1];
    pending_t t;
    uint64_t seed = 0x9e3779b97f4a7c15ULL, k;
    size_t n = 0;
    int step;
    (void)state;

    pending_init(&t);
    memset(model, 0, sizeof(model));
    for (step = 0; step < 200000; step++) {
        uint64_t r = next_rand(&seed);
        k = 1 + (r >> 8) % MODEL_KEYS;
        if (model[k]) {
            assert_ptr_equal(pending_del(&t, k), &model[k]);
            model[k] = 0;
            n--;
        } else if (r & 1) {
            assert_int_equal(pending_put(&t, k, &model[k]), 0);
            model[k] = 1;
            n++;
        } else {
            assert_null(pending_get(&t, k));
        }
        assert_int_equal(pending_count(&t), n);
        if (step % 10007 == 0) {
            for (k = 1; k <= MODEL_KEYS; k++) {
                assert_ptr_equal(pending_get(&t, k), model[k] ? &model[k] : NULL);
            }
        }
    }
    for (k = 1; k <= MODEL_KEYS; k++) {
        assert_ptr_equal(pending_get(&t, k), model[k] ? &model[k] : NULL);
    }
    pending_free(&t);
}

/* Huge ids (a worker that served billions) hash like small ones. */
static void test_large_ids(void **state)
{
    pending_t t;
    uint64_t base = UINT64_MAX - 1000, k;
    (void)state;

    pending_init(&t);
    for (k = base; k < base + 500; k++) {
        assert_int_equal(pending_put(&t, k, (void *)(uintptr_t)k), 0);
    }
    for (k = base; k < base + 500; k++) {
        assert_ptr_equal(pending_get(&t, k), (void *)(uintptr_t)k);
    }
    assert_null(pending_get(&t, base + 500));
    pending_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_index_finds_nothing),
        cmocka_unit_test(test_sequential_ids),
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_large_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
