/* Tests of every libcleanclip entry point: NULL pointers, zero counts, short buffers, bad files,
 * invalid UTF-8, struct sizes; parity with open_clip's reference embeddings; and encoding from
 * several threads on one model handle. Run under AddressSanitizer by scripts/test_bindings.sh.
 *
 *   test_cabi FIXTURE_DIR OUT_DIR
 * FIXTURE_DIR holds what bindings/python/tests/fixtures.py makes; MODELS is the committed
 * Tests/Fixtures/models directory (compile-time -DMODELS_DIR). Embeddings for the
 * cross-language comparison are written to OUT_DIR.
 */
#include <cleanclip.h>

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MODELS_DIR
#error "compile with -DMODELS_DIR=\"<repo>/Tests/Fixtures/models\""
#endif

static int failures = 0, checks = 0;
static const char *fixtures, *outdir;

#define EXPECT(cond, ...)                                                   \
    do {                                                                    \
        checks++;                                                           \
        if (!(cond)) {                                                      \
            failures++;                                                     \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                   \
            fprintf(stderr, "\n");                                          \
        }                                                                   \
    } while (0)

/* The call returns `status` and leaves a non-empty message mentioning `fragment`. */
#define EXPECT_STATUS(call, status, fragment)                                                              \
    do {                                                                                                   \
        int s_ = (call);                                                                                   \
        const char *m_ = cleanclip_last_error();                                                           \
        EXPECT(s_ == (status), "%s returned %s (%s), expected %s", #call, cleanclip_status_name(s_), m_,  \
               cleanclip_status_name(status));                                                             \
        if ((status) != CLEANCLIP_OK) {                                                                    \
            EXPECT(m_ && strstr(m_, (fragment)) != NULL, "message \"%s\" lacks \"%s\"", m_, (fragment)); \
        } else {                                                                                           \
            EXPECT(m_ && m_[0] == 0, "message after success is \"%s\"", m_);                             \
        }                                                                                                  \
    } while (0)

#define OK(call) EXPECT_STATUS(call, CLEANCLIP_OK, "")

static char *path_in(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void *read_file(const char *dir, const char *name, size_t *bytes) {
    char *p = path_in(dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", p);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1); /* NUL-terminated, for the text files */
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) exit(2);
    buf[n] = 0;
    fclose(f);
    free(p);
    if (bytes) *bytes = (size_t)n;
    return buf;
}

static void write_file(const char *name, const void *data, size_t bytes) {
    char *p = path_in(outdir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, bytes, f) != bytes) {
        fprintf(stderr, "cannot write %s\n", p);
        exit(2);
    }
    fclose(f);
    free(p);
}

/* max |a - b| / max(1, max |b|): the tolerance convention of the Swift parity tests. */
static float rel_diff(const float *a, const float *b, size_t n) {
    float m = 0, scale = 1;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
        if (fabsf(b[i]) > scale) scale = fabsf(b[i]);
    }
    return m / scale;
}

static cleanclip_model *load(const char *path) {
    cleanclip_model *m = NULL;
    int s = cleanclip_model_load(path, NULL, &m);
    if (s != CLEANCLIP_OK) {
        fprintf(stderr, "cannot load %s: %s\n", path, cleanclip_last_error());
        exit(2);
    }
    return m;
}

static cleanclip_model_info info_of(const cleanclip_model *m) {
    cleanclip_model_info info = {.struct_size = sizeof info};
    OK(cleanclip_model_get_info(m, &info));
    return info;
}

/* ---- version, statuses, layout ---------------------------------------------------------- */

static void test_version_and_statuses(void) {
    EXPECT(cleanclip_version() == CLEANCLIP_VERSION, "library %u vs header %d", cleanclip_version(), CLEANCLIP_VERSION);
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", CLEANCLIP_VERSION_MAJOR, CLEANCLIP_VERSION_MINOR,
             CLEANCLIP_VERSION_PATCH);
    EXPECT(strcmp(cleanclip_version_string(), expected) == 0, "%s", cleanclip_version_string());
    EXPECT(strcmp(cleanclip_status_name(CLEANCLIP_OK), "CLEANCLIP_OK") == 0, "ok");
    EXPECT(strcmp(cleanclip_status_name(CLEANCLIP_BUFFER_TOO_SMALL), "CLEANCLIP_BUFFER_TOO_SMALL") == 0, "bts");
    EXPECT(strcmp(cleanclip_status_name(CLEANCLIP_INTERNAL), "CLEANCLIP_INTERNAL") == 0, "internal");
    EXPECT(strcmp(cleanclip_status_name(-1), "CLEANCLIP_UNKNOWN_STATUS") == 0, "unknown");
    EXPECT(strcmp(cleanclip_status_name(11), "CLEANCLIP_UNKNOWN_STATUS") == 0, "unknown");
    EXPECT(cleanclip_last_error() != NULL, "never NULL");
    int32_t threads = cleanclip_get_num_threads();
    EXPECT(threads >= 1, "%d threads", threads);
    EXPECT_STATUS(cleanclip_set_num_threads(0), CLEANCLIP_INVALID_ARGUMENT, "at least 1");
    OK(cleanclip_set_num_threads(threads));
}

struct field {
    const char *name;
    size_t offset, size;
};

