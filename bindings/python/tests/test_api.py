"""Every entry point of the Python API, on success and on failure (with the message)."""
import gc
import threading

import numpy as np
import pytest

import cleanclip
from conftest import MODELS
from fixtures import sample_images

CAPTIONS = ["a photo of a cat", "a diagram of a transformer", "Ünïcödé text 東京"]


# ---- load, info, close ---------------------------------------------------------------------

def test_info(vit_model):
    info = vit_model.info
    assert info["architecture"].startswith("ViT")
    assert (info["embed_dim"], info["image_size"], info["context_length"], info["vocab_size"]) == (32, 32, 77, 1000)
    assert info["temperature"] == pytest.approx(np.exp(info["logit_scale"]), rel=1e-6)
    assert "ViT" in repr(vit_model)


def test_load_missing_file():
    with pytest.raises(cleanclip.Error, match="no such file or directory") as e:
        cleanclip.load("/no/such/model.safetensors")
    assert e.value.status == cleanclip._lib.IO_ERROR and e.value.status_name == "CLEANCLIP_IO_ERROR"
    assert str(e.value).startswith("CLEANCLIP_IO_ERROR: /no/such/model.safetensors")


def test_load_corrupt_checkpoint(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(cleanclip.Error, match="bad.safetensors: header is not valid JSON") as e:
        cleanclip.load(bad)
    assert e.value.status_name == "CLEANCLIP_FORMAT_ERROR"
    short = tmp_path / "short.safetensors"
    short.write_bytes(b"abc")
    with pytest.raises(cleanclip.Error, match="too short"):
        cleanclip.load(str(short))


def test_load_wrong_weights(tmp_path):
    from fixtures import read_safetensors, write_safetensors
    t = read_safetensors(MODELS / "vit_quickgelu.safetensors")
    t["visual.proj"] = t["visual.proj"][:, :5]
    write_safetensors(tmp_path / "mismatch.safetensors", t)
    with pytest.raises(cleanclip.Error, match="mismatch.safetensors: .*") as e:
        cleanclip.load(tmp_path / "mismatch.safetensors")
    assert e.value.status_name == "CLEANCLIP_FORMAT_ERROR"


def test_load_options():
    with pytest.raises(TypeError, match="unknown option.*colour"):
        cleanclip.load(MODELS / "vit_gelu.safetensors", colour="red")
    with pytest.raises(ValueError, match="activation must be"):
        cleanclip.load(MODELS / "vit_gelu.safetensors", activation="relu6")
    with pytest.raises(ValueError, match="num_threads must be between 1 and"):
        cleanclip.load(MODELS / "vit_gelu.safetensors", num_threads=0)
    with pytest.raises(TypeError, match="path must be"):
        cleanclip.load(42)
    before = cleanclip.get_num_threads()
    with cleanclip.load(MODELS / "vit_gelu.safetensors", activation="gelu", num_threads=1) as m:
        assert cleanclip.get_num_threads() == 1
        assert m.info["embed_dim"] == 32
    cleanclip.set_num_threads(before)
    with pytest.raises(cleanclip.Error, match="between 1 and"):
        cleanclip.set_num_threads(0)


def test_close_and_context_manager():
    m = cleanclip.load(MODELS / "vit_quickgelu.safetensors")
    m.close()
    m.close()  # idempotent
    with pytest.raises(ValueError, match="the model is closed"):
        m.encode_pixels(np.zeros((1, 3, 32, 32), np.float32))
    with cleanclip.load(MODELS / "vit_quickgelu.safetensors") as m2:
        pass
    with pytest.raises(ValueError, match="closed"):
        m2.encode_tokens(np.zeros((1, 77), np.int32))
    m3 = cleanclip.load(MODELS / "vit_quickgelu.safetensors")
    del m3  # freed by __del__
    gc.collect()


# ---- tokenize ------------------------------------------------------------------------------

def test_tokenize():
    t = cleanclip.tokenize(["a photo of a cat", "a dog"])
    assert t.dtype == np.int32 and t.shape == (2, 77)
    assert t[0, :8].tolist() == [49406, 320, 1125, 539, 320, 2368, 49407, 0]
    assert cleanclip.tokenize("a dog").shape == (1, 77)
    long = " ".join(["word"] * 100)
    assert cleanclip.tokenize(long, context_length=10)[0, -1] == 49407
    with pytest.raises(cleanclip.Error, match="more than the context length 10"):
        cleanclip.tokenize(long, context_length=10, truncate=False)


def test_tokenize_failures():
    with pytest.raises(cleanclip.Error, match="the number of texts is 0") as e:
        cleanclip.tokenize([])
    assert e.value.status_name == "CLEANCLIP_INVALID_ARGUMENT"
    with pytest.raises(TypeError, match=r"texts\[1\] is int, expected str"):
        cleanclip.tokenize(["ok", 3])
    with pytest.raises(TypeError, match="texts must be a string or a list of strings, not bytes"):
        cleanclip.tokenize(b"bytes")
    with pytest.raises(cleanclip.Error, match="context_length 1 must be between 2"):
        cleanclip.tokenize("a", context_length=1)
    with pytest.raises(ValueError, match=r"texts\[0\] contains a NUL"):
        cleanclip.tokenize("a\0b")
    with pytest.raises(ValueError, match=r"texts\[0\] cannot be encoded as UTF-8"):
        cleanclip.tokenize("\ud800")


def test_invalid_utf8_reaches_the_library_as_a_status():
    import ctypes
    arr = (ctypes.c_char_p * 1)(b"caf\xe9")
    out = np.zeros(77, np.int32)
    status = cleanclip._lib.lib.cleanclip_tokenize(arr, 1, 77, 1, out.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                                                   77, None)
    assert status == cleanclip._lib.INVALID_ARGUMENT
    assert cleanclip._lib.lib.cleanclip_last_error() == b"texts[0] is not valid UTF-8"


# ---- encode --------------------------------------------------------------------------------

def test_encode_text(text_model):
    e = text_model.encode_text(CAPTIONS, normalize=True)
    assert e.dtype == np.float32 and e.shape == (3, 32)
    assert np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    # The default is the raw embedding, as `cleanclip embed` without --normalize.
    raw = text_model.encode_text(CAPTIONS)
    assert np.array_equal(raw, text_model.encode_text(CAPTIONS, normalize=False))
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1, atol=1e-3)
    assert np.allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), e, atol=1e-6)
    assert np.array_equal(text_model.encode_tokens(cleanclip.tokenize(CAPTIONS), normalize=True), e)
    assert np.allclose(text_model.encode_text(CAPTIONS[0], normalize=True), e[:1], atol=1e-6)  # batch of 1 vs 3


