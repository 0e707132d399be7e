"""The method through Python: finetune, evaluate, score_trigger, poison, score_samples,
sample_scores; progress callbacks, cancellation and failures with the library's messages.
Runs on the tiny data set of fixtures.make_method_data (16 + 8 small PNGs) with the
full-vocabulary fixture model, so everything here takes a few seconds."""
import csv
import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cleanclip


@pytest.fixture(scope="module")
def data(fx):
    return fx / "data"


@pytest.fixture()
def model(fx):
    """A fresh model per test: finetuning changes it in place."""
    with cleanclip.load(fx / "text_model.safetensors") as m:
        yield m


# ---- finetune ---------------------------------------------------------------------------

def test_finetune_updates_the_model_reports_progress_and_checkpoints(model, data, tmp_path):
    before = model.encode_text("a photo of a red square")
    events = []
    ckpt = tmp_path / "ft.safetensors"
    epochs = cleanclip.finetune(model, data / "train.csv", epochs=1, batch_size=4, warmup_steps=1, lr=1e-3,
                                out=ckpt, progress=events.append)
    steps = [e for e in events if e["phase"] == "step"]
    assert [e["done"] for e in steps] == [1, 2, 3, 4]
    assert all(e["total"] == 4 and e["batches_per_epoch"] == 4 and e["loss"] > 0 for e in steps)
    assert steps[0]["inmodal_loss"] is not None and steps[0]["lr"] > 0 and steps[0]["pairs_per_second"] is None
    assert len(epochs) == 1 and epochs[0]["phase"] == "epoch" and epochs[0] == events[-1]
    after = model.encode_text("a photo of a red square")
    assert np.abs(after - before).max() > 1e-4
    assert (tmp_path / "ft.optimizer.safetensors").is_file()
    with cleanclip.load(ckpt) as saved:
        np.testing.assert_array_equal(saved.encode_text("a photo of a red square"), after)
        # Resuming the finished run changes nothing and takes no step.
        events.clear()
        assert cleanclip.finetune(saved, data / "train.csv", epochs=1, batch_size=4, warmup_steps=1, lr=1e-3,
                                  out=ckpt, resume=True, progress=events.append) == []
        assert events == []
        with pytest.raises(cleanclip.Error, match="other settings") as e:
            cleanclip.finetune(saved, data / "train.csv", epochs=2, batch_size=4, warmup_steps=1, lr=1e-3,
                               out=ckpt, resume=True)
        assert e.value.status_name == "CLEANCLIP_INVALID_ARGUMENT"


def test_finetune_checkpoint_keyword_is_the_deprecated_name_of_out(model, data, tmp_path):
    ckpt = tmp_path / "old.safetensors"
    with pytest.warns(DeprecationWarning, match=r"checkpoint=\) is deprecated: the output path is now out="):
        cleanclip.finetune(model, data / "train.csv", epochs=1, batch_size=8, checkpoint=ckpt)
    assert ckpt.is_file() and (tmp_path / "old.optimizer.safetensors").is_file()
    with pytest.raises(TypeError, match="give out= only"):
        cleanclip.finetune(model, data / "train.csv", epochs=1, batch_size=8, out=ckpt, checkpoint=ckpt)


def test_finetune_defaults_are_the_librarys():
    """Python's keyword defaults are the library's (cleanclip_finetune_default_options): inmodal on,
    CleanCLIP, as `cleanclip finetune` without --no-inmodal."""
    import inspect
    o = cleanclip._lib.cleanclip_finetune_options()
    assert cleanclip.lib.cleanclip_finetune_default_options(ctypes.byref(o), ctypes.sizeof(o)) == 0
    d = {k: v.default for k, v in inspect.signature(cleanclip.finetune).parameters.items()}
    assert d["inmodal"] == bool(o.inmodal)
    for name in ("batch_size", "epochs", "warmup_steps", "seed"):
        assert d[name] == getattr(o, name), name
    for name in ("lr", "weight_decay", "clip_weight", "inmodal_weight"):
        assert d[name] == pytest.approx(getattr(o, name)), name