static void check_layout(const char *name, size_t size, const struct field *fields, size_t n) {
    size_t lib_size = 0, lib_n = 0;
    OK(cleanclip_struct_layout(name, &lib_size, &lib_n));
    EXPECT(lib_size == size, "%s: library sizeof %zu, header %zu", name, lib_size, size);
    EXPECT(lib_n == n, "%s: library has %zu fields, header %zu", name, lib_n, n);
    for (size_t i = 0; i < n && i < lib_n; i++) {
        const char *fname = NULL;
        size_t off = 0, fsize = 0;
        OK(cleanclip_struct_field(name, i, &fname, &off, &fsize));
        EXPECT(fname && strcmp(fname, fields[i].name) == 0, "%s field %zu: %s vs %s", name, i, fname, fields[i].name);
        EXPECT(off == fields[i].offset && fsize == fields[i].size, "%s.%s: library offset %zu size %zu, header %zu %zu",
               name, fields[i].name, off, fsize, fields[i].offset, fields[i].size);
    }
    const char *fname;
    size_t off, fsize;
    EXPECT_STATUS(cleanclip_struct_field(name, n, &fname, &off, &fsize), CLEANCLIP_INVALID_ARGUMENT, "out of range");
}

#define F(type, member) {#member, offsetof(type, member), sizeof(((type *)0)->member)}

static void test_layout(void) {
    const struct field options[] = {F(cleanclip_model_options, struct_size), F(cleanclip_model_options, activation),
                                    F(cleanclip_model_options, num_threads)};
    check_layout("cleanclip_model_options", sizeof(cleanclip_model_options), options, 3);
    const struct field info[] = {F(cleanclip_model_info, struct_size),    F(cleanclip_model_info, architecture),
                                 F(cleanclip_model_info, embed_dim),      F(cleanclip_model_info, image_size),
                                 F(cleanclip_model_info, context_length), F(cleanclip_model_info, vocab_size),
                                 F(cleanclip_model_info, logit_scale),    F(cleanclip_model_info, temperature)};
    check_layout("cleanclip_model_info", sizeof(cleanclip_model_info), info, 8);
    size_t a, b;
    EXPECT_STATUS(cleanclip_struct_layout("nope", &a, &b), CLEANCLIP_INVALID_ARGUMENT, "unknown struct");
    EXPECT_STATUS(cleanclip_struct_layout(NULL, &a, &b), CLEANCLIP_NULL_POINTER, "struct_name");
    EXPECT_STATUS(cleanclip_struct_layout("cleanclip_model_info", NULL, &b), CLEANCLIP_NULL_POINTER, "size");
    EXPECT_STATUS(cleanclip_struct_field("cleanclip_model_info", 0, NULL, &a, &b), CLEANCLIP_NULL_POINTER,
                  "field_name");
}

/* ---- options and loading ---------------------------------------------------------------- */

