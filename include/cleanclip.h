/*
 * cleanclip.h — the C interface of libcleanclip.so: load CLIP checkpoints, compute image and
 * text embeddings that match PyTorch, and classify images zero-shot.
 *
 * Conventions (every function follows them):
 *   - Functions return an `int` status (`cleanclip_status`); 0 is success.
 *   - After a failing call, `cleanclip_last_error()` describes what went wrong and
 *     `cleanclip_extended_status()` may refine the status (e.g. CLEANCLIP_IO_ERROR_NOT_FOUND).
 *   - Objects are opaque handles created by `*_load` / `*_create` and released by the matching
 *     `*_free`; passing NULL to a `*_free` function does nothing.
 *   - Outputs go into caller-allocated buffers with an explicit capacity in elements. When the
 *     capacity is too small the call returns CLEANCLIP_BUFFER_TOO_SMALL, writes nothing to the
 *     buffer and stores the number of elements needed in `*needed` (when `needed` is not NULL).
 *     On success `*needed` holds the number of elements written. Text outputs (JSON reports,
 *     paths) count bytes, the terminating NUL included. Long calls whose output size is only
 *     known at the end check the capacity first against an upper bound (stored in `*needed`
 *     when too small), so a short buffer fails at once, before any work.
 *   - Option and info structs start with `size_t struct_size`, which the caller sets to
 *     `sizeof(struct)`. The library accepts sizes from older (smaller) headers, using defaults for
 *     fields it was not given, and rejects sizes larger than it knows with
 *     CLEANCLIP_INVALID_ARGUMENT (the header is newer than the library), as it does sizes
 *     smaller than the `struct_size` field itself; a rejected size writes nothing.
 *   - Strings are NUL-terminated UTF-8; invalid UTF-8 is rejected with CLEANCLIP_INVALID_ARGUMENT.
 *   - Images are RGB8 (3 bytes per pixel, rows top to bottom, no padding) or files (JPEG, PNG).
 *     Embeddings are float32, row-major, one row of `embed_dim` values per input.
 *   - Files (checkpoints, images, CSVs, class and template lists, WordNet) must be regular files:
 *     a named pipe, a device or a directory given where a file is expected is refused at once
 *     with CLEANCLIP_IO_ERROR ("not a regular file (a named pipe)"), never waited on.
 *   - Non-finite numbers are errors, never silent results: a checkpoint holding NaN or infinity
 *     in a weight is refused by cleanclip_model_load (CLEANCLIP_FORMAT_ERROR naming the weight);
 *     NaN or infinite pixels or image embeddings passed in, and embeddings that come out
 *     non-finite (inputs or weights too large for float32), fail with CLEANCLIP_INVALID_ARGUMENT
 *     naming the input's index.
 *   - No call exits the process, traps or prints; every problem is reported as a status.
 *   - Targets 64-bit platforms (LP64); struct layouts are checked by the test suites.
 */
#ifndef CLEANCLIP_H
#define CLEANCLIP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Version
 * Thread safety: every function in this section may be called from any thread at any time.
 * ------------------------------------------------------------------------------------------- */

#define CLEANCLIP_VERSION_MAJOR 0
#define CLEANCLIP_VERSION_MINOR 3
#define CLEANCLIP_VERSION_PATCH 0
/** The header's version as one number: major * 10000 + minor * 100 + patch. */
#define CLEANCLIP_VERSION \
    (CLEANCLIP_VERSION_MAJOR * 10000 + CLEANCLIP_VERSION_MINOR * 100 + CLEANCLIP_VERSION_PATCH)

/** The library's version, encoded as CLEANCLIP_VERSION. A host compiled against this header
 *  should refuse a library whose major version differs (or whose minor version is older). */
uint32_t cleanclip_version(void);

/** The library's version as a static string, e.g. "0.3.0". */
const char *cleanclip_version_string(void);

/* ---------------------------------------------------------------------------------------------
 * Status codes and errors
 * Thread safety: the last error and the extended status are thread-local; every function here
 * may be called from any thread. They describe the most recent call made on the same thread.
 * cleanclip_status_name and cleanclip_errstr return static strings and change nothing.
 * ------------------------------------------------------------------------------------------- */

typedef enum cleanclip_status {
    CLEANCLIP_OK = 0,               /**< Success. */
    CLEANCLIP_INVALID_ARGUMENT = 1, /**< A value is out of range: zero count, bad size, bad UTF-8, unknown option. */
    CLEANCLIP_NULL_POINTER = 2,     /**< A required pointer argument was NULL. */
    CLEANCLIP_BUFFER_TOO_SMALL = 3, /**< An output buffer's capacity is too small; `*needed` says how many elements. */
    CLEANCLIP_IO_ERROR = 4,         /**< A file is missing or cannot be read. */
    CLEANCLIP_FORMAT_ERROR = 5,     /**< A file was read but its contents are malformed or unsupported. */
    CLEANCLIP_SHAPE_MISMATCH = 6,   /**< Input sizes do not fit the model (pixel count, token count, token ids). */
    CLEANCLIP_CANCELLED = 7,        /**< A progress callback asked to stop a long operation. */
    CLEANCLIP_OUT_OF_MEMORY = 8,    /**< Memory could not be allocated or the request is too large. */
    CLEANCLIP_UNSUPPORTED = 9,      /**< The operation is not available in this build. */
    CLEANCLIP_INTERNAL = 10         /**< A bug in the library; the message has details. */
} cleanclip_status;