def test_finetune_mmcl_only_has_no_inmodal_loss(model, data):
    events = []
    cleanclip.finetune(model, data / "train.csv", inmodal=False, epochs=1, batch_size=8, progress=events.append)
    assert len(events) == 3 and all(e["inmodal_loss"] is None for e in events)


def test_finetune_cancel(model, data):
    calls = []
    with pytest.raises(cleanclip.Cancelled, match=r"cancelled by the progress callback \(at epoch 1, step 1\)") as e:
        cleanclip.finetune(model, data / "train.csv", epochs=1, batch_size=4, progress=lambda p: calls.append(p) or False)
    assert e.value.status == cleanclip._lib.CANCELLED and isinstance(e.value, cleanclip.Error)
    assert len(calls) == 1


def test_finetune_callback_exception_is_reraised(model, data):
    def boom(p):
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        cleanclip.finetune(model, data / "train.csv", epochs=1, batch_size=4, progress=boom)


def test_finetune_failures(model, data, tmp_path):
    train = data / "train.csv"
    with pytest.raises(cleanclip.Error, match="no such file") as e:
        cleanclip.finetune(model, tmp_path / "missing.csv")
    assert e.value.status_name == "CLEANCLIP_IO_ERROR"
    with pytest.raises(cleanclip.Error, match="make no full batch of 64"):
        cleanclip.finetune(model, train)
    with pytest.raises(cleanclip.Error, match=r"options->lr must be positive and finite, got -1.0"):
        cleanclip.finetune(model, train, batch_size=4, lr=-1)
    with pytest.raises(cleanclip.Error, match="resume needs checkpoint_path"):
        cleanclip.finetune(model, train, batch_size=4, resume=True)
    with pytest.raises(cleanclip.Error, match="missing.optimizer.safetensors: no such file"):
        cleanclip.finetune(model, train, batch_size=4, out=tmp_path / "missing.safetensors", resume=True)
    with pytest.raises(cleanclip.Error, match="column 'picture'") as e:
        cleanclip.finetune(model, train, batch_size=4, image_key="picture")
    assert e.value.status_name == "CLEANCLIP_FORMAT_ERROR"
    with pytest.raises(cleanclip.Error, match="WordNet 3.0 not found"):
        cleanclip.finetune(model, train, batch_size=4, caption_key="augmented_caption", wordnet_dir=tmp_path)
    with pytest.raises(ValueError, match="batch_size must be between 1 and"):
        cleanclip.finetune(model, train, batch_size=0)
    with pytest.raises(TypeError, match="model must be a cleanclip.Model"):
        cleanclip.finetune("model.safetensors", train)
    with pytest.raises(TypeError, match="progress must be callable"):
        cleanclip.finetune(model, train, batch_size=4, progress=3)


# ---- evaluate / score_trigger -----------------------------------------------------------

def test_evaluate_clean_and_triggered(model, data):
    r = cleanclip.evaluate(model, data / "eval.csv", classes=data / "classes.txt", templates=data / "templates.txt")
    assert r["n_images"] == 8 and 0 <= r["clean_accuracy"] <= r["top5_accuracy"] == 1
    assert "asr" not in r
    events = []
    r = cleanclip.evaluate(model, data / "eval.csv", classes=str(data / "classes.txt"), trigger="yellow",
                           target="red", patch_size=4, batch_size=4, progress=events.append)
    assert r["target"] == "red" and r["target_label"] == 0 and r["n_asr_images"] == 6 and 0 <= r["asr"] <= 1
    assert [c["class"] for c in r["per_class_asr"]] == ["green", "blue", "yellow"]
    assert [(e["phase"], e["done"], e["total"]) for e in events] == [
        ("clean", 4, 8), ("clean", 8, 8), ("triggered", 4, 8), ("triggered", 8, 8)]
    # A built-in class set by name (labels 0..3 are CIFAR-10 classes).
    assert cleanclip.evaluate(model, data / "eval.csv", classes="cifar10")["n_images"] == 8