static void test_options_and_load(void) {
    cleanclip_model_options o;
    memset(&o, 0xAB, sizeof o);
    OK(cleanclip_model_default_options(&o, sizeof o));
    EXPECT(o.struct_size == sizeof o && o.activation == 0 && o.num_threads == 0, "defaults");
    EXPECT_STATUS(cleanclip_model_default_options(NULL, sizeof o), CLEANCLIP_NULL_POINTER, "options");
    EXPECT_STATUS(cleanclip_model_default_options(&o, 4), CLEANCLIP_INVALID_ARGUMENT, "struct_size");
    EXPECT_STATUS(cleanclip_model_default_options(&o, sizeof o + 8), CLEANCLIP_INVALID_ARGUMENT, "newer");
    /* An older, smaller struct (only struct_size and activation): bytes beyond stay untouched. */
    unsigned char small[16];
    memset(small, 0xCD, sizeof small);
    OK(cleanclip_model_default_options((cleanclip_model_options *)small, 12));
    EXPECT(small[12] == 0xCD && small[15] == 0xCD, "wrote past struct_size");

    char *vit = path_in(MODELS_DIR, "vit_quickgelu.safetensors");
    cleanclip_model *m = (cleanclip_model *)&o; /* must be reset to NULL on failure */
    EXPECT_STATUS(cleanclip_model_load(NULL, NULL, &m), CLEANCLIP_NULL_POINTER, "path");
    EXPECT(m == NULL, "out reset on failure");
    EXPECT_STATUS(cleanclip_model_load(vit, NULL, NULL), CLEANCLIP_NULL_POINTER, "out");
    EXPECT_STATUS(cleanclip_model_load("", NULL, &m), CLEANCLIP_INVALID_ARGUMENT, "empty");
    EXPECT_STATUS(cleanclip_model_load("/no/such/model.safetensors", NULL, &m), CLEANCLIP_IO_ERROR,
                  "no such file");
    EXPECT_STATUS(cleanclip_model_load("bad\xff\xfe.safetensors", NULL, &m), CLEANCLIP_INVALID_ARGUMENT, "UTF-8");
    char *corrupt = path_in(outdir, "corrupt.safetensors");
    FILE *f = fopen(corrupt, "wb");
    fputs("this is not a checkpoint at all, just some text", f);
    fclose(f);
    EXPECT_STATUS(cleanclip_model_load(corrupt, NULL, &m), CLEANCLIP_FORMAT_ERROR, "corrupt.safetensors");
    EXPECT(m == NULL, "out reset on failure");
    EXPECT_STATUS(cleanclip_model_load(outdir, NULL, &m), CLEANCLIP_FORMAT_ERROR, "config.json");
    free(corrupt);

    OK(cleanclip_model_default_options(&o, sizeof o));
    o.activation = 7;
    EXPECT_STATUS(cleanclip_model_load(vit, &o, &m), CLEANCLIP_INVALID_ARGUMENT, "activation");
    o.activation = 0;
    o.num_threads = -1;
    EXPECT_STATUS(cleanclip_model_load(vit, &o, &m), CLEANCLIP_INVALID_ARGUMENT, "num_threads");
    o.num_threads = 0;
    o.struct_size = sizeof o + 16;
    EXPECT_STATUS(cleanclip_model_load(vit, &o, &m), CLEANCLIP_INVALID_ARGUMENT, "newer than libcleanclip");
    o.struct_size = 12; /* older header without num_threads: accepted */
    OK(cleanclip_model_load(vit, &o, &m));
    EXPECT(m != NULL, "loaded");

    cleanclip_model_info info = {.struct_size = sizeof info};
    OK(cleanclip_model_get_info(m, &info));
    EXPECT(strncmp(info.architecture, "ViT", 3) == 0, "%s", info.architecture);
    EXPECT(info.embed_dim == 32 && info.image_size == 32 && info.context_length == 77 && info.vocab_size == 1000,
           "%d %d %d %d", info.embed_dim, info.image_size, info.context_length, info.vocab_size);
    EXPECT(fabsf(info.logit_scale - 2.6592f) < 1e-3f && fabsf(info.temperature - expf(info.logit_scale)) < 1e-4f,
           "%f %f", info.logit_scale, info.temperature);
    EXPECT_STATUS(cleanclip_model_get_info(NULL, &info), CLEANCLIP_NULL_POINTER, "model");
    EXPECT_STATUS(cleanclip_model_get_info(m, NULL), CLEANCLIP_NULL_POINTER, "info");
    info.struct_size = 0;
    EXPECT_STATUS(cleanclip_model_get_info(m, &info), CLEANCLIP_INVALID_ARGUMENT, "struct_size");
    info.struct_size = sizeof info + 1;
    EXPECT_STATUS(cleanclip_model_get_info(m, &info), CLEANCLIP_INVALID_ARGUMENT, "newer");
    /* An older info struct holding only struct_size and architecture: nothing beyond is written. */
    cleanclip_model_info partial;
    memset(&partial, 0x5A, sizeof partial);
    partial.struct_size = offsetof(cleanclip_model_info, embed_dim);
    OK(cleanclip_model_get_info(m, &partial));
    EXPECT(partial.architecture[0] == 'V' && partial.embed_dim == 0x5A5A5A5A, "partial info");
    cleanclip_model_free(m);

    /* Options select GELU for a GELU checkpoint, and HF directories load. */
    cleanclip_model *hf = NULL;
    char *hfdir = path_in(MODELS_DIR, "hf_vit");
    OK(cleanclip_model_load(hfdir, NULL, &hf));
    cleanclip_model_free(hf);
    free(hfdir);

    cleanclip_model_free(NULL);
    cleanclip_classifier_free(NULL);
    EXPECT(cleanclip_classifier_num_classes(NULL) == 0, "num_classes(NULL)");
    free(vit);
}

/* ---- parity with open_clip -------------------------------------------------------------- */

