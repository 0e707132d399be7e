#!/usr/bin/env python3
"""Checks cleanclip's exports with the tools users load them with (needs torch, transformers,
open_clip_torch, safetensors and numpy; not part of the test suites, which never need torch).

    python scripts/check_exports.py [--cli .build/release/cleanclip-cli] [--lib .build/release/libcleanclip.so]

For the small random models in Tests/Fixtures/models it runs `cleanclip convert` to every format
(f32 and f16) and checks:
  cleanclip-pt  torch.load(weights_only=True) accepts it; {"epoch", "name", "state_dict",
                "optimizer"} with "module." keys equal to the source's tensors bit for bit; the
                state dict loads strictly into the model CleanCLIP builds (OpenAI's CLIP, here
                open_clip's build_model_from_openai_state_dict), AdamW with CleanCLIP's two
                parameter groups accepts the optimizer entry (optimizer.load_state_dict, as
                CleanCLIP's --checkpoint does) and takes a step; image and text embeddings of that
                model equal the library's within 1e-5
  hf            transformers.CLIPModel.from_pretrained(dir) loads it with no missing or unexpected
                weights; get_image_features / get_text_features equal the library's within 1e-5
  f16           safetensors F16, torch HalfStorage in .pt, torch_dtype float16 in config.json;
                every value equals torch's .half() of the float32 weight exactly
The library's embeddings come from the Python package (bindings/python) on the same pixels and
token ids. Prints one line per check; exits non-zero on a failure.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "Tests/Fixtures/models"
ATOL = 1e-5
failures = []


def check(ok: bool, what: str) -> None:
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def convert(cli: str, src: Path, out: Path, *extra: str) -> None:
    subprocess.run([cli, "convert", str(src), str(out), *extra], check=True, stdout=subprocess.DEVNULL)


def cleanclip_model(state_dict, activation, build):
    """The model and optimizer CleanCLIP's src/main.py makes, loaded with `state_dict`: OpenAI's
    CLIP (open_clip's build of it, with each residual block's modules in OpenAI's clip/model.py
    order, attn before ln_1, so that named_parameters() runs as in CleanCLIP) and AdamW over two
    groups, no weight decay for names containing bn/ln/bias/logit_scale first."""
    model = build(dict(state_dict), quick_gelu=activation == "quick_gelu", cast_dtype=torch.float32).float()
    result = model.load_state_dict(state_dict, strict=True)
    check(not result.missing_keys and not result.unexpected_keys, "load_state_dict(strict=True) into OpenAI's CLIP")
    first = ["attn", "ln_1", "mlp", "ln_2"]
    for m in model.modules():
        if type(m).__name__ == "ResidualAttentionBlock":
            m._modules = OrderedDict([(k, m._modules[k]) for k in first] + [(k, v) for k, v in m._modules.items() if k not in first])
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if any(k in n for k in ["bn", "ln", "bias", "logit_scale"]) else decay).append(p)
    opt = torch.optim.AdamW([{"params": no_decay, "weight_decay": 0}, {"params": decay, "weight_decay": 0.1}],
                            lr=1e-5, betas=(0.9, 0.999), eps=1e-8)
    return model, opt


def check_finetune_optimizer(cli: str, tmp: Path) -> None:
    """A `cleanclip finetune` run converted to cleanclip-pt: CleanCLIP's AdamW, loaded from the file,
    holds for every parameter exactly the moments and step of the run's optimizer file."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg, build_model_from_openai_state_dict
    from PIL import Image
    from safetensors.torch import load_file, save_file
    tiny = CLIP(embed_dim=16, vision_cfg=CLIPVisionCfg(layers=1, width=64, patch_size=8, image_size=32, head_width=64),
                text_cfg=CLIPTextCfg(context_length=77, vocab_size=49408, width=64, heads=1, layers=1), quick_gelu=True)
    save_file({k: v.contiguous() for k, v in tiny.state_dict().items()}, str(tmp / "tiny.safetensors"))
    rng = np.random.default_rng(1)
    rows = ["image,caption"]
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp / f"img{i}.png")
        rows.append(f"img{i}.png,a photo of thing number {i}")
    (tmp / "train.csv").write_text("\n".join(rows) + "\n")
    subprocess.run([cli, "finetune", "--model", str(tmp / "tiny.safetensors"), "--activation", "quick_gelu",
                    "--train-data", str(tmp / "train.csv"), "--no-inmodal", "--epochs", "1", "--batch-size", "4",
                    "--warmup-steps", "1", "--lr", "1e-3", "--threads", "1", "--out", str(tmp / "ft.safetensors")],
                   check=True, stdout=subprocess.DEVNULL)
    convert(cli, tmp / "ft.safetensors", tmp / "ft.pt")
    ckpt = torch.load(tmp / "ft.pt", weights_only=True)
    saved = load_file(str(tmp / "ft.optimizer.safetensors"))
    stripped = {k[len("module."):]: v for k, v in ckpt["state_dict"].items()}
    model, opt = cleanclip_model(stripped, "quick_gelu", build_model_from_openai_state_dict)
    opt.load_state_dict(ckpt["optimizer"])
    named = list(model.named_parameters())
    exact = all(torch.equal(opt.state[p]["exp_avg"], saved["exp_avg." + n]) and torch.equal(opt.state[p]["exp_avg_sq"], saved["exp_avg_sq." + n])
                and float(opt.state[p]["step"]) == float(saved["step"]) for n, p in named)
    check(ckpt["epoch"] == 1 and exact, f"finetune -> ft.pt: epoch {ckpt['epoch']}; CleanCLIP's AdamW holds the run's moments "
          f"and step ({int(saved['step'])}) for all {len(named)} parameters, by name")
    if exact:  # with moments of the wrong shapes, AdamW would fail here
        model.encode_image(torch.randn(2, 3, 32, 32)).square().mean().backward()
        opt.step()
        check(True, "ft.pt: AdamW took a step from the loaded state")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", default=str(ROOT / ".build/release/cleanclip-cli"))
    ap.add_argument("--lib", default=str(ROOT / ".build/release/libcleanclip.so"))
    args = ap.parse_args()
    os.environ.setdefault("CLEANCLIP_LIB", args.lib)
    sys.path.insert(0, str(ROOT / "bindings/python"))
    import cleanclip
    import open_clip
    import transformers
    from open_clip.model import build_model_from_openai_state_dict
    from safetensors import safe_open
    from safetensors.torch import load_file

    print(f"torch {torch.__version__}, transformers {transformers.__version__}, open_clip {open_clip.__version__}, "
          f"libcleanclip {cleanclip.library_version}")
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, activation in [("vit_quickgelu", "quick_gelu"), ("vit_gelu", "gelu"), ("resnet", "quick_gelu")]:
            src = MODELS / f"{name}.safetensors"
            act = ["--activation", activation]
            source = load_file(str(src))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ours = cleanclip.load(str(src), activation=activation)
            size, ctx, vocab = ours.image_size, ours.context_length, ours.info["vocab_size"]
            pixels = torch.randn(3, 3, size, size)
            tokens = torch.randint(1, vocab - 1, (3, ctx))
            tokens[:, 5:] = 0
            tokens[:, 4] = vocab - 1  # the end-of-text token: the largest id
            want_image = ours.encode_pixels(pixels.numpy())
            want_text = ours.encode_tokens(tokens.numpy().astype(np.int32))

            # cleanclip-pt: torch.load(weights_only=True) and CleanCLIP's way of loading it
            pt = tmp / f"{name}.pt"
            convert(args.cli, src, pt, *act)
            ckpt = torch.load(pt, weights_only=True)
            check(sorted(ckpt) == ["epoch", "name", "optimizer", "state_dict"] and ckpt["epoch"] == 0,
                  f"{name}.pt: torch.load(weights_only=True): keys {sorted(ckpt)}, epoch {ckpt['epoch']}, name {ckpt['name']!r}")
            sd = ckpt["state_dict"]
            same = all(k.startswith("module.") for k in sd) and {k[7:] for k in sd} == set(source) and all(
                torch.equal(sd["module." + k], v) for k, v in source.items())
            check(same, f"{name}.pt: {len(sd)} 'module.' tensors equal the source's bit for bit")
            stripped = {k[len("module."):]: v for k, v in sd.items()}  # CleanCLIP, not distributed
            model, opt = cleanclip_model(stripped, activation, build_model_from_openai_state_dict)
            opt.load_state_dict(ckpt["optimizer"])
            model.eval()
            with torch.no_grad():
                image = model.encode_image(pixels).numpy()
                text = model.encode_text(tokens).numpy()
            d_img, d_txt = max_diff(image, want_image), max_diff(text, want_text)
            check(d_img <= ATOL and d_txt <= ATOL, f"{name}.pt: open_clip embeddings vs cleanclip: image {d_img:.2e}, text {d_txt:.2e}")
            model.train()
            loss = model.encode_image(pixels).square().mean() + model.encode_text(tokens).square().mean()
            loss.backward()
            opt.step()
            check(True, f"{name}.pt: AdamW (CleanCLIP's two groups) accepted optimizer.load_state_dict and stepped")

            pt16 = tmp / f"{name}.f16.pt"
            convert(args.cli, src, pt16, *act, "--dtype", "f16")
            sd16 = torch.load(pt16, weights_only=True)["state_dict"]
            exact = all(torch.equal(sd16["module." + k], v.half() if v.is_floating_point() else v) for k, v in source.items())
            check(exact and all(v.dtype == torch.float16 for k, v in sd16.items() if source[k[7:]].is_floating_point()),
                  f"{name}.f16.pt: HalfStorage tensors equal torch's .half() of the source exactly")
            st16 = tmp / f"{name}.f16.safetensors"
            convert(args.cli, src, st16, *act, "--dtype", "f16")
            with safe_open(str(st16), "pt") as f:
                exact = all(torch.equal(f.get_tensor(k), v.half() if v.is_floating_point() else v) for k, v in source.items())
            check(exact, f"{name}.f16.safetensors: F16 tensors equal torch's .half() of the source exactly")

            if name == "resnet":
                r = subprocess.run([args.cli, "convert", str(src), str(tmp / "rn-hf"), "--format", "hf"], capture_output=True, text=True)
                check(r.returncode != 0 and "ResNet" in r.stderr, f"resnet -> hf refused: {r.stderr.strip().splitlines()[-1]}")
                continue

            # hf: transformers.CLIPModel.from_pretrained
            hf = tmp / f"{name}-hf"
            convert(args.cli, src, hf, *act)
            hf_model, info = transformers.CLIPModel.from_pretrained(str(hf), output_loading_info=True)
            hf_model.eval()
            missing = [k for k in info["missing_keys"] if not k.endswith("position_ids")]
            check(not missing and not info["unexpected_keys"] and not info["mismatched_keys"],
                  f"{name}-hf: from_pretrained loads every weight (missing {missing}, unexpected {info['unexpected_keys']})")
            with torch.no_grad():
                image = hf_model.get_image_features(pixel_values=pixels)
                text = hf_model.get_text_features(input_ids=tokens)
            image = getattr(image, "pooler_output", image).numpy()  # transformers 5 returns an output object
            text = getattr(text, "pooler_output", text).numpy()
            d_img, d_txt = max_diff(image, want_image), max_diff(text, want_text)
            check(d_img <= ATOL and d_txt <= ATOL, f"{name}-hf: transformers embeddings vs cleanclip: image {d_img:.2e}, text {d_txt:.2e}")
            hf16 = tmp / f"{name}-hf16"
            convert(args.cli, src, hf16, *act, "--dtype", "f16")
            config = json.loads((hf16 / "config.json").read_text())
            m16 = transformers.CLIPModel.from_pretrained(str(hf16), dtype="auto")
            check(config["torch_dtype"] == "float16" and m16.dtype == torch.float16,
                  f"{name}-hf16: torch_dtype float16 in config.json; from_pretrained(dtype='auto') gives {m16.dtype}")
            ref = hf_model.state_dict()
            exact = all(torch.equal(v, ref[k].half()) for k, v in m16.state_dict().items() if v.is_floating_point())
            check(exact, f"{name}-hf16: every weight equals torch's .half() of the float32 export")
        check_finetune_optimizer(args.cli, tmp)
    print(f"\n{len(failures)} failure(s)" if failures else "\nall export checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
