#include "cvocab.h"

// `.incbin` finds the file through the assembler's include path: Package.swift adds this
// target's directory with `-Wa,-I` style header search (see the CVocab target there).
__asm__(
    "    .section .rodata.cvocab,\"a\",@progbits\n"
    "    .balign 16\n"
    "cvocab_blob_begin:\n"
    "    .incbin \"bpe_simple_vocab_16e6.txt.gz\"\n"
    "cvocab_blob_end:\n"
    "    .byte 0\n"
    "    .previous\n"
);

extern const unsigned char cvocab_blob_begin[] __asm__("cvocab_blob_begin");
extern const unsigned char cvocab_blob_end[] __asm__("cvocab_blob_end");

const unsigned char *cvocab_data(void) { return cvocab_blob_begin; }
size_t cvocab_size(void) { return (size_t)(cvocab_blob_end - cvocab_blob_begin); }
