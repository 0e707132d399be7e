"""Misuse and hostile input through Python (issue 12): closing a model other threads use,
integers that do not fit their C types, named pipes, a huge temperature, non-finite pixels."""
import os
import threading
import time

import numpy as np
import pytest

import cleanclip


@pytest.fixture()
def model(fx):
    with cleanclip.load(fx / "text_model.safetensors") as m:
        yield m


# ---- item 7: close() while other threads use the model ---------------------------------

def test_close_while_other_threads_encode(fx):
    """close() used to free the model under calls that other threads had just started: a
    segfault (3 of 3 runs). Now running calls finish, later ones raise ValueError, and the last
    call out frees the model. Several rounds, closing at different moments of many short calls."""
    handles = []
    for round in range(10):
        m = cleanclip.load(fx / "text_model.safetensors")
        handles.append(m._handle)
        started, outcomes = threading.Barrier(9), []

        def work():
            started.wait()
            try:
                while True:
                    m.encode_text("a cat")
            except ValueError as e:
                outcomes.append(str(e))
            except Exception as e:  # pragma: no cover - reported below
                outcomes.append(repr(e))

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        started.wait()
        time.sleep(0.01 * round)
        m.close()
        for t in threads:
            t.join()
        assert outcomes == ["the model is closed"] * 8
    assert all(h._ptr is None for h in handles)  # each freed by its last call out


def test_finetune_has_the_model_to_itself(fx):
    """While finetune updates the model, other threads' calls raise RuntimeError; calls from its
    progress callback work; close() from the callback takes effect when finetune returns."""
    m = cleanclip.load(fx / "text_model.safetensors")
    seen = []

    def progress(p):
        if p["phase"] == "step" and p["done"] == 1:
            other = []
            t = threading.Thread(target=lambda: other.append(_error_of(lambda: m.encode_text("a cat"))))
            t.start()
            t.join()
            seen.append(other[0])
            seen.append(m.encode_text("a cat").shape)  # the finetuning thread itself may encode
            m.close()
        return True

    cleanclip.finetune(m, fx / "data" / "train.csv", epochs=1, batch_size=4, progress=progress)
    assert seen == ["RuntimeError: the model is being finetuned by another thread", (1, m.embed_dim)]
    assert m._handle._ptr is None
    with pytest.raises(ValueError, match="closed"):
        m.encode_text("a cat")


def _error_of(call) -> str:
    try:
        call()
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    return "no error"


# ---- item 13: integers are checked against their C types --------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda m, d: cleanclip.finetune(m, d / "train.csv", batch_size=2**32 + 4), "batch_size must be between 1 and 2147483647"),
    (lambda m, d: cleanclip.finetune(m, d / "train.csv", epochs=2**31), "epochs must be between 1 and 2147483647"),
    (lambda m, d: cleanclip.finetune(m, d / "train.csv", seed=2**64), "seed must be between 0 and 18446744073709551615"),
    (lambda m, d: cleanclip.finetune(m, d / "train.csv", seed=-1), "seed must be between 0"),
    (lambda m, d: cleanclip.poison(d / "train.csv", "red", 2**64 + 1), "count must be between 0 and 18446744073709551615"),
    (lambda m, d: cleanclip.poison(d / "train.csv", "red", 1, size_train_data=2**63), "size_train_data must be between 1"),
    (lambda m, d: cleanclip.score_samples(m, d / "train.csv", k=2**32 + 4), "k must be between 1 and 2147483647"),
    (lambda m, d: cleanclip.sample_scores(np.zeros((8, 2), np.float32), k=2**32 + 2), "k must be between 1 and 2147483647"),
    (lambda m, d: cleanclip.evaluate(m, d / "eval.csv", batch_size=2**32 + 1), "batch_size must be between 1"),
    (lambda m, d: cleanclip.evaluate(m, d / "eval.csv", patch_size=-2**40), "patch_size must be between 1"),
    (lambda m, d: cleanclip.set_num_threads(2**32 + 2), "n must be between -2147483648 and 2147483647"),
    (lambda m, d: cleanclip.tokenize("a", context_length=2**32 + 77), "context_length must be between"),
    (lambda m, d: cleanclip.preprocess(np.zeros((4, 4, 3), np.uint8), size=2**32 + 224), "size must be between"),
])
def test_integers_that_do_not_fit_their_c_type_raise(model, fx, call, message):
    """ctypes keeps the low bits of a Python int: batch_size=2**32+4 trained with batch 4 and
    poison(count=2**64+1) poisoned one row."""
    with pytest.raises(ValueError, match=message):
        call(model, fx / "data")


def test_num_threads_that_does_not_fit_raises(fx):
    with pytest.raises(ValueError, match="num_threads must be between 1 and 2147483647"):
        cleanclip.load(fx / "text_model.safetensors", num_threads=2**32 + 1)
    with pytest.raises(TypeError, match="k must be an int, not bool"):
        cleanclip.sample_scores(np.zeros((8, 2), np.float32), k=True)


# ---- items 10, 14, 15 through Python ------------------------------------------------------

def test_named_pipe_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def unblock():  # a regression then fails below instead of hanging the run
        time.sleep(5)
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass

    threading.Thread(target=unblock, daemon=True).start()
    start = time.monotonic()
    with pytest.raises(cleanclip.Error, match="not a regular file \\(a named pipe\\)") as e:
        cleanclip.load(fifo)
    assert e.value.status_name == "CLEANCLIP_IO_ERROR" and time.monotonic() - start < 4


def test_zero_shot_probabilities_stay_finite_at_a_huge_temperature(fx, image_paths):
    with cleanclip.load(fx / "hot_model.safetensors") as hot:
        assert hot.info["logit_scale"] == 100 and hot.info["temperature"] == float("inf")
        index, probs = cleanclip.zero_shot(hot, image_paths, ["red", "green", "blue", "noise"])
    assert np.isfinite(probs).all() and np.allclose(probs.sum(axis=1), 1)
    assert (index == probs.argmax(axis=1)).all()


def test_non_finite_pixels_are_an_error_naming_the_image(model):
    s = model.image_size
    pixels = np.zeros((3, 3, s, s), np.float32)
    pixels[2, 1, 4, 4] = np.nan
    with pytest.raises(cleanclip.Error, match="image 2 has a non-finite pixel value") as e:
        model.encode_pixels(pixels)
    assert e.value.status_name == "CLEANCLIP_INVALID_ARGUMENT"
