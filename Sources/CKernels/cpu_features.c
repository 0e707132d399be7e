/* CPU feature detection and the feature -> OpenBLAS core mapping (see copenblas.h). */
#include "ck_blas.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long read_xcr0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

void ck_detect_cpu(ck_cpu_features *f) {
    memset(f, 0, sizeof *f);
    unsigned int max_leaf, ebx, ecx, edx, eax;
    if (!__get_cpuid(0, &max_leaf, &ebx, &ecx, &edx)) return;
    char vendor[13];
    memcpy(vendor, &ebx, 4); memcpy(vendor + 4, &edx, 4); memcpy(vendor + 8, &ecx, 4);
    vendor[12] = 0;
    f->vendor = !strcmp(vendor, "GenuineIntel") ? CK_VENDOR_INTEL
              : !strcmp(vendor, "AuthenticAMD") ? CK_VENDOR_AMD
              : !strcmp(vendor, "HygonGenuine") ? CK_VENDOR_HYGON : CK_VENDOR_OTHER;

    __cpuid(1, eax, ebx, ecx, edx);
    unsigned int family = (eax >> 8) & 0xf, model = (eax >> 4) & 0xf;
    if (family == 0xf) family += (eax >> 20) & 0xff;
    if (family == 0x6 || family >= 0xf) model |= ((eax >> 16) & 0xf) << 4;
    f->family = (int)family;
    f->model = (int)model;
    f->sse3 = ecx & (1u << 0);
    f->ssse3 = ecx & (1u << 9);
    f->fma = ecx & (1u << 12);
    f->sse4_2 = ecx & (1u << 20);
    bool osxsave = ecx & (1u << 27);
    f->avx = ecx & (1u << 28);
    if (osxsave) {
        unsigned long long xcr0 = read_xcr0();
        f->os_avx = (xcr0 & 0x6) == 0x6;
        f->os_avx512 = f->os_avx && (xcr0 & 0xe0) == 0xe0;
    }
    if (max_leaf >= 7) {
        unsigned int sub_leaves;
        __cpuid_count(7, 0, sub_leaves, ebx, ecx, edx);
        f->avx2 = ebx & (1u << 5);
        f->avx512f = ebx & (1u << 16);
        f->avx512dq = ebx & (1u << 17);
        f->avx512cd = ebx & (1u << 28);
        f->avx512bw = ebx & (1u << 30);
        f->avx512vl = ebx & (1u << 31);
        if (sub_leaves >= 1) {
            __cpuid_count(7, 1, eax, ebx, ecx, edx);
            f->avx512_bf16 = eax & (1u << 5);
        }
    }
}
#else
void ck_detect_cpu(ck_cpu_features *f) { memset(f, 0, sizeof *f); }
#endif

/*
 * The best OpenBLAS 0.3.21 core the features allow. For every CPU model that OpenBLAS knows
 * this is the core it picks itself (Intel Haswell..Sapphire Rapids, AMD Zen 1-4); for models
 * it does not know it replaces the Prescott fallback. AVX-512 counts only when the OS saves
 * the ZMM state, and AVX/AVX2 only when it saves the YMM state, as OpenBLAS's own checks do.
 */
const char *ck_blas_core_for(const ck_cpu_features *f) {
    if (!(f->avx && f->os_avx)) return NULL;
    bool avx2 = f->avx2 && f->fma;
    bool avx512 = avx2 && f->os_avx512 && f->avx512f && f->avx512cd && f->avx512bw && f->avx512dq && f->avx512vl;
    if (avx512) return f->avx512_bf16 ? "Cooperlake" : "SkylakeX";
    bool amd = f->vendor == CK_VENDOR_AMD || f->vendor == CK_VENDOR_HYGON;
    if (avx2) return amd ? "Zen" : "Haswell";
    return "Sandybridge";
}
