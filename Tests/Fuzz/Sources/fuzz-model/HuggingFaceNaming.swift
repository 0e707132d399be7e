import CleanCLIP

/// A ViT state dict renamed the way Hugging Face's CLIPModel stores it (the inverse of the
/// loader's remap: q/k/v split out of in_proj, projections transposed), so that edits also
/// reach the remapping of HF names.
func huggingFaceNamed(_ tensors: [String: RawTensor]) -> [String: RawTensor] {
    let renames: [(String, String)] = [
        ("visual.conv1.weight", "visual.embeddings.patch_embedding.weight"),
        ("visual.class_embedding", "visual.embeddings.class_embedding"),
        ("visual.positional_embedding", "visual.embeddings.position_embedding.weight"),
        ("visual.ln_pre.", "visual.pre_layrnorm."), ("visual.ln_post.", "visual.post_layernorm."),
        ("token_embedding.weight", "embeddings.token_embedding.weight"),
        ("positional_embedding", "embeddings.position_embedding.weight"),
        ("ln_final.", "final_layer_norm."), ("transformer.resblocks.", "encoder.layers."),
        (".ln_1.", ".layer_norm1."), (".ln_2.", ".layer_norm2."),
        (".mlp.c_fc.", ".mlp.fc1."), (".mlp.c_proj.", ".mlp.fc2."), (".attn.out_proj.", ".self_attn.out_proj."),
    ]
    var out: [String: RawTensor] = [:]
    for (name, t) in tensors {
        let values = try! t.toFloats()
        if name == "visual.proj" || name == "text_projection" {
            let (rows, columns) = (t.shape[0], t.shape[1])
            let transposed = (0..<(rows * columns)).map { values[($0 % rows) * columns + $0 / rows] }
            out[name == "visual.proj" ? "visual_projection.weight" : "text_projection.weight"] =
                RawTensor(floats: transposed, shape: [columns, rows])
            continue
        }
        var k = name
        for (from, to) in renames { k = k.replacingOccurrences(of: from, with: to) }
        if k.hasPrefix("visual.") { k = "vision_model." + k.dropFirst("visual.".count) }
        else if k != "logit_scale" { k = "text_model." + k }
        if let r = k.range(of: ".attn.in_proj_") {
            let block = k[..<r.lowerBound], kind = k[r.upperBound...]  // weight or bias
            let third = values.count / 3
            var shape = t.shape
            shape[0] /= 3
            for (i, part) in ["q", "k", "v"].enumerated() {
                out["\(block).self_attn.\(part)_proj.\(kind)"] = RawTensor(floats: Array(values[(i * third)..<((i + 1) * third)]), shape: shape)
            }
            continue
        }
        out[k] = t
    }
    return out
}