/** Extended status codes, as SQLite's extended result codes: a primary status in the low 8 bits
 *  refined by a detail in the bits above (primary | detail << 8). Functions return primary
 *  statuses only, unchanged from earlier versions; cleanclip_extended_status() tells the detail
 *  afterwards. Later versions may add codes: a host that does not know one uses `code & 0xff`.
 *  A failure without a more precise code reports its primary status as the extended one. */
typedef enum cleanclip_extended_code {
    CLEANCLIP_INVALID_ARGUMENT_NON_FINITE = CLEANCLIP_INVALID_ARGUMENT | (1 << 8),  /**< A NaN or infinity in numbers passed in (pixels, embeddings) or in embeddings computed from them. */
    CLEANCLIP_INVALID_ARGUMENT_STRUCT_SIZE = CLEANCLIP_INVALID_ARGUMENT | (2 << 8), /**< An options or info struct's struct_size is too small, or larger than the library's struct (the header is newer). */
    CLEANCLIP_IO_ERROR_NOT_FOUND = CLEANCLIP_IO_ERROR | (1 << 8),                   /**< A file or directory does not exist. */
    CLEANCLIP_IO_ERROR_NOT_REGULAR_FILE = CLEANCLIP_IO_ERROR | (2 << 8),            /**< A named pipe, device or directory was given where a file is expected. */
    CLEANCLIP_FORMAT_ERROR_NON_FINITE = CLEANCLIP_FORMAT_ERROR | (1 << 8)           /**< A checkpoint's weight holds NaN or infinity. */
} cleanclip_extended_code;

/** A static, constant name for a status or extended status ("CLEANCLIP_OK",
 *  "CLEANCLIP_IO_ERROR_NOT_FOUND", ...); "CLEANCLIP_UNKNOWN_STATUS" for values in neither enum. */
const char *cleanclip_status_name(int status);

/** A static English description of a status or extended status (the text of its comment in
 *  this header). For an unknown extended code it describes the primary status (`code & 0xff`);
 *  "Unknown status." when that is unknown too. Never NULL. */
const char *cleanclip_errstr(int code);

/** A readable description of the most recent failing call on the calling thread, or "" when
 *  the most recent call succeeded. Never NULL. The string is owned by the library and stays
 *  valid until the next cleanclip_* call on the same thread (other than this function,
 *  cleanclip_extended_status, cleanclip_status_name, cleanclip_errstr and the version
 *  functions); copy it to keep it. */
const char *cleanclip_last_error(void);

/** The extended status of the most recent call on the calling thread: CLEANCLIP_OK after a
 *  success, else the status that call returned or a cleanclip_extended_code refining it
 *  (`extended & 0xff` is always the returned status). Changed by the same calls as
 *  cleanclip_last_error. */
int cleanclip_extended_status(void);

/* ---------------------------------------------------------------------------------------------
 * Threads
 * Thread safety: process-wide setting; change it before starting work, not while other threads
 * are encoding.
 * ------------------------------------------------------------------------------------------- */

/** Sets the number of worker threads used by every model (BLAS included). 1 <= n <= 1024. */
int cleanclip_set_num_threads(int32_t n);

/** The number of worker threads (all cores by default). */
int32_t cleanclip_get_num_threads(void);

/* ---------------------------------------------------------------------------------------------
 * BLAS
 * Matrix products run on OpenBLAS, which the library loads on first use after choosing its
 * kernel from the CPU's feature bits (CPUID, XGETBV), so that CPUs OpenBLAS does not recognise
 * still get their AVX2/AVX-512 kernels. OPENBLAS_CORETYPE set in the environment wins;
 * CLEANCLIP_OPENBLAS names another libopenblas.so. Without OpenBLAS a portable built-in kernel
 * runs (correct, about 10x slower) and the description says so.
 * Thread safety: any thread, any time.
 * ------------------------------------------------------------------------------------------- */

/** The kernel in use: "Cooperlake", "SkylakeX", "Haswell", "Zen", ... (openblas_get_corename),
 *  or "portable". Static string; loads OpenBLAS if that has not happened yet. */
const char *cleanclip_blas_kernel(void);

/** One line: library and version, kernel, how it was chosen, and a warning when the kernel is
 *  not the one this CPU should run. Static string. */
const char *cleanclip_blas_description(void);

/** Measures single-precision GEMM (800 x 3072 x 768, the current thread count) for about
 *  `seconds` (0 < seconds <= 60) and stores GFLOP/s (a multiply-add counts 2) in `*gflops`. */
