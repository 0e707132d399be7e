import CLIP
import TensorCore

/// The CleanCLIP objective (Bansal et al., ICCV 2023) on one batch of B pairs.
///
/// With I, I~, T, T~ the L2-normalised [B, E] embeddings of the original / augmented images
/// and texts, s = exp(logit_scale) and CE(M) the mean over rows i of -log softmax(M_i)[i]:
/// ```
/// L_CLIP = ( CE(s I T^T) + CE(s T I^T) ) / 2            multimodal contrastive
/// L_SS   = ( CE(s I I~^T) + CE(s T T~^T) ) / 2          unimodal self-supervised
/// L      = clipWeight * L_CLIP + inmodalWeight * L_SS   (L_SS only when `inmodal`)
/// ```
/// `inmodal == false` is the MMCL-only finetune (no augmented views are encoded at all).
public struct CleanCLIPLoss: Sendable, Equatable {
    /// lambda1 (`--clip_weight`).
    public var clipWeight: Float
    /// lambda2 (`--inmodal_weight`).
    public var inmodalWeight: Float
    /// Whether the unimodal term is on (`--inmodal`).
    public var inmodal: Bool

    public init(clipWeight: Float = 1, inmodalWeight: Float = 1, inmodal: Bool = true) {
        self.clipWeight = clipWeight
        self.inmodalWeight = inmodalWeight
        self.inmodal = inmodal
    }

    /// CleanCLIP as in the paper: lambda1 = lambda2 = 1.
    public static let cleanCLIP = CleanCLIPLoss()
    /// The MMCL-only baseline: L = L_CLIP.
    public static let mmclOnly = CleanCLIPLoss(inmodal: false)

    /// The loss and its terms, as recorded tensors (`total` can be back-propagated).
    public struct Terms {
        public let total: Tensor
        public let clip: Tensor
        /// nil in MMCL-only mode.
        public let inmodal: Tensor?
    }

    /// The loss from unnormalised embeddings. `images` and `texts` are [B, E] (MMCL-only) or
    /// [2B, E] with originals in the first B rows and their augmented views in the last B (one
    /// forward pass over both, as the method requires for BatchNorm). `logitScale` is the
    /// model's log temperature (a one-element tensor, differentiated through).
    public func callAsFunction(images: Tensor, texts: Tensor, logitScale: Tensor) -> Terms {
        precondition(images.rank == 2 && images.shape == texts.shape, "CleanCLIPLoss: images \(images.shape), texts \(texts.shape)")
        let rows = images.shape[0]
        let b = inmodal ? rows / 2 : rows
        precondition(!inmodal || rows % 2 == 0, "CleanCLIPLoss: \(rows) rows cannot hold originals and augmented views")
        let s = logitScale.exp()
        let targets = Array(0..<b)
        let imageAll = images.l2Normalized(), textAll = texts.l2Normalized()
        let i = inmodal ? imageAll.slice(rows: 0..<b) : imageAll
        let t = inmodal ? textAll.slice(rows: 0..<b) : textAll
        let perImage = i.matmul(t, transposeOther: true).scaled(by: s)
        let clip = weightedSum([(0.5, perImage.crossEntropy(targets: targets)),
                                (0.5, perImage.transposedLastTwo().crossEntropy(targets: targets))])
        guard inmodal else {
            return Terms(total: weightedSum([(clipWeight, clip)]), clip: clip, inmodal: nil)
        }
        let iAug = imageAll.slice(rows: b..<rows), tAug = textAll.slice(rows: b..<rows)
        let imageSS = i.matmul(iAug, transposeOther: true).scaled(by: s).crossEntropy(targets: targets)
        let textSS = t.matmul(tAug, transposeOther: true).scaled(by: s).crossEntropy(targets: targets)
        let ss = weightedSum([(0.5, imageSS), (0.5, textSS)])
        return Terms(total: weightedSum([(clipWeight, clip), (inmodalWeight, ss)]), clip: clip, inmodal: ss)
    }
}

/// A linear classifier on image embeddings for the supervised variant (vision tower + head,
/// cross-entropy on labels): logits = embedding W^T + b, W [classes, E].
public final class LinearHead: @unchecked Sendable {
    public let weight: Tensor
    public let bias: Tensor

    /// PyTorch's `nn.Linear` initialisation (uniform in ±1/sqrt(E)), seeded.
    public init(embedDim: Int, classes: Int, seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let bound = 1 / Float(embedDim).squareRoot()
        weight = .randomUniform([classes, embedDim], bound: bound, using: &rng)
        bias = .randomUniform([classes], bound: bound, using: &rng)
    }

    /// A head over given tensors ([classes, E] and [classes]).
    public init(weight: Tensor, bias: Tensor) {
        precondition(weight.rank == 2 && bias.count == weight.shape[0], "LinearHead: weight \(weight.shape), bias \(bias.shape)")
        self.weight = weight
        self.bias = bias
    }

    /// Named parameters ("head.weight", "head.bias"; "bias" means no weight decay).
    public var parameters: [(name: String, tensor: Tensor)] { [("head.weight", weight), ("head.bias", bias)] }

    public func callAsFunction(_ embeddings: Tensor) -> Tensor { embeddings.linear(weight: weight, bias: bias) }
}