def test_encode_text_failures(text_model, vit_model):
    with pytest.raises(cleanclip.Error, match="the number of texts is 0"):
        text_model.encode_text([])
    with pytest.raises(TypeError, match=r"texts\[0\] is NoneType, expected str"):
        text_model.encode_text([None])
    with pytest.raises(TypeError, match=r"texts\[1\] is float"):
        text_model.encode_text(["ok", 1.5])
    with pytest.raises(TypeError, match="not int"):
        text_model.encode_text(5)
    with pytest.raises(cleanclip.Error, match="vocabulary has 1000 tokens") as e:
        vit_model.encode_text(["a cat"])
    assert e.value.status_name == "CLEANCLIP_SHAPE_MISMATCH"


def test_encode_tokens_failures(vit_model):
    with pytest.raises(TypeError, match="tokens must be an integer array, got dtype float32"):
        vit_model.encode_tokens(np.zeros((1, 77), np.float32))
    with pytest.raises(ValueError, match=r"tokens must have shape \(n, 77\), got \(2, 76\)"):
        vit_model.encode_tokens(np.zeros((2, 76), np.int32))
    bad = np.zeros((2, 77), np.int64)
    bad[1, 3] = 5000
    with pytest.raises(cleanclip.Error, match="token id 5000 of text 1, position 3 is outside the vocabulary"):
        vit_model.encode_tokens(bad)
    with pytest.raises(cleanclip.Error, match="the number of texts is 0"):
        vit_model.encode_tokens(np.zeros((0, 77), np.int32))
    with pytest.raises(ValueError, match="do not fit in int32"):
        vit_model.encode_tokens(np.full((1, 77), 2**40))