int cleanclip_blas_measure_gflops(double seconds, double *gflops);

/* ---------------------------------------------------------------------------------------------
 * Models
 * Thread safety: a loaded model is immutable except while cleanclip_finetune updates it. Any
 * number of threads may encode, query info and classify with the same model handle at once, but
 * not while it is being finetuned. cleanclip_model_free must not run concurrently with any other
 * use of that handle, nor before a call that another thread is about to make with it: a host
 * that shares a handle between threads counts the calls in flight and frees the handle after
 * the last one returns (the Python package does; its close() never frees under a running call).
 * ------------------------------------------------------------------------------------------- */

/** An opaque CLIP model: image tower, text tower and logit scale. */
typedef struct cleanclip_model cleanclip_model;

typedef enum cleanclip_activation {
    CLEANCLIP_ACTIVATION_DEFAULT = 0,    /**< From the checkpoint: config.json for HF directories, else QuickGELU. */
    CLEANCLIP_ACTIVATION_QUICK_GELU = 1, /**< x * sigmoid(1.702 x): OpenAI and CleanCLIP weights. */
    CLEANCLIP_ACTIVATION_GELU = 2        /**< Exact erf GELU: laion2b / DataComp open_clip weights. */
} cleanclip_activation;

/** How to load a model. Fill with cleanclip_model_default_options before changing fields. */
typedef struct cleanclip_model_options {
    size_t struct_size;  /**< sizeof(cleanclip_model_options). */
    int32_t activation;  /**< A cleanclip_activation value. Default CLEANCLIP_ACTIVATION_DEFAULT. */
    int32_t num_threads; /**< 1..1024 sets the process-wide thread count (see cleanclip_set_num_threads); 0 keeps it. */
} cleanclip_model_options;

/** Writes the default options into `options`, of which the caller owns `struct_size` bytes
 *  (pass sizeof(cleanclip_model_options)); also sets options->struct_size. A size below
 *  sizeof(size_t) or above the library's sizeof fails with CLEANCLIP_INVALID_ARGUMENT and writes
 *  nothing; no byte beyond `struct_size` is ever written. */
int cleanclip_model_default_options(cleanclip_model_options *options, size_t struct_size);

/** Loads a checkpoint: a .safetensors file (OpenAI / open_clip / CleanCLIP or Hugging Face
 *  names) or a Hugging Face model directory. `options` may be NULL for the defaults. On success
 *  `*out` is a new model to release with cleanclip_model_free; on failure it is set to NULL.
 *  The file is read whole into memory: it may be changed, truncated or deleted once this
 *  returns. A weight holding NaN or infinity is refused (CLEANCLIP_FORMAT_ERROR, naming it). */
int cleanclip_model_load(const char *path, const cleanclip_model_options *options, cleanclip_model **out);

/** Releases a model. NULL is a no-op. Classifiers made from the model keep it alive. */
void cleanclip_model_free(cleanclip_model *model);

/** What a model is. The caller sets struct_size; fields beyond it are not written. */
typedef struct cleanclip_model_info {
    size_t struct_size;     /**< sizeof(cleanclip_model_info). */
    char architecture[64];  /**< "ViT-B/32", "RN50", or a description; NUL-terminated, truncated to fit. */
    int32_t embed_dim;      /**< E: floats per embedding. */
    int32_t image_size;     /**< S: input side in pixels (images are preprocessed to 3 x S x S). */
    int32_t context_length; /**< Tokens per text (77). */
    int32_t vocab_size;     /**< Token ids are 0 ..< vocab_size (49408 for CLIP's BPE vocabulary). */
    float logit_scale;      /**< The learned log temperature. */
    float temperature;      /**< exp(logit_scale): the factor applied to cosine similarities. */
    int32_t activation;     /**< The activation the model runs with: CLEANCLIP_ACTIVATION_QUICK_GELU or _GELU. */
    int32_t activation_assumed; /**< 1 when the file did not say which activation it uses, none was
                                     asked for, and QuickGELU was assumed (right for OpenAI and CleanCLIP
                                     weights; open_clip's laion2b / DataComp weights need
                                     CLEANCLIP_ACTIVATION_GELU in cleanclip_model_options); else 0. */
} cleanclip_model_info;

/** Fills `info` (set info->struct_size first). */
int cleanclip_model_get_info(const cleanclip_model *model, cleanclip_model_info *info);

