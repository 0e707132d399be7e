import CleanCLIP
import Foundation
import Testing

/// Trigger images against CleanCLIP's `apply_trigger` (re-implemented in torch by the fixture
/// script) fed the same random draws. Tolerance: 1/255, i.e. at most one byte level per pixel
/// (float summation order can move a value across a truncation boundary); the counts of
/// differing bytes are also bounded so a systematic error cannot hide under the tolerance.
@Suite struct TriggerParityTests {
    let fx: Fixture
    let image: [UInt8]
    init() throws {
        fx = try Fixture("triggers.safetensors")
        image = try fx.bytes("image")
    }

    func check(_ out: [UInt8], _ key: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let want = try fx.bytes(key)
        #expect(out.count == want.count, sourceLocation: sourceLocation)
        guard out.count == want.count else { return }
        var worst = 0, differing = 0
        for (a, b) in zip(out, want) {
            let d = abs(Int(a) - Int(b))
            worst = max(worst, d)
            if d != 0 { differing += 1 }
        }
        #expect(worst <= 1, "\(key): max byte difference \(worst)", sourceLocation: sourceLocation)
        #expect(differing <= out.count / 1000, "\(key): \(differing) bytes differ by one", sourceLocation: sourceLocation)
    }

    func badnetDraw(_ name: String) throws -> TriggerDraw {
        let loc = (try? fx.ints(name + ".loc")) ?? [0, 0]
        return TriggerDraw(patchNoise: try fx.floats(name + ".noise"), patchRow: loc[0], patchColumn: loc[1])
    }

    @Test func badnetRandomLocationReferenceWrap() throws {
        let t = try Trigger(TriggerSpec(kind: .badnet, quantization: .referenceWrap))
        try check(try t.apply(hwc: image, draw: try badnetDraw("badnet_random_wrap")), "badnet_random_wrap.out")
    }

    @Test func badnetRandomLocationClamped() throws {
        let t = try Trigger(TriggerSpec(kind: .badnet))  // clamp is the default
        try check(try t.apply(hwc: image, draw: try badnetDraw("badnet_random_clamp")), "badnet_random_clamp.out")
        // The two conversions differ exactly where the patch left [0, 1].
        let wrap = try fx.bytes("badnet_random_wrap.out"), clamp = try fx.bytes("badnet_random_clamp.out")
        #expect(zip(wrap, clamp).contains { $0 != $1 })
    }

    @Test func badnetFourCorners() throws {
        let t = try Trigger(TriggerSpec(kind: .badnet, location: .fourCorners, quantization: .referenceWrap))
        try check(try t.apply(hwc: image, draw: try badnetDraw("badnet_corners_wrap")), "badnet_corners_wrap.out")
    }

    @Test func yellowPatch() throws {
        let t = try Trigger(TriggerSpec(kind: .yellow))
        let loc = try fx.ints("yellow_random.loc")
        try check(try t.apply(hwc: image, draw: TriggerDraw(patchRow: loc[0], patchColumn: loc[1])), "yellow_random.out")
    }

    @Test func blended() throws {
        let noise = try fx.bytes("blended.codes").map { Float($0) / 255 }
        let t = try Trigger(TriggerSpec(kind: .blended))
        try check(try t.apply(hwc: image, draw: TriggerDraw(blendNoise: noise)), "blended.out")
    }

    @Test func sig() throws {
        let t = try Trigger(TriggerSpec(kind: .sig))
        try check(try t.apply(hwc: image, draw: TriggerDraw()), "sig.out")
    }

    @Test func wanetPaperGrid() throws {
        let grid = try WarpGrid(noise: try fx.floats("wanet_k4.ins"), k: 4, size: 224)
        let want = try fx.floats("wanet_k4.grid")
        #expect(maxAbsDiff(grid.values, want) < 1e-5, "bicubic upsampled grid")
        let t = try Trigger(TriggerSpec(kind: .wanet(k: 4, s: 0.5)), warpGrid: grid)
        try check(try t.apply(hwc: image, draw: TriggerDraw()), "wanet_k4.out")
    }

    @Test func wanetReferenceGrid() throws {
        let ins = try fx.bytes("wanet_k224.codes").map { Float($0) / 255 * 2 - 1 }
        let grid = try WarpGrid(noise: ins, k: 224, size: 224)
        let t = try Trigger(TriggerSpec(kind: .wanet(k: 224, s: 1)), warpGrid: grid)
        try check(try t.apply(hwc: image, draw: TriggerDraw()), "wanet_k224.out")
    }

    @Test func warpGridRoundTripsThroughNpy() throws {
        let grid = try WarpGrid.random(k: 4, size: 32, seed: 3)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("grid-\(getpid()).npy").path
        defer { unlink(path) }
        try grid.save(path: path)
        #expect(try WarpGrid.load(path: path) == grid)
        // A grid file holding NaN used to trap while warping an image (NaN to Int).
        var values = grid.values
        values[7] = .nan
        try NumPy.write(values, shape: [32, 32, 2], to: path)
        #expect(throws: TriggerError.self) { try WarpGrid.load(path: path) }
    }
}

extension TriggerParityTests {
    /// The whole path on a decoded image of another size: Pillow-exact bicubic squash to 224, then SIG.
    @Test func resizeThenTriggerMatchesReference() throws {
        let raw = try fx.raw("small_image")
        let small = try RGBImage(width: raw.shape[1], height: raw.shape[0], pixels: try fx.bytes("small_image"))
        let t = try Trigger(TriggerSpec(kind: .sig))
        let out = try t.apply(to: small, index: 0)
        #expect(out.width == 224 && out.height == 224)
        try check(out.pixels, "sig_resized.out")
    }
}
