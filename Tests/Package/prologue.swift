// Written before the README's Swift example when Tests/Package/run.sh runs it: the files the
// example opens, made with the package's public API (a small random model under the example's
// file name, two images).
import CleanCLIP

let config = CLIPConfig(embedDim: 32, vision: .vit(patch: 16, width: 64, layers: 2, heads: 4, resolution: 64),
                        contextLength: 77, vocabSize: 49408, textWidth: 64, textHeads: 4, textLayers: 2)
try CLIPModel(randomWith: config, seed: 1).save(to: "ViT-B-32.safetensors")
try ImageEncoder.writeJPEG(RGBImage(width: 80, height: 60, pixels: (0..<(80 * 60 * 3)).map { UInt8($0 % 251) }), to: "a.jpg")
try ImageEncoder.writePNG(RGBImage(width: 64, height: 64, pixels: (0..<(64 * 64 * 3)).map { UInt8($0 % 241) }), to: "b.png")
