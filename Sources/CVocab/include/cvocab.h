#pragma once
// The OpenAI CLIP BPE vocabulary (`bpe_simple_vocab_16e6.txt.gz`, MIT licence, see
// LICENSE-open_clip.txt), embedded in the binary with the assembler's `.incbin` so that a
// library loaded by ctypes needs no resource files. The bytes are the gzip file as shipped.
// Thread safety: both functions only read constant data; call them from any thread.
#include <stddef.h>

/// First byte of the embedded gzip file.
const unsigned char *cvocab_data(void);
/// Size of the embedded gzip file in bytes.
size_t cvocab_size(void);
