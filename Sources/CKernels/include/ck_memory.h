/* Page-level memory operations for TensorCore's BufferPool (not all reach Swift's Glibc). */
#ifndef CK_MEMORY_H
#define CK_MEMORY_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Grows or shrinks an anonymous mapping, moving it if need be (mremap with MREMAP_MAYMOVE):
 * its resident pages are kept, only new pages fault in. NULL when the system refuses (the
 * old mapping is then unchanged). */
void *ck_remap(void *p, size_t old_bytes, size_t new_bytes);

#ifdef __cplusplus
}
#endif
#endif
