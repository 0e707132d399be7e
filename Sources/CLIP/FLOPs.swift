/// Nominal floating-point operations of the towers (a multiply-add counts 2), as the
/// reference implementations compute them: every matrix product and convolution, attention
/// included; normalisation, activations and pooling left out (a few percent at most). Used
/// by `cleanclip bench` to report GFLOP/s next to the machine's measured sgemm peak.
extension CLIPConfig {
    /// FLOPs of one image through the image tower.
    package var imageFLOPs: Double {
        switch vision {
        case let .vit(patch, width, layers, _, resolution):
            let grid = resolution / patch, tokens = grid * grid + 1
            let embed = 2.0 * Double(grid * grid) * Double(3 * patch * patch) * Double(width)
            return embed + Double(layers) * Self.transformerLayerFLOPs(tokens: tokens, width: width)
                + 2.0 * Double(width * embedDim)
        case let .resnet(layers, width, _, resolution):
            var flops = 0.0
            func conv(_ cin: Int, _ cout: Int, _ k: Int, _ side: Int) { flops += 2.0 * Double(cin * k * k * cout * side * side) }
            var side = resolution / 2
            conv(3, width / 2, 3, side)
            conv(width / 2, width / 2, 3, side)
            conv(width / 2, width, 3, side)
            side /= 2
            var inplanes = width
            for (stage, blocks) in layers.enumerated() {
                let planes = width << stage
                for block in 0..<blocks {
                    let stride = block == 0 && stage > 0 ? 2 : 1
                    conv(inplanes, planes, 1, side)
                    conv(planes, planes, 3, side)
                    let out = side / stride
                    conv(planes, planes * 4, 1, out)
                    if stride > 1 || inplanes != planes * 4 { conv(inplanes, planes * 4, 1, out) }
                    inplanes = planes * 4
                    side = out
                }
            }
            // Attention pooling: keys and values for every token, one query, then c_proj.
            let tokens = side * side + 1, c = inplanes
            return flops + 2.0 * Double(2 * tokens + 1) * Double(c * c) + 4.0 * Double(tokens * c) + 2.0 * Double(c * embedDim)
        }
    }

    /// FLOPs of one text of `tokens` positions through the text tower.
    package func textFLOPs(tokens: Int) -> Double {
        Double(textLayers) * Self.transformerLayerFLOPs(tokens: tokens, width: textWidth) + 2.0 * Double(textWidth * embedDim)
    }

    /// One pre-LN block over `tokens` positions: q/k/v and output projections, the two
    /// attention products, and the 4x MLP.
    static func transformerLayerFLOPs(tokens: Int, width: Int) -> Double {
        let l = Double(tokens), w = Double(width)
        return 2 * l * w * (3 * w) + 2 * 2 * l * l * w + 2 * l * w * w + 2 * 2 * l * w * (4 * w)
    }
}
