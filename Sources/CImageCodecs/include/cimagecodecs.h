/*
 * CImageCodecs: a thin C layer over libjpeg(-turbo) and libpng.
 *
 * Why C: both libraries report fatal errors through longjmp (libpng) or an
 * error_exit callback that calls exit() by default (libjpeg). Swift cannot use
 * setjmp/longjmp, and a library hosted in another process must never exit, so
 * every libjpeg/libpng call happens here, behind setjmp, and failures come back
 * as a status plus a message.
 *
 * Decoders produce tightly packed RGB8 (HWC, row-major) converted the way
 * Pillow's Image.open(...).convert("RGB") does; see each function.
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

/* A decoded image. `pixels` holds width * height * 3 bytes, allocated with
   malloc; release it with cic_free. */
typedef struct {
    int32_t width;
    int32_t height;
    uint8_t *pixels;
} cic_image;

/* Decodes a JPEG held in memory to RGB8.
   - YCbCr, RGB and greyscale JPEGs use libjpeg's own colour conversion (what
     Pillow uses too); grey is replicated to three channels.
   - CMYK/YCCK JPEGs are read as inverted ("Adobe") CMYK, as Pillow assumes,
     then converted with Pillow's integer CMYK->RGB formula.
   - Premature end of data is an error (CIC_ERR_TRUNCATED), as in Pillow,
     instead of libjpeg's warning-and-grey-padding. Other libjpeg warnings
     (e.g. extraneous bytes) are ignored, as in Pillow.
   - Images with more than `max_pixels` pixels are refused before the pixel
     buffer is allocated (max_pixels == 0 means no limit).
   On failure `out` is untouched and `message` (CIC_MESSAGE_CAPACITY bytes)
   holds a description. */
int cic_decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels,
                    cic_image *out, char *message);

/* Decodes a PNG held in memory to RGB8, as Pillow's convert("RGB") would:
   alpha (including tRNS) is dropped, not composited; palettes are expanded;
   grey is replicated; 1/2/4-bit grey is scaled to 0...255; 16-bit colour and
   16-bit grey+alpha keep the high byte of each sample; 16-bit grey without
   alpha is clamped to 255 (Pillow opens it as mode I;16, whose conversion to
   RGB clamps values above 255). Gamma and colour profiles are ignored, as in
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
