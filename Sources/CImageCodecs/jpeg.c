/* JPEG decoding and encoding through libjpeg(-turbo), with every fatal error
   turned into a status by setjmp/longjmp (libjpeg's default handler exits). */
#include "cimagecodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

/* libjpeg error manager extended with our jump target and outcome. */
typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    int status;
    /* Once every scanline is read, a missing EOI is harmless (Pillow agrees). */
    int all_rows_read;
    char *message;
    /* The encoder's output buffer lives here, in memory that survives longjmp. */
    unsigned char *encoded;
    unsigned long encoded_size;
} cic_jpeg_error;

static void cic_jpeg_error_exit(j_common_ptr cinfo) {
    cic_jpeg_error *error = (cic_jpeg_error *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    error->base.format_message(cinfo, text);
    snprintf(error->message, CIC_MESSAGE_CAPACITY, "JPEG: %s", text);
    error->status = CIC_ERR_FORMAT;
    longjmp(error->jump, 1);
}

/* Warnings (level -1) are ignored except premature end of data, which libjpeg
   would otherwise pad with grey; Pillow reports "image file is truncated". */
static void cic_jpeg_emit_message(j_common_ptr cinfo, int level) {
    cic_jpeg_error *error = (cic_jpeg_error *)cinfo->err;
    if (level == -1 && error->base.msg_code == JWRN_JPEG_EOF && !error->all_rows_read) {
        snprintf(error->message, CIC_MESSAGE_CAPACITY,
                 "JPEG: image data is truncated (premature end of file)");
        error->status = CIC_ERR_TRUNCATED;
        longjmp(error->jump, 1);
    }
}

static void cic_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void cic_jpeg_install_errors(cic_jpeg_error *error, char *message) {
    jpeg_std_error(&error->base);
    error->base.error_exit = cic_jpeg_error_exit;
    error->base.emit_message = cic_jpeg_emit_message;
    error->base.output_message = cic_jpeg_output_message;
    error->status = CIC_OK;
    error->all_rows_read = 0;
    error->message = message;
    error->encoded = NULL;
    error->encoded_size = 0;
}

int cic_decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels,
                    cic_image *out, char *message) {
    struct jpeg_decompress_struct cinfo;
    cic_jpeg_error error;
    uint8_t *volatile pixels = NULL;

    message[0] = 0;
    if (size == 0) {
        snprintf(message, CIC_MESSAGE_CAPACITY, "JPEG: file is empty");
        return CIC_ERR_TRUNCATED;
    }
    cic_jpeg_install_errors(&error, message);
    cinfo.err = &error.base;
    if (setjmp(error.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        /* Volatile reads: these fields were written by callbacks after setjmp. */
        return ((volatile cic_jpeg_error *)&error)->status;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);

    uint64_t width = cinfo.image_width, height = cinfo.image_height;
    if (max_pixels != 0 && width * height > max_pixels) {
        snprintf(message, CIC_MESSAGE_CAPACITY,
                 "JPEG: image is %llux%llu = %llu pixels, above the limit of %llu "
                 "(possible decompression bomb)",
                 (unsigned long long)width, (unsigned long long)height,
                 (unsigned long long)(width * height), (unsigned long long)max_pixels);
        jpeg_destroy_decompress(&cinfo);
        return CIC_ERR_TOO_LARGE;
    }

    int mode, channels;
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        cinfo.out_color_space = JCS_CMYK;
        mode = CIC_MODE_CMYK;
        channels = 4;
    } else if (cinfo.jpeg_color_space == JCS_GRAYSCALE) {
        cinfo.out_color_space = JCS_GRAYSCALE;
        mode = CIC_MODE_L;
        channels = 1;
    } else {
        cinfo.out_color_space = JCS_RGB;
        mode = CIC_MODE_RGB;
        channels = 3;
    }
    jpeg_start_decompress(&cinfo);

    size_t row_bytes = (size_t)cinfo.output_width * (size_t)channels;
    pixels = malloc(row_bytes * cinfo.output_height);
    if (!pixels) {
        snprintf(message, CIC_MESSAGE_CAPACITY, "JPEG: out of memory for %llux%llu image",
                 (unsigned long long)width, (unsigned long long)height);
        error.status = CIC_ERR_MEMORY;
        longjmp(error.jump, 1);
    }

    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *row = pixels + row_bytes * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
        if (mode == CIC_MODE_CMYK) {
            /* Pillow always reads CMYK JPEGs with Adobe's inverted polarity. */
            for (size_t i = 0; i < row_bytes; i++) {
                row[i] = (uint8_t)(255 - row[i]);
            }
        }
    }
    error.all_rows_read = 1;
    jpeg_finish_decompress(&cinfo);

    out->width = (int32_t)cinfo.output_width;
    out->height = (int32_t)cinfo.output_height;
    out->mode = mode;
    out->channels = channels;
    out->bytes_per_sample = 1;
    out->pixels = pixels;
    pixels = NULL;
    jpeg_destroy_decompress(&cinfo);
    return CIC_OK;
}

int cic_encode_jpeg(const uint8_t *rgb, int32_t width, int32_t height,
                    int32_t quality, uint8_t **out_data, size_t *out_size,
                    char *message) {
    struct jpeg_compress_struct cinfo;
    cic_jpeg_error error;

    message[0] = 0;
    if (width <= 0 || height <= 0 || width > 65500 || height > 65500) {
        snprintf(message, CIC_MESSAGE_CAPACITY,
                 "JPEG: cannot encode a %dx%d image (sides must be 1...65500)", width, height);
        return CIC_ERR_ARGUMENT;
    }
    if (quality < 1 || quality > 100) {
        snprintf(message, CIC_MESSAGE_CAPACITY, "JPEG: quality %d is outside 1...100", quality);
        return CIC_ERR_ARGUMENT;
    }
    cic_jpeg_install_errors(&error, message);
    cinfo.err = &error.base;
    if (setjmp(error.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(((volatile cic_jpeg_error *)&error)->encoded);
        return ((volatile cic_jpeg_error *)&error)->status;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &error.encoded, &error.encoded_size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    size_t row_bytes = (size_t)width * 3;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + row_bytes * cinfo.next_scanline);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out_data = error.encoded;
    *out_size = (size_t)error.encoded_size;
    return CIC_OK;
}

void cic_free(void *pointer) { free(pointer); }
