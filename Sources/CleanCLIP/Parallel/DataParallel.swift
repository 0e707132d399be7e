import Foundation

/// The two collectives of a data-parallel CleanCLIP step, as the reference's distributed training
/// does them (`src/train.py` `get_loss`, PyTorch DDP):
///
/// - `gatherRows`: every rank's embeddings are all-gathered and concatenated in rank order, this
///   rank's own rows being its recorded tensor and the others' constants, so the loss sees the
///   global batch (global negatives) while the backward pass yields gradient for this rank's rows
///   only.
/// - `averageGradients`: the parameters' gradients are summed over ranks and divided by the
///   number of ranks (DDP's all-reduce mean), so every rank takes the same AdamW step.
///
/// With one rank both return at once and change nothing.
extension Communicator {
    /// The global [size * rows, E] matrix from each rank's `local` [rows, E] which holds
    /// `blocks` consecutive blocks of rows (originals, then augmented views): the result holds
    /// block 0 of every rank in rank order, then block 1 of every rank, ... Gradient flows to
    /// `local` only through this rank's rows.
    package func gatherRows(_ local: Tensor, blocks: Int) throws -> Tensor {
        guard size > 1 else { return local }
        precondition(local.rank == 2 && local.shape[0] % blocks == 0, "gatherRows: \(local.shape) in \(blocks) blocks")
        let rows = local.shape[0], per = rows / blocks
        let all = Tensor(zeros: [size * rows, local.shape[1]])
        try allGather(UnsafeBufferPointer(start: local.data, count: local.count),
                      into: UnsafeMutableBufferPointer(start: all.data, count: all.count))
        var parts: [Tensor] = []
        for block in 0..<blocks {
            for r in 0..<size {
                parts.append(r == rank ? local.slice(rows: block * per..<(block + 1) * per)
                                       : all.slice(rows: r * rows + block * per..<r * rows + (block + 1) * per))
            }
        }
        return Tensor.concatenated(parts)
    }

    /// Replaces every gradient by its mean over ranks (one all-reduce over all of them packed
    /// together). Every rank must hold gradients for the same tensors, as identical models and
    /// code give.
    package func averageGradients(_ tensors: [Tensor]) throws {
        guard size > 1 else { return }
        let grads = tensors.compactMap(\.grad)
        let total = grads.reduce(0) { $0 + $1.count }
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: total)
        defer { buffer.deallocate() }
        var offset = 0
        for g in grads {
            (buffer.baseAddress! + offset).update(from: g.data, count: g.count)
            offset += g.count
        }
        try allReduceSum(buffer)
        let scale = 1 / Float(size)
        offset = 0
        for g in grads {
            for i in 0..<g.count { g.data[i] = buffer[offset + i] * scale }
            offset += g.count
        }
    }
}
