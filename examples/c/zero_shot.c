/* Zero-shot classification with libcleanclip: loads a checkpoint, embeds images and captions,
 * prints caption similarities and zero-shot predictions.
 *
 *   cc -I include examples/c/zero_shot.c -L .build/release -lcleanclip -Wl,-rpath,$PWD/.build/release -o zero_shot
 *   ./zero_shot model.safetensors cat.jpg dog.png
 */
#include <cleanclip.h>

#include <stdio.h>
#include <stdlib.h>

/* Prints the failing call's status and message and exits (fine for an example program). */
static void check(int status, const char *what) {
    if (status != CLEANCLIP_OK) {
        fprintf(stderr, "%s failed: %s: %s\n", what, cleanclip_status_name(status), cleanclip_last_error());
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s CHECKPOINT IMAGE...\n", argv[0]);
        return 2;
    }
    if (cleanclip_version() / 10000 != CLEANCLIP_VERSION_MAJOR) {
        fprintf(stderr, "libcleanclip %s does not match header %d.%d.%d\n", cleanclip_version_string(),
                CLEANCLIP_VERSION_MAJOR, CLEANCLIP_VERSION_MINOR, CLEANCLIP_VERSION_PATCH);
        return 1;
    }

    cleanclip_model_options options;
    check(cleanclip_model_default_options(&options, sizeof options), "default options");
    options.num_threads = 2;
    cleanclip_model *model = NULL;
    check(cleanclip_model_load(argv[1], &options, &model), "load");

    cleanclip_model_info info = {.struct_size = sizeof info};
    check(cleanclip_model_get_info(model, &info), "info");
    printf("model: %s, embed dim %d, image size %d, temperature %.3f\n", info.architecture, info.embed_dim,
           info.image_size, info.temperature);
    printf("blas: %s\n", cleanclip_blas_description());

    const char *const *images = (const char *const *)argv + 2;
    size_t n_images = (size_t)argc - 2;
    const char *captions[] = {"a photo of a cat", "a photo of a dog", "a red square"};
    size_t n_captions = sizeof captions / sizeof *captions;
    size_t e = (size_t)info.embed_dim;

    float *image_emb = malloc(n_images * e * sizeof(float));
    float *text_emb = malloc(n_captions * e * sizeof(float));
    if (!image_emb || !text_emb) return 1;
    check(cleanclip_encode_image_files(model, images, n_images, 1, image_emb, n_images * e, NULL), "encode images");
    check(cleanclip_encode_texts(model, captions, n_captions, 1, text_emb, n_captions * e, NULL), "encode texts");

    printf("\ncosine similarity (image x caption):\n");
    for (size_t i = 0; i < n_images; i++) {
        printf("  %-40s", images[i]);
        for (size_t c = 0; c < n_captions; c++) {
            float dot = 0;
            for (size_t j = 0; j < e; j++) dot += image_emb[i * e + j] * text_emb[c * e + j];
            printf(" %+.4f", dot);
        }
        printf("\n");
    }

    const char *classes[] = {"cat", "dog", "red square", "gradient"};
    const char *templates[] = {"a photo of a {}.", "a picture of a {}.", "{}"};
    size_t n_classes = sizeof classes / sizeof *classes, n_templates = sizeof templates / sizeof *templates;
    int32_t *best = malloc(n_images * sizeof(int32_t));
    float *probs = malloc(n_images * n_classes * sizeof(float));
    if (!best || !probs) return 1;
    check(cleanclip_zero_shot_files(model, images, n_images, classes, n_classes, templates, n_templates, best, probs,
                                    n_images * n_classes, NULL),
          "zero-shot");
    printf("\nzero-shot (%zu classes x %zu templates):\n", n_classes, n_templates);
    for (size_t i = 0; i < n_images; i++) {
        printf("  %-40s -> %-10s (p = %.3f)\n", images[i], classes[best[i]], probs[i * n_classes + (size_t)best[i]]);
    }

    free(best);
    free(probs);
    free(image_emb);
    free(text_emb);
    cleanclip_model_free(model);
    return 0;
}
