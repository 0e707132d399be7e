/*
 * CImageCodecs: a thin C layer over libjpeg(-turbo) and libpng.
 *
 * Why C: both libraries report fatal errors through longjmp (libpng) or an
 * error_exit callback that calls exit() by default (libjpeg). Swift cannot use
 * setjmp/longjmp, and a library hosted in another process must never exit, so
 * every libjpeg/libpng call happens here, behind setjmp, and failures come back
 * as a status plus a message.
 *
 * Decoders produce tightly packed samples (HWC, row-major) in the mode
 * Pillow's Image.open(...) gives; see each function. Conversion to RGB, and
 * Pillow's per-mode resizing, happen in the Swift layer (ImageIO).
 *
 * Thread safety: every function is reentrant; no global state is used.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. */
enum {
    CIC_OK = 0,
    CIC_ERR_FORMAT = 1,     /* not this format / corrupt data */
    CIC_ERR_TRUNCATED = 2,  /* data ended before the image was complete */
    CIC_ERR_TOO_LARGE = 3,  /* width * height above the caller's pixel limit */
    CIC_ERR_MEMORY = 4,     /* allocation failed */
    CIC_ERR_ARGUMENT = 5,   /* bad arguments (e.g. zero size, bad quality) */
};

/* Size of the message buffer callers pass in; messages are truncated to fit. */
#define CIC_MESSAGE_CAPACITY 256

/* The Pillow mode a file opens in (Image.open(path).mode), which decides how
   Pillow resizes it; see each decoder for the layout of the samples. */
enum {
    CIC_MODE_RGB = 0,   /* 3 samples per pixel */
    CIC_MODE_L = 1,     /* 1 sample: 8-bit grey (also 2- and 4-bit PNG grey, scaled) */
    CIC_MODE_1 = 2,     /* 1 sample: 1-bit PNG grey, as 0 or 255 */
    CIC_MODE_P = 3,     /* 3 samples: a palette PNG, expanded through its palette */
    CIC_MODE_RGBA = 4,  /* 4 samples, straight (not premultiplied) alpha */
    CIC_MODE_LA = 5,    /* 2 samples: grey, alpha */
    CIC_MODE_I16 = 6,   /* 1 sample of 16 bits (native byte order): 16-bit PNG grey */
    CIC_MODE_CMYK = 7,  /* 4 samples: C, M, Y, K as Pillow holds them (Adobe-inverted) */
};

/* A decoded image in its source mode. `pixels` holds width * height * channels
   samples of bytes_per_sample (1, or 2 for CIC_MODE_I16) bytes, row-major,
   allocated with malloc; release it with cic_free. */
typedef struct {
    int32_t width;
    int32_t height;
    int32_t mode;
    int32_t channels;
    int32_t bytes_per_sample;
    uint8_t *pixels;
} cic_image;

/* Decodes a JPEG held in memory, in the mode Pillow opens it in.
   - Greyscale JPEGs give CIC_MODE_L; YCbCr and RGB JPEGs give CIC_MODE_RGB
     through libjpeg's own colour conversion (what Pillow uses too).
   - CMYK/YCCK JPEGs give CIC_MODE_CMYK: read with Adobe's inverted polarity,
     as Pillow always does (its rawmode "CMYK;I"), so the samples are
     255 - libjpeg's output.
   - Premature end of data is an error (CIC_ERR_TRUNCATED), as in Pillow,
     instead of libjpeg's warning-and-grey-padding. Other libjpeg warnings
     (e.g. extraneous bytes) are ignored, as in Pillow.
   - Images with more than `max_pixels` pixels are refused before the pixel
     buffer is allocated (max_pixels == 0 means no limit).
   On failure `out` is untouched and `message` (CIC_MESSAGE_CAPACITY bytes)
   holds a description. */
int cic_decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels,
                    cic_image *out, char *message);

/* Decodes a PNG held in memory, in the mode Pillow opens it in
   (PngImagePlugin's _MODES): 1-bit grey -> 1; 2/4/8-bit grey -> L (scaled to
   0...255); 16-bit grey -> I16 (full 16 bits); palette -> P (expanded to RGB,
   tRNS dropped: it only matters for convert("RGBA")); grey+alpha -> LA (16-bit:
   high bytes; Pillow opens that as RGBA with R = G = B, which every step here
   treats identically); RGB -> RGB; RGBA -> RGBA (16-bit: high bytes, as
   Pillow's ;16B unpackers). tRNS on grey and RGB images is ignored, as in
   Pillow's convert("RGB"). Gamma and colour profiles are ignored, as in
   Pillow. Interlaced images are supported. Same limits and errors as JPEG. */
int cic_decode_png(const uint8_t *data, size_t size, uint64_t max_pixels,
                   cic_image *out, char *message);

/* Encodes RGB8 as PNG (8-bit truecolour) into a malloc'd buffer; release it
   with cic_free. */
int cic_encode_png(const uint8_t *rgb, int32_t width, int32_t height,
                   uint8_t **out_data, size_t *out_size, char *message);

/* Encodes RGB8 as a baseline JPEG with libjpeg's default 4:2:0 subsampling
   at `quality` 1...100 into a malloc'd buffer; release it with cic_free. */
int cic_encode_jpeg(const uint8_t *rgb, int32_t width, int32_t height,
                    int32_t quality, uint8_t **out_data, size_t *out_size,
                    char *message);

/* Releases a buffer returned by this library. cic_free(NULL) is a no-op. */
void cic_free(void *pointer);

#ifdef __cplusplus
}
#endif
