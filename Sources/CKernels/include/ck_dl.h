/* Run-time loading helpers shared by the Swift side (the MPI plugin lookup). */
#ifndef CK_DL_H
#define CK_DL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the path of the loaded file (executable or shared library) that holds `address` into
 * `buffer` (`capacity` bytes, NUL-terminated, truncated if longer). Returns 0, or -1 when the
 * dynamic loader does not know the address. Thread-safe. */
int ck_image_path(const void *address, char *buffer, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
