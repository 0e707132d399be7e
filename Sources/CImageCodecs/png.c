/* PNG decoding and encoding through libpng, with libpng's longjmp-based error
   reporting kept inside this file. */
#include "cimagecodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

/* What the read and error callbacks share. */
typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
    int truncated;
    char *message;
} cic_png_reader;

static void cic_png_read(png_structp png, png_bytep target, size_t length) {
    cic_png_reader *reader = (cic_png_reader *)png_get_io_ptr(png);
    if (length > reader->size - reader->offset) {
        reader->truncated = 1;
        png_error(png, "image data is truncated (premature end of file)");
    }
    memcpy(target, reader->data + reader->offset, length);
    reader->offset += length;
}

static void cic_png_error(png_structp png, png_const_charp text) {
    char **message = (char **)png_get_error_ptr(png);
    snprintf(*message, CIC_MESSAGE_CAPACITY, "PNG: %s", text);
    png_longjmp(png, 1);
}

static void cic_png_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

int cic_decode_png(const uint8_t *data, size_t size, uint64_t max_pixels,
                   cic_image *out, char *message) {
    cic_png_reader reader = {data, size, 0, 0, message};
    char *error_target = message;
    png_structp png = NULL;
    png_infop info = NULL;
    uint8_t *volatile raw = NULL;
    uint8_t *volatile pixels = NULL;
    png_bytepp volatile rows = NULL;

    message[0] = 0;
    if (size < 8) {
        snprintf(message, CIC_MESSAGE_CAPACITY,
                 size == 0 ? "PNG: file is empty" : "PNG: file is truncated (%zu bytes)", size);
        return CIC_ERR_TRUNCATED;
    }
    if (png_sig_cmp(data, 0, 8) != 0) {
        snprintf(message, CIC_MESSAGE_CAPACITY, "PNG: not a PNG file (bad signature)");
        return CIC_ERR_FORMAT;
    }
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &error_target, cic_png_error,
                                 cic_png_warning);
    if (png) {
        info = png_create_info_struct(png);
    }
    if (!png || !info) {
        png_destroy_read_struct(&png, &info, NULL);
        snprintf(message, CIC_MESSAGE_CAPACITY, "PNG: out of memory");
        return CIC_ERR_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(raw);
        free(pixels);
        free(rows);
        /* Read through a volatile lvalue: the flag was set by a callback after
           setjmp, and an optimiser may otherwise reuse the value from before. */
        return ((volatile cic_png_reader *)&reader)->truncated ? CIC_ERR_TRUNCATED : CIC_ERR_FORMAT;
    }
    png_set_read_fn(png, &reader, cic_png_read);
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_read_info(png, info);

    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    uint64_t pixel_count = (uint64_t)width * height;
    if (max_pixels != 0 && pixel_count > max_pixels) {
        snprintf(message, CIC_MESSAGE_CAPACITY,
                 "PNG: image is %ux%u = %llu pixels, above the limit of %llu "
                 "(possible decompression bomb)",
                 (unsigned)width, (unsigned)height, (unsigned long long)pixel_count,
                 (unsigned long long)max_pixels);
        png_destroy_read_struct(&png, &info, NULL);
        return CIC_ERR_TOO_LARGE;
    }

    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    /* Pillow's PngImagePlugin._MODES decides the mode. */
    int mode;
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY:
        mode = bit_depth == 1 ? CIC_MODE_1 : (bit_depth == 16 ? CIC_MODE_I16 : CIC_MODE_L);
        break;
    case PNG_COLOR_TYPE_PALETTE:
        mode = CIC_MODE_P;
        break;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        mode = CIC_MODE_LA;
        break;
    case PNG_COLOR_TYPE_RGB_ALPHA:
        mode = CIC_MODE_RGBA;
        break;
    default:
        mode = CIC_MODE_RGB;
        break;
    }
    int channels = mode == CIC_MODE_P ? 3 : (int)png_get_channels(png, info);
    int sample_bytes = mode == CIC_MODE_I16 ? 2 : 1;
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        /* Expands tRNS to a fourth (alpha) sample too; it is dropped below. */
        png_set_palette_to_rgb(png);
    }
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) {
        png_set_expand_gray_1_2_4_to_8(png);
    }
    if (bit_depth == 16 && mode != CIC_MODE_I16) {
        png_set_strip_16(png);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int decoded_channels = png_get_channels(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    size_t pixel_bytes = (size_t)channels * (size_t)sample_bytes;
    raw = malloc(row_bytes * height);
    pixels = malloc((size_t)pixel_count * pixel_bytes);
    rows = malloc(sizeof(png_bytep) * height);
    if (!raw || !pixels || !rows) {
        snprintf(message, CIC_MESSAGE_CAPACITY, "PNG: out of memory for %ux%u image",
                 (unsigned)width, (unsigned)height);
        png_destroy_read_struct(&png, &info, NULL);
        free(raw);
        free(pixels);
        free(rows);
        return CIC_ERR_MEMORY;
    }
    for (png_uint_32 y = 0; y < height; y++) {
        rows[y] = raw + row_bytes * y;
    }
    png_read_image(png, rows);

    uint8_t *target = pixels;
    for (png_uint_32 y = 0; y < height; y++) {
        const uint8_t *s = rows[y];
        if (mode == CIC_MODE_I16) {
            /* Big-endian in the file; native uint16 here. */
            uint16_t *samples = (uint16_t *)(void *)target;
            for (png_uint_32 x = 0; x < width; x++) {
                samples[x] = (uint16_t)(((unsigned)s[2 * x] << 8) | s[2 * x + 1]);
            }
        } else if (decoded_channels == channels) {
            memcpy(target, s, (size_t)width * pixel_bytes);
        } else {
            /* A palette expanded with tRNS: keep R, G, B. */
            for (png_uint_32 x = 0; x < width; x++) {
                memcpy(target + (size_t)channels * x, s + (size_t)decoded_channels * x, (size_t)channels);
            }
        }
        target += (size_t)width * pixel_bytes;
    }

    out->width = (int32_t)width;
    out->height = (int32_t)height;
    out->mode = mode;
    out->channels = channels;
    out->bytes_per_sample = sample_bytes;
    out->pixels = pixels;
    png_destroy_read_struct(&png, &info, NULL);
    free(raw);
    free(rows);
    return CIC_OK;
}

/* A growing output buffer for the encoder. */
typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
} cic_png_writer;

