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

#define _POSIX_C_SOURCE 200809L /* mkfifo, alarm */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* As EXPECT_STATUS, and cleanclip_extended_status() is then `extended`. */
#define EXPECT_EXTENDED(call, status, extended, fragment)                                                \
    do {                                                                                                 \
        EXPECT_STATUS(call, status, fragment);                                                           \
        int x_ = cleanclip_extended_status();                                                            \
        EXPECT(x_ == (extended), "%s: extended status %s, expected %s", #call, cleanclip_status_name(x_), \
               cleanclip_status_name(extended));                                                         \
    } while (0)

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
    EXPECT(strcmp(cleanclip_status_name(CLEANCLIP_IO_ERROR_NOT_FOUND), "CLEANCLIP_IO_ERROR_NOT_FOUND") == 0, "extended");
    EXPECT(strcmp(cleanclip_errstr(CLEANCLIP_OK), "Success.") == 0, "%s", cleanclip_errstr(CLEANCLIP_OK));
    EXPECT(strcmp(cleanclip_errstr(CLEANCLIP_IO_ERROR_NOT_FOUND), "A file or directory does not exist.") == 0, "%s",
           cleanclip_errstr(CLEANCLIP_IO_ERROR_NOT_FOUND));
    EXPECT(strcmp(cleanclip_errstr(CLEANCLIP_FORMAT_ERROR | (99 << 8)), cleanclip_errstr(CLEANCLIP_FORMAT_ERROR)) == 0,
           "an unknown extended code reads as its primary status");
    EXPECT(strcmp(cleanclip_errstr(-1), "Unknown status.") == 0, "%s", cleanclip_errstr(-1));
    EXPECT((CLEANCLIP_INVALID_ARGUMENT_NON_FINITE & 0xff) == CLEANCLIP_INVALID_ARGUMENT &&
               (CLEANCLIP_IO_ERROR_NOT_REGULAR_FILE & 0xff) == CLEANCLIP_IO_ERROR,
           "extended codes keep their primary status in the low 8 bits");
    EXPECT(cleanclip_last_error() != NULL, "never NULL");
    int32_t threads = cleanclip_get_num_threads();
    EXPECT(threads >= 1, "%d threads", threads);
    EXPECT_EXTENDED(cleanclip_set_num_threads(0), CLEANCLIP_INVALID_ARGUMENT, CLEANCLIP_INVALID_ARGUMENT, "between 1 and");
    (void)cleanclip_last_error(), (void)cleanclip_status_name(1), (void)cleanclip_errstr(1); /* change nothing */
    EXPECT(cleanclip_extended_status() == CLEANCLIP_INVALID_ARGUMENT, "kept");
    EXPECT_STATUS(cleanclip_set_num_threads(2000000000), CLEANCLIP_INVALID_ARGUMENT, "between 1 and");
    OK(cleanclip_set_num_threads(threads));
    EXPECT(cleanclip_extended_status() == CLEANCLIP_OK, "a success resets the extended status");
}

/* Representative errors of every kind keep the status they always had (when statuses were
 * chosen from the wording of messages), and report their extended status. The Python suite
 * pins the same list (bindings/python/tests/test_statuses.py). */
