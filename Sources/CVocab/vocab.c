#include "cvocab.h"

// `.incbin` finds the file through the include path, which clang also gives its integrated
// assembler: Package.swift adds this directory with `.headerSearchPath(".")` (checked: without
// it the build fails with "Could not find incbin file"). Works from clean debug and release builds.
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
