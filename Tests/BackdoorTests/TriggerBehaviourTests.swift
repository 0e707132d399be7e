import CleanCLIP
import Foundation
import Testing

/// Seeding, geometry and bad input for triggers.
@Suite struct TriggerBehaviourTests {
    let grey = [UInt8](repeating: 128, count: 224 * 224 * 3)

    @Test func drawsAreSeededPerImage() throws {
        let a = try Trigger(TriggerSpec(kind: .badnet), seed: 5)
        let b = try Trigger(TriggerSpec(kind: .badnet), seed: 5)
        let c = try Trigger(TriggerSpec(kind: .badnet), seed: 6)
        #expect(a.draw(forImage: 3) == b.draw(forImage: 3))
        #expect(a.draw(forImage: 3) != a.draw(forImage: 4), "noise is re-drawn per image")
        #expect(a.draw(forImage: 3) != c.draw(forImage: 3))
        #expect(try a.apply(hwc: grey, index: 9) == b.apply(hwc: grey, index: 9))
    }

    @Test func randomLocationStaysInsideTheReferenceRange() throws {
        let t = try Trigger(TriggerSpec(kind: .yellow), seed: 1)
        var rows = Set<Int>()
        for i in 0..<2000 {
            let d = t.draw(forImage: i)
            #expect(d.patchRow >= 0 && d.patchRow <= 223 - 16 && d.patchColumn >= 0 && d.patchColumn <= 223 - 16)
            rows.insert(d.patchRow)
        }
        #expect(rows.count > 150, "positions spread over the range")
    }

    @Test(arguments: PatchLocation.Corner.allCases)
    func fixedCornerPutsAYellowPatchThere(_ corner: PatchLocation.Corner) throws {
        let t = try Trigger(TriggerSpec(kind: .yellow, patchSize: 8, location: .corner(corner)))
        let out = try t.apply(hwc: grey, index: 0)
        let r = corner == .topLeft || corner == .topRight ? 0 : 216
        let c = corner == .topLeft || corner == .bottomLeft ? 0 : 216
        func px(_ y: Int, _ x: Int) -> [UInt8] { Array(out[((y * 224 + x) * 3)..<((y * 224 + x) * 3 + 3)]) }
        #expect(px(r + 3, c + 3) == [255, 255, 0])
        #expect(px(112, 112) == [128, 128, 128])
        #expect(out.filter { $0 != 128 }.count == 8 * 8 * 3, "only the patch changes (R, G -> 255, B -> 0)")
    }

    @Test func badInputsThrow() throws {
        #expect(throws: TriggerError.self) { try Trigger(TriggerSpec(kind: .badnet, patchSize: 224)) }
        #expect(throws: TriggerError.self) { try Trigger(TriggerSpec(kind: .yellow, patchSize: 16, location: .fixed(row: 210, column: 0))) }
        #expect(throws: TriggerError.self) { try Trigger(TriggerSpec(kind: .blended, blendAlpha: 1.5)) }
        #expect(throws: TriggerError.self) { try Trigger(TriggerSpec(kind: .patch(pixels: [1, 2, 3], size: 4))) }
        #expect(throws: TriggerError.self) { try TriggerSpec(name: "sparkles") }
        #expect(throws: TriggerError.self) { try TriggerSpec(name: "random", location: "middle") }
        let t = try Trigger(TriggerSpec(kind: .badnet))
        #expect(throws: TriggerError.self) { try t.apply(hwc: [1, 2, 3], index: 0) }
        #expect(throws: TriggerError.self) { try t.apply(hwc: grey, draw: TriggerDraw()) }  // no noise injected
        #expect(throws: TriggerError.self) { try WarpGrid(noise: [0.5], k: 4, size: 224) }
    }

    @Test func namesFollowTheReference() throws {
        #expect(try TriggerSpec(name: "random").kind == .badnet)
        #expect(try TriggerSpec(name: "warped").kind == .wanet(k: 224, s: 1))
        #expect(try TriggerSpec(name: "wanet").kind == .wanet(k: 4, s: 0.5))
        #expect(try TriggerSpec(name: "SIG", location: "blended").kind == .sig)
        #expect(try TriggerSpec(name: "yellow", location: "four_corners").location == .fourCorners)
    }

    @Test func customPatchAndBlendImage() throws {
        let patch = [Float](repeating: 0, count: 3 * 4 * 4)  // black 4x4
        let t = try Trigger(TriggerSpec(kind: .patch(pixels: patch, size: 4), location: .fixed(row: 10, column: 20)))
        let out = try t.apply(hwc: grey, index: 0)
        #expect(out[(11 * 224 + 21) * 3] == 0 && out[(9 * 224 + 21) * 3] == 128)
        let white = [Float](repeating: 1, count: 3 * 224 * 224)
        let b = try Trigger(TriggerSpec(kind: .blendImage(pixels: white), blendAlpha: 0.5))
        let mixed = try b.apply(hwc: grey, index: 0)
        // 0.5 * 1 + 0.5 * 128/255 = 0.75098 -> 191.5 -> truncates to 191
        #expect(mixed[0] == 191)
    }
}
