import CleanCLIP
import Foundation
import Testing

/// k-distance / SLOF / DAO against the authors' formulas (fixture script, float64) on 300 random
/// 24-d embeddings with a planted sparse clump of 15 "poisoned" points. Tolerance 1e-4 (absolute
/// for values of order one, relative beyond).
@Suite struct ScoringTests {
    let fx: Fixture
    let x: Tensor
    init() throws {
        fx = try Fixture("scores.safetensors")
        x = try fx.tensor("embeddings")
    }

    @Test(arguments: [8, 16])
    func neighbourTableMatchesExactSearch(k: Int) throws {
        let table = try NearestNeighbors.search(x, k: k + 1, block: 70)  // several tiles
        #expect(table.indices.map(Int.init) == (try fx.ints("k\(k).neighbors")))
        #expect(maxAbsDiff(table.distances, try fx.floats("k\(k).neighbor_distances")) < 1e-4)
    }

    @Test(arguments: [8, 16])
    func scoresMatchReference(k: Int) throws {
        let s = try SampleScores(embeddings: x, k: k)
        for (name, got) in [("kdistance", s.kDistance), ("slof", s.slof), ("dao", s.dao)] {
            let want = try fx.floats("k\(k).\(name)")
            let r = closeRelative(got, want, tol: 1e-4)
            #expect(r.ok, "k=\(k) \(name): worst relative error \(r.worst)")
        }
        let positives = try fx.ints("poisoned").map { $0 != 0 }
        let aucs = try fx.doubles("k\(k).auroc")
        for (i, scores) in [s.kDistance, s.slof, s.dao].enumerated() {
            #expect(abs(try SampleScoring.auroc(scores: scores, positives: positives) - aucs[i]) < 1e-9)
        }
    }

    @Test func aurocHandlesTiesAndOrder() throws {
        #expect(try SampleScoring.auroc(scores: [0.1, 0.4, 0.35, 0.8], positives: [false, false, true, true]) == 0.75)
        #expect(try SampleScoring.auroc(scores: [1, 1, 1, 1], positives: [false, true, false, true]) == 0.5)
        #expect(try SampleScoring.auroc(scores: [3, 2, 1], positives: [true, false, false]) == 1)
        #expect(throws: ScoringError.self) { try SampleScoring.auroc(scores: [1, 2], positives: [true, true]) }
        #expect(throws: ScoringError.self) { try SampleScoring.auroc(scores: [1, 2], positives: [true]) }
    }

    @Test func duplicatesGiveFiniteSentinelScores() throws {
        // Every point twice: distances of 0 make the ratios 0/0; the reference maps NaN to 1000.
        var rows: [Float] = []
        var rng = SeededRandom(seed: 4)
        for _ in 0..<20 {
            let p = (0..<4).map { _ in rng.normal() }
            rows += p + p
        }
        let s = try SampleScores(embeddings: Tensor(rows, shape: [40, 4]), k: 1)
        #expect(s.slof.allSatisfy { $0.isFinite } && s.dao.allSatisfy { $0.isFinite })
    }

    @Test func badInputsThrow() throws {
        #expect(throws: ScoringError.self) { try SampleScores(embeddings: Tensor(zeros: [5, 3]), k: 4) }
        #expect(throws: ScoringError.self) { try SampleScores(embeddings: Tensor(zeros: [50, 3]), k: 0) }
        let bad = Tensor(zeros: [30, 3]); bad.data[7] = .nan
        #expect(throws: ScoringError.self) { try SampleScores(embeddings: bad, k: 4) }
    }
}