/** File formats of cleanclip_model_save. */
typedef enum cleanclip_save_format {
    CLEANCLIP_SAVE_INFER = 0,        /**< From the path: ".pt" / ".pth" -> CLEANCLIP_PT, an existing directory or a
                                          name without an extension -> HF, anything else -> SAFETENSORS. */
    CLEANCLIP_SAVE_SAFETENSORS = 1,  /**< One .safetensors file, OpenAI / open_clip naming (cleanclip_model_load, open_clip). */
    CLEANCLIP_SAVE_CLEANCLIP_PT = 2, /**< CleanCLIP's checkpoint: torch.save of {"epoch", "name", "state_dict",
                                          "optimizer"}, readable by torch.load(weights_only=True) and CleanCLIP's
                                          --checkpoint; "optimizer" holds an empty AdamW state (CleanCLIP's two
                                          parameter groups), "epoch" is 0. */
    CLEANCLIP_SAVE_HF = 3            /**< A Hugging Face CLIPModel directory (config.json + model.safetensors), for
                                          transformers' CLIPModel.from_pretrained. ViT models only: a ResNet
                                          model fails with CLEANCLIP_INVALID_ARGUMENT. An existing directory is
                                          replaced only when empty or holding just those two files. */
} cleanclip_save_format;

/** Floating-point types of saved weights. */
typedef enum cleanclip_save_dtype {
    CLEANCLIP_SAVE_F32 = 0, /**< float32, exactly the weights in memory. */
    CLEANCLIP_SAVE_F16 = 1  /**< float16, rounded to nearest even; a weight beyond +-65504 is CLEANCLIP_FORMAT_ERROR. */
} cleanclip_save_dtype;

/** Writes `model` to `path` in `format` (a cleanclip_save_format) with floats as `dtype` (a
 *  cleanclip_save_dtype), atomically: a file or directory appears whole or not at all, and a
 *  failed save leaves what was at `path` as it was. Thread safety: as encoding (any number of
 *  threads with the same model, not while it is being finetuned). */
int cleanclip_model_save(const cleanclip_model *model, const char *path, int32_t format, int32_t dtype);

/* ---------------------------------------------------------------------------------------------
 * Tokenizing and preprocessing (no model needed)
 * Thread safety: may be called from any number of threads at once.
 * ------------------------------------------------------------------------------------------- */

/** Tokenizes `n_texts` strings with CLIP's BPE into n_texts x context_length int32 ids
 *  (row-major): [start, ids..., end, 0...]. context_length >= 2 (CLIP uses 77). When a text is
 *  too long, truncate != 0 keeps its first tokens and ends it with the end token (open_clip);
 *  truncate == 0 fails with CLEANCLIP_INVALID_ARGUMENT. */
int cleanclip_tokenize(const char *const *texts, size_t n_texts, int32_t context_length, int truncate,
                       int32_t *tokens, size_t capacity, size_t *needed);

/** Preprocesses an image file as CLIP does (bicubic resize of the short side to `size`, centre
 *  crop, normalisation) into 3 x size x size floats, channel-major. 1 <= size <= 4096. */
int cleanclip_preprocess_file(const char *path, int32_t size, float *pixels, size_t capacity, size_t *needed);

/** As cleanclip_preprocess_file for one RGB8 image of width x height pixels (width*height*3 bytes). */
int cleanclip_preprocess_rgb8(const uint8_t *rgb, size_t width, size_t height, int32_t size,
                              float *pixels, size_t capacity, size_t *needed);

/* ---------------------------------------------------------------------------------------------
 * Encoding
 * Each function writes n x embed_dim floats into `embeddings` (capacity in floats) and, when
 * `normalize` is non-zero, scales each row to unit L2 norm. Inputs are processed in batches
 * inside the library, so n may be large.
 * Thread safety: any number of threads may encode with the same model at once (not while it is
 * being finetuned).
 * ------------------------------------------------------------------------------------------- */

/** Token ids, n x context_length int32 (e.g. from cleanclip_tokenize). Ids must be < vocab_size. */
int cleanclip_encode_tokens(const cleanclip_model *model, const int32_t *tokens, size_t n, int normalize,
                            float *embeddings, size_t capacity, size_t *needed);

/** UTF-8 captions, tokenized with CLIP's BPE (context_length of the model, truncated). */
int cleanclip_encode_texts(const cleanclip_model *model, const char *const *texts, size_t n, int normalize,
                           float *embeddings, size_t capacity, size_t *needed);

/** Preprocessed pixels, n x 3 x S x S float32 with S = image_size. */
int cleanclip_encode_pixels(const cleanclip_model *model, const float *pixels, size_t n, int normalize,
                            float *embeddings, size_t capacity, size_t *needed);

/** Image files (JPEG, PNG), preprocessed in the library. */
int cleanclip_encode_image_files(const cleanclip_model *model, const char *const *paths, size_t n, int normalize,
                                 float *embeddings, size_t capacity, size_t *needed);

/** n RGB8 images of the same width x height, stored one after another (n*height*width*3 bytes,
 *  as a numpy uint8 array of shape (n, height, width, 3)); any size, preprocessed in the library.
 *  For images of different sizes, call once per image. */
int cleanclip_encode_rgb8(const cleanclip_model *model, const uint8_t *rgb, size_t n, size_t width, size_t height,
                          int normalize, float *embeddings, size_t capacity, size_t *needed);