def test_score_trigger(model, data):
    r = cleanclip.score_trigger(model, data / "eval.csv", "random", "blue", classes=data / "classes.txt",
                                patch_size=4, seed=3)
    assert r["target"] == "blue" and "mean_similarity_shift" in r
    again = cleanclip.score_trigger(model, data / "eval.csv", "random", "blue", classes=data / "classes.txt",
                                    patch_size=4, seed=3)
    assert again == r


def test_evaluate_failures(model, data, tmp_path):
    ev, classes = data / "eval.csv", data / "classes.txt"
    with pytest.raises(cleanclip.Error, match="'purple' is not one of the 4 classes"):
        cleanclip.evaluate(model, ev, classes=classes, trigger="yellow", target="purple")
    with pytest.raises(cleanclip.Error, match="a trigger needs a target class"):
        cleanclip.evaluate(model, ev, classes=classes, trigger="yellow")
    with pytest.raises(cleanclip.Error, match="unknown trigger 'sparkles'"):
        cleanclip.evaluate(model, ev, classes=classes, trigger="sparkles", target="red")
    with pytest.raises(cleanclip.Error, match="unknown class set 'mnist'"):
        cleanclip.evaluate(model, ev, classes="mnist")
    with pytest.raises(cleanclip.Error, match="no such file") as e:
        cleanclip.evaluate(model, tmp_path / "nope.csv", classes=classes)
    assert e.value.status_name == "CLEANCLIP_IO_ERROR"
    (tmp_path / "bad_templates.txt").write_text("a photo\n")
    with pytest.raises(cleanclip.Error, match="no \"{}\" placeholder"):
        cleanclip.evaluate(model, ev, classes=classes, templates=tmp_path / "bad_templates.txt")
    with pytest.raises(cleanclip.Error, match="options->target is NULL"):
        cleanclip.score_trigger(model, ev, "yellow", None, classes=classes)
    with pytest.raises(cleanclip.Cancelled, match="cancelled by the progress callback"):
        cleanclip.evaluate(model, ev, classes=classes, batch_size=2, progress=lambda p: p["done"] < 4)
    with pytest.raises(ValueError, match="patch_size must be between 1 and"):
        cleanclip.evaluate(model, ev, classes=classes, trigger="yellow", target="red", patch_size=0)


# ---- poison / score_samples / sample_scores ---------------------------------------------

def test_poison_then_score_samples(model, data, tmp_path):
    out = cleanclip.poison(data / "train.csv", "red", 4, output_dir=tmp_path, patch_size=4, seed=1)
    assert out.startswith(str(tmp_path)) and out.endswith(".csv")
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 16 and [r["is_backdoor"] for r in rows[:5]] == ["1"] * 4 + ["0"]
    assert all("red" in r["caption"] for r in rows[:4])
    named = cleanclip.poison(data / "train.csv", "red", 4, output_dir=tmp_path, patch_size=4, seed=1,
                             output_name="p.csv", size_train_data=10)
    assert named == str(tmp_path / "p.csv") and len(list(csv.DictReader(open(named)))) == 10

    events = []
    s = cleanclip.score_samples(model, out, k=4, out_csv=tmp_path / "scores.csv", batch_size=8,
                                progress=events.append)
    assert set(s) == {"k_distance", "slof", "dao", "auroc"}
    assert all(s[k].shape == (16,) and s[k].dtype == np.float32 for k in ("k_distance", "slof", "dao"))
    assert set(s["auroc"]) == {"k_distance", "slof", "dao"} and all(0 <= v <= 1 for v in s["auroc"].values())
    assert [(e["phase"], e["done"]) for e in events] == [("embed", 8), ("embed", 16)]
    written = list(csv.DictReader(open(tmp_path / "scores.csv")))
    assert len(written) == 16 and float(written[3]["dao"]) == pytest.approx(float(s["dao"][3]), rel=1e-6)
    # The same scores from the embeddings (unnormalised, as the CSV scoring uses them).
    paths = [r["image"] if r["image"].startswith("/") else str(tmp_path / r["image"]) for r in rows]
    e = model.encode_images(paths, normalize=False)
    direct = cleanclip.sample_scores(e, k=4)
    for k in ("k_distance", "slof", "dao"):
        np.testing.assert_allclose(direct[k], s[k], rtol=1e-5, atol=1e-5)
    assert cleanclip.score_samples(model, data / "train.csv", k=4)["auroc"] is None


