import ErrorKinds
import Files
import Foundation
import Testing

/// A fresh temporary folder for one test.
func temporaryFolder(_ name: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("files-\(name)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Opens the write end of `fifo` after a few seconds, which unblocks a reader stuck in `open`:
/// a regression then fails its test (with an empty read) instead of hanging the run.
func unblockLater(_ fifo: String) {
    DispatchQueue.global().asyncAfter(deadline: .now() + 5) {
        let fd = open(fifo, O_WRONLY | O_NONBLOCK)
        if fd >= 0 { close(fd) }
    }
}

@Suite struct RegularFileTests {
    /// Issue 12, item 10: a named pipe blocked every reader forever.
    @Test func namedPipesDirectoriesAndDevicesAreRefusedWithoutBlocking() throws {
        let dir = try temporaryFolder("fifo")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifo = dir + "/pipe"
        #expect(mkfifo(fifo, 0o600) == 0)
        unblockLater(fifo)
        let start = Date()
        for (path, kind) in [(fifo, "a named pipe"), (dir, "a directory"), ("/dev/zero", "a character device")] {
            do {
                _ = try RegularFile.read(path)
                Issue.record("\(path) was read")
            } catch let e as FileError {
                #expect(e.description == "\(path): not a regular file (\(kind))")
            }
        }
        #expect(Date().timeIntervalSince(start) < 4, "blocked until the pipe was opened for writing")
        #expect(throws: FileError.self) { try RegularFile.open(dir + "/missing") }
        try "abc".write(toFile: dir + "/plain", atomically: false, encoding: .utf8)
        #expect(try RegularFile.read(dir + "/plain") == Array("abc".utf8))
    }

    /// Issue 13, item 4: callers choose a status from the kind, not from the wording.
    @Test func errorsSayWhatKindOfFailureTheyAre() throws {
        let dir = try temporaryFolder("kinds")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func kind(_ path: String) -> ErrorKind? {
            do { _ = try RegularFile.read(path); return nil } catch { return (error as? FileError)?.errorKind }
        }
        #expect(kind(dir + "/missing") == .notFound)
        #expect(kind(dir) == .notRegularFile)
        #expect(kind("/dev/zero") == .notRegularFile)
        #expect(kind(dir + "/missing/below") == .notFound)
    }
}

@Suite struct AtomicFileTests {
    /// Issue 12, item 11: a killed write left its temporary file (18-37 MB for a checkpoint)
    /// behind for ever. Its lock died with it, so the next write to the same file takes it over.
    @Test func aLeftoverOfAKilledWriteIsTakenOver() throws {
        let dir = try temporaryFolder("leftover")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/model.safetensors"
        try String(repeating: "x", count: 1000).write(toFile: dir + "/.model.safetensors.tmp", atomically: false, encoding: .utf8)
        try AtomicFile.write("new", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["model.safetensors"])
    }

    /// A temporary file locked by a live writer is left alone: this write goes to a unique name.
    @Test func aLiveWritersTemporaryFileIsLeftAlone() throws {
        let dir = try temporaryFolder("live")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/model.safetensors", busy = dir + "/.model.safetensors.tmp"
        let fd = open(busy, O_WRONLY | O_CREAT, 0o644)
        defer { close(fd) }
        #expect(write(fd, "partial", 7) == 7)
        #expect(flock(fd, LOCK_EX) == 0)
        try AtomicFile.write("new", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new")
        #expect(try String(contentsOfFile: busy, encoding: .utf8) == "partial")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == [".model.safetensors.tmp", "model.safetensors"])
    }

    /// A write that fails removes its temporary file and leaves the old file.
    @Test func aFailedWriteLeavesNothingBehind() throws {
        let dir = try temporaryFolder("failed")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/out.json"
        try AtomicFile.write("old", to: path)
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try AtomicFile.write(to: path) { sink in
                try Array("half".utf8).withUnsafeBytes { try sink.write($0) }
                throw Stop()
            }
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "old")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.json"])
    }
}