/* ---------------------------------------------------------------------------------------------
 * Zero-shot classification
 * Class embedding = L2-normalised mean over templates of the normalised text embeddings of
 * template.replace("{}", class name); prediction = argmax over classes of the cosine similarity;
 * probabilities = softmax(temperature * similarities) per image, computed stably (exponents
 * relative to the best class, in double precision), so they are finite and sum to 1 for any
 * temperature: one that overflows float (logit_scale above 88.7) gives a one-hot at the best
 * class (classes tied at the best share it).
 * Thread safety: a classifier is immutable; any number of threads may classify with it at once.
 * cleanclip_classifier_free must not run concurrently with other uses of that handle.
 * ------------------------------------------------------------------------------------------- */

/** An opaque zero-shot classifier: a model plus the class embeddings. */
typedef struct cleanclip_classifier cleanclip_classifier;

/** Builds a classifier from `n_classes` class names and `n_templates` prompt templates, each
 *  containing "{}" where the class name goes (e.g. "a photo of a {}."). Keeps `model` alive. */
int cleanclip_classifier_create(const cleanclip_model *model, const char *const *classnames, size_t n_classes,
                                const char *const *templates, size_t n_templates, cleanclip_classifier **out);

/** Releases a classifier. NULL is a no-op. */
void cleanclip_classifier_free(cleanclip_classifier *classifier);

/** The number of classes (0 when classifier is NULL). */
size_t cleanclip_classifier_num_classes(const cleanclip_classifier *classifier);

/** The normalised class embeddings, n_classes x embed_dim floats. */
int cleanclip_classifier_class_embeddings(const cleanclip_classifier *classifier, float *embeddings,
                                          size_t capacity, size_t *needed);

/** Classifies n image embeddings (n x embed_dim, normalised or not). Writes the best class of
 *  each image into `indices` (n entries) and, when `probabilities` is not NULL, n x n_classes
 *  probabilities (`capacity` in floats; `*needed` refers to the probabilities). */
int cleanclip_classifier_classify_embeddings(const cleanclip_classifier *classifier, const float *image_embeddings,
                                             size_t n, int32_t *indices, float *probabilities,
                                             size_t capacity, size_t *needed);

/** As cleanclip_classifier_classify_embeddings for image files. */
int cleanclip_classifier_classify_files(const cleanclip_classifier *classifier, const char *const *paths,
                                        size_t n, int32_t *indices, float *probabilities,
                                        size_t capacity, size_t *needed);

/** As cleanclip_classifier_classify_embeddings for n RGB8 images laid out as in cleanclip_encode_rgb8. */
int cleanclip_classifier_classify_rgb8(const cleanclip_classifier *classifier, const uint8_t *rgb, size_t n,
                                       size_t width, size_t height, int32_t *indices, float *probabilities,
                                       size_t capacity, size_t *needed);

/** One call: builds a classifier, classifies image files, frees the classifier. */
int cleanclip_zero_shot_files(const cleanclip_model *model, const char *const *paths, size_t n_images,
                              const char *const *classnames, size_t n_classes,
                              const char *const *templates, size_t n_templates,
                              int32_t *indices, float *probabilities, size_t capacity, size_t *needed);

/* ---------------------------------------------------------------------------------------------
 * Progress callbacks
 * Long calls (finetuning, evaluation, scoring) take an optional progress callback and a
 * `user_data` pointer passed back to it unchanged. The callback runs on the thread that made the
 * call, between units of work; returning non-zero stops the call, which then returns
 * CLEANCLIP_CANCELLED. The `cleanclip_progress` it receives is owned by the library and valid only
 * during the callback. The callback must not free or finetune the model the call is using.
 * Thread safety: as the call that invokes the callback.
 * ------------------------------------------------------------------------------------------- */

/** One progress event. Written by the library: `struct_size` is the library's sizeof, so a field
 *  exists only when offsetof(field) + sizeof(field) <= struct_size (newer fields are appended).
 *  Values that do not apply to an event are 0 (integers) or NaN (floating point). */
typedef struct cleanclip_progress {
    size_t struct_size;        /**< The library's sizeof(cleanclip_progress). */
    const char *phase;         /**< Static string: "step", "epoch" (finetuning); "clean", "triggered", "train",
                                    "embed" (evaluation and scoring, images encoded). */
    int64_t done;              /**< "step": optimizer steps done in the whole run; "epoch": epochs done; else images done. */
    int64_t total;             /**< The total of `done` when the call finishes. */
    int32_t epoch;             /**< Finetuning: the current epoch, 0-based. */
    int32_t epochs;            /**< Finetuning: the number of epochs. */
    int32_t batch;             /**< Finetuning: batches done in this epoch. */
    int32_t batches_per_epoch; /**< Finetuning: batches per epoch (the last partial batch is dropped). */
    float loss;                /**< "step": this step's loss; "epoch": the epoch's mean loss. */
    float clip_loss;           /**< The multimodal (CLIP) part of the loss. */
    float inmodal_loss;        /**< The in-modal (self-supervised) part; NaN without `inmodal`. */
    float lr;                  /**< "step": the learning rate of this step. */
    double seconds;            /**< "step": this step's time; "epoch": the epoch's time. */
    double eta_seconds;        /**< "step": estimated time left in the run. */
    double pairs_per_second;   /**< "epoch": training throughput. */
} cleanclip_progress;