static void cic_png_write(png_structp png, png_bytep source, size_t length) {
    cic_png_writer *writer = (cic_png_writer *)png_get_io_ptr(png);
    if (length > writer->capacity - writer->size) {
        size_t capacity = writer->capacity ? writer->capacity : 4096;
        while (length > capacity - writer->size) {
            capacity *= 2;
        }
        uint8_t *grown = realloc(writer->data, capacity);
        if (!grown) {
            png_error(png, "out of memory");
        }
        writer->data = grown;
        writer->capacity = capacity;
    }
    memcpy(writer->data + writer->size, source, length);
    writer->size += length;
}

static void cic_png_flush(png_structp png) { (void)png; }

int cic_encode_png(const uint8_t *rgb, int32_t width, int32_t height,
                   uint8_t **out_data, size_t *out_size, char *message) {
    cic_png_writer writer = {NULL, 0, 0};
    char *error_target = message;
    png_structp png = NULL;
    png_infop info = NULL;

    message[0] = 0;
    if (width <= 0 || height <= 0) {
        snprintf(message, CIC_MESSAGE_CAPACITY, "PNG: cannot encode a %dx%d image", width, height);
        return CIC_ERR_ARGUMENT;
    }
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &error_target, cic_png_error,
                                  cic_png_warning);
    if (png) {
        info = png_create_info_struct(png);
    }
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        snprintf(message, CIC_MESSAGE_CAPACITY, "PNG: out of memory");
        return CIC_ERR_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(writer.data);
        return CIC_ERR_FORMAT;
    }
    png_set_write_fn(png, &writer, cic_png_write, cic_png_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t row_bytes = (size_t)width * 3;
    for (int32_t y = 0; y < height; y++) {
        png_write_row(png, (png_const_bytep)(rgb + row_bytes * (size_t)y));
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    *out_data = writer.data;
    *out_size = writer.size;
    return CIC_OK;
}