static void test_parity(const char *name) {
    char file[256];
    snprintf(file, sizeof file, "%s.safetensors", name);
    char *model_path = path_in(MODELS_DIR, file);
    cleanclip_model *m = load(model_path);
    free(model_path);
    cleanclip_model_info info = info_of(m);
    int n_img, size, n_txt, e;
    snprintf(file, sizeof file, "%s_shapes.txt", name);
    char *shapes = read_file(fixtures, file, NULL);
    if (sscanf(shapes, "%d %d %d %d", &n_img, &size, &n_txt, &e) != 4) exit(2);
    free(shapes);
    EXPECT(size == info.image_size && e == info.embed_dim, "shapes");

    snprintf(file, sizeof file, "%s_pixels.bin", name);
    float *pixels = read_file(fixtures, file, NULL);
    snprintf(file, sizeof file, "%s_tokens.bin", name);
    int32_t *tokens = read_file(fixtures, file, NULL);
    snprintf(file, sizeof file, "%s_image.bin", name);
    float *ref_image = read_file(fixtures, file, NULL);
    snprintf(file, sizeof file, "%s_text.bin", name);
    float *ref_text = read_file(fixtures, file, NULL);

    size_t ni = (size_t)n_img * (size_t)e, nt = (size_t)n_txt * (size_t)e;
    float *image = malloc(ni * sizeof(float)), *text = malloc(nt * sizeof(float));
    size_t needed = 0;
    OK(cleanclip_encode_pixels(m, pixels, (size_t)n_img, 0, image, ni, &needed));
    EXPECT(needed == ni, "needed %zu", needed);
    float d = rel_diff(image, ref_image, ni);
    EXPECT(d <= 1e-4f, "%s image embeddings differ from open_clip by %g", name, d);
    printf("  %s: image vs open_clip %.2e", name, d);
    OK(cleanclip_encode_tokens(m, tokens, (size_t)n_txt, 0, text, nt, &needed));
    d = rel_diff(text, ref_text, nt);
    EXPECT(d <= 1e-4f, "%s text embeddings differ from open_clip by %g", name, d);
    printf(", text %.2e\n", d);
    snprintf(file, sizeof file, "c_%s_image.bin", name);
    write_file(file, image, ni * sizeof(float));
    snprintf(file, sizeof file, "c_%s_text.bin", name);
    write_file(file, text, nt * sizeof(float));

    /* normalize flag: unit rows, same direction. */
    float *unit = malloc(ni * sizeof(float));
    OK(cleanclip_encode_pixels(m, pixels, (size_t)n_img, 1, unit, ni, NULL));
    for (int i = 0; i < n_img; i++) {
        float s = 0;
        for (int j = 0; j < e; j++) s += unit[i * e + j] * unit[i * e + j];
        EXPECT(fabsf(s - 1) < 1e-5f, "row %d norm^2 %f", i, s);
    }

    /* Errors: NULLs, zero counts, short buffers (needed reported, buffer untouched), bad ids. */
    EXPECT_STATUS(cleanclip_encode_pixels(NULL, pixels, 1, 0, image, ni, NULL), CLEANCLIP_NULL_POINTER, "model");
    EXPECT_STATUS(cleanclip_encode_pixels(m, NULL, 1, 0, image, ni, NULL), CLEANCLIP_NULL_POINTER, "pixels");
    EXPECT_STATUS(cleanclip_encode_pixels(m, pixels, 1, 0, NULL, ni, NULL), CLEANCLIP_NULL_POINTER, "embeddings");
    EXPECT_STATUS(cleanclip_encode_pixels(m, pixels, 0, 0, image, ni, NULL), CLEANCLIP_INVALID_ARGUMENT, "is 0");
    image[0] = 12345;
    needed = 0;
    EXPECT_STATUS(cleanclip_encode_pixels(m, pixels, (size_t)n_img, 0, image, ni - 1, &needed),
                  CLEANCLIP_BUFFER_TOO_SMALL, "capacity");
    EXPECT(needed == ni && image[0] == 12345, "needed %zu", needed);
    EXPECT_STATUS(cleanclip_encode_pixels(m, pixels, SIZE_MAX / 2, 0, image, ni, NULL), CLEANCLIP_OUT_OF_MEMORY,
                  "too large");
    EXPECT_STATUS(cleanclip_encode_tokens(NULL, tokens, 1, 0, text, nt, NULL), CLEANCLIP_NULL_POINTER, "model");
    EXPECT_STATUS(cleanclip_encode_tokens(m, NULL, 1, 0, text, nt, NULL), CLEANCLIP_NULL_POINTER, "tokens");
    EXPECT_STATUS(cleanclip_encode_tokens(m, tokens, 0, 0, text, nt, NULL), CLEANCLIP_INVALID_ARGUMENT, "is 0");
    EXPECT_STATUS(cleanclip_encode_tokens(m, tokens, (size_t)n_txt, 0, text, 3, &needed), CLEANCLIP_BUFFER_TOO_SMALL,
                  "capacity");
    EXPECT(needed == nt, "needed %zu", needed);
    int32_t saved = tokens[77 + 5];
    tokens[77 + 5] = 1000000;
    EXPECT_STATUS(cleanclip_encode_tokens(m, tokens, (size_t)n_txt, 0, text, nt, NULL), CLEANCLIP_SHAPE_MISMATCH,
                  "text 1, position 5");
    tokens[77 + 5] = -3;
    EXPECT_STATUS(cleanclip_encode_tokens(m, tokens, (size_t)n_txt, 0, text, nt, NULL), CLEANCLIP_SHAPE_MISMATCH,
                  "outside the vocabulary");
    tokens[77 + 5] = saved;

    free(unit);
    free(pixels);
    free(tokens);
    free(ref_image);
    free(ref_text);
    free(image);
    free(text);
    cleanclip_model_free(m);
}

/* ---- text, images, preprocessing, zero-shot (full-vocabulary model) ---------------------- */

static const char *captions[] = {"a photo of a cat", "a diagram of a transformer", "\xc3\x9c" "n\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 text \xe6\x9d\xb1\xe4\xba\xac"};
#define N_CAPTIONS 3