def test_encode_pixels_failures(vit_model):
    with pytest.raises(TypeError, match="pixels must be a float32 array, got dtype uint8"):
        vit_model.encode_pixels(np.zeros((1, 3, 32, 32), np.uint8))
    with pytest.raises(ValueError, match=r"pixels must have shape \(n, 3, 32, 32\), got \(1, 3, 224, 224\)"):
        vit_model.encode_pixels(np.zeros((1, 3, 224, 224), np.float32))
    with pytest.raises(ValueError, match=r"got \(3, 32, 32\)"):
        vit_model.encode_pixels(np.zeros((3, 32, 32), np.float32))
    with pytest.raises(cleanclip.Error, match="the number of images is 0"):
        vit_model.encode_pixels(np.zeros((0, 3, 32, 32), np.float32))
    f64 = np.random.default_rng(0).standard_normal((2, 3, 32, 32))
    assert np.array_equal(vit_model.encode_pixels(f64), vit_model.encode_pixels(f64.astype(np.float32)))
    strided = np.asfortranarray(f64.astype(np.float32))
    assert np.array_equal(vit_model.encode_pixels(strided), vit_model.encode_pixels(f64.astype(np.float32)))


def test_encode_images_paths_and_arrays(text_model, image_paths):
    from_files = text_model.encode_images(image_paths)
    assert from_files.shape == (3, 32) and from_files.dtype == np.float32
    pixels = np.stack([cleanclip.preprocess(p, size=32) for p in image_paths])
    assert np.array_equal(text_model.encode_pixels(pixels), from_files)
    assert np.allclose(text_model.encode_images(image_paths[0]), from_files[:1], atol=1e-6)
    imgs = sample_images()
    for i, name in enumerate(["gradient", "noise", "red"]):
        # PNG is lossless: the decoded file equals the array.
        assert np.allclose(text_model.encode_images(imgs[name][None]), from_files[i:i + 1], atol=1e-6)
        assert np.array_equal(text_model.encode_images(imgs[name]), text_model.encode_images(imgs[name][None]))
    batch = np.stack([imgs["gradient"], imgs["gradient"][::-1]])
    two = text_model.encode_images(batch)
    assert np.allclose(two[0], from_files[0], atol=1e-6)