/** Return non-zero to cancel the call. */
typedef int (*cleanclip_progress_fn)(const cleanclip_progress *progress, void *user_data);

/* ---------------------------------------------------------------------------------------------
 * Finetuning (CleanCLIP: multimodal contrastive loss plus in-modal self-supervision)
 * The model's weights are updated in place. Thread safety: while cleanclip_finetune runs on a
 * model handle, no other thread may use that handle (encode, classify, evaluate, free) nor any
 * classifier made from it; a second cleanclip_finetune on the same handle fails with
 * CLEANCLIP_INVALID_ARGUMENT. Classifiers made before finetuning keep their old class embeddings.
 * Different handles may be finetuned on different threads (they share the worker threads).
 * ------------------------------------------------------------------------------------------- */

/** Finetuning settings (CleanCLIP's train.py flags). Fill with cleanclip_finetune_default_options. */
typedef struct cleanclip_finetune_options {
    size_t struct_size;      /**< sizeof(cleanclip_finetune_options). */
    int32_t inmodal;         /**< Non-zero: CleanCLIP (L_CLIP + L_SS); 0: multimodal loss only. Default 1. */
    int32_t batch_size;      /**< Pairs per step, >= 1. Default 64. */
    int32_t epochs;          /**< >= 1. Default 10. */
    int32_t warmup_steps;    /**< Linear warm-up steps before the cosine decay, >= 0. Default 50. */
    float clip_weight;       /**< Weight of the multimodal loss. Default 1. */
    float inmodal_weight;    /**< Weight of the in-modal loss. Default 1. */
    float lr;                /**< Peak learning rate (AdamW). Default 1e-5. */
    float weight_decay;      /**< Default 0.1. */
    float beta1;             /**< Default 0.9. */
    float beta2;             /**< Default 0.999. */
    float eps;               /**< Default 1e-8. */
    float max_grad_norm;     /**< Global gradient-norm clipping; 0 (the default) clips nothing. */
    uint64_t seed;           /**< Data order, augmentation and caption augmentation. Default 0. */
    const char *wordnet_dir; /**< WordNet 3.0 database for caption augmentation (EDA), needed when `inmodal`
                                  and the CSV has no augmented_<caption_key> column. NULL: /usr/share/wordnet. */
} cleanclip_finetune_options;

/** Writes the default options (see cleanclip_model_default_options for `struct_size`). */
int cleanclip_finetune_default_options(cleanclip_finetune_options *options, size_t struct_size);

/** Data-parallel finetuning: in a host process started by an MPI launcher for N > 1 ranks
 *  (`mpirun -np N python train.py`, `srun`: OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK set),
 *  cleanclip_finetune runs one rank of one data-parallel job, as CleanCLIP's distributed training
 *  does: every rank calls it with the same model file, CSV, options and checkpoint path;
 *  `batch_size` is the global batch (it must divide by N) and each rank encodes its B/N pairs of
 *  every batch; embeddings are all-gathered so the loss is over the global batch; gradients are
 *  averaged over ranks; rank 0 alone writes the checkpoint, which resumes with any N. The library
 *  loads MPI through the plugin libcleanclip_mpi.so (scripts/build_mpi_plugin.sh), looked for in
 *  $CLEANCLIP_MPI_PLUGIN, next to libcleanclip.so, then on the loader's path; when it cannot be
 *  loaded the call fails with CLEANCLIP_IO_ERROR (extended status CLEANCLIP_IO_ERROR_NOT_FOUND),
 *  before any training. MPI is initialised by the first such call unless the host did it already (mpi4py), and then finalised at exit. When a
 *  call fails on one rank, end the job (MPI_Abort, or exit without finalising): the other ranks
 *  wait in their next collective. Outside an MPI launcher nothing of MPI is loaded. */
