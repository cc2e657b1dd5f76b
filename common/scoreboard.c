/* scoreboard: one anonymous shared mapping created by the master before any fork. */
#include "scoreboard.h"

#include <string.h>
#include <sys/mman.h>

scoreboard_t *scoreboard_create(void)
{
    void *p =
        mmap(NULL, sizeof(scoreboard_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

void scoreboard_destroy(scoreboard_t *sb)
{
    if (sb != NULL) {
        munmap(sb, sizeof(*sb));
    }
}

int scoreboard_live(const sb_slot_t *slot)
{
    return SB_GET(slot->pid) != 0 && SB_GET(slot->state) != SB_FREE;
}

int scoreboard_take(scoreboard_t *sb)
{
    int i;

    for (i = 0; i < SB_SLOTS; i++) {
        if (SB_GET(sb->slots[i].pid) == 0 && SB_GET(sb->slots[i].state) == SB_FREE) {
            memset(&sb->slots[i], 0, sizeof(sb->slots[i]));
            memset(sb->upstreams[i], 0, sizeof(sb->upstreams[i]));
            SB_SET(sb->slots[i].state, SB_STARTING);
            return i;
        }
    }
    return -1;
}

size_t scoreboard_current(const sb_slot_t *slot, char out[SB_CURRENT_LEN])
{
    memcpy(out, slot->current, SB_CURRENT_LEN);
    return strnlen(out, SB_CURRENT_LEN);
}

const char *scoreboard_state_name(int state)
{
    static const char *const names[] = {"free", "starting", "idle", "busy", "draining"};

    return state >= 0 && state <= SB_DRAINING ? names[state] : "?";
}
