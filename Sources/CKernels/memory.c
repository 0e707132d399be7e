/* Page-level memory operations (see ck_memory.h). */
#define _GNU_SOURCE
#include "ck_memory.h"

#include <sys/mman.h>

void *ck_remap(void *p, size_t old_bytes, size_t new_bytes) {
    void *q = mremap(p, old_bytes, new_bytes, MREMAP_MAYMOVE);
    return q == MAP_FAILED ? NULL : q;
}