static void test_statuses(cleanclip_model *m) {
    cleanclip_model *out = NULL;
    EXPECT_EXTENDED(cleanclip_model_load("/nonexistent/model.safetensors", NULL, &out), CLEANCLIP_IO_ERROR,
                    CLEANCLIP_IO_ERROR_NOT_FOUND, "no such file");
    float pixels[3 * 8 * 8];
    EXPECT_EXTENDED(cleanclip_preprocess_file("/nonexistent/image.png", 8, pixels, 3 * 8 * 8, NULL), CLEANCLIP_IO_ERROR,
                    CLEANCLIP_IO_ERROR_NOT_FOUND, "No such file");
    EXPECT_EXTENDED(cleanclip_preprocess_file(outdir, 8, pixels, 3 * 8 * 8, NULL), CLEANCLIP_IO_ERROR,
                    CLEANCLIP_IO_ERROR_NOT_REGULAR_FILE, "not a regular file (a directory)");
    const char junk[] = "not a checkpoint at all";
    write_file("junk.safetensors", junk, sizeof junk);
    char *junk_path = path_in(outdir, "junk.safetensors");
    EXPECT_EXTENDED(cleanclip_model_load(junk_path, NULL, &out), CLEANCLIP_FORMAT_ERROR, CLEANCLIP_FORMAT_ERROR,
                    "unrecognised checkpoint format");
    free(junk_path);
    const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    write_file("bad.png", png, sizeof png);
    char *png_path = path_in(outdir, "bad.png");
    EXPECT_EXTENDED(cleanclip_preprocess_file(png_path, 8, pixels, 3 * 8 * 8, NULL), CLEANCLIP_FORMAT_ERROR,
                    CLEANCLIP_FORMAT_ERROR, "PNG");
    free(png_path);
    cleanclip_model_options o;
    EXPECT_EXTENDED(cleanclip_model_default_options(&o, sizeof o + 8), CLEANCLIP_INVALID_ARGUMENT,
                    CLEANCLIP_INVALID_ARGUMENT_STRUCT_SIZE, "newer than libcleanclip");
    const char *long_text[] = {"cat cat cat cat cat cat cat cat cat cat cat cat cat cat cat cat cat cat cat cat cat"};
    int32_t tokens[8];
    EXPECT_EXTENDED(cleanclip_tokenize(long_text, 1, 8, 0, tokens, 8, NULL), CLEANCLIP_INVALID_ARGUMENT,
                    CLEANCLIP_INVALID_ARGUMENT, "more than the context length");
    size_t e = (size_t)info_of(m).embed_dim;
    int32_t ids[77] = {49406, 1000000, 49407};
    float embedding[256];
    EXPECT_EXTENDED(cleanclip_encode_tokens(m, ids, 1, 1, embedding, e, NULL), CLEANCLIP_SHAPE_MISMATCH,
                    CLEANCLIP_SHAPE_MISMATCH, "outside the vocabulary");
    EXPECT_EXTENDED(cleanclip_model_load(NULL, NULL, &out), CLEANCLIP_NULL_POINTER, CLEANCLIP_NULL_POINTER, "path");
    const char *text[] = {"a cat"};
    EXPECT_EXTENDED(cleanclip_tokenize(text, 1, 77, 1, tokens, 1, NULL), CLEANCLIP_BUFFER_TOO_SMALL,
                    CLEANCLIP_BUFFER_TOO_SMALL, "capacity");
    float few[4] = {0};
    EXPECT_EXTENDED(cleanclip_sample_scores(few, (size_t)1 << 40, (size_t)1 << 40, 1, NULL, NULL, NULL, 0, NULL),
                    CLEANCLIP_OUT_OF_MEMORY, CLEANCLIP_OUT_OF_MEMORY, "too large");
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
                                 F(cleanclip_model_info, logit_scale),    F(cleanclip_model_info, temperature),
                                 F(cleanclip_model_info, activation),     F(cleanclip_model_info, activation_assumed)};
    check_layout("cleanclip_model_info", sizeof(cleanclip_model_info), info, 10);
    const struct field progress[] = {
        F(cleanclip_progress, struct_size), F(cleanclip_progress, phase),         F(cleanclip_progress, done),
        F(cleanclip_progress, total),       F(cleanclip_progress, epoch),         F(cleanclip_progress, epochs),
        F(cleanclip_progress, batch),       F(cleanclip_progress, batches_per_epoch), F(cleanclip_progress, loss),
        F(cleanclip_progress, clip_loss),   F(cleanclip_progress, inmodal_loss),  F(cleanclip_progress, lr),
        F(cleanclip_progress, seconds),     F(cleanclip_progress, eta_seconds),   F(cleanclip_progress, pairs_per_second)};
    check_layout("cleanclip_progress", sizeof(cleanclip_progress), progress, 15);
    const struct field finetune[] = {
        F(cleanclip_finetune_options, struct_size),  F(cleanclip_finetune_options, inmodal),
        F(cleanclip_finetune_options, batch_size),   F(cleanclip_finetune_options, epochs),
        F(cleanclip_finetune_options, warmup_steps), F(cleanclip_finetune_options, clip_weight),
        F(cleanclip_finetune_options, inmodal_weight), F(cleanclip_finetune_options, lr),
        F(cleanclip_finetune_options, weight_decay), F(cleanclip_finetune_options, beta1),
        F(cleanclip_finetune_options, beta2),        F(cleanclip_finetune_options, eps),
        F(cleanclip_finetune_options, max_grad_norm), F(cleanclip_finetune_options, seed),
        F(cleanclip_finetune_options, wordnet_dir)};
    check_layout("cleanclip_finetune_options", sizeof(cleanclip_finetune_options), finetune, 15);
    const struct field evaluate[] = {
        F(cleanclip_evaluate_options, struct_size),  F(cleanclip_evaluate_options, classes),
        F(cleanclip_evaluate_options, classes_file), F(cleanclip_evaluate_options, templates_file),
        F(cleanclip_evaluate_options, trigger),      F(cleanclip_evaluate_options, target),
        F(cleanclip_evaluate_options, location),     F(cleanclip_evaluate_options, patch_size),
        F(cleanclip_evaluate_options, batch_size),   F(cleanclip_evaluate_options, seed),
        F(cleanclip_evaluate_options, image_column), F(cleanclip_evaluate_options, label_column)};
    check_layout("cleanclip_evaluate_options", sizeof(cleanclip_evaluate_options), evaluate, 12);
    const struct field poison[] = {
        F(cleanclip_poison_options, struct_size),      F(cleanclip_poison_options, trigger),
        F(cleanclip_poison_options, location),         F(cleanclip_poison_options, patch_size),
        F(cleanclip_poison_options, label_consistent), F(cleanclip_poison_options, seed),
        F(cleanclip_poison_options, size_train_data),  F(cleanclip_poison_options, image_column),
        F(cleanclip_poison_options, caption_column),   F(cleanclip_poison_options, output_name)};
    check_layout("cleanclip_poison_options", sizeof(cleanclip_poison_options), poison, 10);
    const struct field scoring[] = {
        F(cleanclip_score_samples_options, struct_size), F(cleanclip_score_samples_options, k),
        F(cleanclip_score_samples_options, batch_size), F(cleanclip_score_samples_options, image_column),
        F(cleanclip_score_samples_options, backdoor_column)};
    check_layout("cleanclip_score_samples_options", sizeof(cleanclip_score_samples_options), scoring, 5);
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
    /* The fixture does not say which activation it uses: QuickGELU is assumed, and said so. */
    EXPECT(info.activation == CLEANCLIP_ACTIVATION_QUICK_GELU && info.activation_assumed == 1, "activation %d assumed %d",
           info.activation, info.activation_assumed);
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
    OK(cleanclip_model_default_options(&o, sizeof o));
    o.activation = CLEANCLIP_ACTIVATION_GELU;
    OK(cleanclip_model_load(vit, &o, &m));
    info = info_of(m);
    EXPECT(info.activation == CLEANCLIP_ACTIVATION_GELU && info.activation_assumed == 0, "asked for GELU");
    cleanclip_model_free(m);
    cleanclip_model *hf = NULL;
    char *hfdir = path_in(MODELS_DIR, "hf_vit");
    OK(cleanclip_model_load(hfdir, NULL, &hf));
    info = info_of(hf);
    EXPECT(info.activation_assumed == 0, "config.json states the activation");
    cleanclip_model_free(hf);
    free(hfdir);

    cleanclip_model_free(NULL);
    cleanclip_classifier_free(NULL);
    EXPECT(cleanclip_classifier_num_classes(NULL) == 0, "num_classes(NULL)");
    free(vit);
}

/* ---- saving ------------------------------------------------------------------------------ */

/* A model saved in every format and dtype loads back with the same embeddings (bit for bit in
 * float32); bad arguments and a ResNet as an HF directory are refused. */