static void test_tokenize(void) {
    const char *texts[] = {"a photo of a cat"};
    int32_t tokens[2 * 77];
    size_t needed = 0;
    OK(cleanclip_tokenize(texts, 1, 77, 1, tokens, 77, &needed));
    const int32_t expected[] = {49406, 320, 1125, 539, 320, 2368, 49407, 0};
    EXPECT(memcmp(tokens, expected, sizeof expected) == 0 && needed == 77, "tokens %d %d %d", tokens[0], tokens[1],
           tokens[6]);
    EXPECT_STATUS(cleanclip_tokenize(NULL, 1, 77, 1, tokens, 77, NULL), CLEANCLIP_NULL_POINTER, "texts");
    EXPECT_STATUS(cleanclip_tokenize(texts, 0, 77, 1, tokens, 77, NULL), CLEANCLIP_INVALID_ARGUMENT, "is 0");
    EXPECT_STATUS(cleanclip_tokenize(texts, 1, 1, 1, tokens, 77, NULL), CLEANCLIP_INVALID_ARGUMENT, "context_length");
    EXPECT_STATUS(cleanclip_tokenize(texts, 1, 77, 1, NULL, 77, NULL), CLEANCLIP_NULL_POINTER, "tokens");
    EXPECT_STATUS(cleanclip_tokenize(texts, 1, 77, 1, tokens, 76, &needed), CLEANCLIP_BUFFER_TOO_SMALL, "capacity");
    EXPECT(needed == 77, "needed");
    const char *with_null[] = {"ok", NULL};
    EXPECT_STATUS(cleanclip_tokenize(with_null, 2, 77, 1, tokens, 154, NULL), CLEANCLIP_NULL_POINTER, "texts[1]");
    const char *bad_utf8[] = {"ok", "caf\xe9"};
    EXPECT_STATUS(cleanclip_tokenize(bad_utf8, 2, 77, 1, tokens, 154, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "texts[1] is not valid UTF-8");
    const char *long_text[] = {"a b c d e f g h i j k l m n o p"};
    OK(cleanclip_tokenize(long_text, 1, 8, 1, tokens, 8, NULL));
    EXPECT(tokens[7] == 49407, "truncated text ends with the end token");
    EXPECT_STATUS(cleanclip_tokenize(long_text, 1, 8, 0, tokens, 8, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "context length");
}

static void test_texts_images_zero_shot(void) {
    char *model_path = path_in(fixtures, "text_model.safetensors");
    cleanclip_model *m = load(model_path);
    cleanclip_model_info info = info_of(m);
    size_t e = (size_t)info.embed_dim, s = (size_t)info.image_size;

    /* encode_texts == encode_tokens(tokenize(texts)). */
    float text[N_CAPTIONS * 64], via_tokens[N_CAPTIONS * 64];
    int32_t tokens[N_CAPTIONS * 77];
    size_t needed = 0;
    OK(cleanclip_encode_texts(m, captions, N_CAPTIONS, 1, text, N_CAPTIONS * e, &needed));
    EXPECT(needed == N_CAPTIONS * e, "needed");
    OK(cleanclip_tokenize(captions, N_CAPTIONS, 77, 1, tokens, N_CAPTIONS * 77, NULL));
    OK(cleanclip_encode_tokens(m, tokens, N_CAPTIONS, 1, via_tokens, N_CAPTIONS * e, NULL));
    EXPECT(memcmp(text, via_tokens, N_CAPTIONS * e * sizeof(float)) == 0, "texts vs tokens");
    write_file("c_texts.bin", text, N_CAPTIONS * e * sizeof(float));
    EXPECT_STATUS(cleanclip_encode_texts(m, NULL, 1, 1, text, e, NULL), CLEANCLIP_NULL_POINTER, "texts");
    EXPECT_STATUS(cleanclip_encode_texts(m, captions, 0, 1, text, e, NULL), CLEANCLIP_INVALID_ARGUMENT, "is 0");
    EXPECT_STATUS(cleanclip_encode_texts(m, captions, 2, 1, text, e, &needed), CLEANCLIP_BUFFER_TOO_SMALL, "capacity");
    const char *bad[] = {"\xff"};
    EXPECT_STATUS(cleanclip_encode_texts(m, bad, 1, 1, text, e, NULL), CLEANCLIP_INVALID_ARGUMENT, "UTF-8");
    char *small_vocab = path_in(MODELS_DIR, "vit_quickgelu.safetensors");
    cleanclip_model *m1000 = load(small_vocab);
    EXPECT_STATUS(cleanclip_encode_texts(m1000, captions, 1, 1, text, e, NULL), CLEANCLIP_SHAPE_MISMATCH,
                  "vocabulary");
    cleanclip_model_free(m1000);
    free(small_vocab);

    /* Files: encode_image_files == encode_pixels(preprocess_file). */
    const char *names[] = {"images/gradient.png", "images/noise.png", "images/red.png"};
    const char *paths[3];
    for (int i = 0; i < 3; i++) paths[i] = path_in(fixtures, names[i]);
    float files[3 * 64], via_pixels[3 * 64];
    float *pixels = malloc(3 * 3 * s * s * sizeof(float));
    OK(cleanclip_encode_image_files(m, paths, 3, 1, files, 3 * e, NULL));
    for (int i = 0; i < 3; i++) OK(cleanclip_preprocess_file(paths[i], (int32_t)s, pixels + i * 3 * s * s, 3 * s * s, NULL));
    OK(cleanclip_encode_pixels(m, pixels, 3, 1, via_pixels, 3 * e, NULL));
    EXPECT(memcmp(files, via_pixels, 3 * e * sizeof(float)) == 0, "files vs pixels");
    write_file("c_files.bin", files, 3 * e * sizeof(float));
    const char *missing[] = {paths[0], "/no/such/image.png"};
    EXPECT_STATUS(cleanclip_encode_image_files(m, missing, 2, 1, files, 3 * e, NULL), CLEANCLIP_IO_ERROR,
                  "/no/such/image.png");
    char *corrupt = path_in(outdir, "corrupt.png");
    FILE *f = fopen(corrupt, "wb");
    fputs("\x89PNG\r\n\x1a\n garbage", f);
    fclose(f);
    const char *corrupt_list[] = {corrupt};
    EXPECT_STATUS(cleanclip_encode_image_files(m, corrupt_list, 1, 1, files, 3 * e, NULL), CLEANCLIP_FORMAT_ERROR,
                  "corrupt.png");
    EXPECT_STATUS(cleanclip_encode_image_files(m, paths, 0, 1, files, 3 * e, NULL), CLEANCLIP_INVALID_ARGUMENT, "is 0");
    EXPECT_STATUS(cleanclip_encode_image_files(m, NULL, 1, 1, files, 3 * e, NULL), CLEANCLIP_NULL_POINTER, "paths");
    EXPECT_STATUS(cleanclip_encode_image_files(m, paths, 3, 1, files, e, &needed), CLEANCLIP_BUFFER_TOO_SMALL,
                  "capacity");
    EXPECT(needed == 3 * e, "needed");

    /* RGB8: encode_rgb8 == encode_pixels(preprocess_rgb8), for a batch of two 20 x 30 images. */
    uint8_t rgb[2 * 30 * 20 * 3];
    for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(i * 37 % 251);
    float from_rgb[2 * 64];
    OK(cleanclip_encode_rgb8(m, rgb, 2, 20, 30, 1, from_rgb, 2 * e, NULL));
    for (int i = 0; i < 2; i++)
        OK(cleanclip_preprocess_rgb8(rgb + i * 30 * 20 * 3, 20, 30, (int32_t)s, pixels + i * 3 * s * s, 3 * s * s, NULL));
    OK(cleanclip_encode_pixels(m, pixels, 2, 1, via_pixels, 2 * e, NULL));
    EXPECT(memcmp(from_rgb, via_pixels, 2 * e * sizeof(float)) == 0, "rgb8 vs pixels");
    EXPECT_STATUS(cleanclip_encode_rgb8(m, NULL, 1, 20, 30, 1, from_rgb, e, NULL), CLEANCLIP_NULL_POINTER, "rgb");
    EXPECT_STATUS(cleanclip_encode_rgb8(m, rgb, 1, 0, 30, 1, from_rgb, e, NULL), CLEANCLIP_INVALID_ARGUMENT, "positive");
    EXPECT_STATUS(cleanclip_encode_rgb8(m, rgb, 0, 20, 30, 1, from_rgb, e, NULL), CLEANCLIP_INVALID_ARGUMENT, "is 0");
    EXPECT_STATUS(cleanclip_encode_rgb8(m, rgb, 1, SIZE_MAX, 30, 1, from_rgb, e, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "too large");
    EXPECT_STATUS(cleanclip_encode_rgb8(m, rgb, 2, 20, 30, 1, from_rgb, e, &needed), CLEANCLIP_BUFFER_TOO_SMALL,
                  "capacity");

    /* Preprocessing arguments. */
    float px[3 * 4 * 4];
    EXPECT_STATUS(cleanclip_preprocess_file(paths[0], 0, px, 48, NULL), CLEANCLIP_INVALID_ARGUMENT, "size");
    EXPECT_STATUS(cleanclip_preprocess_file(paths[0], 5000, px, 48, NULL), CLEANCLIP_INVALID_ARGUMENT, "size");
    EXPECT_STATUS(cleanclip_preprocess_file(paths[0], 4, px, 47, &needed), CLEANCLIP_BUFFER_TOO_SMALL, "capacity");
    EXPECT(needed == 48, "needed");
    OK(cleanclip_preprocess_file(paths[0], 4, px, 48, NULL));
    EXPECT_STATUS(cleanclip_preprocess_file(NULL, 4, px, 48, NULL), CLEANCLIP_NULL_POINTER, "path");
    EXPECT_STATUS(cleanclip_preprocess_file(paths[0], 4, NULL, 48, NULL), CLEANCLIP_NULL_POINTER, "pixels");
    EXPECT_STATUS(cleanclip_preprocess_file("/no/such.png", 4, px, 48, NULL), CLEANCLIP_IO_ERROR, "/no/such.png");
    EXPECT_STATUS(cleanclip_preprocess_rgb8(NULL, 2, 2, 4, px, 48, NULL), CLEANCLIP_NULL_POINTER, "rgb");
    EXPECT_STATUS(cleanclip_preprocess_rgb8(rgb, 2, 0, 4, px, 48, NULL), CLEANCLIP_INVALID_ARGUMENT, "positive");
    OK(cleanclip_preprocess_rgb8(rgb, 1, 1, 4, px, 48, NULL));

    /* Zero-shot. */
    const char *classes[] = {"cat", "dog", "red square"};
    const char *templates[] = {"a photo of a {}.", "{}"};
    cleanclip_classifier *c = NULL;
    OK(cleanclip_classifier_create(m, classes, 3, templates, 2, &c));
    EXPECT(cleanclip_classifier_num_classes(c) == 3, "classes");
    float class_emb[3 * 64];
    OK(cleanclip_classifier_class_embeddings(c, class_emb, 3 * e, &needed));
    EXPECT(needed == 3 * e, "needed");
    /* class embedding = normalise(mean(normalise(text(template(class))))) */
    for (int k = 0; k < 3; k++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "a photo of a %s.", classes[k]);
        snprintf(b, sizeof b, "%s", classes[k]);
        const char *prompts[] = {a, b};
        float t[2 * 64], mean[64], norm = 0;
        OK(cleanclip_encode_texts(m, prompts, 2, 1, t, 2 * e, NULL));
        for (size_t j = 0; j < e; j++) {
            mean[j] = (t[j] + t[e + j]) / 2;
            norm += mean[j] * mean[j];
        }
        for (size_t j = 0; j < e; j++) mean[j] /= sqrtf(norm);
        float d = rel_diff(class_emb + k * e, mean, e);
        EXPECT(d < 1e-6f, "class %d embedding differs by %g", k, d);
    }
    int32_t idx[3], idx2[3], idx3[3];
    float probs[9], probs2[9], probs3[9];
    OK(cleanclip_classifier_classify_embeddings(c, files, 3, idx, probs, 9, NULL));
    for (int i = 0; i < 3; i++) {
        float sum = 0, best = -1;
        int arg = -1;
        for (int k = 0; k < 3; k++) {
            float sim = 0;
            for (size_t j = 0; j < e; j++) sim += files[i * e + j] * class_emb[k * e + j];
            if (sim > best) best = sim, arg = k;
            sum += probs[i * 3 + k];
        }
        EXPECT(idx[i] == arg && fabsf(sum - 1) < 1e-5f, "image %d: %d vs %d, sum %f", i, idx[i], arg, sum);
        /* softmax(T * sims): p_k / p_0 = exp(T (s_k - s_0)) */
        float s0 = 0, s1 = 0;
        for (size_t j = 0; j < e; j++) s0 += files[i * e + j] * class_emb[j], s1 += files[i * e + j] * class_emb[e + j];
        float ratio = probs[i * 3 + 1] / probs[i * 3 + 0], want = expf(info.temperature * (s1 - s0));
        EXPECT(fabsf(ratio - want) < 1e-4f * want, "softmax ratio %f vs %f", ratio, want);
    }
    OK(cleanclip_classifier_classify_embeddings(c, files, 3, idx2, NULL, 0, NULL));
    EXPECT(memcmp(idx, idx2, sizeof idx) == 0, "indices without probabilities");
    OK(cleanclip_classifier_classify_files(c, paths, 3, idx2, probs2, 9, NULL));
    EXPECT(memcmp(idx, idx2, sizeof idx) == 0 && rel_diff(probs2, probs, 9) < 1e-6f, "files");
    OK(cleanclip_zero_shot_files(m, paths, 3, classes, 3, templates, 2, idx3, probs3, 9, NULL));
    EXPECT(memcmp(idx, idx3, sizeof idx) == 0 && rel_diff(probs3, probs, 9) < 1e-6f, "zero_shot_files");
    write_file("c_zero_shot_probs.bin", probs3, sizeof probs3);
    OK(cleanclip_classifier_classify_rgb8(c, rgb, 2, 20, 30, idx2, probs2, 6, NULL));
    OK(cleanclip_classifier_classify_embeddings(c, from_rgb, 2, idx3, probs3, 6, NULL));
    EXPECT(memcmp(idx2, idx3, 2 * sizeof(int32_t)) == 0 && rel_diff(probs2, probs3, 6) < 1e-6f, "rgb8");

    EXPECT_STATUS(cleanclip_classifier_create(NULL, classes, 3, templates, 2, &c), CLEANCLIP_NULL_POINTER, "model");
    EXPECT(c == NULL, "out reset");
    EXPECT_STATUS(cleanclip_classifier_create(m, classes, 0, templates, 2, &c), CLEANCLIP_INVALID_ARGUMENT, "is 0");
    EXPECT_STATUS(cleanclip_classifier_create(m, classes, 3, templates, 0, &c), CLEANCLIP_INVALID_ARGUMENT, "is 0");
    EXPECT_STATUS(cleanclip_classifier_create(m, classes, 3, NULL, 2, &c), CLEANCLIP_NULL_POINTER, "templates");
    EXPECT_STATUS(cleanclip_classifier_create(m, classes, 3, templates, 2, NULL), CLEANCLIP_NULL_POINTER, "out");
    const char *no_placeholder[] = {"a photo"};
    EXPECT_STATUS(cleanclip_classifier_create(m, classes, 3, no_placeholder, 1, &c), CLEANCLIP_INVALID_ARGUMENT,
                  "placeholder");
    const char *bad_class[] = {"cat", "\xc3"};
    EXPECT_STATUS(cleanclip_classifier_create(m, bad_class, 2, templates, 2, &c), CLEANCLIP_INVALID_ARGUMENT,
                  "classnames[1] is not valid UTF-8");

    /* The classifier keeps its model alive after cleanclip_model_free. */
    OK(cleanclip_classifier_create(m, classes, 3, templates, 2, &c));
    cleanclip_model_free(m);
    OK(cleanclip_classifier_classify_files(c, paths, 3, idx2, probs2, 9, NULL));
    EXPECT(memcmp(idx, idx2, sizeof idx) == 0, "after model free");
    EXPECT_STATUS(cleanclip_classifier_classify_embeddings(NULL, files, 3, idx, probs, 9, NULL), CLEANCLIP_NULL_POINTER,
                  "classifier");
    EXPECT_STATUS(cleanclip_classifier_classify_embeddings(c, NULL, 3, idx, probs, 9, NULL), CLEANCLIP_NULL_POINTER,
                  "image_embeddings");
    EXPECT_STATUS(cleanclip_classifier_classify_embeddings(c, files, 0, idx, probs, 9, NULL),
                  CLEANCLIP_INVALID_ARGUMENT, "is 0");
    EXPECT_STATUS(cleanclip_classifier_classify_embeddings(c, files, 3, NULL, probs, 9, NULL), CLEANCLIP_NULL_POINTER,
                  "indices");
    EXPECT_STATUS(cleanclip_classifier_classify_embeddings(c, files, 3, idx, probs, 8, &needed),
                  CLEANCLIP_BUFFER_TOO_SMALL, "capacity");
    EXPECT(needed == 9, "needed %zu", needed);
    EXPECT_STATUS(cleanclip_classifier_class_embeddings(c, class_emb, 5, &needed), CLEANCLIP_BUFFER_TOO_SMALL,
                  "capacity");
    EXPECT_STATUS(cleanclip_classifier_classify_files(c, missing, 2, idx, probs, 9, NULL), CLEANCLIP_IO_ERROR,
                  "/no/such/image.png");
    EXPECT_STATUS(cleanclip_classifier_classify_rgb8(c, rgb, 1, 0, 3, idx, probs, 9, NULL),
                  CLEANCLIP_INVALID_ARGUMENT, "positive");
    EXPECT_STATUS(cleanclip_zero_shot_files(NULL, paths, 3, classes, 3, templates, 2, idx, probs, 9, NULL),
                  CLEANCLIP_NULL_POINTER, "model");
    cleanclip_classifier_free(c);

    for (int i = 0; i < 3; i++) free((void *)paths[i]);
    free(corrupt);
    free(pixels);
    free(model_path);
}

/* ---- threads ---------------------------------------------------------------------------- */

#define N_THREADS 6
#define ROUNDS 4

struct job {
    const cleanclip_model *model;
    const float *pixels;
    size_t n_pixels;
    const char *const *paths;
    const float *expect_pixels, *expect_texts, *expect_files;
    size_t e;
    int mismatches, errors;
    char first_error[256];
};

static void *worker(void *arg) {
    struct job *j = arg;
    float out[8 * 64];
    for (int r = 0; r < ROUNDS; r++) {
        int s = cleanclip_encode_pixels(j->model, j->pixels, j->n_pixels, 0, out, 8 * j->e, NULL);
        if (s) goto fail;
        if (memcmp(out, j->expect_pixels, j->n_pixels * j->e * sizeof(float)) != 0) j->mismatches++;
        s = cleanclip_encode_texts(j->model, captions, N_CAPTIONS, 1, out, 8 * j->e, NULL);
        if (s) goto fail;
        if (memcmp(out, j->expect_texts, N_CAPTIONS * j->e * sizeof(float)) != 0) j->mismatches++;
        s = cleanclip_encode_image_files(j->model, j->paths, 3, 1, out, 8 * j->e, NULL);
        if (s) goto fail;
        if (memcmp(out, j->expect_files, 3 * j->e * sizeof(float)) != 0) j->mismatches++;
        /* A failing call on this thread leaves its own message, whatever the others do. */
        s = cleanclip_encode_pixels(j->model, j->pixels, 0, 0, out, 8 * j->e, NULL);
        if (s != CLEANCLIP_INVALID_ARGUMENT || !strstr(cleanclip_last_error(), "is 0")) j->errors++;
        continue;
    fail:
        if (!j->errors++) snprintf(j->first_error, sizeof j->first_error, "%s", cleanclip_last_error());
    }
    return NULL;
}

static void test_threads(void) {
    char *model_path = path_in(fixtures, "text_model.safetensors");
    cleanclip_model *m = load(model_path);
    size_t e = (size_t)info_of(m).embed_dim;
    float *pixels = read_file(fixtures, "vit_quickgelu_pixels.bin", NULL);
    const char *names[] = {"images/gradient.png", "images/noise.png", "images/red.png"};
    const char *paths[3];
    for (int i = 0; i < 3; i++) paths[i] = path_in(fixtures, names[i]);
    float expect_pixels[3 * 64], expect_texts[N_CAPTIONS * 64], expect_files[3 * 64];
    OK(cleanclip_encode_pixels(m, pixels, 3, 0, expect_pixels, 3 * e, NULL));
    OK(cleanclip_encode_texts(m, captions, N_CAPTIONS, 1, expect_texts, N_CAPTIONS * e, NULL));
    OK(cleanclip_encode_image_files(m, paths, 3, 1, expect_files, 3 * e, NULL));

    pthread_t threads[N_THREADS];
    struct job jobs[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        jobs[t] = (struct job){m, pixels, 3, paths, expect_pixels, expect_texts, expect_files, e, 0, 0, ""};
        pthread_create(&threads[t], NULL, worker, &jobs[t]);
    }
    int mismatches = 0, errors = 0;
    for (int t = 0; t < N_THREADS; t++) {
        pthread_join(threads[t], NULL);
        mismatches += jobs[t].mismatches;
        errors += jobs[t].errors;
        if (jobs[t].first_error[0]) fprintf(stderr, "thread %d: %s\n", t, jobs[t].first_error);
    }
    EXPECT(mismatches == 0 && errors == 0, "%d of %d concurrent results differ from the single-threaded ones, %d errors",
           mismatches, N_THREADS * ROUNDS * 3, errors);
    printf("  threads: %d threads x %d rounds x 3 encodings on one model, %d mismatches\n", N_THREADS, ROUNDS,
           mismatches);
    /* The main thread's message is untouched by the workers' failures. */
    EXPECT(cleanclip_last_error()[0] == 0, "main thread message: %s", cleanclip_last_error());
    for (int i = 0; i < 3; i++) free((void *)paths[i]);
    free(pixels);
    free(model_path);
    cleanclip_model_free(m);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s FIXTURE_DIR OUT_DIR\n", argv[0]);
        return 2;
    }
    fixtures = argv[1];
    outdir = argv[2];
    test_version_and_statuses();
    test_layout();
    test_options_and_load();
    test_parity("vit_quickgelu");
    test_parity("resnet");
    test_tokenize();
    test_texts_images_zero_shot();
    test_threads();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