def test_encode_images_failures(text_model, tmp_path, image_paths):
    with pytest.raises(cleanclip.Error, match="/no/such/image.png") as e:
        text_model.encode_images([image_paths[0], "/no/such/image.png"])
    assert e.value.status_name == "CLEANCLIP_IO_ERROR"
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(cleanclip.Error, match="corrupt.png") as e:
        text_model.encode_images([str(corrupt)])
    assert e.value.status_name == "CLEANCLIP_FORMAT_ERROR"
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    with pytest.raises(cleanclip.Error, match="notes.txt"):
        text_model.encode_images([text_file])
    with pytest.raises(cleanclip.Error, match="the number of images is 0"):
        text_model.encode_images([])
    with pytest.raises(TypeError, match="images must be uint8 RGB, got dtype float32"):
        text_model.encode_images(np.zeros((1, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match=r"images must have shape \(n, height, width, 3\), got \(1, 8, 8, 4\)"):
        text_model.encode_images(np.zeros((1, 8, 8, 4), np.uint8))
    with pytest.raises(cleanclip.Error, match="width and height must be positive"):
        text_model.encode_images(np.zeros((1, 0, 8, 3), np.uint8))
    with pytest.raises(TypeError, match=r"images\[1\] is int, expected a path"):
        text_model.encode_images(["a.png", 3])


def test_concurrent_encoding_from_python_threads(text_model, image_paths):
    expected = text_model.encode_images(image_paths), text_model.encode_text(CAPTIONS)
    results, errors = [], []

    def work():
        try:
            for _ in range(3):
                results.append((text_model.encode_images(image_paths), text_model.encode_text(CAPTIONS)))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 12
    for img, txt in results:
        assert np.array_equal(img, expected[0]) and np.array_equal(txt, expected[1])


# ---- preprocess ----------------------------------------------------------------------------

def test_preprocess(image_paths):
    p = cleanclip.preprocess(image_paths[0])
    assert p.shape == (3, 224, 224) and p.dtype == np.float32
    a = cleanclip.preprocess(sample_images()["gradient"], size=224)
    assert np.array_equal(a, p)
    red = cleanclip.preprocess(sample_images()["red"], size=16)
    mean = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
    std = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
    want = (np.array([220, 30, 30], np.float32) / 255 - mean) / std
    assert np.allclose(red[:, 5, 5], want, atol=1e-6)


def test_preprocess_failures(tmp_path):
    with pytest.raises(cleanclip.Error, match="/no/such.png") as e:
        cleanclip.preprocess("/no/such.png")
    assert e.value.status_name == "CLEANCLIP_IO_ERROR"
    with pytest.raises(cleanclip.Error, match="size 0 must be between 1 and 4096"):
        cleanclip.preprocess(np.zeros((4, 4, 3), np.uint8), size=0)
    with pytest.raises(TypeError, match="uint8 RGB array, got dtype float64"):
        cleanclip.preprocess(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match=r"shape \(height, width, 3\), got \(4, 4\)"):
        cleanclip.preprocess(np.zeros((4, 4), np.uint8))
    with pytest.raises(TypeError, match="size must be an int"):
        cleanclip.preprocess("x.png", size=2.5)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(cleanclip.Error, match="empty.jpg"):
        cleanclip.preprocess(empty)


# ---- zero-shot -----------------------------------------------------------------------------

def test_zero_shot(text_model, image_paths):
    classes, templates = ["cat", "dog", "red square"], ["a photo of a {}.", "{}"]
    idx, probs = cleanclip.zero_shot(text_model, image_paths, classes, templates)
    assert idx.shape == (3,) and probs.shape == (3, 3) and probs.dtype == np.float32
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    # The definition: class = normalised mean of normalised template embeddings; softmax(T * cos).
    cls = []
    for c in classes:
        t = text_model.encode_text([tpl.replace("{}", c) for tpl in templates], normalize=True)
        m = t.mean(axis=0)
        cls.append(m / np.linalg.norm(m))
    cls = np.stack(cls)
    img = text_model.encode_images(image_paths, normalize=True)
    sims = img @ cls.T
    logits = text_model.info["temperature"] * sims
    want = np.exp(logits - logits.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    assert np.array_equal(idx, sims.argmax(axis=1))
    assert np.allclose(probs, want, atol=1e-5)
    with text_model.classifier(classes, templates) as clf:
        assert np.allclose(clf.class_embeddings, cls, atol=1e-6)
        i2, p2 = clf.classify(np.stack([sample_images()["red"]]))
        assert i2[0] == idx[2] and np.allclose(p2[0], probs[2], atol=1e-6)
        i3, p3 = clf.classify_embeddings(img)
        assert np.array_equal(i3, idx) and np.allclose(p3, probs, atol=1e-6)


def test_zero_shot_failures(text_model, image_paths):
    with pytest.raises(cleanclip.Error, match="the number of classnames is 0"):
        cleanclip.zero_shot(text_model, image_paths, [], ["{}"])
    with pytest.raises(cleanclip.Error, match="the number of templates is 0"):
        cleanclip.zero_shot(text_model, image_paths, ["cat"], [])
    with pytest.raises(cleanclip.Error, match=r'template 1 \("a photo"\) has no "\{\}" placeholder'):
        cleanclip.zero_shot(text_model, image_paths, ["cat"], ["a photo"])
    with pytest.raises(TypeError, match=r"classnames\[0\] is int"):
        cleanclip.zero_shot(text_model, image_paths, [1], ["{}"])
    with pytest.raises(TypeError, match="model must be a cleanclip.Model"):
        cleanclip.zero_shot("model", image_paths, ["cat"], ["{}"])
    with pytest.raises(ValueError, match="images is empty"):
        cleanclip.zero_shot(text_model, [], ["cat"], ["{}"])
    with pytest.raises(cleanclip.Error, match="/no/such/image.png"):
        cleanclip.zero_shot(text_model, ["/no/such/image.png"], ["cat"], ["{}"])
    clf = text_model.classifier(["cat"])
    with pytest.raises(ValueError, match=r"embeddings must have shape \(n, 32\), got \(2, 31\)"):
        clf.classify_embeddings(np.zeros((2, 31), np.float32))
    with pytest.raises(TypeError, match="embeddings must be a float32 array"):
        clf.classify_embeddings(np.zeros((2, 32), np.int8))
    clf.close()
    with pytest.raises(ValueError, match="the classifier is closed"):
        clf.class_embeddings