/** Finetunes `model` in place on the image-caption CSV `train_csv` (header row; image paths
 *  relative to the CSV's folder). `image_key` / `caption_key` name the columns (NULL: "image",
 *  "caption"); optional columns augmented_<image_key> / augmented_<caption_key> hold precomputed
 *  augmentations. `options` may be NULL for the defaults.
 *  `checkpoint_path` (may be NULL): after every epoch the model is saved there (safetensors,
 *  OpenAI naming, loadable by cleanclip_model_load and open_clip) and the optimizer state next to
 *  it (<stem>.optimizer.safetensors). With `resume` non-zero, the run continues the one that wrote
 *  `checkpoint_path`: the model's weights are replaced by the checkpoint's, the optimizer state
 *  and finished epochs are restored, and the options must be those of that run.
 *  Every file of a checkpoint records the same stamp (epochs done, optimizer step, a random id
 *  per save); resuming refuses, with CLEANCLIP_INVALID_ARGUMENT and before touching the model,
 *  files that are not from the same save (a run stopped between writing them), a step outside
 *  0..2^24 or one the finished epochs do not account for (other training data or batch size).
 *  Files are written atomically; a write killed midway leaves one hidden temporary file
 *  (.<name>.tmp next to it), which the next write to the same file takes over.
 *  `progress` (may be NULL) receives a "step" event after every optimizer step and an "epoch"
 *  event after every epoch (after its checkpoint). On CLEANCLIP_CANCELLED or another failure the
 *  model holds the weights of the last step taken; the last checkpoint on disk is intact. On
 *  return, whatever the status, the model is back in inference state (no parameter records
 *  gradients), so later encodes cost what they did before finetuning. */
int cleanclip_finetune(cleanclip_model *model, const char *train_csv, const char *image_key, const char *caption_key,
                       const cleanclip_finetune_options *options, const char *checkpoint_path, int resume,
                       cleanclip_progress_fn progress, void *user_data);

/* ---------------------------------------------------------------------------------------------
 * Evaluation and trigger scoring
 * Zero-shot clean accuracy (top-1, top-5) on a labelled image CSV and, with a trigger and a target
 * class, the attack success rate. Results are JSON objects (UTF-8, NUL-terminated) written into a
 * caller's char buffer of `capacity` bytes, with keys clean_accuracy, top5_accuracy, n_images and,
 * with a trigger, target, target_label, asr, n_asr_images, per_class_asr (a list of {label, class,
 * n_images, hits, asr}), mean_similarity_shift. Fractions are in [0, 1].
 * Output size: before any image is read, `capacity` is checked against an upper bound of the
 * report's size (computed from the class list); when it is smaller the call returns
 * CLEANCLIP_BUFFER_TOO_SMALL at once with that bound in `*needed`. On success `*needed` is the
 * number of bytes written, NUL included.
 * Thread safety: any number of threads may evaluate with the same model at once (not while it
 * is being finetuned).
 * ------------------------------------------------------------------------------------------- */

/** Evaluation settings. Fill with cleanclip_evaluate_default_options. Strings may be NULL. */
typedef struct cleanclip_evaluate_options {
    size_t struct_size;         /**< sizeof(cleanclip_evaluate_options). */
    const char *classes;        /**< Built-in class set: "imagenet" (NULL), "cifar10", "cifar100". */
    const char *classes_file;   /**< One class name per line; replaces `classes` when not NULL. */
    const char *templates_file; /**< One prompt template per line, each with "{}"; NULL: OpenAI's 80 templates. */
    const char *trigger;        /**< NULL: clean accuracy only; else "random" (BadNet), "yellow", "blended", "SIG",
                                     "warped" (WaNet k 224, s 1) or "wanet" (k 4, s 0.5). */
    const char *target;         /**< Target class name (or index as text); needed with a trigger. */
    const char *location;       /**< Patch location: "random" (NULL), "four_corners", "top_left", ... */
    int32_t patch_size;         /**< Patch side in pixels (BadNet, yellow), on a 224 x 224 image. Default 16. */
    int32_t batch_size;         /**< Images per encoder call. Default 64. */
    uint64_t seed;              /**< Seed of the trigger's per-image draws. Default 0. */
    const char *image_column;   /**< CSV column of image paths (relative to the CSV's folder); NULL: "image". */
    const char *label_column;   /**< CSV column of labels (class index or name); NULL: "label". */
} cleanclip_evaluate_options;

/** Writes the default options (see cleanclip_model_default_options for `struct_size`). */
int cleanclip_evaluate_default_options(cleanclip_evaluate_options *options, size_t struct_size);

/** Zero-shot evaluation of `model` on `eval_csv`. `options` may be NULL (ImageNet classes, no
 *  trigger). `progress` (may be NULL) receives "clean" / "triggered" events with images done. */
int cleanclip_evaluate(const cleanclip_model *model, const char *eval_csv, const cleanclip_evaluate_options *options,
                       cleanclip_progress_fn progress, void *user_data, char *json, size_t capacity, size_t *needed);

/** Trigger scoring: as cleanclip_evaluate, but options->trigger and options->target are required
 *  and the report always has mean_similarity_shift (the mean over non-target images of
 *  cos(triggered, target) - cos(clean, target)) when any image is not of the target class. */
int cleanclip_score_trigger(const cleanclip_model *model, const char *eval_csv,
                            const cleanclip_evaluate_options *options, cleanclip_progress_fn progress, void *user_data,
                            char *json, size_t capacity, size_t *needed);

/* ---------------------------------------------------------------------------------------------
 * Poisoning (making backdoored training data, as CleanCLIP's create_backdoor_data.py)
 * Thread safety: may be called from any number of threads at once (with different outputs).
 * ------------------------------------------------------------------------------------------- */