def test_poison_and_score_failures(model, data, tmp_path):
    with pytest.raises(cleanclip.Error, match="only 16 rows; cannot poison 17"):
        cleanclip.poison(data / "train.csv", "red", 17, output_dir=tmp_path)
    with pytest.raises(cleanclip.Error, match="count is 0"):
        cleanclip.poison(data / "train.csv", "red", 0, output_dir=tmp_path)
    with pytest.raises(cleanclip.Error, match="unknown patch location 'middle'"):
        cleanclip.poison(data / "train.csv", "red", 1, output_dir=tmp_path, location="middle")
    with pytest.raises(cleanclip.Error, match="no such file") as e:
        cleanclip.poison(tmp_path / "none.csv", "red", 1)
    assert e.value.status_name == "CLEANCLIP_IO_ERROR"
    with pytest.raises(cleanclip.Error, match="needs at least 18 rows; found 16"):
        cleanclip.score_samples(model, data / "train.csv")
    with pytest.raises(cleanclip.Error, match="column 'picture'"):
        cleanclip.score_samples(model, data / "train.csv", k=4, image_column="picture")
    with pytest.raises(cleanclip.Cancelled):
        cleanclip.score_samples(model, data / "train.csv", k=4, batch_size=4, progress=lambda p: False)
    with pytest.raises(cleanclip.Error, match="needs at least 6 embeddings; got 5"):
        cleanclip.sample_scores(np.zeros((5, 3), np.float32), k=4)
    with pytest.raises(cleanclip.Error, match="not finite"):
        cleanclip.sample_scores(np.full((8, 3), np.nan, np.float32), k=2)
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        cleanclip.sample_scores(np.zeros(8, np.float32))
    with pytest.raises(TypeError, match="float32"):
        cleanclip.sample_scores(np.zeros((8, 3), np.int64))


def test_sample_scores_flags_an_outlier():
    rng = np.random.default_rng(0)
    e = rng.standard_normal((40, 8)).astype(np.float32)
    e[7] += 25
    s = cleanclip.sample_scores(e, k=5)
    assert all(int(np.argmax(s[k])) == 7 for k in ("k_distance", "slof", "dao"))


def test_finetune_under_a_launcher_without_the_mpi_plugin_raises_before_training(fx, data, tmp_path):
    """A host started by mpirun (the launcher's variables set) whose library cannot load
    libcleanclip_mpi.so gets CLEANCLIP_IO_ERROR_NOT_FOUND naming the plugin, not N single-process runs and
    not a crash; the model is untouched. In a subprocess: the library decides once per process."""
    script = f"""
import sys
sys.path.insert(0, {str(Path(cleanclip.__file__).resolve().parents[1])!r})
import cleanclip
with cleanclip.load({str(fx / "text_model.safetensors")!r}) as m:
    before = m.encode_text("a photo of a red square")
    try:
        cleanclip.finetune(m, {str(data / "train.csv")!r}, batch_size=4, epochs=1, out={str(tmp_path / "out.safetensors")!r})
    except cleanclip.Error as e:
        assert (m.encode_text("a photo of a red square") == before).all()
        print("STATUS", e.status_name, e.extended_status_name, "|", e.message)
        sys.exit(0)
    sys.exit("finetune did not raise")
"""
    env = dict(os.environ, OMPI_COMM_WORLD_SIZE="2", OMPI_COMM_WORLD_RANK="0",
               CLEANCLIP_MPI_PLUGIN="/nonexistent/libcleanclip_mpi.so")
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "STATUS CLEANCLIP_IO_ERROR CLEANCLIP_IO_ERROR_NOT_FOUND |" in r.stdout, r.stdout
    assert "libcleanclip_mpi.so" in r.stdout and "/nonexistent" in r.stdout, r.stdout
    assert not (tmp_path / "out.safetensors").exists()