static void test_save(void) {
    char *vit = path_in(MODELS_DIR, "vit_quickgelu.safetensors");
    cleanclip_model *m = load(vit);
    cleanclip_model_info info = info_of(m);
    size_t e = (size_t)info.embed_dim, side = (size_t)info.image_size, npix = 3 * side * side;
    float *pixels = malloc(npix * sizeof(float)), *want = malloc(e * sizeof(float)), *got = malloc(e * sizeof(float));
    for (size_t i = 0; i < npix; i++) pixels[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    OK(cleanclip_encode_pixels(m, pixels, 1, 0, want, e, NULL));
    const char *names[] = {"saved.safetensors", "saved.pt", "saved_hf", "saved16.safetensors", "saved16.pt", "saved16_hf"};
    for (int k = 0; k < 6; k++) {
        char *out = path_in(outdir, names[k]);
        int f16 = k >= 3;
        OK(cleanclip_model_save(m, out, CLEANCLIP_SAVE_INFER, f16 ? CLEANCLIP_SAVE_F16 : CLEANCLIP_SAVE_F32));
        cleanclip_model *back = load(out);
        OK(cleanclip_encode_pixels(back, pixels, 1, 0, got, e, NULL));
        float d = rel_diff(got, want, e);
        EXPECT(f16 ? d < 1e-2f : memcmp(got, want, e * sizeof(float)) == 0, "%s: embeddings differ by %g", names[k], d);
        cleanclip_model_free(back);
        free(out);
    }
    char *out = path_in(outdir, "bad.safetensors");
    EXPECT_STATUS(cleanclip_model_save(NULL, out, 0, 0), CLEANCLIP_NULL_POINTER, "model");
    EXPECT_STATUS(cleanclip_model_save(m, NULL, 0, 0), CLEANCLIP_NULL_POINTER, "path");
    EXPECT_STATUS(cleanclip_model_save(m, "", 0, 0), CLEANCLIP_INVALID_ARGUMENT, "empty");
    EXPECT_STATUS(cleanclip_model_save(m, out, 4, 0), CLEANCLIP_INVALID_ARGUMENT, "format");
    EXPECT_STATUS(cleanclip_model_save(m, out, 0, 2), CLEANCLIP_INVALID_ARGUMENT, "dtype");
    EXPECT_STATUS(cleanclip_model_save(m, "/no/such/dir/model.safetensors", 0, 0), CLEANCLIP_IO_ERROR, "/no/such/dir");
    free(out);
    cleanclip_model_free(m);
    char *rn = path_in(MODELS_DIR, "resnet.safetensors");
    m = load(rn);
    out = path_in(outdir, "rn_hf");
    EXPECT_STATUS(cleanclip_model_save(m, out, CLEANCLIP_SAVE_HF, 0), CLEANCLIP_INVALID_ARGUMENT, "ResNet");
    cleanclip_model_free(m);
    free(out);
    free(rn);
    free(vit);
    free(pixels);
    free(want);
    free(got);
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

/* ---- the method: finetuning, evaluation, poisoning, scoring ----------------------------- */

struct progress_log {
    int calls, steps, epochs, cancel_after; /* cancel_after > 0: cancel on that call */
    int bad;                                /* events with inconsistent fields */
    float last_loss;
};

static int on_progress(const cleanclip_progress *p, void *user_data) {
    struct progress_log *log = user_data;
    log->calls++;
    if (!p || p->struct_size < sizeof *p || !p->phase) {
        log->bad++;
        return 1;
    }
    if (strcmp(p->phase, "step") == 0) {
        log->steps++;
        if (p->done < 1 || p->done > p->total || !isfinite(p->loss) || !(p->lr > 0) || p->batch < 1 ||
            p->batch > p->batches_per_epoch)
            log->bad++;
        log->last_loss = p->loss;
    } else if (strcmp(p->phase, "epoch") == 0) {
        log->epochs++;
        if (p->done != p->epoch + 1 || !isfinite(p->loss) || !isnan(p->eta_seconds)) log->bad++;
    } else if (strcmp(p->phase, "clean") != 0 && strcmp(p->phase, "triggered") != 0 && strcmp(p->phase, "embed") != 0) {
        log->bad++;
    } else if (p->done < 1 || p->done > p->total) {
        log->bad++;
    }
    return log->cancel_after > 0 && log->calls >= log->cancel_after;
}

/* ---- BLAS ---------------------------------------------------------------------------------- */

static void test_blas(void) {
    const char *kernel = cleanclip_blas_kernel(), *description = cleanclip_blas_description();
    EXPECT(kernel && *kernel, "empty BLAS kernel name");
    EXPECT(cleanclip_blas_kernel() == kernel, "the kernel name is a static string");
    /* Nothing in this process loads OpenBLAS before libcleanclip chooses its kernel, so the
     * choice must be ours (or the user's), never "already loaded". */
    EXPECT(strstr(description, "chosen from CPU features") || strstr(description, "set by the user"), "%s", description);
    EXPECT(!strstr(description, "Warning"), "%s", description);
    double gflops = 0;
    EXPECT_STATUS(cleanclip_blas_measure_gflops(0.05, &gflops), CLEANCLIP_OK, "");
    EXPECT(gflops > 0, "%g GFLOP/s", gflops);
    EXPECT_STATUS(cleanclip_blas_measure_gflops(0.05, NULL), CLEANCLIP_NULL_POINTER, "gflops");
    EXPECT_STATUS(cleanclip_blas_measure_gflops(0, &gflops), CLEANCLIP_INVALID_ARGUMENT, "seconds");
    EXPECT_STATUS(cleanclip_blas_measure_gflops(1.0 / 0.0, &gflops), CLEANCLIP_INVALID_ARGUMENT, "seconds");
}

static void test_default_options(void) {
    cleanclip_finetune_options f;
    memset(&f, 0xAB, sizeof f);
    OK(cleanclip_finetune_default_options(&f, sizeof f));
    EXPECT(f.struct_size == sizeof f && f.inmodal == 1 && f.batch_size == 64 && f.epochs == 10 && f.warmup_steps == 50 &&
               f.lr == 1e-5f && f.weight_decay == 0.1f && f.max_grad_norm == 0 && f.seed == 0 && f.wordnet_dir == NULL,
           "finetune defaults");
    EXPECT_STATUS(cleanclip_finetune_default_options(NULL, sizeof f), CLEANCLIP_NULL_POINTER, "options");
    EXPECT_STATUS(cleanclip_finetune_default_options(&f, 4), CLEANCLIP_INVALID_ARGUMENT, "struct_size");
    EXPECT_STATUS(cleanclip_finetune_default_options(&f, sizeof f + 8), CLEANCLIP_INVALID_ARGUMENT, "newer");
    unsigned char small[32];
    memset(small, 0xCD, sizeof small);
    OK(cleanclip_finetune_default_options((cleanclip_finetune_options *)small, 16));
    EXPECT(small[16] == 0xCD && small[31] == 0xCD, "wrote past struct_size");

    cleanclip_evaluate_options e;
    memset(&e, 0xAB, sizeof e);
    OK(cleanclip_evaluate_default_options(&e, sizeof e));
    EXPECT(e.classes == NULL && e.trigger == NULL && e.target == NULL && e.patch_size == 16 && e.batch_size == 64 &&
               e.seed == 0 && e.label_column == NULL,
           "evaluate defaults");
    EXPECT_STATUS(cleanclip_evaluate_default_options(NULL, sizeof e), CLEANCLIP_NULL_POINTER, "options");
    EXPECT_STATUS(cleanclip_evaluate_default_options(&e, sizeof e + 1), CLEANCLIP_INVALID_ARGUMENT, "newer");

    cleanclip_poison_options po;
    memset(&po, 0xAB, sizeof po);
    OK(cleanclip_poison_default_options(&po, sizeof po));
    EXPECT(po.trigger == NULL && po.patch_size == 16 && po.label_consistent == 0 && po.size_train_data == 0 &&
               po.output_name == NULL,
           "poison defaults");
    EXPECT_STATUS(cleanclip_poison_default_options(NULL, sizeof po), CLEANCLIP_NULL_POINTER, "options");
    EXPECT_STATUS(cleanclip_poison_default_options(&po, 0), CLEANCLIP_INVALID_ARGUMENT, "struct_size");

    cleanclip_score_samples_options so;
    memset(&so, 0xAB, sizeof so);
    OK(cleanclip_score_samples_default_options(&so, sizeof so));
    EXPECT(so.k == 16 && so.batch_size == 64 && so.image_column == NULL && so.backdoor_column == NULL, "score defaults");
    EXPECT_STATUS(cleanclip_score_samples_default_options(NULL, sizeof so), CLEANCLIP_NULL_POINTER, "options");
    EXPECT_STATUS(cleanclip_score_samples_default_options(&so, sizeof so * 2), CLEANCLIP_INVALID_ARGUMENT, "newer");
}

static void test_evaluate(cleanclip_model *m, const char *eval_csv, const char *classes, const char *templates) {
    cleanclip_evaluate_options o;
    OK(cleanclip_evaluate_default_options(&o, sizeof o));
    o.classes_file = classes;
    o.templates_file = templates;
    char json[4096];
    size_t needed = 0;
    struct progress_log log = {0};
    OK(cleanclip_evaluate(m, eval_csv, &o, on_progress, &log, json, sizeof json, &needed));
    EXPECT(needed == strlen(json) + 1, "needed %zu for %zu bytes", needed, strlen(json));
    EXPECT(strstr(json, "\"clean_accuracy\":") && strstr(json, "\"n_images\":8") && !strstr(json, "\"asr\""), "%s", json);
    EXPECT(log.calls == 1 && log.bad == 0, "%d progress calls, %d bad", log.calls, log.bad);

    /* With a trigger: ASR and per-class ASR; progress for clean and triggered images. */
    o.trigger = "yellow";
    o.target = "red";
    o.patch_size = 4;
    o.batch_size = 3;
    log = (struct progress_log){0};
    OK(cleanclip_evaluate(m, eval_csv, &o, on_progress, &log, json, sizeof json, &needed));
    EXPECT(strstr(json, "\"asr\":") && strstr(json, "\"per_class_asr\":[") && strstr(json, "\"target\":\"red\""), "%s", json);
    EXPECT(log.calls == 6 && log.bad == 0, "%d progress calls (3 clean + 3 triggered batches), %d bad", log.calls, log.bad);
    OK(cleanclip_score_trigger(m, eval_csv, &o, NULL, NULL, json, sizeof json, &needed));
    EXPECT(strstr(json, "\"mean_similarity_shift\":"), "%s", json);

    /* A short buffer fails before any image is read, with an upper bound; that bound suffices. */
    log = (struct progress_log){0};
    EXPECT_STATUS(cleanclip_evaluate(m, eval_csv, &o, on_progress, &log, json, 10, &needed),
                  CLEANCLIP_BUFFER_TOO_SMALL, "capacity");
    EXPECT(log.calls == 0 && needed > 10, "progress %d, needed %zu", log.calls, needed);
    char *exact = malloc(needed);
    OK(cleanclip_evaluate(m, eval_csv, &o, NULL, NULL, exact, needed, NULL));
    free(exact);
    EXPECT_STATUS(cleanclip_evaluate(m, eval_csv, &o, NULL, NULL, NULL, 0, &needed), CLEANCLIP_BUFFER_TOO_SMALL,
                  "capacity");
    EXPECT_STATUS(cleanclip_evaluate(m, eval_csv, &o, NULL, NULL, NULL, sizeof json, &needed), CLEANCLIP_NULL_POINTER,
                  "output buffer");

    /* Cancelling from the callback. */
    log = (struct progress_log){.cancel_after = 2};
    EXPECT_STATUS(cleanclip_evaluate(m, eval_csv, &o, on_progress, &log, json, sizeof json, NULL), CLEANCLIP_CANCELLED,
                  "cancelled by the progress callback");
    EXPECT(log.calls == 2, "%d calls after cancelling", log.calls);

    /* Arguments. */
    EXPECT_STATUS(cleanclip_evaluate(NULL, eval_csv, &o, NULL, NULL, json, sizeof json, NULL), CLEANCLIP_NULL_POINTER,
                  "model");
    EXPECT_STATUS(cleanclip_evaluate(m, NULL, &o, NULL, NULL, json, sizeof json, NULL), CLEANCLIP_NULL_POINTER,
                  "eval_csv");
    EXPECT_STATUS(cleanclip_evaluate(m, "/no/such/eval.csv", &o, NULL, NULL, json, sizeof json, NULL),
                  CLEANCLIP_IO_ERROR, "/no/such/eval.csv");
    o.target = "purple";
    EXPECT_STATUS(cleanclip_evaluate(m, eval_csv, &o, NULL, NULL, json, sizeof json, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "'purple' is not one of the 4 classes");
    o.target = NULL;
    EXPECT_STATUS(cleanclip_evaluate(m, eval_csv, &o, NULL, NULL, json, sizeof json, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "target");
    EXPECT_STATUS(cleanclip_score_trigger(m, eval_csv, &o, NULL, NULL, json, sizeof json, NULL),
                  CLEANCLIP_INVALID_ARGUMENT, "target");
    o.target = "red";
    o.trigger = "sparkles";
    EXPECT_STATUS(cleanclip_evaluate(m, eval_csv, &o, NULL, NULL, json, sizeof json, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "unknown trigger 'sparkles'");
    o.trigger = "\xff";
    EXPECT_STATUS(cleanclip_evaluate(m, eval_csv, &o, NULL, NULL, json, sizeof json, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "options->trigger is not valid UTF-8");
    o.trigger = NULL;
    EXPECT_STATUS(cleanclip_score_trigger(m, eval_csv, &o, NULL, NULL, json, sizeof json, NULL),
                  CLEANCLIP_INVALID_ARGUMENT, "trigger");
    o.patch_size = -3;
    EXPECT_STATUS(cleanclip_evaluate(m, eval_csv, &o, NULL, NULL, json, sizeof json, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "patch_size");
    o.patch_size = 16;
    o.classes_file = "/no/such/classes.txt";
    EXPECT_STATUS(cleanclip_evaluate(m, eval_csv, &o, NULL, NULL, json, sizeof json, NULL), CLEANCLIP_IO_ERROR,
                  "/no/such/classes.txt");
    o.classes_file = NULL;
    o.templates_file = NULL;
    o.target = NULL;
    o.classes = "mnist";
    EXPECT_STATUS(cleanclip_evaluate(m, eval_csv, &o, NULL, NULL, json, sizeof json, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "unknown class set 'mnist'");
    o.classes = "cifar10";
    o.label_column = "nope";
    EXPECT_STATUS(cleanclip_evaluate(m, eval_csv, &o, NULL, NULL, json, sizeof json, NULL), CLEANCLIP_FORMAT_ERROR,
                  "nope");
    o.label_column = NULL;
    OK(cleanclip_evaluate(m, eval_csv, &o, NULL, NULL, json, sizeof json, NULL)); /* labels 0..3 of CIFAR-10 */
    o.struct_size = sizeof o + 8;
    EXPECT_STATUS(cleanclip_evaluate(m, eval_csv, &o, NULL, NULL, json, sizeof json, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "newer than libcleanclip");
    /* NULL options: ImageNet classes; labels 0..3 are ImageNet classes too. */
    OK(cleanclip_evaluate(m, eval_csv, NULL, NULL, NULL, json, sizeof json, NULL));
}

static void test_finetune(cleanclip_model *m, const char *train_csv) {
    cleanclip_finetune_options o;
    OK(cleanclip_finetune_default_options(&o, sizeof o));
    o.epochs = 1;
    o.batch_size = 4;
    o.warmup_steps = 1;
    o.lr = 1e-3f;
    char *checkpoint = path_in(outdir, "finetuned.safetensors");
    const char *probe[] = {"a photo of a red square"};
    float before[64], after[64], reloaded[64];
    size_t e = (size_t)info_of(m).embed_dim;
    OK(cleanclip_encode_texts(m, probe, 1, 1, before, e, NULL));

    struct progress_log log = {0};
    OK(cleanclip_finetune(m, train_csv, NULL, NULL, &o, checkpoint, 0, on_progress, &log));
    EXPECT(log.steps == 4 && log.epochs == 1 && log.bad == 0, "%d steps, %d epochs, %d bad events", log.steps, log.epochs,
           log.bad);
    OK(cleanclip_encode_texts(m, probe, 1, 1, after, e, NULL));
    EXPECT(rel_diff(after, before, e) > 1e-4f, "finetuning left the text embedding unchanged");

    /* The checkpoint loads as a model equal to the finetuned handle. */
    cleanclip_model *saved = load(checkpoint);
    OK(cleanclip_encode_texts(saved, probe, 1, 1, reloaded, e, NULL));
    EXPECT(memcmp(after, reloaded, e * sizeof(float)) == 0, "checkpoint differs from the finetuned model");

    /* Resuming a finished run: weights replaced by the checkpoint's, no more steps. */
    log = (struct progress_log){0};
    OK(cleanclip_finetune(saved, train_csv, "image", "caption", &o, checkpoint, 1, on_progress, &log));
    EXPECT(log.calls == 0, "resumed a finished run: %d events", log.calls);
    /* Resuming with more epochs continues from epoch 2, but the settings must match. */
    o.epochs = 2;
    EXPECT_STATUS(cleanclip_finetune(saved, train_csv, NULL, NULL, &o, checkpoint, 1, NULL, NULL),
                  CLEANCLIP_INVALID_ARGUMENT, "other settings");
    o.epochs = 1;

    /* Item 11: an optimizer state from another save (a run killed between the model's rename and
     * the optimizer's) is refused, and the handle's weights are left as they were. */
    size_t state_bytes = 0;
    void *old_state = read_file(outdir, "finetuned.optimizer.safetensors", &state_bytes);
    OK(cleanclip_finetune(saved, train_csv, NULL, NULL, &o, checkpoint, 0, NULL, NULL)); /* a new save */
    write_file("finetuned.optimizer.safetensors", old_state, state_bytes);
    OK(cleanclip_encode_texts(m, probe, 1, 1, before, e, NULL));
    EXPECT_STATUS(cleanclip_finetune(m, train_csv, NULL, NULL, &o, checkpoint, 1, NULL, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "are not from the same save");
    OK(cleanclip_encode_texts(m, probe, 1, 1, after, e, NULL));
    EXPECT(memcmp(before, after, e * sizeof(float)) == 0, "a refused resume changed the model");
    free(old_state);
    cleanclip_model_free(saved);

    /* Cancelling on the first callback. */
    log = (struct progress_log){.cancel_after = 1};
    EXPECT_STATUS(cleanclip_finetune(m, train_csv, NULL, NULL, &o, NULL, 0, on_progress, &log), CLEANCLIP_CANCELLED,
                  "cancelled by the progress callback (at epoch 1, step 1)");
    EXPECT(log.calls == 1, "%d calls after cancelling", log.calls);

    /* Arguments and files. */
    EXPECT_STATUS(cleanclip_finetune(NULL, train_csv, NULL, NULL, &o, NULL, 0, NULL, NULL), CLEANCLIP_NULL_POINTER, "model");
    EXPECT_STATUS(cleanclip_finetune(m, NULL, NULL, NULL, &o, NULL, 0, NULL, NULL), CLEANCLIP_NULL_POINTER, "train_csv");
    EXPECT_STATUS(cleanclip_finetune(m, "/no/such/train.csv", NULL, NULL, &o, NULL, 0, NULL, NULL), CLEANCLIP_IO_ERROR,
                  "/no/such/train.csv");
    EXPECT_STATUS(cleanclip_finetune(m, train_csv, "picture", NULL, &o, NULL, 0, NULL, NULL), CLEANCLIP_FORMAT_ERROR,
                  "picture");
    EXPECT_STATUS(cleanclip_finetune(m, train_csv, NULL, NULL, &o, NULL, 1, NULL, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "resume needs checkpoint_path");
    char *missing = path_in(outdir, "never_written.safetensors");
    EXPECT_STATUS(cleanclip_finetune(m, train_csv, NULL, NULL, &o, missing, 1, NULL, NULL), CLEANCLIP_IO_ERROR,
                  "never_written.optimizer.safetensors");
    free(missing);
    EXPECT_STATUS(cleanclip_finetune(m, train_csv, NULL, NULL, &o, "/no/such/dir/ck.safetensors", 0, NULL, NULL),
                  CLEANCLIP_IO_ERROR, "/no/such/dir/ck.safetensors");
    o.batch_size = 0;
    EXPECT_STATUS(cleanclip_finetune(m, train_csv, NULL, NULL, &o, NULL, 0, NULL, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "options->batch_size");
    o.batch_size = 32;
    EXPECT_STATUS(cleanclip_finetune(m, train_csv, NULL, NULL, &o, NULL, 0, NULL, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "no full batch");
    o.batch_size = 4;
    o.lr = -1;
    EXPECT_STATUS(cleanclip_finetune(m, train_csv, NULL, NULL, &o, NULL, 0, NULL, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "options->lr");
    o.lr = NAN;
    EXPECT_STATUS(cleanclip_finetune(m, train_csv, NULL, NULL, &o, NULL, 0, NULL, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "options->lr");
    o.lr = 1e-3f;
    /* Issue 13: the library's validation checks every field and names it. */
    o.beta1 = 1;
    EXPECT_STATUS(cleanclip_finetune(m, train_csv, NULL, NULL, &o, NULL, 0, NULL, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "options->beta1 must be in [0, 1), got 1.0");
    o.beta1 = 0.9f;
    o.eps = 0;
    EXPECT_STATUS(cleanclip_finetune(m, train_csv, NULL, NULL, &o, NULL, 0, NULL, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "options->eps");
    o.eps = 1e-8f;
    o.max_grad_norm = -1;
    EXPECT_STATUS(cleanclip_finetune(m, train_csv, NULL, NULL, &o, NULL, 0, NULL, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "options->max_grad_norm");
    o.max_grad_norm = 0;
    o.clip_weight = NAN;
    EXPECT_STATUS(cleanclip_finetune(m, train_csv, NULL, NULL, &o, NULL, 0, NULL, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "options->clip_weight");
    o.clip_weight = 1;
    o.struct_size = sizeof o + 8;
    EXPECT_STATUS(cleanclip_finetune(m, train_csv, NULL, NULL, &o, NULL, 0, NULL, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "newer than libcleanclip");
    o.struct_size = sizeof o;
    EXPECT_STATUS(cleanclip_finetune(m, train_csv, "\xfe", NULL, &o, NULL, 0, NULL, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "image_key is not valid UTF-8");
    /* Without augmented captions, CleanCLIP mode needs WordNet: a missing database is an I/O error. */
    o.wordnet_dir = "/no/such/wordnet";
    EXPECT_STATUS(cleanclip_finetune(m, train_csv, NULL, "augmented_caption", &o, NULL, 0, NULL, NULL),
                  CLEANCLIP_IO_ERROR, "WordNet");
    free(checkpoint);
}

static void test_poison_and_scores(cleanclip_model *m, const char *train_csv) {
    cleanclip_poison_options o;
    OK(cleanclip_poison_default_options(&o, sizeof o));
    o.patch_size = 4;
    o.output_name = "poisoned.csv";
    char path[4096];
    size_t needed = 0;
    OK(cleanclip_poison(train_csv, "red", 4, outdir, &o, path, sizeof path, &needed));
    char *expected = path_in(outdir, "poisoned.csv");
    EXPECT(strcmp(path, expected) == 0 && needed == strlen(path) + 1, "%s (%zu)", path, needed);
    size_t bytes = 0;
    char *csv = read_file(outdir, "poisoned.csv", &bytes);
    EXPECT(strncmp(csv, "image,caption,is_backdoor\n", 26) == 0 && strstr(csv, "red.") && strstr(csv, ",1\n"), "%s", csv);
    free(csv);
    EXPECT_STATUS(cleanclip_poison(train_csv, "red", 4, outdir, &o, path, 3, &needed), CLEANCLIP_BUFFER_TOO_SMALL,
                  "capacity");
    EXPECT(needed > strlen(expected), "bound %zu", needed);
    EXPECT_STATUS(cleanclip_poison(NULL, "red", 4, outdir, &o, path, sizeof path, NULL), CLEANCLIP_NULL_POINTER, "csv");
    EXPECT_STATUS(cleanclip_poison(train_csv, NULL, 4, outdir, &o, path, sizeof path, NULL), CLEANCLIP_NULL_POINTER,
                  "target");
    EXPECT_STATUS(cleanclip_poison(train_csv, "red", 0, outdir, &o, path, sizeof path, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "count is 0");
    EXPECT_STATUS(cleanclip_poison(train_csv, "red", 17, outdir, &o, path, sizeof path, NULL), CLEANCLIP_FORMAT_ERROR,
                  "only 16 rows");
    EXPECT_STATUS(cleanclip_poison("/no/such.csv", "red", 1, outdir, &o, path, sizeof path, NULL), CLEANCLIP_IO_ERROR,
                  "/no/such.csv");
    EXPECT_STATUS(cleanclip_poison(train_csv, "red", 1, outdir, &o, NULL, sizeof path, NULL), CLEANCLIP_NULL_POINTER,
                  "output buffer");
    o.trigger = "glitter";
    EXPECT_STATUS(cleanclip_poison(train_csv, "red", 1, outdir, &o, path, sizeof path, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "unknown trigger");
    o.trigger = NULL;
    o.output_name = "a/b.csv";
    EXPECT_STATUS(cleanclip_poison(train_csv, "red", 1, outdir, &o, path, sizeof path, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "output_name");
    o.output_name = "poisoned.csv";
    o.size_train_data = -1;
    EXPECT_STATUS(cleanclip_poison(train_csv, "red", 1, outdir, &o, path, sizeof path, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "size_train_data");

    /* Scores of the poisoned CSV's rows, with AUROC from its is_backdoor column. */
    char *poisoned = path_in(outdir, "poisoned.csv"), *scores_csv = path_in(outdir, "scores.csv");
    cleanclip_score_samples_options so;
    OK(cleanclip_score_samples_default_options(&so, sizeof so));
    so.k = 4;
    float kd[16], slof[16], dao[16], kd2[16], slof2[16], dao2[16];
    double auroc[3] = {0, 0, 0};
    struct progress_log log = {0};
    EXPECT_STATUS(cleanclip_score_samples(m, poisoned, &so, NULL, on_progress, &log, kd, NULL, NULL, 15, &needed, NULL),
                  CLEANCLIP_BUFFER_TOO_SMALL, "capacity");
    EXPECT(needed == 16 && log.calls == 0, "needed %zu, %d progress calls", needed, log.calls);
    OK(cleanclip_score_samples(m, poisoned, &so, scores_csv, on_progress, &log, kd, slof, dao, 16, &needed, auroc));
    EXPECT(log.calls == 1 && log.bad == 0, "%d progress calls, %d bad", log.calls, log.bad);
    for (int i = 0; i < 3; i++) EXPECT(auroc[i] >= 0 && auroc[i] <= 1, "auroc[%d] = %f", i, auroc[i]);
    char *written = read_file(outdir, "scores.csv", NULL);
    EXPECT(strncmp(written, "image,is_backdoor,k_distance,slof,dao\n", 38) == 0, "%.60s", written);
    free(written);
    OK(cleanclip_score_samples(m, train_csv, &so, NULL, NULL, NULL, NULL, slof2, NULL, 16, NULL, auroc));
    EXPECT(isnan(auroc[0]) && isnan(auroc[1]) && isnan(auroc[2]), "AUROC without labels");
    needed = 0; /* NULL options: k = 16, too large for 16 rows (the row count is reported all the same) */
    EXPECT_STATUS(cleanclip_score_samples(m, poisoned, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, &needed, NULL),
                  CLEANCLIP_INVALID_ARGUMENT, "needs at least 18 rows");
    EXPECT(needed == 16, "needed %zu", needed);
    EXPECT_STATUS(cleanclip_score_samples(NULL, poisoned, &so, NULL, NULL, NULL, kd, slof, dao, 16, NULL, NULL),
                  CLEANCLIP_NULL_POINTER, "model");
    EXPECT_STATUS(cleanclip_score_samples(m, NULL, &so, NULL, NULL, NULL, kd, slof, dao, 16, NULL, NULL),
                  CLEANCLIP_NULL_POINTER, "csv");
    EXPECT_STATUS(cleanclip_score_samples(m, "/no/such.csv", &so, NULL, NULL, NULL, kd, slof, dao, 16, NULL, NULL),
                  CLEANCLIP_IO_ERROR, "/no/such.csv");
    log = (struct progress_log){.cancel_after = 1};
    EXPECT_STATUS(cleanclip_score_samples(m, poisoned, &so, NULL, on_progress, &log, kd, slof, dao, 16, NULL, NULL),
                  CLEANCLIP_CANCELLED, "cancelled");
    so.k = 15;
    EXPECT_STATUS(cleanclip_score_samples(m, poisoned, &so, NULL, NULL, NULL, kd, slof, dao, 16, NULL, NULL),
                  CLEANCLIP_INVALID_ARGUMENT, "needs at least 17 rows");
    so.k = -1;
    EXPECT_STATUS(cleanclip_score_samples(m, poisoned, &so, NULL, NULL, NULL, kd, slof, dao, 16, NULL, NULL),
                  CLEANCLIP_INVALID_ARGUMENT, "options->k");
    so.k = 4;
    so.image_column = "picture";
    EXPECT_STATUS(cleanclip_score_samples(m, poisoned, &so, NULL, NULL, NULL, kd, slof, dao, 16, NULL, NULL),
                  CLEANCLIP_FORMAT_ERROR, "picture");

    /* Embedding-level scores equal the CSV's (the same embeddings, unnormalised). */
    const char *names[16];
    char *lines = read_file(outdir, "poisoned.csv", NULL);
    size_t n = 0;
    strtok(lines, "\n"); /* header */
    for (char *line; n < 16 && (line = strtok(NULL, "\n"));) {
        *strchr(line, ',') = 0;
        names[n++] = line[0] == '/' ? path_in("", line + 1) : path_in(outdir, line); /* clean rows are absolute */
    }
    size_t e = (size_t)info_of(m).embed_dim;
    float *emb = malloc(16 * e * sizeof(float));
    OK(cleanclip_encode_image_files(m, names, n, 0, emb, 16 * e, NULL));
    OK(cleanclip_sample_scores(emb, n, e, 4, kd2, slof2, dao2, 16, &needed));
    EXPECT(needed == 16 && rel_diff(kd2, kd, 16) < 1e-5f && rel_diff(slof2, slof, 16) < 1e-5f && rel_diff(dao2, dao, 16) < 1e-4f,
           "embedding scores differ from CSV scores: %g %g %g", rel_diff(kd2, kd, 16), rel_diff(slof2, slof, 16),
           rel_diff(dao2, dao, 16));
    OK(cleanclip_sample_scores(emb, n, e, 4, NULL, NULL, dao2, 16, NULL));
    EXPECT_STATUS(cleanclip_sample_scores(NULL, n, e, 4, kd2, slof2, dao2, 16, NULL), CLEANCLIP_NULL_POINTER, "embeddings");
    EXPECT_STATUS(cleanclip_sample_scores(emb, 0, e, 4, kd2, slof2, dao2, 16, NULL), CLEANCLIP_INVALID_ARGUMENT, "is 0");
    EXPECT_STATUS(cleanclip_sample_scores(emb, n, 0, 4, kd2, slof2, dao2, 16, NULL), CLEANCLIP_INVALID_ARGUMENT, "dim is 0");
    EXPECT_STATUS(cleanclip_sample_scores(emb, n, e, 0, kd2, slof2, dao2, 16, NULL), CLEANCLIP_INVALID_ARGUMENT, "k is 0");
    EXPECT_STATUS(cleanclip_sample_scores(emb, n, e, 15, kd2, slof2, dao2, 16, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "at least 17");
    EXPECT_STATUS(cleanclip_sample_scores(emb, n, e, 4, kd2, slof2, dao2, 15, &needed), CLEANCLIP_BUFFER_TOO_SMALL,
                  "capacity");
    EXPECT(needed == 16, "needed %zu", needed);
    emb[5] = NAN;
    EXPECT_STATUS(cleanclip_sample_scores(emb, n, e, 4, kd2, slof2, dao2, 16, NULL), CLEANCLIP_INVALID_ARGUMENT,
                  "not finite");
    free(emb);
    for (size_t i = 0; i < n; i++) free((void *)names[i]);
    free(lines);
    free(poisoned);
    free(scores_csv);
    free(expected);
}

/* ---- hostile input and misuse (issue 12) ------------------------------------------------ */

typedef int (*default_options_fn)(void *, size_t);

/* Item 8: a struct_size below 8 made *_default_options write 8 bytes into the caller's smaller
 * buffer. The buffers here are exactly struct_size bytes; the library is not instrumented, so
 * AddressSanitizer cannot see its stores, but such a store also changes the buffer's own bytes,
 * which are checked (and VALGRIND=1 scripts/test_bindings.sh sees the overflow itself). */
static void test_default_options_write_nothing_for_bad_sizes(void) {
    const struct {
        const char *name;
        default_options_fn fn;
    } fns[] = {
        {"model", (default_options_fn)cleanclip_model_default_options},
        {"finetune", (default_options_fn)cleanclip_finetune_default_options},
        {"evaluate", (default_options_fn)cleanclip_evaluate_default_options},
        {"poison", (default_options_fn)cleanclip_poison_default_options},
        {"score_samples", (default_options_fn)cleanclip_score_samples_default_options},
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        for (size_t size = 1; size < 8; size++) {
            unsigned char *small = malloc(size);
            memset(small, 0xCD, size);
            EXPECT_STATUS(fns[i].fn(small, size), CLEANCLIP_INVALID_ARGUMENT, "struct_size");
            for (size_t b = 0; b < size; b++) EXPECT(small[b] == 0xCD, "%s_default_options wrote byte %zu of %zu", fns[i].name, b, size);
            free(small);
        }
    }
}

/* Item 10: a named pipe as a model, image or CSV path blocked forever. alarm() turns a
 * regression into a failure (SIGALRM) instead of a hang. */
static void test_named_pipes_are_refused(cleanclip_model *m) {
    char *fifo = path_in(outdir, "pipe");
    unlink(fifo);
    EXPECT(mkfifo(fifo, 0600) == 0, "mkfifo");
    alarm(60);
    cleanclip_model *loaded = NULL;
    EXPECT_EXTENDED(cleanclip_model_load(fifo, NULL, &loaded), CLEANCLIP_IO_ERROR, CLEANCLIP_IO_ERROR_NOT_REGULAR_FILE,
                    "not a regular file (a named pipe)");
    float pixels[3 * 32 * 32], e[64];
    EXPECT_STATUS(cleanclip_preprocess_file(fifo, 32, pixels, 3 * 32 * 32, NULL), CLEANCLIP_IO_ERROR, "named pipe");
    const char *paths[] = {fifo};
    EXPECT_STATUS(cleanclip_encode_image_files(m, paths, 1, 1, e, 64, NULL), CLEANCLIP_IO_ERROR, "named pipe");
    char json[4096];
    EXPECT_EXTENDED(cleanclip_evaluate(m, fifo, NULL, NULL, NULL, json, sizeof json, NULL), CLEANCLIP_IO_ERROR,
                    CLEANCLIP_IO_ERROR_NOT_REGULAR_FILE, "named pipe");
    alarm(0);
    unlink(fifo);
    free(fifo);
}

/* Item 14: with logit_scale 100, exp(logit_scale) overflows float: every image went to class 0
 * and the probabilities were NaN. */
static void test_zero_shot_with_a_huge_temperature(void) {
    char *hot_path = path_in(fixtures, "hot_model.safetensors");
    cleanclip_model *hot = load(hot_path);
    const char *classes[] = {"red", "green", "blue", "noise"}, *templates[] = {"a photo of a {}."};
    const char *names[] = {"images/gradient.png", "images/noise.png", "images/red.png"};
    const char *paths[3];
    for (int i = 0; i < 3; i++) paths[i] = path_in(fixtures, names[i]);
    int32_t index[3];
    float probs[3 * 4];
    OK(cleanclip_zero_shot_files(hot, paths, 3, classes, 4, templates, 1, index, probs, 12, NULL));
    for (int i = 0; i < 3; i++) {
        float sum = 0;
        int best = 0;
        for (int c = 0; c < 4; c++) {
            EXPECT(isfinite(probs[i * 4 + c]), "image %d class %d: %f", i, c, probs[i * 4 + c]);
            sum += probs[i * 4 + c];
            if (probs[i * 4 + c] > probs[i * 4 + best]) best = c;
        }
        EXPECT(fabsf(sum - 1) < 1e-5f && best == index[i], "image %d: sum %f, best %d, index %d", i, sum, best, index[i]);
    }
    cleanclip_model_free(hot);
    for (int i = 0; i < 3; i++) free((void *)paths[i]);
    free(hot_path);
}

/* Item 15: NaN pixels or embeddings gave NaN results without a word. */
static void test_non_finite_inputs_are_errors(cleanclip_model *m) {
    size_t e = (size_t)info_of(m).embed_dim, per = 3 * 32 * 32;
    float *pixels = calloc(2 * per, sizeof(float)), out[2 * 64];
    pixels[per + 7] = NAN;
    EXPECT_EXTENDED(cleanclip_encode_pixels(m, pixels, 2, 1, out, 2 * e, NULL), CLEANCLIP_INVALID_ARGUMENT,
                    CLEANCLIP_INVALID_ARGUMENT_NON_FINITE, "image 1 has a non-finite pixel value");
    free(pixels);
    const char *classes[] = {"red", "green"}, *templates[] = {"{}"};
    cleanclip_classifier *c = NULL;
    OK(cleanclip_classifier_create(m, classes, 2, templates, 1, &c));
    float embeddings[2 * 64] = {0};
    embeddings[e + 1] = INFINITY;
    int32_t index[2];
    EXPECT_STATUS(cleanclip_classifier_classify_embeddings(c, embeddings, 2, index, NULL, 0, NULL),
                  CLEANCLIP_INVALID_ARGUMENT, "image embedding 1 is not finite");
    cleanclip_classifier_free(c);
}

static void test_hostile_input(cleanclip_model *m) {
    test_default_options_write_nothing_for_bad_sizes();
    test_named_pipes_are_refused(m);
    test_zero_shot_with_a_huge_temperature();
    test_non_finite_inputs_are_errors(m);
}

static void test_method(void) {
    char *model_path = path_in(fixtures, "text_model.safetensors");
    cleanclip_model *m = load(model_path);
    char *train = path_in(fixtures, "data/train.csv"), *eval = path_in(fixtures, "data/eval.csv");
    char *classes = path_in(fixtures, "data/classes.txt"), *templates = path_in(fixtures, "data/templates.txt");
    test_default_options();
    test_evaluate(m, eval, classes, templates);
    test_finetune(m, train);
    test_poison_and_scores(m, train);
    test_hostile_input(m);
    test_statuses(m);
    cleanclip_model_free(m);
    free(model_path);
    free(train);
    free(eval);
    free(classes);
    free(templates);
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
    test_save();
    test_parity("vit_quickgelu");
    test_parity("resnet");
    test_tokenize();
    test_texts_images_zero_shot();
    test_threads();
    test_blas();
    test_method();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
