import Checkpoint
import ErrorKinds
import Foundation
import Testing

/// Every hostile or malformed torch file must be refused with a message that names the file
/// and the problem — never a crash, never a side effect.
@Suite("Hostile torch files")
struct HostileFixtureTests {
    /// Must match HOSTILE_MARKER in make_checkpoint_fixtures.py: the payloads would create it.
    static let marker = "/tmp/cleanclip_checkpoint_fixture_pwned"

    static let cases: [(file: String, fragments: [String])] = [
        ("hostile_os_system.pt", ["refusing to load", "os.system"]),
        ("hostile_builtins_eval.pt", ["refusing to load", "builtins.eval"]),
        ("hostile_stack_global.pt", ["refusing to load", "posix.system"]),
        ("hostile_nested_popen.pt", ["refusing to load", "subprocess.Popen"]),
        ("hostile_deep_lists.pt", ["nested deeper"]),
        ("hostile_mark_spam.pt", ["MARK"]),
        ("hostile_shared_refs.pt", ["shared-reference"]),
        ("hostile_cycle.pt", ["cyclic"]),
        ("hostile_huge_alloc.pt", ["BINUNICODE8", "1152921504606846976"]),
        ("hostile_huge_long.pt", ["truncated", "LONG4"]),
        ("hostile_truncated_pickle.pt", ["truncated"]),
        ("hostile_short_storage.pt", ["storage '0'", "holds 4 bytes"]),
        ("hostile_missing_storage.pt", ["storage '0'", "no zip entry"]),
        ("hostile_big_endian.pt", ["big", "little-endian"]),
        ("hostile_bad_cd_offset.pt", ["central directory", "outside"]),
        ("hostile_truncated_entry.pt", ["data/0", "runs past the end"]),
        ("hostile_truncated_file.pt", ["end of central directory"]),
        ("hostile_view_out_of_range.pt", ["storage '0'", "reaches element"]),
        ("hostile_expand_bomb.pt", ["non-contiguous", "allocation limit"]),
    ]

    @Test("hostile file is refused with a clear message", arguments: cases.map(\.file))
    func refused(_ file: String) {
        let fragments = Self.cases.first { $0.file == file }!.fragments
        let path = Fixtures.path(file)
        expectCheckpointError(path, fragments) { _ = try CheckpointReader.read(path: path) }
        expectCheckpointError(path, fragments) { _ = try CheckpointReader.readTorchPickle(path: path) }
    }

    @Test func codeExecutionPayloadsHaveNoSideEffect() {
        unlink(Self.marker)
        for file in ["hostile_os_system.pt", "hostile_builtins_eval.pt", "hostile_stack_global.pt"] {
            _ = try? CheckpointReader.read(path: Fixtures.path(file))
        }
        #expect(access(Self.marker, F_OK) != 0, "a payload created \(Self.marker)")
    }

    @Test func missingFileAndNonCheckpoints() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporary(dir) }
        expectCheckpointError(dir + "/nope.pt", ["cannot open"]) { _ = try CheckpointReader.read(path: dir + "/nope.pt") }
        let text = dir + "/text.bin"
        FileManager.default.createFile(atPath: text, contents: Data("hello, this is not a model\n".utf8))
        expectCheckpointError(text, ["unrecognised"]) { _ = try CheckpointReader.read(path: text) }
        let empty = dir + "/empty.pt"
        FileManager.default.createFile(atPath: empty, contents: Data())
        expectCheckpointError(empty, ["too short"]) { _ = try CheckpointReader.read(path: empty) }
        expectCheckpointError(dir, ["not a regular file"]) { _ = try CheckpointReader.read(path: dir) }
        let st = Fixtures.path("multi_dtype.safetensors")
        expectCheckpointError(st, ["not a torch checkpoint"]) { _ = try CheckpointReader.readTorchPickle(path: st) }
        // The kind of each (issue 13, item 4): a file error's kind survives the wrapping.
        func kind(_ path: String) -> ErrorKind? {
            do { _ = try CheckpointReader.read(path: path); return nil } catch { return (error as? CheckpointError)?.errorKind }
        }
        #expect(kind(dir + "/nope.pt") == .notFound)
        #expect(kind(dir) == .notRegularFile)
        #expect(kind(text) == .malformedFile)
        #expect(kind(empty) == .malformedFile)
    }
}