/** Poisoning settings. Fill with cleanclip_poison_default_options. Strings may be NULL. */
typedef struct cleanclip_poison_options {
    size_t struct_size;         /**< sizeof(cleanclip_poison_options). */
    const char *trigger;        /**< As cleanclip_evaluate_options.trigger; NULL: "random" (BadNet). */
    const char *location;       /**< As cleanclip_evaluate_options.location; NULL: "random". */
    int32_t patch_size;         /**< Default 16. */
    int32_t label_consistent;   /**< Non-zero: poison only rows whose caption contains the target, keeping captions. */
    uint64_t seed;              /**< Row choice, caption templates and trigger draws. Default 0. */
    int64_t size_train_data;    /**< Keep at most this many rows in the output (poisoned first); 0: all. */
    const char *image_column;   /**< NULL: "image". */
    const char *caption_column; /**< NULL: "caption". */
    const char *output_name;    /**< File name of the output CSV; NULL: backdoor_<target>_<trigger>_..._<count>.csv. */
} cleanclip_poison_options;

/** Writes the default options (see cleanclip_model_default_options for `struct_size`). */
int cleanclip_poison_default_options(cleanclip_poison_options *options, size_t struct_size);

/** Poisons `count` rows of the image-caption CSV `csv`: their images get the trigger (written as
 *  PNGs into a backdoor_images_* folder) and, unless label-consistent, their captions become a
 *  template filled with `target` ("a photo of a banana."). Writes a CSV (columns image, caption,
 *  is_backdoor; poisoned rows first) into `output_dir` (NULL: the folder of `csv`) and its path
 *  into `csv_path` (`capacity` bytes; checked against an upper bound before anything is written,
 *  as for the evaluation reports). */
int cleanclip_poison(const char *csv, const char *target, size_t count, const char *output_dir,
                     const cleanclip_poison_options *options, char *csv_path, size_t capacity, size_t *needed);

/* ---------------------------------------------------------------------------------------------
 * Backdoor-sample scoring (k-distance, SLOF and DAO of image embeddings; higher = more suspicious)
 * Thread safety: any number of threads may score at once (with the same model, too).
 * ------------------------------------------------------------------------------------------- */

/** Sample-scoring settings. Fill with cleanclip_score_samples_default_options. */
typedef struct cleanclip_score_samples_options {
    size_t struct_size;          /**< sizeof(cleanclip_score_samples_options). */
    int32_t k;                   /**< Neighbours, >= 1 (the CSV needs k + 2 rows). Default 16. */
    int32_t batch_size;          /**< Images per encoder call. Default 64. */
    const char *image_column;    /**< NULL: "image". */
    const char *backdoor_column; /**< Column marking poisoned rows (1/0, true/false), if present; NULL: "is_backdoor". */
} cleanclip_score_samples_options;

/** Writes the default options (see cleanclip_model_default_options for `struct_size`). */
int cleanclip_score_samples_default_options(cleanclip_score_samples_options *options, size_t struct_size);

/** Scores every row of an image CSV by its image embedding. Each of `k_distance`, `slof`, `dao`
 *  may be NULL; the others receive one float per row (`capacity` floats each; the row count is
 *  checked after reading the CSV, before any image is encoded). `out_csv` (may be NULL): writes
 *  image, [is_backdoor,] k_distance, slof, dao per row. `auroc` (may be NULL): 3 doubles, the AUROC
 *  of k_distance, slof and dao for finding the marked rows; NaN when the CSV has no such column or
 *  only one kind of row. `progress`: "embed" events. */
int cleanclip_score_samples(const cleanclip_model *model, const char *csv,
                            const cleanclip_score_samples_options *options, const char *out_csv,
                            cleanclip_progress_fn progress, void *user_data, float *k_distance, float *slof,
                            float *dao, size_t capacity, size_t *needed, double *auroc);

/** The same scores for n x dim float32 embeddings (row-major, finite); n >= k + 2, k >= 1. Each
 *  output may be NULL; the others receive n floats (`capacity` floats each). */
int cleanclip_sample_scores(const float *embeddings, size_t n, size_t dim, int32_t k, float *k_distance,
                            float *slof, float *dao, size_t capacity, size_t *needed);

/* ---------------------------------------------------------------------------------------------
 * Layout introspection (for bindings that mirror the structs above, e.g. Python ctypes)
 * Thread safety: may be called from any thread at any time.
 * ------------------------------------------------------------------------------------------- */

/** The library's sizeof and field count for a struct named as in this header
 *  ("cleanclip_model_options", "cleanclip_model_info", "cleanclip_progress", ...). */
int cleanclip_struct_layout(const char *struct_name, size_t *size, size_t *n_fields);

/** Field `index` (declaration order) of a struct: its name (a static string), offset and size. */
int cleanclip_struct_field(const char *struct_name, size_t index, const char **field_name,
                           size_t *offset, size_t *size);

#ifdef __cplusplus
}
#endif

#endif /* CLEANCLIP_H */
